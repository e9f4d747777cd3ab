"""``default <n> sentences``: set the default answer length (see :func:`..notes.set_sentences`)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier import notes
from dynamic_prompt.core.modifier.forms.base import InstructionForm, Stub, StubKind
from dynamic_prompt.core.modifier.matching import CASELESS

_WORDS = {
    w: str(n)
    for n, w in enumerate(
        ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"], 1
    )
}
_N = r"(\d{1,9}|" + "|".join(_WORDS) + r")"
_SENTENCES = (
    re.compile(
        r"(?:set\s+(?:the\s+)?)?default(?:\s+(?:response\s+)?length)?(?:\s+to\b|\s*[:=])?\s*" + _N + r"\s+sentences?\.?",
        CASELESS,
    ),
    re.compile(r"(?:respond|answer|reply)\s+in\s+" + _N + r"\s+sentences?(?:\s+by\s+default)?\.?", CASELESS),
)
_STUB = re.compile(r"(?:default|respond\s+in)\b", CASELESS)
_STUB_HINT = "Write default <n> sentences, with n a number."


def _match(piece: str) -> Edit | None:
    for pattern in _SENTENCES:
        m = pattern.fullmatch(piece)
        if m:
            raw = m.group(1).lower()
            return Edit("set_sentences", {"sentences": _WORDS.get(raw, raw)}, piece)
    return None


def _already(args: Mapping[str, str]) -> str:
    return f"the default is already {args.get('sentences', '')} sentences"


FORM = InstructionForm(
    op="set_sentences",
    forms=("default <n> sentences",),
    description="changes an existing `Default: 3-4 sentences` line instead of adding a contradiction",
    example="default 2 sentences",
    match=_match,
    apply=notes.set_sentences,
    noop_reason=_already,
    stubs=(Stub(_STUB, _STUB_HINT, StubKind.START, "default many sentences"),),
)
