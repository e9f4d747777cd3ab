"""``make more verbose`` / ``make less verbose``: step the verbosity setting (:func:`..notes.verbosity`)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier import notes
from dynamic_prompt.core.modifier.forms.base import InstructionForm
from dynamic_prompt.core.modifier.matching import CASELESS

_VERBOSE = re.compile(
    r"(?:(?:make|be)\s+(?:it\s+|(?:the\s+)?(?:answers|responses|replies|prompt)\s+)?)?(more|less)\s+verbose\.?",
    CASELESS,
)


def _match(piece: str) -> Edit | None:
    m = _VERBOSE.fullmatch(piece)
    return Edit("verbosity", {"direction": m.group(1).lower()}, piece) if m else None


def _already(args: Mapping[str, str]) -> str:
    return "verbosity is already at the end of its scale"


FORM = InstructionForm(
    op="verbosity",
    forms=("make more verbose", "make less verbose"),
    description="adjusts the verbosity line",
    example="make more verbose",
    match=_match,
    apply=notes.verbosity,
    noop_reason=_already,
)
