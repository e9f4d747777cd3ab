"""``add rule: <text>``: append a rule to the rules block, in its style (see :mod:`..rules_edit`)."""

from __future__ import annotations

import re

from dynamic_prompt.core.modifier import rules_edit
from dynamic_prompt.core.modifier.forms.base import InstructionForm, Stub, StubKind
from dynamic_prompt.core.modifier.matching import CASELESS, one_value

_ADD_RULE = re.compile(r"add\s+(?:a\s+)?(?:new\s+)?rules?\b(?:\s*:)?\s*(?P<v>\S.*)", CASELESS)
_STUB = re.compile(r"add\s+(?:a\s+)?(?:new\s+)?rules?\s*:?", CASELESS)

FORM = InstructionForm(
    op="add_rule",
    forms=("add rule: <text>",),
    description=(
        "appends the next numbered rule to the rules block "
        "(`## Rules`, `▛///▞ CORE RULES … :: ∎`, or `RULES:`), keeping your casing"
    ),
    example="add rule: Never use emojis.",
    match=one_value("add_rule", _ADD_RULE, "rule"),
    apply=rules_edit.add_rule,
    stubs=(Stub(_STUB, "Say the rule to add.", StubKind.WHOLE, "add rule:"),),
)
