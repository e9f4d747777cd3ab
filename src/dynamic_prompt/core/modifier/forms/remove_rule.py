"""``remove rule about <topic>`` / ``remove rule <n>``: delete one rule (see :mod:`..rules_edit`)."""

from __future__ import annotations

import re

from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier import rules_edit
from dynamic_prompt.core.modifier.completion import rank
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.forms.base import InstructionForm, Stub, StubKind
from dynamic_prompt.core.modifier.matching import CASELESS, unquote
from dynamic_prompt.core.modifier.rule_blocks import TooManyRulesError
from dynamic_prompt.core.modifier.sections import Outline

_REMOVE_RULE = re.compile(
    r"(?:remove|delete|drop)\s+(?:the\s+)?rules?\b(?:\s*(?:about|on|regarding|concerning|for)\b|\s*:)?\s*(?P<v>\S.*)",
    CASELESS,
)
_RULE_NUMBER = re.compile(r"(?:number\s*|no\.?\s*|#)?(\d{1,9})\.?", CASELESS)
_STUB = re.compile(
    r"(?:remove|delete|drop)\s+(?:the\s+)?rules?(?:\s+(?:about|on|regarding|concerning|for))?\s*:?", CASELESS
)
_TYPED = re.compile(r"(?:remove|delete|drop) (?:the )?rules?(?: about)?(?: (?P<q>.*))?")


def _match(piece: str) -> Edit | None:
    m = _REMOVE_RULE.fullmatch(piece)
    if not m:
        return None
    topic = unquote(m.group("v"))
    number = _RULE_NUMBER.fullmatch(topic.strip())
    if number:
        return Edit("remove_rule", {"number": number.group(1)}, piece)
    return Edit("remove_rule", {"about": topic}, piece)


def _complete(typed: str, text: str | None) -> list[str] | None:
    """The prompt's own rules, as ``remove rule about <rule>``."""
    if text is None:
        return None
    m = _TYPED.fullmatch(typed)
    if m is None:
        return None
    try:
        blocks = Outline(Lines(text)).rules_blocks()
    except TooManyRulesError:
        return []  # rule edits refuse this prompt: offering its rules would mislead
    names = [item.text for block in blocks for item in block.items]
    return [f"remove rule about {r}" for r in rank(m.group("q") or "", names)]


FORM = InstructionForm(
    op="remove_rule",
    forms=("remove rule about <topic>", "remove rule <n>"),
    description="finds the rule by fuzzy match, removes it, renumbers the rest",
    example="remove rule about quotes",
    match=_match,
    apply=rules_edit.remove_rule,
    stubs=(Stub(_STUB, "Say which rule to remove.", StubKind.WHOLE, "remove rule about"),),
    complete=_complete,
)
