"""``remove line containing <text>``: delete the one line that contains the text (code and tags included)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.modifier.common import arg
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.forms.base import InstructionForm, Stub, StubKind
from dynamic_prompt.core.modifier.matching import CASELESS, one_value
from dynamic_prompt.core.modifier.messages import clip, listing
from dynamic_prompt.core.modifier.sections import Outline

_REMOVE_LINE = re.compile(
    r"(?:remove|delete|drop)\s+(?:the\s+)?lines?\s+(?:that\s+contains?|containing|with|mentioning)\s+(?P<v>\S.*)",
    CASELESS,
)
_STUB = re.compile(r"(?:remove|delete|drop)\s+(?:the\s+)?lines?(?:\s+containing)?", CASELESS)
_SHOWN_LINES = 6


def remove_line(doc: Lines, args: Mapping[str, str]) -> None:
    """Delete the line containing ``text`` (case-insensitive).

    Several such lines is an error that names them, with the instruction that picks each.
    A line that is part of a template tag spanning lines is refused: deleting it would leave
    the rest of the tag behind (a ``{# comment`` whose ``#}`` is left turns into text).
    """
    needle = arg(args, "text")
    out = Outline(doc)
    hits = out.lines_with(needle.lower(), code=True)
    if not hits:
        raise InstructionError(f"No line contains '{clip(needle)}'.")
    if len(hits) > 1:
        shown = [f"{i + 1}: {doc.content(i).strip()}" for i in hits[:_SHOWN_LINES]]
        picks = _line_picks(doc, hits[:_SHOWN_LINES])
        how = f'say which, e.g. "{picks[0]}"' if picks else "say which with more of the line's words"
        raise InstructionError(
            f"'{clip(needle)}' is on {len(hits):,} lines: {listing(shown, _SHOWN_LINES, total=len(hits))}; {how}.",
            suggestions=picks,
        )
    cut = out.tags.cut_by_delete(hits[0], hits[0] + 1)
    if cut is not None:
        raise InstructionError(
            f"Line {hits[0] + 1} is part of a template tag that runs from line {cut[0] + 1} to "
            f"{cut[1] + 1}; removing the line alone would break the tag, so nothing was removed."
        )
    doc.delete(hits[0], hits[0] + 1)


def _line_picks(doc: Lines, hits: Sequence[int]) -> list[str]:
    """``remove line containing <the line>`` for each line whose whole text is on no other line."""
    # Imported here: the parser reads the forms registry, which holds this very form.
    from dynamic_prompt.core.modifier.parser import parse

    low = doc.text().lower()
    picks = []
    for i in hits:
        line = doc.content(i).strip()
        # One copy in the whole text: only this line contains it (a line is never split).
        if not line or len(line) > 80 or low.count(line.lower()) != 1:
            continue
        for instruction in (f"remove line containing {line}", f'remove line containing "{line}"'):
            try:
                edits = parse(instruction)
            except InstructionError:
                continue
            if len(edits) == 1 and edits[0].op == "remove_line" and edits[0].args.get("text") == line:
                picks.append(instruction)
                break
    return picks


FORM = InstructionForm(
    op="remove_line",
    forms=("remove line containing <text>",),
    description="removes the one line that contains it",
    example="remove line containing Do not apologise",
    match=one_value("remove_line", _REMOVE_LINE, "text"),
    apply=remove_line,
    stubs=(Stub(_STUB, "Say which line.", StubKind.WHOLE, "remove line containing"),),
)
