"""The registry of instruction forms: one :class:`InstructionForm` per kind of instruction.

Everything that depends on the set of forms is derived from :data:`FORMS`:
the parser's stubs and matchers (:mod:`..parser`), the edit handlers
(:func:`..apply.apply_edits`), the no-op reason (``modify_text``), the
completions (:func:`..suggest.suggest`), :data:`KNOWN_FORMS`, the MCP tool's
description of ``instruction``, and the README's "Instructions" table
(:func:`markdown_table`; ``tests/core/test_instruction_forms.py`` fails when
the README disagrees).

Order matters: it is the order forms are listed in (:data:`KNOWN_FORMS`,
suggestions, the README) and the order they are tried in. A piece is first
checked against every form's whole-piece stubs, then each form's matcher in
turn (the first that returns an edit wins), then every form's start stubs.
Where two forms accept the same piece, the earlier one wins: ``set tone to
x`` is the tone form's, not ``set <Field> to <value>``'s; ``set default to 3
sentences`` is the length's; ``be more verbose`` is verbosity's.

To add a form:

1. write ``forms/<name>.py`` with ``FORM = InstructionForm(...)``: its op,
   its wordings, the matcher, the handler, a one-line description, an
   example that applies to ``prompts/assistant.md``, and where it has them
   stubs, a no-op reason and completions (the other form modules are the
   pattern; shared machinery is in ``common``, ``matching``, ``notes``,
   ``rules_edit``, ``sections``);
2. add it to :data:`FORMS` below, after every form whose wordings overlap its own
   and that should win;
3. add its tests (``tests/core/test_modifier.py`` style), run
   ``tests/core/test_instruction_forms.py``, and paste the table its failure
   prints into the README.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from dynamic_prompt.core.modifier.forms import (
    add_rule,
    add_section,
    remove_line,
    remove_rule,
    replace,
    sentences,
    set_field,
    tone,
    trait,
    verbosity,
)
from dynamic_prompt.core.modifier.forms.base import InstructionForm, Stub, StubKind

__all__ = ["BY_OP", "FORMS", "KNOWN_FORMS", "InstructionForm", "Stub", "StubKind", "markdown_table"]

FORMS: tuple[InstructionForm, ...] = (
    tone.FORM,
    add_rule.FORM,
    remove_rule.FORM,
    sentences.FORM,
    verbosity.FORM,
    trait.FORM,
    replace.FORM,
    set_field.FORM,
    remove_line.FORM,
    add_section.FORM,
)
"""Every form, in the order they are listed and tried (see above)."""

KNOWN_FORMS: tuple[str, ...] = tuple(wording for form in FORMS for wording in form.forms)
"""Every wording of every form, as a person types it (``"change tone to <tone>"``), in order."""

BY_OP: Mapping[str, InstructionForm] = MappingProxyType({form.op: form for form in FORMS})
"""Each form by the op of its edits."""


def markdown_table() -> str:
    """The README's table of instructions: each form's wordings and its description, in order."""
    rows = ["| instruction | what it does |", "|---|---|"]
    rows += [f"| {' / '.join(f'`{w}`' for w in form.forms)} | {form.description} |" for form in FORMS]
    return "\n".join(rows) + "\n"
