"""Diff rows for the diff pane, computed off the event loop (pure; no widgets).

Only the changed regions and three lines of context are kept, in both views,
so a one-line change in a 1 MB prompt is a handful of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from dynamic_prompt.core import diff as diffmod
from dynamic_prompt.core.diff import DiffLine
from dynamic_prompt.tui.view import DiffMode

CONTEXT = 3

Pair = tuple[DiffLine | None, DiffLine | None]
"""A side-by-side row: the old line and the new line (either may be absent)."""

Row = tuple[str, str | DiffLine | Pair]
"""``("hunk", header: str)``, ``("line", DiffLine)`` or ``("pair", Pair)``."""


@dataclass(frozen=True)
class DiffRows:
    """What the diff pane draws: rows, the view they are for, and counts."""

    mode: DiffMode
    rows: tuple[Row, ...]
    added: int
    removed: int
    max_number: int

    @property
    def empty(self) -> bool:
        """True when the texts are equal."""
        return not self.rows

    def changed_new_lines(self) -> frozenset[int]:
        """1-based numbers of the new text's inserted or replaced lines (every change is in a row)."""
        out: set[int] = set()
        for _, value in self.rows:
            line = value[1] if isinstance(value, tuple) else value
            if isinstance(line, DiffLine) and line.tag == "insert" and line.new_no is not None:
                out.add(line.new_no)
        return frozenset(out)


def _header(group: list[DiffLine]) -> str:
    olds = [line.old_no for line in group if line.old_no is not None]
    news = [line.new_no for line in group if line.new_no is not None]
    o = f"{olds[0]},{len(olds)}" if olds else "0,0"
    n = f"{news[0]},{len(news)}" if news else "0,0"
    return f"@@ -{o} +{n} @@"


def build(old: str, new: str, mode: DiffMode = DiffMode.UNIFIED, context: int = CONTEXT) -> DiffRows:
    """The rows of the diff from ``old`` to ``new`` in ``mode``."""
    rows: list[Row] = []
    added = removed = 0
    if mode is DiffMode.SPLIT:
        pairs = diffmod.side_by_side(old, new)
        changed = [
            i for i, (left, right) in enumerate(pairs)
            if left is None or right is None or left.tag != "equal" or right.tag != "equal"
        ]
        keep: list[int] = []
        last = -1
        for i in changed:
            for k in range(max(i - context, last + 1), min(i + context + 1, len(pairs))):
                keep.append(k)
                last = k
        previous = None
        for k in keep:
            if previous is None or k != previous + 1:
                left, right = pairs[k]
                o = left.old_no if left is not None and left.old_no else "-"
                n = right.new_no if right is not None and right.new_no else "-"
                rows.append(("hunk", f"@@ line {o} | line {n} @@"))
            rows.append(("pair", pairs[k]))
            previous = k
        for left, right in pairs:
            removed += left is not None and left.tag == "delete"
            added += right is not None and right.tag == "insert"
    else:
        for group in diffmod.hunks(old, new, context):
            rows.append(("hunk", _header(group)))
            for line in group:
                rows.append(("line", line))
                added += line.tag == "insert"
                removed += line.tag == "delete"
    max_number = max(old.count("\n"), new.count("\n")) + 1
    return DiffRows(mode, tuple(rows), added, removed, max_number)


def combine(sections: list[tuple[str, DiffRows]], mode: DiffMode) -> DiffRows:
    """Several diffs in one pane, each under a heading row naming it (and its counts)."""
    rows: list[Row] = []
    added = removed = 0
    widest = 1
    for title, part in sections:
        rows.append(("hunk", f"══ {title}: +{part.added} -{part.removed} ══"))
        rows.extend(part.rows)
        added += part.added
        removed += part.removed
        widest = max(widest, part.max_number)
    return DiffRows(mode, tuple(rows), added, removed, widest)
