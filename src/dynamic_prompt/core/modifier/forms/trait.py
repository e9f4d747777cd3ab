"""``be more <trait>`` / ``be less <trait>``: add or flip a trait note (see :func:`..notes.trait`)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier import notes
from dynamic_prompt.core.modifier.completion import rank
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.forms.base import InstructionForm, Stub, StubKind
from dynamic_prompt.core.modifier.matching import CASELESS, unquote
from dynamic_prompt.core.modifier.sections import Outline

COMMON_TRAITS = ("concise", "formal", "technical", "friendly", "detailed", "direct", "empathetic", "precise")
"""Offered as completions of ``be more `` (after the prompt's own trait notes)."""

_HINT = "be more <trait>"
_TRAIT = re.compile(r"be\s+(?:a\s+(?:bit|little)\s+|much\s+|slightly\s+)?(more|less)\s+(?P<v>\S.*)", CASELESS)
_STUB = re.compile(r"be\s+(?:more|less)", CASELESS)
_TYPED = re.compile(r"be (?P<dir>more|less) (?P<q>.*)")


def _match(piece: str) -> Edit | None:
    m = _TRAIT.fullmatch(piece)
    if not m:
        return None
    name = unquote(m.group("v").strip().rstrip(".!")).strip()
    direction = m.group(1).lower()
    if name.lower() == "verbose":
        return Edit("verbosity", {"direction": direction}, piece)
    if not name:
        raise InstructionError("Say which trait.", suggestions=[_HINT])
    return Edit("trait", {"direction": direction, "trait": name}, piece)


def _already(args: Mapping[str, str]) -> str:
    return f"the prompt already says to be {args.get('direction', '')} {args.get('trait', '')}"


def _complete(typed: str, text: str | None) -> list[str] | None:
    """The prompt's own trait notes first, then common traits."""
    m = _TYPED.fullmatch(typed)
    if not m:
        return None
    own = _trait_notes(text) if text is not None else []
    return [f"be {m.group('dir')} {t}" for t in rank(m.group("q"), [*own, *COMMON_TRAITS])]


def _trait_notes(text: str) -> list[str]:
    outline = Outline(Lines(text))
    doc = outline.doc
    found = []
    for i in outline.lines_with("be "):
        m = notes.TRAIT_NOTE.fullmatch(doc.content(i))
        if m:
            found.append(m.group("trait").rstrip(" \t.!"))
    return found


FORM = InstructionForm(
    op="trait",
    forms=(_HINT, "be less <trait>"),
    description="adds or updates a trait note",
    example="be more technical",
    match=_match,
    apply=notes.trait,
    noop_reason=_already,
    stubs=(Stub(_STUB, "Say which trait.", StubKind.WHOLE, "be more"),),
    complete=_complete,
)
