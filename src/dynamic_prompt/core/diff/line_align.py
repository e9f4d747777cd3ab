"""Which lines of two texts are equal and which changed: the line alignment of :mod:`dynamic_prompt.core.diff`.

Pure, on rapidfuzz opcodes (no :mod:`difflib`):

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

The result is a list of *blocks* ``(tag, i1, i2, j1, j2)``, alternating
``"equal"`` and ``"change"`` (a change may be a pure delete or insert), and
:func:`grouped` cuts them into hunks as ``diff -u`` does.
"""

from __future__ import annotations

from itertools import count
from typing import Any, cast

from rapidfuzz.distance import Indel, Levenshtein

#: A changed range of n x m lines bigger than this is aligned with the banded
#: Levenshtein first (see :func:`_banded`); below it the exact LCS costs < 4 ms.
BANDED_MIN_CELLS = 16_000_000

Block = tuple[str, int, int, int, int]
"""(tag, old_start, old_end, new_start, new_end), 0-based, end exclusive; tag "equal" or "change"."""


def split_lines(text: str) -> tuple[list[str], bool]:
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


def line_blocks(a: list[str], a_nonl: bool, b: list[str], b_nonl: bool) -> list[Block]:
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


def _raw_opcodes(a: list[int], b: list[int]) -> list[Block]:
    """Opcodes ("equal"/"delete"/"insert") turning ``a`` into ``b``, in order."""
    n, m = len(a), len(b)
    if n == 0 or m == 0 or n * m <= BANDED_MIN_CELLS:
        return _lcs(a, b)
    return _banded(a, b)


def _lcs(a: list[int], b: list[int], di: int = 0, dj: int = 0) -> list[Block]:
    """Exact LCS opcodes of ``a`` vs ``b``, shifted by ``di`` / ``dj``."""
    if not a or not b:
        if not a and not b:
            return []
        return [("insert" if not a else "delete", di, di + len(a), dj, dj + len(b))]
    # as_list() gives plain tuples (the typing stubs say Opcode objects).
    ops = cast("list[Block]", Indel.opcodes(a, b).as_list())
    if di or dj:
        return [(tag, di + i1, di + i2, dj + j1, dj + j2) for tag, i1, i2, j1, j2 in ops]
    return ops


def _banded(a: list[int], b: list[int]) -> list[Block]:
    """Opcodes for a big range, in time proportional to size x edit count.

    rapidfuzz's Levenshtein alignment with a small ``score_hint`` runs a band
    around the diagonal and widens it only as needed, so 20,000 lines with a
    few edits cost ~3 ms instead of ~100 ms for the full LCS. Levenshtein may
    align two different lines as a substitution where the LCS would have kept
    a nearby equal line, so each changed region it reports is re-diffed with
    the exact LCS: equal runs stay where they are, and inside the regions the
    result is what ``diff`` would show.
    """
    out: list[Block] = []
    region: list[int] | None = None  # [i1, i2, j1, j2] of pending changes
    hint = max(16, abs(len(a) - len(b)))
    ops = cast("list[Block]", Levenshtein.opcodes(a, b, score_hint=hint).as_list())
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


def _merge(ops: list[Block], shift: int = 0) -> list[Block]:
    """Join adjacent opcodes into alternating "equal" / "change" blocks.

    ``shift`` is added to every index (the opcodes came from a trimmed middle).
    """
    blocks: list[Block] = []
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


def grouped(blocks: list[Block], context: int) -> list[list[Block]]:
    """Blocks grouped into hunks with ``context`` equal lines around changes."""
    if context < 0:
        raise ValueError("context must be >= 0")
    if len(blocks) < 2 and (not blocks or blocks[0][0] == "equal"):
        return []  # blocks alternate, so a change exists iff there are 2+ or one "change"
    groups: list[list[Block]] = []
    current: list[Block] = []
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
