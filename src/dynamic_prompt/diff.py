"""Line and word diffs of prompt text, computed on rapidfuzz opcodes.

Pure: no Redis, no Textual, no Rich, and no :mod:`difflib`: rapidfuzz's
bit-parallel LCS plus the trimming below make a unified diff of a 2,000-line
prompt 4-5x faster than ``difflib.unified_diff`` (most of the ~1 ms left is
``str.split`` and hashing the lines) and a 1 MB prompt with a few edits
about 5x faster, under 10 ms (``benchmarks/bench_diff.py``).

The model is the one of ``diff -u``: a text is a sequence of lines separated by
``"\\n"``; a final line without a newline is a different line from the same
text with one (so a lost trailing newline shows as a change and the unified
output carries ``\\ No newline at end of file``, which ``patch`` understands).

How the line diff is computed:

1. the common prefix and suffix lines are trimmed (most edits touch a few
   lines of a big prompt);
2. each distinct remaining line becomes a small int, so rapidfuzz compares
   ints;
3. what is left goes to :func:`rapidfuzz.distance.Indel.opcodes` (insert and
   delete only, i.e. a true longest common subsequence, like ``diff``);
4. except when it is still big: the LCS is O(n*m/64), ~100 ms for a
   20,000-line prompt with edits spread all over, so a big range is first
   aligned with rapidfuzz's banded Levenshtein (cost grows with the number of
   edits, not the size squared) and only its changed regions get the LCS.

Adjacent deletes and inserts are merged into one *replaced block*: all the
deleted lines, then all the inserted ones. Within a block, deleted and
inserted lines are *paired* for the word-level diff (and for the summary's
``~`` and the side-by-side rows) by an in-order alignment that maximises
their summed similarity. For a block edited in place that is simply the i-th
deleted line with the i-th inserted one; when the sizes differ, the edited
line keeps its real partner.
That is what turns ``DEFAULT 3 SENTENCES`` -> ``6. Never use emojis`` +
``DEFAULT 2 SENTENCES`` into ``+ 6. Never use emojis`` / ``~ DEFAULT 2
SENTENCES`` (the seed's own example) instead of pairing the wrong lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count, zip_longest
from typing import Any, cast

from rapidfuzz.distance import Indel, Levenshtein

__all__ = [
    "DiffLine",
    "Span",
    "changed_new_lines",
    "count_changes",
    "hunks",
    "line_diff",
    "side_by_side",
    "summary",
    "unified",
    "word_spans",
]

#: Paired lines longer than this (either side) are not word-diffed: the whole
#: line is marked changed. Bounds the cost of one pathological line.
WORD_DIFF_MAX_CHARS = 2000

#: A diff in which more replaced lines than this could pair up is a rewrite:
#: its paired lines are marked changed whole instead of word by word.
WORD_DIFF_MAX_PAIRS = 10_000

#: A changed range of n x m lines bigger than this is aligned with the banded
#: Levenshtein first (see :func:`_banded`); below it the exact LCS costs < 4 ms.
BANDED_MIN_CELLS = 16_000_000

#: Lines less similar than this (rapidfuzz Indel normalized similarity, 0..1)
#: are not paired: they read as a plain delete and insert, not as an edit.
PAIR_MIN_SIMILARITY = 0.3

#: Blocks with more deleted x inserted line pairs than this skip the
#: similarity alignment (a Python O(n*m) table) and pair positionally.
PAIR_MAX_CELLS = 40_000

# Words, whitespace runs and punctuation runs: a changed word is marked
# without dragging its neighbouring spaces or punctuation along.
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]+")

# (tag, old_start, old_end, new_start, new_end), 0-based, end exclusive.
# tag is "equal" or "change" (a change may be a pure delete or insert).
_Block = tuple[str, int, int, int, int]


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of one line's text.

    ``changed`` is True for the words that were deleted (on an old line) or
    inserted (on a new line) *within* a replaced line; the spans of a line
    always concatenate to its text.
    """

    text: str
    changed: bool


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a line diff.

    ``tag`` is ``"equal"``, ``"delete"`` or ``"insert"``; ``old_no`` and
    ``new_no`` are 1-based line numbers on each side (None on the side the
    line is absent from). ``spans`` is the word-level view: for a deleted or
    inserted line paired with a line on the other side the changed words are
    marked, otherwise it is one unchanged span of the whole text.

    ``missing_newline`` is True when this is the last line of its text and
    that text does not end with a newline (it is excluded from equality so it
    never surprises a comparison; the unified output uses it).
    """

    tag: str
    old_no: int | None
    new_no: int | None
    text: str
    spans: tuple[Span, ...]
    missing_newline: bool = field(default=False, compare=False)


# --------------------------------------------------------------------------
# Splitting and the line-level algorithm
# --------------------------------------------------------------------------


class _Texts:
    """Both texts split into lines, and the merged equal/change blocks."""

    __slots__ = ("_word_level", "a", "a_nonl", "b", "b_nonl", "blocks")

    def __init__(self, old: str, new: str) -> None:
        self.a, self.a_nonl = _split(old)
        self.b, self.b_nonl = _split(new)
        self.blocks: list[_Block] = _line_blocks(self.a, self.a_nonl, self.b, self.b_nonl)
        self._word_level: bool | None = None

    def word_level(self) -> bool:
        """Whether replaced lines get word-level spans in this diff.

        Decided once for the whole diff (so every hunk looks alike): not when
        more than :data:`WORD_DIFF_MAX_PAIRS` lines could pair up -- that is a
        rewrite, where word marks are noise and would cost ~30 us a line.
        """
        if self._word_level is None:
            pairable = sum(min(i2 - i1, j2 - j1) for _, i1, i2, j1, j2 in self.changes())
            self._word_level = pairable <= WORD_DIFF_MAX_PAIRS
        return self._word_level

    def old_nonl(self, i: int) -> bool:
        """Whether 0-based old line ``i`` is a last line with no newline."""
        return self.a_nonl and i == len(self.a) - 1

    def new_nonl(self, j: int) -> bool:
        """Whether 0-based new line ``j`` is a last line with no newline."""
        return self.b_nonl and j == len(self.b) - 1

    def changes(self) -> Iterator[_Block]:
        """The replaced/deleted/inserted blocks only."""
        return (blk for blk in self.blocks if blk[0] == "change")

    def diff_lines(self, blocks: list[_Block]) -> list[DiffLine]:
        """DiffLines (with word spans) for ``blocks`` (or slices of them)."""
        a = self.a
        last_a = len(a) - 1 if self.a_nonl else -1
        out: list[DiffLine] = []
        append = out.append
        for tag, i1, i2, j1, j2 in blocks:
            if tag == "equal":
                # The hot loop on big prompts: no method calls per line.
                shift = j1 - i1
                for i in range(i1, i2):
                    text = a[i]
                    append(
                        DiffLine(
                            "equal", i + 1, i + shift + 1, text, (Span(text, False),), i == last_a
                        )
                    )
                continue
            deleted, inserted, _ = self.change_lines(i1, i2, j1, j2)
            out += deleted
            out += inserted
        return out

    def change_lines(
        self, i1: int, i2: int, j1: int, j2: int
    ) -> tuple[list[DiffLine], list[DiffLine], list[tuple[int, int]]]:
        """A replaced block's deleted and inserted DiffLines, and their pairs."""
        olds, news = self.a[i1:i2], self.b[j1:j2]
        pairs = _pair(olds, news)
        old_spans: dict[int, tuple[Span, ...]] = {}
        new_spans: dict[int, tuple[Span, ...]] = {}
        word_level = self.word_level()
        for k, l in pairs:
            if word_level:
                old_spans[k], new_spans[l] = word_spans(olds[k], news[l])
            else:
                old_spans[k], new_spans[l] = _whole(olds[k]), _whole(news[l])
        deleted = [
            DiffLine(
                "delete",
                i1 + k + 1,
                None,
                text,
                old_spans.get(k) or (Span(text, False),),
                self.old_nonl(i1 + k),
            )
            for k, text in enumerate(olds)
        ]
        inserted = [
            DiffLine(
                "insert",
                None,
                j1 + k + 1,
                text,
                new_spans.get(k) or (Span(text, False),),
                self.new_nonl(j1 + k),
            )
            for k, text in enumerate(news)
        ]
        return deleted, inserted, pairs


def _split(text: str) -> tuple[list[str], bool]:
    """Lines of ``text`` and whether the last one lacks a newline.

    Only ``"\\n"`` separates lines (``str.splitlines`` would also split on
    ``\\r``, form feeds and Unicode separators, which a diff must keep as
    text). A trailing ``"\\n"`` ends the last line rather than starting an
    empty one, as in ``diff``; the empty text has no lines.
    """
    if not text:
        return [], False
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
        return lines, False
    return lines, True


def _line_blocks(a: list[str], a_nonl: bool, b: list[str], b_nonl: bool) -> list[_Block]:
    """Merged equal/change blocks turning lines ``a`` into lines ``b``."""
    n, m = len(a), len(b)
    # Common prefix and suffix first, on the strings themselves: a live edit
    # touches a few lines of a big prompt, and this way only those are mapped.
    p = _common_prefix(a, b)
    if p and ((a_nonl and p == n) or (b_nonl and p == m)) and not (a_nonl and b_nonl and n == m):
        # The last line matched by text but only one side ends in a newline.
        p -= 1
    # A differing newline status makes the last lines differ: no suffix then.
    s = _common_suffix(a, b, min(n, m) - p) if a_nonl == b_nonl else 0
    a_keys, b_keys = a[p : n - s], b[p : m - s]
    # A last line with no newline must not equal the same text with one. No
    # real line contains "\n", so text + "\n" is a key nothing else can have.
    if a_nonl and not s and a_keys:
        a_keys[-1] += "\n"
    if b_nonl and not s and b_keys:
        b_keys[-1] += "\n"
    # Each distinct line becomes a small int: rapidfuzz compares dense ints
    # several times faster than strings or arbitrary (hash-sized) ints.
    # (map() with a running count keeps the loop in C; ids of repeated lines
    # skip numbers, which is harmless: they only need to be equal and small.)
    setdefault: Any = {}.setdefault
    a_ids = list(map(setdefault, a_keys, count()))
    b_ids = list(map(setdefault, b_keys, count(len(a_keys))))
    blocks = _merge(_raw_opcodes(a_ids, b_ids), p)
    if p:
        if blocks and blocks[0][0] == "equal":  # cannot happen, but stay exact
            blocks[0] = ("equal", 0, blocks[0][2], 0, blocks[0][4])
        else:
            blocks.insert(0, ("equal", 0, p, 0, p))
    if s:
        if blocks and blocks[-1][0] == "equal":
            blocks[-1] = ("equal", blocks[-1][1], n, blocks[-1][3], m)
        else:
            blocks.append(("equal", n - s, n, m - s, m))
    return blocks


def _common_prefix(a: list[str], b: list[str]) -> int:
    """Number of leading lines ``a`` and ``b`` share (compared 64 at a time in C)."""
    limit = min(len(a), len(b))
    i = 0
    while i + 64 <= limit and a[i : i + 64] == b[i : i + 64]:
        i += 64
    while i < limit and a[i] == b[i]:
        i += 1
    return i


def _common_suffix(a: list[str], b: list[str], limit: int) -> int:
    """Number of trailing lines ``a`` and ``b`` share, at most ``limit``."""
    n, m = len(a), len(b)
    k = 0
    while k + 64 <= limit and a[n - k - 64 : n - k] == b[m - k - 64 : m - k]:
        k += 64
    while k < limit and a[n - k - 1] == b[m - k - 1]:
        k += 1
    return k


def _raw_opcodes(a: list[int], b: list[int]) -> list[_Block]:
    """Opcodes ("equal"/"delete"/"insert") turning ``a`` into ``b``, in order."""
    n, m = len(a), len(b)
    if n == 0 or m == 0 or n * m <= BANDED_MIN_CELLS:
        return _lcs(a, b)
    return _banded(a, b)


def _lcs(a: list[int], b: list[int], di: int = 0, dj: int = 0) -> list[_Block]:
    """Exact LCS opcodes of ``a`` vs ``b``, shifted by ``di`` / ``dj``."""
    if not a or not b:
        if not a and not b:
            return []
        return [("insert" if not a else "delete", di, di + len(a), dj, dj + len(b))]
    # as_list() gives plain tuples (the typing stubs say Opcode objects).
    ops = cast("list[_Block]", Indel.opcodes(a, b).as_list())
    if di or dj:
        return [(tag, di + i1, di + i2, dj + j1, dj + j2) for tag, i1, i2, j1, j2 in ops]
    return ops


def _banded(a: list[int], b: list[int]) -> list[_Block]:
    """Opcodes for a big range, in time proportional to size x edit count.

    rapidfuzz's Levenshtein alignment with a small ``score_hint`` runs a band
    around the diagonal and widens it only as needed, so 20,000 lines with a
    few edits cost ~3 ms instead of ~100 ms for the full LCS. Levenshtein may
    align two different lines as a substitution where the LCS would have kept
    a nearby equal line, so each changed region it reports is re-diffed with
    the exact LCS: equal runs stay where they are, and inside the regions the
    result is what ``diff`` would show.
    """
    out: list[_Block] = []
    region: list[int] | None = None  # [i1, i2, j1, j2] of pending changes
    hint = max(16, abs(len(a) - len(b)))
    ops = cast("list[_Block]", Levenshtein.opcodes(a, b, score_hint=hint).as_list())
    for tag, i1, i2, j1, j2 in ops:
        if tag != "equal":
            if region is None:
                region = [i1, i2, j1, j2]
            else:
                region[1], region[3] = i2, j2
            continue
        if region is not None:
            i, j = region[0], region[2]
            out.extend(_lcs(a[i : region[1]], b[j : region[3]], i, j))
            region = None
        out.append(("equal", i1, i2, j1, j2))
    if region is not None:
        i, j = region[0], region[2]
        out.extend(_lcs(a[i : region[1]], b[j : region[3]], i, j))
    return out


def _merge(ops: list[_Block], shift: int = 0) -> list[_Block]:
    """Join adjacent opcodes into alternating "equal" / "change" blocks.

    ``shift`` is added to every index (the opcodes came from a trimmed middle).
    """
    blocks: list[_Block] = []
    append = blocks.append
    last = ""
    for tag, i1, i2, j1, j2 in ops:
        if i1 == i2 and j1 == j2:
            continue
        kind = "equal" if tag == "equal" else "change"
        if kind == last:
            blocks[-1] = (kind, blocks[-1][1], i2 + shift, blocks[-1][3], j2 + shift)
        else:
            append((kind, i1 + shift, i2 + shift, j1 + shift, j2 + shift))
            last = kind
    return blocks


def _grouped(blocks: list[_Block], context: int) -> list[list[_Block]]:
    """Blocks grouped into hunks with ``context`` equal lines around changes."""
    if context < 0:
        raise ValueError("context must be >= 0")
    if len(blocks) < 2 and (not blocks or blocks[0][0] == "equal"):
        return []  # blocks alternate, so a change exists iff there are 2+ or one "change"
    groups: list[list[_Block]] = []
    current: list[_Block] = []
    last = len(blocks) - 1
    for idx, block in enumerate(blocks):
        if block[0] == "change":
            current.append(block)
            continue
        _, i1, i2, j1, j2 = block
        if idx and idx != last and i2 - i1 <= 2 * context:
            current.append(block)  # a short equal run stays inside the hunk
            continue
        if idx:  # context after the previous change
            keep = min(i2 - i1, context)
            if keep:
                current.append(("equal", i1, i1 + keep, j1, j1 + keep))
            if idx == last:
                break
            groups.append(current)  # a long equal run ends this hunk ...
            current = []
        keep = min(i2 - i1, context)  # ... and gives the next one its context
        if keep:
            current.append(("equal", i2 - keep, i2, j2 - keep, j2))
    groups.append(current)
    return groups


def _pair(olds: list[str], news: list[str]) -> list[tuple[int, int]]:
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


def _rows(
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


# --------------------------------------------------------------------------
# Word level
# --------------------------------------------------------------------------


def _whole(line: str) -> tuple[Span, ...]:
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
        return _whole(old_line), _whole(new_line)
    a_tok = _TOKEN.findall(old_line)
    b_tok = _TOKEN.findall(new_line)
    ids: dict[str, int] = {}
    setdefault = ids.setdefault
    a_ids = [setdefault(t, len(ids)) for t in a_tok]
    b_ids = [setdefault(t, len(ids)) for t in b_tok]
    # Segments alternate unchanged / changed: [changed, old text, new text].
    segs: list[list[Any]] = []
    for tag, i1, i2, j1, j2 in cast("list[_Block]", Indel.opcodes(a_ids, b_ids).as_list()):
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


# --------------------------------------------------------------------------
# Public views
# --------------------------------------------------------------------------


def line_diff(old: str, new: str) -> list[DiffLine]:
    """The whole line diff from ``old`` to ``new``, in order.

    A replaced block comes as all its deleted lines, then all its inserted
    lines; each deleted line is word-diffed against the inserted line it is
    paired with (the i-th with the i-th for a block edited in place; see the
    module docstring for blocks of different sizes).
    The equal and deleted lines reproduce ``old``; equal and inserted, ``new``.
    """
    texts = _Texts(old, new)
    return texts.diff_lines(texts.blocks)


def hunks(old: str, new: str, context: int = 3) -> list[list[DiffLine]]:
    """The changed lines grouped with up to ``context`` equal lines around them.

    Changes closer than ``2 * context`` equal lines share a hunk, as in
    ``diff -u``. Empty list when the texts are equal.
    """
    texts = _Texts(old, new)
    return [texts.diff_lines(group) for group in _grouped(texts.blocks, context)]


def side_by_side(old: str, new: str) -> list[tuple[DiffLine | None, DiffLine | None]]:
    """Rows for a two-column view: (old side, new side).

    An equal line fills both cells (the same DiffLine); a replaced block
    pairs its deleted and inserted lines row by row, and its extra lines
    (or a pure delete/insert) leave the other cell None.
    """
    texts = _Texts(old, new)
    rows: list[tuple[DiffLine | None, DiffLine | None]] = []
    for block in texts.blocks:
        tag, i1, i2, j1, j2 = block
        if tag == "equal":
            rows.extend((line, line) for line in texts.diff_lines([block]))
            continue
        deleted, inserted, pairs = texts.change_lines(i1, i2, j1, j2)
        rows.extend(
            (None if k is None else deleted[k], None if l is None else inserted[l])
            for k, l, _ in _rows(i2 - i1, j2 - j1, pairs)
        )
    return rows


def _format_range(start: int, stop: int) -> str:
    """A hunk header range as ``diff -u`` writes it (POSIX convention)."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    # An empty range names the line *before* it (0 at the top of the file).
    return f"{start + 1 if length else start},{length}"


def unified(
    old: str,
    new: str,
    *,
    from_label: str = "backup",
    to_label: str = "active",
    context: int = 3,
) -> str:
    """A standard unified diff (``diff -u`` / ``patch`` format); "" when equal.

    Headers ``--- from_label`` / ``+++ to_label``, hunks with
    ``@@ -a,b +c,d @@``, lines prefixed ``' '``, ``'-'``, ``'+'``, and
    ``\\ No newline at end of file`` after a last line that has none.
    """
    if old == new:
        return ""
    texts = _Texts(old, new)
    a, b = texts.a, texts.b
    # Only the very last line of a side can lack its newline; mark it there.
    last_a = len(a) if texts.a_nonl else -1
    last_b = len(b) if texts.b_nonl else -1
    nonl = "\\ No newline at end of file\n"
    out = [f"--- {from_label}\n", f"+++ {to_label}\n"]
    emit = out.append
    join_eq, join_del, join_ins = "\n ".join, "\n-".join, "\n+".join
    for group in _grouped(texts.blocks, context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        emit(f"@@ -{_format_range(i1, i2)} +{_format_range(j1, j2)} @@\n")
        # One join per run of lines, inlined: this loop is a fifth of the time.
        for tag, p1, p2, q1, q2 in group:
            if tag == "equal":
                emit(f" {join_eq(a[p1:p2])}\n")
                if p2 == last_a:
                    emit(nonl)
                continue
            if p2 > p1:
                emit(f"-{join_del(a[p1:p2])}\n")
                if p2 == last_a:
                    emit(nonl)
            if q2 > q1:
                emit(f"+{join_ins(b[q1:q2])}\n")
                if q2 == last_b:
                    emit(nonl)
    return "".join(out)


def summary(old: str, new: str) -> list[str]:
    """Short one-line descriptions of the changes, in the seed's style.

    A replaced line gives ``"~ <new line>"``, an inserted one ``"+ <line>"``,
    a deleted one ``"- <line>"`` (stripped). Blank lines are skipped, and a
    non-blank line "replaced" by a blank one reads as a delete (and the other
    way round as an insert). E.g. ``["~ Tone: Sarcastic", "+ 6. Never use
    emojis", "~ DEFAULT 2 SENTENCES"]``.
    """
    texts = _Texts(old, new)
    out: list[str] = []
    for _, i1, i2, j1, j2 in texts.changes():
        olds, news = texts.a[i1:i2], texts.b[j1:j2]
        for k, l, paired in _rows(len(olds), len(news), _pair(olds, news)):
            before = "" if k is None else olds[k].strip()
            after = "" if l is None else news[l].strip()
            if paired and before and after:
                out.append(f"~ {after}")
                continue
            if before:
                out.append(f"- {before}")
            if after:
                out.append(f"+ {after}")
    return out


def count_changes(old: str, new: str) -> tuple[int, int]:
    """(lines added, lines removed); a replaced line counts once in each."""
    added = removed = 0
    for _, i1, i2, j1, j2 in _Texts(old, new).changes():
        added += j2 - j1
        removed += i2 - i1
    return added, removed


def changed_new_lines(old: str, new: str) -> set[int]:
    """1-based numbers of the lines of ``new`` that are inserted or replaced."""
    lines: set[int] = set()
    for _, _, _, j1, j2 in _Texts(old, new).changes():
        lines.update(range(j1 + 1, j2 + 1))
    return lines
