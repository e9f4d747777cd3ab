"""Instruction text -> structured :class:`Edit` values.

An instruction is one or more pieces separated by ``;`` or new lines (a ``;``
inside double quotes belongs to the quoted text). Each piece matches one of
the forms of :mod:`.forms`, tried in the registry's order; verbs are
case-insensitive and the user's own words keep their casing. Every pattern is
anchored at the start of a piece and has at most one unbounded run before a
literal, so a 10,000-character instruction is parsed in linear time.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz, utils

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier.forms import FORMS, KNOWN_FORMS, StubKind
from dynamic_prompt.core.modifier.matching import OPEN_CLOSE
from dynamic_prompt.core.modifier.messages import clip

__all__ = ["KNOWN_FORMS", "MAX_LENGTH", "closest_forms", "parse", "parse_piece", "split_pieces"]

MAX_LENGTH = 10_000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Each form's stubs, with the hint they give, by when they are checked.
_STUBS = [(stub, form.hint) for form in FORMS for stub in form.stubs]
_WHOLE_STUBS = tuple((stub, hint) for stub, hint in _STUBS if stub.kind is StubKind.WHOLE)
_START_STUBS = tuple((stub, hint) for stub, hint in _STUBS if stub.kind is StubKind.START)
_MATCHERS = tuple(form.match for form in FORMS)


def parse(instruction: str) -> list[Edit]:
    """Turn an instruction into edits, one per ``;``- or line-separated piece.

    Raises:
        InstructionError: the instruction is empty, longer than 10,000
            characters, holds control characters, or has a piece that matches
            no known form (``suggestions`` then names the closest forms).
    """
    if not isinstance(instruction, str):
        raise InstructionError("The instruction must be text.")
    if not instruction.strip():
        raise InstructionError("The instruction is empty.")
    if len(instruction) > MAX_LENGTH:
        raise InstructionError(
            f"The instruction is too long ({len(instruction):,} characters; the limit is {MAX_LENGTH:,})."
        )
    if _CONTROL.search(instruction):
        raise InstructionError("The instruction contains control characters.")
    pieces = split_pieces(instruction)
    if not pieces:
        raise InstructionError("The instruction is empty.")
    return [parse_piece(piece) for piece in pieces]


def split_pieces(instruction: str) -> list[str]:
    """Split on new lines and on ``;`` outside double quotes; drop blank pieces."""
    pieces: list[str] = []
    for line in re.split(r"\r\n|\r|\n", instruction):
        start = i = 0
        unmatched: set[str] = set()  # quote marks with no closer later on this line
        while i < len(line):
            ch = line[i]
            if (ch == '"' or ch == "“") and ch not in unmatched:
                j = line.find(OPEN_CLOSE[ch], i + 1)
                if j == -1:
                    unmatched.add(ch)
                else:
                    i = j
            elif ch == ";":
                pieces.append(line[start:i])
                start = i + 1
            i += 1
        pieces.append(line[start:])
    return [p.strip() for p in pieces if p.strip()]


def parse_piece(piece: str) -> Edit:
    """One piece (no ``;`` or new line) -> one edit.

    A piece that is a form's stub (the form named, its argument left out) gets
    that form's precise hint; one that no form matches gets the closest forms.
    """
    for stub, hint in _WHOLE_STUBS:
        if stub.catches(piece):
            raise stub.error(hint)
    for matcher in _MATCHERS:
        edit = matcher(piece)
        if edit is not None:
            return edit
    for stub, hint in _START_STUBS:
        if stub.catches(piece):
            raise stub.error(hint)
    raise InstructionError(f"Unknown instruction '{clip(piece)}'.", suggestions=closest_forms(piece))


def closest_forms(text: str, limit: int = 3) -> list[str]:
    """The known forms nearest to ``text``, best first.

    A form's fixed words (before its first ``<placeholder>``) are compared with
    the same length of ``text`` (catches typos in the verb), and the whole form
    with rapidfuzz WRatio (catches reordered or partial wording).
    """
    low = " ".join(text[:200].lower().split())

    def score(form: str) -> float:
        fixed = form.split("<", 1)[0].lower()
        # The verb decides the form, so its score leads; WRatio breaks ties.
        return fuzz.ratio(low[: len(fixed)], fixed) + 0.5 * fuzz.WRatio(low, form, processor=utils.default_process)

    ranked = sorted(KNOWN_FORMS, key=lambda f: -score(f))
    return ranked[:limit]
