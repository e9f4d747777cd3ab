"""Ranking names against a half-typed query, for :func:`.suggest` and the forms' completions."""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz import fuzz, process


def rank(query: str, names: Iterable[str]) -> list[str]:
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
