"""Completions for a half-typed instruction (the dashboard's input box).

Suggestions are whole instructions, best first: known forms that start with
what was typed (then the ones it fuzzily resembles), and where the prompt is
known, its own rules (``remove rule about ...``) and fields (``set ... to``).
Placeholders such as ``<value>`` mark what is still to be typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rapidfuzz import fuzz, process

from dynamic_prompt.core.modifier.common import field_names
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.notes import TRAIT_NOTE
from dynamic_prompt.core.modifier.parser import KNOWN_FORMS
from dynamic_prompt.core.modifier.rule_blocks import TooManyRulesError
from dynamic_prompt.core.modifier.sections import Outline

COMMON_TONES = ("professional", "friendly", "casual", "formal", "playful", "empathetic", "neutral", "sarcastic")
COMMON_TRAITS = ("concise", "formal", "technical", "friendly", "detailed", "direct", "empathetic", "precise")

_REMOVE_RULE = re.compile(r"(?:remove|delete|drop) (?:the )?rules?(?: about)?(?: (?P<q>.*))?")
_SET = re.compile(r"set (?:the )?(?P<q>.*)")
_TONE = re.compile(r"(?P<verb>change|set) (?:the )?tone to (?P<q>.*)")
_TRAIT = re.compile(r"be (?P<dir>more|less) (?P<q>.*)")


def suggest(partial: str, text: str | None = None, limit: int = 8) -> list[str]:
    """Up to ``limit`` whole-instruction completions for ``partial``, best first.

    Args:
        partial: what has been typed so far.
        text: the prompt the instruction is for; enables rule and field names.
        limit: the most suggestions to return.
    """
    if limit <= 0:
        return []
    typed = re.sub(r"\s+", " ", partial.lstrip().lower())[:200]
    if not typed:
        return list(KNOWN_FORMS[:limit])
    specific = _specific(typed, text)
    return _dedupe([*specific, *_forms(typed)], limit)


def _specific(typed: str, text: str | None) -> list[str]:
    """Completions that fill in a form's argument from the prompt or common values."""
    m = _TONE.fullmatch(typed)
    if m:
        return [f"{m.group('verb')} tone to {t}" for t in _rank(m.group("q"), COMMON_TONES)]
    m = _TRAIT.fullmatch(typed)
    if m:
        own = _trait_notes(text) if text is not None else []
        return [f"be {m.group('dir')} {t}" for t in _rank(m.group("q"), [*own, *COMMON_TRAITS])]
    if text is None:
        return []
    m = _REMOVE_RULE.fullmatch(typed)
    if m:
        try:
            blocks = Outline(Lines(text)).rules_blocks()
        except TooManyRulesError:
            return []  # rule edits refuse this prompt: offering its rules would mislead
        names = [item.text for block in blocks for item in block.items]
        return [f"remove rule about {r}" for r in _rank(m.group("q") or "", names)]
    m = _SET.fullmatch(typed)
    if m and " to " not in m.group("q"):
        names = ["tone", *(n for n in field_names(Outline(Lines(text))) if n.lower() != "tone")]
        return [f"set {n} to <value>" if n != "tone" else "set tone to <tone>" for n in _rank(m.group("q"), names)]
    return []


def _trait_notes(text: str) -> list[str]:
    outline = Outline(Lines(text))
    doc = outline.doc
    found = []
    for i in outline.lines_with("be "):
        m = TRAIT_NOTE.fullmatch(doc.content(i))
        if m:
            found.append(m.group("trait").rstrip(" \t.!"))
    return found


def _rank(query: str, names: Iterable[str]) -> list[str]:
    """Names that start with / contain ``query`` first, then fuzzy matches; all when empty."""
    names = list(dict.fromkeys(names))
    q = query.strip()
    if not q:
        return names
    low = [n.lower() for n in names]
    starts = [n for n, l in zip(names, low) if l.startswith(q)]
    contains = [n for n, l in zip(names, low) if q in l and not l.startswith(q)]
    fuzzy = [
        names[k]
        for _, score, k in process.extract(q, low, scorer=fuzz.partial_ratio, limit=None, score_cutoff=60)
        if q not in low[k]
    ]
    return [*starts, *contains, *fuzzy]


def _forms(typed: str) -> list[str]:
    """Known forms that start with ``typed``, then those whose start it resembles (typos)."""
    starts = [f for f in KNOWN_FORMS if f.lower().startswith(typed)]
    if len(typed) < 3:
        return starts
    # Compare with each form's beginning of the same length, so "chnage t"
    # finds "change tone to <tone>" but "set " does not drag in every form.
    scored = [(fuzz.ratio(typed, f.lower()[: len(typed)]), k) for k, f in enumerate(KNOWN_FORMS)]
    fuzzy = [KNOWN_FORMS[k] for score, k in sorted(scored, key=lambda s: (-s[0], s[1])) if score >= 75]
    return [*starts, *fuzzy]


def _dedupe(items: list[str], limit: int) -> list[str]:
    return list(dict.fromkeys(items))[:limit]
