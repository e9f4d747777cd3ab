"""Turning structured edits into new prompt text.

:func:`apply_edits` splits the text once, runs each edit on the lines and
joins once. An edit that cannot apply raises :class:`InstructionError` before
anything is returned, so a caller never sees a half-applied instruction. Each
edit touches only the lines it targets (plus the renumbering after a removed
rule, and the heading and blank lines a new section needs). Each op's handler
is its form's ``apply`` (see :mod:`.forms`).

On a template the edits work on its source and never cut a tag (see
:mod:`.template_tags`); a result that no longer parses as a template (a removed
``{% endif %}``, a typed ``{{`` that never closes) is refused as a whole, once
all the edits are done: a later edit may rightly finish what an earlier one
began (``remove line containing {% if vip %}; remove line containing {% endif %}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.forms import FORMS
from dynamic_prompt.core.modifier.forms.base import Handler
from dynamic_prompt.core.modifier.messages import clip
from dynamic_prompt.core.modifier.template_tags import SYNTAX, refuse_broken

EDIT_BUDGET = 10_000_000
"""The most work units one call may spend: each edit reads the whole prompt again, at a
cost of one unit per character plus LINE_WEIGHT per line (about 12 million units a second).

A 4 MB prompt takes one edit at a time, a 1 MB one of 20,000 lines six, a 10 KB one
of 200 lines 600. One edit alone is always allowed (each is bounded on its own)."""
LINE_WEIGHT = 30

_HANDLERS: Mapping[str, Handler] = {form.op: form.apply for form in FORMS}


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply ``edits`` in order to ``text`` and return the new text.

    Raises:
        InstructionError: an edit cannot apply (no or several matching rules,
            absent replace target or field, unknown op, bad arguments), or
            the edits together would cost more than :data:`EDIT_BUDGET`.
            Nothing is applied then.
    """
    doc = Lines(text)
    if len(edits) > 1 and len(edits) * _cost(doc) > EDIT_BUDGET:
        raise _too_much(text, len(edits), EDIT_BUDGET // _cost(doc))
    spent = 0
    for done, edit in enumerate(edits):
        handler = _HANDLERS.get(edit.op)
        if handler is None:
            raise InstructionError(f"Unknown edit '{clip(str(edit.op))}'.", suggestions=sorted(_HANDLERS))
        # Counted again on the text as it is now: replaces may have made it bigger.
        spent += _cost(doc)
        if done and spent > EDIT_BUDGET:
            raise _too_much(text, len(edits), done)
        handler(doc, edit.args)
    new = doc.text()
    if new != text:
        typed = any(isinstance(v, str) and SYNTAX.search(v) for e in edits for v in e.args.values())
        refuse_broken(text, new, typed=typed)
    return new


def _cost(doc: Lines) -> int:
    """What one edit costs on ``doc``, in work units (see :data:`EDIT_BUDGET`)."""
    return len(doc.text()) + LINE_WEIGHT * len(doc)


def _too_much(text: str, edits: int, fit: int) -> InstructionError:
    """The refusal: ``fit`` is how many of the edits the budget allows."""
    doc = Lines(text)
    at_once = max(1, fit)
    return InstructionError(
        f"{edits:,} edits at once on a prompt this big ({len(text):,} characters, {len(doc):,} lines) "
        f"is too much work; send at most {at_once:,} at a time."
    )

