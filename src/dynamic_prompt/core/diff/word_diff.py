"""Word-level changes inside replaced lines, and which deleted line pairs with which inserted one.

Part of :mod:`dynamic_prompt.core.diff` (which re-exports :class:`Span` and
:func:`word_spans`). Pure, on rapidfuzz: tokens become small ints and
:func:`rapidfuzz.distance.Indel.opcodes` aligns them; line similarity for
pairing is :func:`rapidfuzz.distance.Indel.normalized_similarity`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any, cast

from rapidfuzz.distance import Indel

from dynamic_prompt.core.diff.line_align import Block

#: Paired lines longer than this (either side) are not word-diffed: the whole
#: line is marked changed. Bounds the cost of one pathological line.
WORD_DIFF_MAX_CHARS = 2000

#: A diff in which more replaced lines than this could pair up is a rewrite:
#: its paired lines are marked changed whole instead of word by word.
WORD_DIFF_MAX_PAIRS = 10_000

#: Lines less similar than this (rapidfuzz Indel normalized similarity, 0..1)
#: are not paired: they read as a plain delete and insert, not as an edit.
PAIR_MIN_SIMILARITY = 0.3

#: Blocks with more deleted x inserted line pairs than this skip the
#: similarity alignment (a Python O(n*m) table) and pair positionally.
PAIR_MAX_CELLS = 40_000

# Words, whitespace runs and punctuation runs: a changed word is marked
# without dragging its neighbouring spaces or punctuation along.
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]+")


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of one line's text.

    ``changed`` is True for the words that were deleted (on an old line) or
    inserted (on a new line) *within* a replaced line; the spans of a line
    always concatenate to its text.
    """

    text: str
    changed: bool


def pair_lines(olds: list[str], news: list[str]) -> list[tuple[int, int]]:
    """Which deleted line (index into ``olds``) pairs with which inserted one.

    Pairs keep their order on both sides. Small blocks get the in-order
    alignment that maximises the summed similarity (so an inserted line does
    not steal the partner of the line that was actually edited); big ones are
    paired positionally. Pairs below :data:`PAIR_MIN_SIMILARITY` are dropped.
    """
    n, m = len(olds), len(news)
    if n == 0 or m == 0:
        return []
    floor = PAIR_MIN_SIMILARITY
    sim = Indel.normalized_similarity
    if n * m > PAIR_MAX_CELLS or n == m == 1:
        return [(k, k) for k in range(min(n, m)) if sim(olds[k], news[k]) >= floor]
    scores = [[sim(o, w, score_cutoff=floor) for w in news] for o in olds]
    # best[i][j]: max summed similarity aligning olds[:i] with news[:j].
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        row, above, srow = best[i], best[i - 1], scores[i - 1]
        for j in range(1, m + 1):
            value = max(above[j], row[j - 1])
            score = srow[j - 1]
            if score and above[j - 1] + score >= value:
                value = above[j - 1] + score
            row[j] = value
    pairs: list[tuple[int, int]] = []
    i, j = n, m
    while i and j:
        score = scores[i - 1][j - 1]
        if score and best[i][j] == best[i - 1][j - 1] + score:
            pairs.append((i - 1, j - 1))
            i -= 1
            j -= 1
        elif best[i][j] == best[i - 1][j]:
            i -= 1
        else:
            j -= 1
    pairs.reverse()
    return pairs


def block_rows(
    n: int, m: int, pairs: list[tuple[int, int]]
) -> Iterator[tuple[int | None, int | None, bool]]:
    """Walk a replaced block of n deleted and m inserted lines as rows.

    Yields (deleted index, inserted index, paired). Between two pairs, the
    unpaired lines of both sides share rows (a compact two-column view) but
    are flagged unpaired.
    """
    pi = pj = 0
    for i, j in [*pairs, (n, m)]:
        for k, l in zip_longest(range(pi, i), range(pj, j)):
            yield k, l, False
        if i < n and j < m:
            yield i, j, True
        pi, pj = i + 1, j + 1



def whole(line: str) -> tuple[Span, ...]:
    """A paired line marked changed as a whole (an empty line has nothing to mark)."""
    return (Span(line, bool(line)),)


def word_spans(old_line: str, new_line: str) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
    """Word-level diff of two lines: (spans of ``old_line``, spans of ``new_line``).

    Lines are cut into words, whitespace runs and punctuation runs, and
    rapidfuzz aligns the token ids; deleted tokens are marked changed on the
    old side, inserted ones on the new side. An unchanged stretch caught
    between two changes is folded into them when it is only whitespace or no
    longer than the changes on either side (the "semantic cleanup" rule of
    diff-match-patch), so "the agent must reply" -> "a user must answer"
    reads as one rewritten phrase rather than confetti around " must ".
    Lines longer than :data:`WORD_DIFF_MAX_CHARS` are marked changed whole.
    Spans are merged (neighbours differ in ``changed``) and concatenate to
    the line; an empty line is the single span ``Span("", False)``.
    """
    if old_line == new_line:
        return (Span(old_line, False),), (Span(new_line, False),)
    if len(old_line) > WORD_DIFF_MAX_CHARS or len(new_line) > WORD_DIFF_MAX_CHARS:
        return whole(old_line), whole(new_line)
    a_tok = _TOKEN.findall(old_line)
    b_tok = _TOKEN.findall(new_line)
    ids: dict[str, int] = {}
    setdefault = ids.setdefault
    a_ids = [setdefault(t, len(ids)) for t in a_tok]
    b_ids = [setdefault(t, len(ids)) for t in b_tok]
    # Segments alternate unchanged / changed: [changed, old text, new text].
    segs: list[list[Any]] = []
    for tag, i1, i2, j1, j2 in cast("list[Block]", Indel.opcodes(a_ids, b_ids).as_list()):
        old_text = "".join(a_tok[i1:i2])
        if tag == "equal":
            segs.append([False, old_text, old_text])
        elif segs and segs[-1][0]:
            segs[-1][1] += old_text
            segs[-1][2] += "".join(b_tok[j1:j2])
        else:
            segs.append([True, old_text, "".join(b_tok[j1:j2])])
    # Fold small equalities into the changes around them until none is left;
    # each pass merges neighbouring changes first, so a fold can enable the next.
    folded = True
    while folded:
        folded = False
        merged: list[list[Any]] = []
        for seg in segs:
            if merged and seg[0] and merged[-1][0]:
                merged[-1][1] += seg[1]
                merged[-1][2] += seg[2]
            else:
                merged.append(seg)
        segs = merged
        for k in range(1, len(segs) - 1):
            seg = segs[k]
            if seg[0]:
                continue
            before, after = segs[k - 1], segs[k + 1]
            size = len(seg[1])
            if seg[1].isspace() or (
                size <= max(len(before[1]), len(before[2]))
                and size <= max(len(after[1]), len(after[2]))
            ):
                seg[0] = folded = True
    return _spans(segs, 1), _spans(segs, 2)


def _spans(segs: list[list[Any]], side: int) -> tuple[Span, ...]:
    """One side's Spans from the segments, neighbours with one flag merged."""
    spans: list[Span] = []
    text, changed = "", False
    for seg in segs:
        if not seg[side]:
            continue
        if text and seg[0] != changed:
            spans.append(Span(text, changed))
            text = ""
        text += seg[side]
        changed = seg[0]
    if text or not spans:
        spans.append(Span(text, changed if text else False))
    return tuple(spans)
