"""``change tone to <tone>``: rewrite the ``Tone:`` line, or add one where a reader looks for it."""

from __future__ import annotations

import re
from collections.abc import Mapping

from dynamic_prompt.core.modifier.common import arg, bullet_of, set_value, single_field
from dynamic_prompt.core.modifier.completion import rank
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.forms.base import InstructionForm, Stub, StubKind
from dynamic_prompt.core.modifier.matching import CASELESS, one_value, unquote
from dynamic_prompt.core.modifier.messages import capitalize
from dynamic_prompt.core.modifier.rule_blocks import ITEM, PLAIN_RULES
from dynamic_prompt.core.modifier.sections import Outline

COMMON_TONES = ("professional", "friendly", "casual", "formal", "playful", "empathetic", "neutral", "sarcastic")
"""Offered as completions of ``change tone to ``."""

_TONE = re.compile(r"(?:change|set|make|switch)\s+(?:the\s+)?tone\s+(?:to\s+|=\s*|:\s*)(?P<v>\S.*)", CASELESS)
_STUB = re.compile(r"(?:change|set)\s+(?:the\s+)?tone(?:\s+to)?\s*:?", CASELESS)
_TYPED = re.compile(r"(?P<verb>change|set) (?:the )?tone to (?P<q>.*)")
# Headings of the section a missing Tone line goes to the top of.
_PERSONA_WORDS = ("personality", "persona", "style", "tone", "voice", "character")


def tone_value(text: str) -> str:
    """The tone as typed, without quotes or a final ``.``/``!`` (``set Tone to ...`` uses it too)."""
    return unquote(text.strip().rstrip(".!")).strip()


def set_tone(doc: Lines, args: Mapping[str, str]) -> None:
    """Rewrite the one ``Tone:`` line, else add one (see :func:`_tone_spot`)."""
    tone = capitalize(arg(args, "tone"))
    out = Outline(doc)
    field = single_field(out, "tone")
    if field is not None:
        set_value(out, field, tone)
        return
    index, prefix = _tone_spot(out)
    doc.insert(out.tags.past_tags(index), [f"{prefix}Tone: {tone}"])


def _tone_spot(out: Outline) -> tuple[int, str]:
    """Where a missing Tone line goes: top of a personality/style section, else
    after the first heading's first paragraph (or the first paragraph)."""
    doc = out.doc
    section = out.find_heading(_PERSONA_WORDS)
    if section is not None:
        start, end = out.body(section)
        if start < end and not doc.content(start).strip():
            start += 1
        return start, bullet_of(doc.content(start)) if start < end else ""
    n = len(doc)
    i = 0
    while i < n and not doc.content(i).strip():
        i += 1
    if i < n and out.is_heading(i):
        j = i + 1
        while j < n and not doc.content(j).strip():
            j += 1
        if j >= n or out.is_heading(j) or out.is_terminator(j) or out.in_code(j):
            return i + 1, ""
        i = j
    start = i
    while i < n and doc.content(i).strip() and not out.in_code(i) and not out.is_terminator(i):
        if ITEM.match(doc.content(i)) or PLAIN_RULES.fullmatch(doc.content(i)):
            return start, ""  # the first paragraph is a list: go above it, not into it
        i += 1
        if i < n and out.is_heading(i):
            break
    return i, ""


def _already(args: Mapping[str, str]) -> str:
    return f"the tone is already {args.get('tone', '')}"


def _complete(typed: str, text: str | None) -> list[str] | None:
    m = _TYPED.fullmatch(typed)
    if not m:
        return None
    return [f"{m.group('verb')} tone to {t}" for t in rank(m.group("q"), COMMON_TONES)]


FORM = InstructionForm(
    op="set_tone",
    forms=("change tone to <tone>", "set tone to <tone>"),
    description="rewrites the `Tone:` line (adds one if missing)",
    example="change tone to playful",
    match=one_value("set_tone", _TONE, "tone", tone_value),
    apply=set_tone,
    noop_reason=_already,
    stubs=(Stub(_STUB, "Say which tone.", StubKind.WHOLE, "change tone to"),),
    complete=_complete,
)
