"""Completions for a half-typed instruction (the dashboard's input box).

Suggestions are whole instructions, best first: known forms that start with
what was typed (then the ones it fuzzily resembles), and where the prompt is
known, its own rules (``remove rule about ...``) and fields (``set ... to``).
Placeholders such as ``<value>`` mark what is still to be typed. Each form's
own completions are its ``complete`` (see :mod:`.forms`).
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from dynamic_prompt.core.modifier.forms import FORMS, KNOWN_FORMS

_COMPLETERS = tuple(form.complete for form in FORMS if form.complete is not None)


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
    """Completions that fill in a form's argument: the first form that knows ``typed`` answers."""
    for complete in _COMPLETERS:
        found = complete(typed, text)
        if found is not None:
            return found
    return []


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
