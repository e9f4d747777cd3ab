"""Revert one change and keep every later one: a three-way merge of lines (pure).

The change of version N turned ``before`` (version N-1) into ``after`` (version N);
since then, later changes turned ``after`` into ``current``. Reverting the change
means applying the inverse edit (``after`` -> ``before``) onto ``current``: both
are edits of the same base, ``after``, so both are aligned against it with the
project's own line alignment (:func:`~dynamic_prompt.core.diff.line_align.line_blocks`)
and their changed ranges are walked together:

* a range only the change touched gets its ``before`` lines back;
* a range only later changes touched keeps its ``current`` lines;
* ranges of both that overlap, or two insertions at the very same place, are a
  conflict, unless both sides made them the same text; then
  :class:`~dynamic_prompt.core.errors.RevertConflictError` names every such place
  and nothing is returned.

Ranges that only touch (an insertion right before or after the change's lines) are
not a conflict: their order is clear. Lines keep their newline, so a text whose last
line lacks one round-trips byte for byte: reverting a change right after it was made
gives ``before`` exactly.
"""

from __future__ import annotations

from dynamic_prompt.core.diff.line_align import line_blocks
from dynamic_prompt.core.errors import RevertConflictError
from dynamic_prompt.core.models import ConflictRegion

Hunk = tuple[int, int, int, int]
"""(base_start, base_end, side_start, side_end): base lines [start, end) become side lines."""

_CHANGE, _LATER = 0, 1
"""The two sides: the inverse of the change (after -> before) and the later changes (after -> current)."""


def split_keepends(text: str) -> list[str]:
    """The lines of ``text``, each with its ``"\\n"`` (the last may lack one).

    Only ``"\\n"`` ends a line: ``\\r``, form feeds and Unicode separators stay text,
    as in the diff. ``"".join(split_keepends(t)) == t`` for every text.
    """
    if not text:
        return []
    parts = text.split("\n")
    last = parts.pop()
    lines = [part + "\n" for part in parts]
    if last:
        lines.append(last)
    return lines


def revert_change(before: str, after: str, current: str, *, version: int = 0, name: str = "",
                  current_version: int = 0) -> str:
    """``current`` with the change ``before`` -> ``after`` undone and every later change kept.

    ``version``, ``name`` and ``current_version`` only label the conflict's message.

    Raises:
        RevertConflictError: a later change touched the lines the change wrote (or
            inserted at the very place the revert would); it carries every such region.
    """
    base, wanted, now = split_keepends(after), split_keepends(before), split_keepends(current)
    sides = (wanted, now)
    hunks = sorted(
        [(h, _CHANGE) for h in _hunks(base, wanted)] + [(h, _LATER) for h in _hunks(base, now)],
        key=lambda item: (item[0][0], item[0][1], item[1]),
    )
    out: list[str] = []
    conflicts: list[ConflictRegion] = []
    pos = 0
    for group in _groups(hunks):
        lo = min(h[0] for h, _ in group)
        hi = max(h[1] for h, _ in group)
        out += base[pos:lo]
        pos = hi
        if len(group) == 1:
            (hunk, side), = group
            out += sides[side][hunk[2] : hunk[3]]
            continue
        reverted = _apply(base, lo, hi, [h for h, s in group if s == _CHANGE], wanted)
        later = _apply(base, lo, hi, [h for h, s in group if s == _LATER], now)
        if reverted == later:  # the later changes already made it what the revert would
            out += later
            continue
        first_later = next(h for h, s in group if s == _LATER)
        conflicts.append(ConflictRegion(
            old_start=lo + 1,
            old_lines=_shown(base[lo:hi]),
            new_start=first_later[2] - (first_later[0] - lo) + 1,
            new_lines=_shown(later),
            before_lines=_shown(reverted),
        ))
    if conflicts:
        raise RevertConflictError(conflicts, reverted_version=version, current_version=current_version, name=name)
    out += base[pos:]
    return "".join(out)


def _hunks(base: list[str], side: list[str]) -> list[Hunk]:
    # Lines carry their newline, so a last line without one never equals the same
    # text with one: no end-of-text flags are needed (both False).
    return [(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in line_blocks(base, False, side, False) if tag == "change"]


def _clash(x: Hunk, y: Hunk) -> bool:
    """Whether two hunks of different sides touch the same base lines or the very same place."""
    x_empty, y_empty = x[0] == x[1], y[0] == y[1]
    if x_empty and y_empty:
        return x[0] == y[0]
    if x_empty:
        return y[0] < x[0] < y[1]
    if y_empty:
        return x[0] < y[0] < x[1]
    return x[0] < y[1] and y[0] < x[1]


def _groups(hunks: list[tuple[Hunk, int]]) -> list[list[tuple[Hunk, int]]]:
    """The hunks (sorted by base position) in groups that clash, each group in base order.

    One sweep suffices: a hunk that clashes with no member of the open group cannot be
    clashed into it by a later one (hunks of one side never overlap each other, and the
    sort puts an insertion before a range starting at the same line).
    """
    groups: list[list[tuple[Hunk, int]]] = []
    for hunk, side in hunks:
        if groups and any(s != side and _clash(h, hunk) for h, s in groups[-1]):
            groups[-1].append((hunk, side))
        else:
            groups.append([(hunk, side)])
    return groups


def _apply(base: list[str], lo: int, hi: int, hunks: list[Hunk], side: list[str]) -> list[str]:
    """Base lines [lo, hi) with one side's hunks (all inside them) applied."""
    out: list[str] = []
    pos = lo
    for i1, i2, j1, j2 in hunks:
        out += base[pos:i1]
        out += side[j1:j2]
        pos = i2
    out += base[pos:hi]
    return out


def _shown(lines: list[str]) -> tuple[str, ...]:
    return tuple(line.removesuffix("\n") for line in lines)
