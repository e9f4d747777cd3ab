"""Pieces of instruction matching that several forms share: quotes, pairs, one-value forms.

Every pattern a form uses is anchored at the start of a piece and has at most
one unbounded run before a literal, so a 10,000-character instruction is
matched in linear time; the helpers here keep to that.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier.messages import clip

CASELESS = re.IGNORECASE
"""Verbs are case-insensitive; the user's own words keep their casing."""
OPEN_CLOSE = {'"': '"', "'": "'", "“": "”", "‘": "’"}
"""Each opening quote mark and the mark that closes it."""

Matcher = Callable[[str], Edit | None]
"""One instruction piece -> the edit it asks for, None when it is not this form's wording."""


def unquote(text: str) -> str:
    """``"x"`` -> ``x`` (also single and curly quotes); anything else stripped as is."""
    text = text.strip()
    if len(text) >= 2 and text[0] in OPEN_CLOSE and text[-1] == OPEN_CLOSE[text[0]]:
        return text[1:-1]
    return text


def split_pair(rest: str, sep: str) -> tuple[str, str] | None:
    """``"A" with "B"`` / ``A with B`` -> (A, B); quoted A may contain the separator."""
    closer = OPEN_CLOSE.get(rest[:1])
    if closer is not None:
        m = re.compile(re.escape(closer) + r"\s*" + sep + r"\b\s*", CASELESS).search(rest, 1)
        if m:
            return rest[1 : m.start()], unquote(rest[m.end() :])
    # (?<!\s) starts the match at the beginning of a run of spaces: one try per run.
    m = re.compile(r"(?<!\s)\s+" + sep + r"\s+", CASELESS).search(rest)
    if not m or not rest[: m.start()].strip():
        return None
    return rest[: m.start()].strip(), unquote(rest[m.end() :])


def one_value(op: str, pattern: re.Pattern[str], key: str, clean: Callable[[str], str] = unquote) -> Matcher:
    """A matcher for a form with one argument: ``pattern``'s group ``v``, cleaned, as ``args[key]``.

    A piece that matches with a value that cleans to nothing is refused: the
    form is recognised, so "unknown instruction" would mislead.
    """

    def match(piece: str) -> Edit | None:
        m = pattern.fullmatch(piece)
        if not m:
            return None
        value = clean(m.group("v"))
        if not value.strip():
            raise InstructionError(f"The instruction '{clip(piece)}' has an empty value.")
        return Edit(op, {key: value}, piece)

    return match
