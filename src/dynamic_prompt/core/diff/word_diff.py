"""Word-level changes inside replaced lines, and which deleted line pairs with which inserted one.

Part of :mod:`dynamic_prompt.core.diff` (which re-exports :class:`Span` and
:func:`word_spans`). Pure, on rapidfuzz: tokens become small ints and
:func:`rapidfuzz.distance.Indel.opcodes` aligns them; line similarity for
pairing is the Indel normalized similarity (:func:`line_similarity`).

Both stay cheap on huge lines (a 4 MB prompt on one line): the common
prefix and suffix of the two lines are cut off in C-speed compares first,
and only what is left in between is compared the expensive way, when it is
small enough; a big middle gets a linear-time bound instead of an O(n*m) LCS.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count, zip_longest
from typing import Any, cast

from rapidfuzz.distance import Indel, LCSseq

from dynamic_prompt.core.diff.line_align import Block, prefix_len, suffix_len

#: Paired lines longer than this (either side) are word-diffed only between
#: their common prefix and suffix, and only when what is left is no longer
#: than this; a longer middle is marked changed as a whole.
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

#: ... and so do blocks whose table would compare more characters than this
#: (each deleted line with every inserted one): a few long lines, not many.
PAIR_MAX_CHARS = 10_000_000

#: The exact LCS of two strings costs ~len(x) * len(y) / 64 machine words
#: (~0.3 ms at this size); bigger pairs of lines, after their common prefix
#: and suffix are cut off, get the linear bound of :func:`_anchored_lcs`.
SIMILARITY_EXACT_CELLS = 16_000_000

#: :func:`_anchored_lcs` compares chunks of this many characters, re-aligned
#: on an anchor of :data:`SIMILARITY_ANCHOR` characters found near where
#: it is expected.
SIMILARITY_CHUNK = 256
SIMILARITY_ANCHOR = 24
#: Chunks tried for an anchor before cutting where the anchor was expected.
SIMILARITY_ANCHOR_TRIES = 4

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
    not steal the partner of the line that was actually edited); big ones
    (more than :data:`PAIR_MAX_CELLS` pairs or :data:`PAIR_MAX_CHARS`
    characters to compare) are paired positionally. Pairs below
    :data:`PAIR_MIN_SIMILARITY` are dropped.
    """
    n, m = len(olds), len(news)
    if n == 0 or m == 0:
        return []
    floor = PAIR_MIN_SIMILARITY
    # Lines all short enough for the exact similarity: rapidfuzz directly
    # (a table calls it n*m times, a Python wrapper would double the cost).
    short = max(map(len, olds)) * max(map(len, news)) <= SIMILARITY_EXACT_CELLS
    sim: Any = Indel.normalized_similarity if short else line_similarity
    if n * m > PAIR_MAX_CELLS or n == m == 1 or _table_chars(olds, news) > PAIR_MAX_CHARS:
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


def _table_chars(olds: list[str], news: list[str]) -> int:
    """Characters the similarity table compares: each deleted line with every inserted one."""
    return len(news) * sum(map(len, olds)) + len(olds) * sum(map(len, news))


def line_similarity(x: str, y: str, score_cutoff: float = 0.0) -> float:
    """Indel normalized similarity of two lines (0..1), 0.0 when below ``score_cutoff``.

    Exact (rapidfuzz's ``Indel.normalized_similarity``) unless the lines are
    too long for an LCS after their common prefix and suffix are cut off
    (:data:`SIMILARITY_EXACT_CELLS`); then a lower bound, from
    :func:`_anchored_lcs`: never more similar than they are, and close for
    an edited line (which is what pairing needs to recognise).
    """
    floor = score_cutoff
    if len(x) * len(y) <= SIMILARITY_EXACT_CELLS:
        return Indel.normalized_similarity(x, y, score_cutoff=floor)
    total = len(x) + len(y)
    # The common prefix and suffix are part of every LCS; cutting them off
    # is exact, and leaves what an edit changed.
    p = prefix_len(x, y)
    s = suffix_len(x, y, min(len(x), len(y)) - p)
    mx, my = x[p : len(x) - s], y[p : len(y) - s]
    if 2 * (p + s + min(len(mx), len(my))) < floor * total:
        return 0.0  # even a perfect middle could not reach the floor
    if len(mx) * len(my) <= SIMILARITY_EXACT_CELLS:
        common = LCSseq.similarity(mx, my)
    else:
        common = _anchored_lcs(mx, my)
    # As rapidfuzz computes it: 1 - distance / total.
    similarity = 1.0 - (total - 2 * (p + s + common)) / total
    return similarity if similarity >= floor else 0.0


def _anchored_lcs(x: str, y: str) -> int:
    """A lower bound of the LCS length of ``x`` and ``y``, in linear time.

    ``x`` is cut into chunks of :data:`SIMILARITY_CHUNK` characters; where
    each chunk ends, the next :data:`SIMILARITY_ANCHOR` characters of ``x``
    are looked for in ``y`` around where they are expected (same drift as
    the chunk before), and ``y`` is cut there. Chunk pairs advance on both sides, so
    the sum of their exact LCS is a common subsequence of the whole: a lower
    bound, and near the truth when the edits are small and spread out (a
    word replaced everywhere). Cost: one small LCS and a short ``find`` per
    chunk.
    """
    step = SIMILARITY_CHUNK
    span = SIMILARITY_ANCHOR_TRIES * step + SIMILARITY_ANCHOR
    lcs = LCSseq.similarity
    total = i = j = 0
    while i + span < len(x) and j + span < len(y):
        ni, nj = _next_anchor(x, y, i, j)
        total += lcs(x[i:ni], y[j:nj])
        i, j = ni, nj
    return total + lcs(x[i:], y[j:])  # one side has at most a few chunks left


def _next_anchor(x: str, y: str, i: int, j: int) -> tuple[int, int]:
    """Where to cut ``x`` and ``y`` after the chunk pair starting at (i, j)."""
    step = SIMILARITY_CHUNK
    for k in range(1, SIMILARITY_ANCHOR_TRIES + 1):
        ni = i + k * step
        anchor = x[ni : ni + SIMILARITY_ANCHOR]
        expected = j + k * step
        # The nearest occurrence at or after the expected place, else before it.
        nj = y.find(anchor, expected, expected + step + SIMILARITY_ANCHOR)
        if nj < 0:
            nj = y.rfind(anchor, max(j, expected - step), expected + SIMILARITY_ANCHOR - 1)
        if nj >= 0:
            return ni, nj
    # No anchor (a rewritten stretch): cut where it was expected.
    return i + SIMILARITY_ANCHOR_TRIES * step, j + SIMILARITY_ANCHOR_TRIES * step


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
    Lines longer than :data:`WORD_DIFF_MAX_CHARS` are word-diffed between
    their common prefix and suffix of whole words (the same result, at the
    cost of what changed), and when even that middle is longer, it is marked
    changed as a whole.
    Spans are merged (neighbours differ in ``changed``) and concatenate to
    the line; an empty line is the single span ``Span("", False)``.
    """
    if old_line == new_line:
        return (Span(old_line, False),), (Span(new_line, False),)
    if len(old_line) > WORD_DIFF_MAX_CHARS or len(new_line) > WORD_DIFF_MAX_CHARS:
        segs = _trimmed_segments(old_line, new_line)
    else:
        segs = _token_segments(old_line, new_line)
    segs = _fold(segs)
    return _spans(segs, 1), _spans(segs, 2)


def _token_segments(old_line: str, new_line: str) -> list[list[Any]]:
    """Segments alternating unchanged / changed: [changed, old text, new text]."""
    a_tok = _TOKEN.findall(old_line)
    b_tok = _TOKEN.findall(new_line)
    # Token ids as in line_align: equal tokens share one, map() keeps it in C.
    setdefault: Any = {}.setdefault
    a_ids = list(map(setdefault, a_tok, count()))
    b_ids = list(map(setdefault, b_tok, count(len(a_tok))))
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
    return segs


def _trimmed_segments(old_line: str, new_line: str) -> list[list[Any]]:
    """:func:`_token_segments` of two long lines, at the cost of their middles.

    The common prefix and suffix of whole tokens are what the token LCS
    keeps unchanged anyway (rapidfuzz trims them the same way), so only the
    middle is tokenized; a middle still longer than
    :data:`WORD_DIFF_MAX_CHARS` is one changed segment.
    """
    p, s = _token_edges(old_line, new_line)
    mid_a, mid_b = old_line[p : len(old_line) - s], new_line[p : len(new_line) - s]
    if len(mid_a) > WORD_DIFF_MAX_CHARS or len(mid_b) > WORD_DIFF_MAX_CHARS:
        segs: list[list[Any]] = [[True, mid_a, mid_b]]
    else:
        segs = _token_segments(mid_a, mid_b)
    if p:
        segs.insert(0, [False, old_line[:p], old_line[:p]])
    if s:
        segs.append([False, old_line[len(old_line) - s :], old_line[len(old_line) - s :]])
    return segs


def _token_edges(a: str, b: str) -> tuple[int, int]:
    """Lengths of the common prefix and suffix of ``a`` and ``b`` made of whole tokens."""
    p = prefix_len(a, b)
    if p and not (_boundary(a, p) and _boundary(b, p)):
        p -= _run_before(a, p)  # back to the start of the token cut in two
    s = suffix_len(a, b, min(len(a), len(b)) - p)
    if s and not (_boundary(a, len(a) - s) and _boundary(b, len(b) - s)):
        # On to the end of the token cut in two (the same text on both sides).
        token = _TOKEN.match(a, len(a) - s)
        s = len(a) - token.end() if token else 0
    return p, s


def _boundary(text: str, i: int) -> bool:
    """Whether a token ends at ``text[i]`` (the characters around differ in class)."""
    if i == 0 or i == len(text):
        return True
    token = _TOKEN.match(text, i - 1, i + 1)
    return token is not None and token.end() == i


def _run_before(text: str, i: int) -> int:
    """Length of the run of one token class that ends at ``text[i - 1]``."""
    width = 64
    while True:
        lo = max(0, i - width)
        # The classes are per character, so the run reads the same reversed.
        token = _TOKEN.match(text[lo:i][::-1])
        run = token.end() if token else 0
        if run < i - lo or lo == 0:
            return run
        width *= 8


def _fold(segs: list[list[Any]]) -> list[list[Any]]:
    """Fold small equalities into the changes around them until none is left.

    Each pass merges neighbouring changes first, so a fold can enable the next.
    """
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
    return segs


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
