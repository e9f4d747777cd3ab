"""Which lines of two texts are equal and which changed: the line alignment of :mod:`dynamic_prompt.core.diff`.

Pure, on rapidfuzz opcodes (no :mod:`difflib`):

1. the common prefix and suffix are cut off *by characters* before anything
   is split (:func:`text_edges`): a ``memcmp`` in C, where splitting and
   hashing is Python work per line. Only the middle is split; the edges are
   counted with ``str.count`` and a view's context lines cut from them
   (:class:`Alignment`);
2. :func:`line_blocks` trims common lines too (on whole texts it is the
   reference path, giving the same blocks);
3. each distinct remaining line becomes a small int, so rapidfuzz compares
   ints, and :func:`rapidfuzz.distance.Indel.opcodes` aligns them (insert
   and delete only: a true longest common subsequence, like ``diff``);
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


#: Ready-made ids for the lines of a middle: map() over a list of existing
#: ints spares allocating an int object per line (CPython caches only those
#: up to 256), ~10% of a 2,000-line diff. Bigger middles count on.
_SMALL_INTS = list(range(8192))

#: First probe of :func:`prefix_len` / :func:`suffix_len` (then doubled):
#: big enough that a typical first difference costs one or two compares.
_PROBE = 256


def prefix_len(a: str, b: str) -> int:
    """Length of the common prefix of ``a`` and ``b``, in C-speed compares.

    Slices of ``b`` are compared with ``a`` in place, in growing steps
    (O(prefix) ``memcmp`` in all), then the step holding the first
    difference is bisected.
    """
    n = min(len(a), len(b))
    lo, step = 0, _PROBE
    while True:
        hi = min(n, lo + step)
        if not a.startswith(b[lo:hi], lo):
            break
        if hi == n:
            return n
        lo, step = hi, step * 2
    while hi - lo > 16:  # the first difference is in [lo, hi)
        mid = (lo + hi) // 2
        if a.startswith(b[lo:mid], lo):
            lo = mid
        else:
            hi = mid
    while a[lo] == b[lo]:
        lo += 1
    return lo


def suffix_len(a: str, b: str, limit: int) -> int:
    """Length of the common suffix of ``a`` and ``b``, at most ``limit``."""
    la, lb = len(a), len(b)
    lo, step = 0, _PROBE
    while True:
        hi = min(limit, lo + step)
        if not a.endswith(b[lb - hi : lb - lo], 0, la - lo):
            break
        if hi == limit:
            return limit
        lo, step = hi, step * 2
    while hi - lo > 16:  # the first difference from the end is in [lo, hi)
        mid = (lo + hi) // 2
        if a.endswith(b[lb - mid : lb - lo], 0, la - lo):
            lo = mid
        else:
            hi = mid
    while a[la - lo - 1] == b[lb - lo - 1]:
        lo += 1
    return lo


def text_edges(old: str, new: str) -> tuple[int, int]:
    """(head, tail): characters of the whole lines ``old`` and ``new`` share at each end.

    ``old[:head] == new[:head]`` are whole lines (it ends with a newline or
    is empty) and so are ``old[len(old) - tail:] == new[len(new) - tail:]``
    (starting at a line start on both sides), and they do not overlap. A
    last line without a newline never matches one with a newline.
    """
    p = len(old) if old == new else prefix_len(old, new)
    head = old.rfind("\n", 0, p) + 1
    tail = suffix_len(old, new, min(len(old), len(new)) - head)
    if tail:
        start_a, start_b = len(old) - tail, len(new) - tail
        if not (_line_start(old, start_a) and _line_start(new, start_b)):
            cut = old.find("\n", start_a)  # the partial line ends here
            tail = 0 if cut < 0 else len(old) - cut - 1
    return head, tail


def _line_start(text: str, i: int) -> bool:
    return i == 0 or text[i - 1] == "\n"


class Alignment:
    """Two texts' blocks, and the lines a view needs to show them.

    ``a`` / ``b`` hold old / new lines from line ``offset`` on
    (``a[i - offset]`` is old line ``i``): the changed middle and up to
    ``context`` lines of the equal edges on each side of it (every line
    when ``context`` is None). ``a_nonl`` / ``b_nonl`` say whether the last
    line lacks its newline. ``n`` / ``m`` count the lines, except that an
    equal tail longer than ``context`` lines is counted as ``context + 1``
    (no view with that context looks further, and counting newlines costs
    as much as splitting): the last block ends there.
    """

    __slots__ = ("a", "a_nonl", "b", "b_nonl", "blocks", "m", "n", "offset")

    def __init__(self, old: str, new: str, context: int | None) -> None:
        head, tail = text_edges(old, new)
        a_mid, a_mid_nonl = split_lines(old[head : len(old) - tail])
        b_mid, b_mid_nonl = split_lines(new[head : len(new) - tail])
        # The edges are the same text on both sides: cut their lines once.
        if context is None:
            before = old[: head - 1].split("\n") if head else []
            after = split_lines(old[len(old) - tail :])[0]
            heads = len(before)
            tails = len(after)
        else:
            before = _head_lines(old, head, context)
            heads = old.count("\n", 0, head)
            after = _tail_lines(old, len(old) - tail, context + 1)
            tails = len(after)
            del after[context:]
        self.n, self.m = heads + len(a_mid) + tails, heads + len(b_mid) + tails
        self.a_nonl, self.b_nonl = old[-1:] not in ("", "\n"), new[-1:] not in ("", "\n")
        self.blocks = line_blocks(a_mid, a_mid_nonl, b_mid, b_mid_nonl, head=heads, tail=tails)
        self.offset = heads - len(before)
        # line_blocks is done with the middles: they become the windows.
        self.a = _window(before, a_mid, after)
        self.b = _window(before, b_mid, after)


def _window(before: list[str], middle: list[str], after: list[str]) -> list[str]:
    """``middle`` with ``before`` and ``after`` around it (in place: no copy of the middle)."""
    middle[:0] = before
    middle += after
    return middle


def _head_lines(text: str, end: int, k: int) -> list[str]:
    """The last ``k`` lines of ``text[:end]``, which ends with a newline."""
    if not end or k == 0:
        return []
    start = end - 1  # walk back k newlines instead of splitting the whole head
    for _ in range(k):
        start = text.rfind("\n", 0, start)
        if start < 0:
            break
    return text[start + 1 : end - 1].split("\n")


def _tail_lines(text: str, start: int, k: int) -> list[str]:
    """The first ``k`` lines of ``text[start:]`` (``start`` is a line start)."""
    if start == len(text) or k == 0:
        return []
    pos = start
    for _ in range(k):
        newline = text.find("\n", pos)
        if newline < 0:  # the last line, without a newline
            pos = len(text) + 1
            break
        pos = newline + 1
        if pos == len(text):
            break
    return text[start : pos - 1].split("\n")


def line_blocks(
    a: list[str], a_nonl: bool, b: list[str], b_nonl: bool, *, head: int = 0, tail: int = 0
) -> list[Block]:
    """Merged equal/change blocks turning lines ``a`` into lines ``b``.

    ``head`` / ``tail`` equal lines are known to come before / after ``a``
    and ``b`` (the edges :class:`Alignment` cut off by characters): the blocks
    cover them too, counting lines from the first of them.
    """
    n, m = len(a), len(b)
    # Common prefix and suffix first, on the strings themselves: a live edit
    # touches a few lines of a big prompt, and this way only those are mapped.
    p = _common_prefix(a, b)
    if p and ((a_nonl and p == n) or (b_nonl and p == m)) and not (a_nonl and b_nonl and n == m):
        # The last line matched by text but only one side ends in a newline.
        p -= 1
    # A differing newline status makes the last lines differ: no suffix then.
    s = _common_suffix(a, b, min(n, m) - p) if a_nonl == b_nonl else 0
    # No copies when nothing is trimmed (the usual case after text_edges).
    a_keys, b_keys = (a[p : n - s], b[p : m - s]) if p or s else (a, b)
    # A last line with no newline must not equal the same text with one. No
    # real line contains "\n", so text + "\n" is a key nothing else can have.
    if a_nonl and not s and a_keys:
        a_keys = [*a_keys[:-1], a_keys[-1] + "\n"]
    if b_nonl and not s and b_keys:
        b_keys = [*b_keys[:-1], b_keys[-1] + "\n"]
    # Each distinct line becomes a small int: rapidfuzz compares dense ints
    # several times faster than strings or arbitrary (hash-sized) ints.
    # (map() with a running count keeps the loop in C; ids of repeated lines
    # skip numbers, which is harmless: they only need to be equal and small.)
    setdefault: Any = {}.setdefault
    n_keys = len(a_keys)
    if n_keys + len(b_keys) <= len(_SMALL_INTS):
        a_ids = list(map(setdefault, a_keys, _SMALL_INTS))
        b_ids = list(map(setdefault, b_keys, _SMALL_INTS[n_keys : n_keys + len(b_keys)]))
    else:
        a_ids = list(map(setdefault, a_keys, count()))
        b_ids = list(map(setdefault, b_keys, count(n_keys)))
    lead, trail = head + p, s + tail
    blocks = _merge(_raw_opcodes(a_ids, b_ids), lead)
    if lead:
        if blocks and blocks[0][0] == "equal":  # cannot happen, but stay exact
            blocks[0] = ("equal", 0, blocks[0][2], 0, blocks[0][4])
        else:
            blocks.insert(0, ("equal", 0, lead, 0, lead))
    if trail:
        n, m = head + n + tail, head + m + tail
        if blocks and blocks[-1][0] == "equal":
            blocks[-1] = ("equal", blocks[-1][1], n, blocks[-1][3], m)
        else:
            blocks.append(("equal", n - trail, n, m - trail, m))
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
    Only the equal opcodes are looked at: a change is whatever lies between
    two of them (so the deletes and inserts cost no Python work).
    """
    blocks: list[Block] = []
    append = blocks.append
    i = j = 0  # where the last equal run ended
    for op in ops:
        if op[0] != "equal":
            continue
        _, i1, i2, j1, j2 = op
        if i1 == i2:
            continue
        if i1 != i or j1 != j:
            append(("change", i + shift, i1 + shift, j + shift, j1 + shift))
        elif blocks:  # two equal runs in a row (the banded path): one block
            _, i1, _, j1, _ = blocks.pop()
            i1, j1 = i1 - shift, j1 - shift
        append(("equal", i1 + shift, i2 + shift, j1 + shift, j2 + shift))
        i, j = i2, j2
    if ops and (ops[-1][2] != i or ops[-1][4] != j):
        append(("change", i + shift, ops[-1][2] + shift, j + shift, ops[-1][4] + shift))
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
        size = i2 - i1
        if idx and idx != last and size <= 2 * context:
            current.append(block)  # a short equal run stays inside the hunk
            continue
        keep = size if size < context else context
        if idx:  # context after the previous change
            if keep:
                current.append(("equal", i1, i1 + keep, j1, j1 + keep))
            if idx == last:
                break
            groups.append(current)  # a long equal run ends this hunk ...
            current = []
        if keep:  # ... and gives the next one its context
            current.append(("equal", i2 - keep, i2, j2 - keep, j2))
    groups.append(current)
    return groups
