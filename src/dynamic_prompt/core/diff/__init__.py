"""Line and word diffs of prompt text (pure, on rapidfuzz; no difflib).

:mod:`.line_align` finds which lines are equal, :mod:`.word_diff` marks the
changed words inside replaced lines, and :mod:`.views` turns both into the
views people read: unified, side by side, summary lines and counts.
"""

from dynamic_prompt.core.diff.views import (
    DiffLine,
    Span,
    changed_new_lines,
    count_changes,
    hunks,
    line_diff,
    side_by_side,
    summary,
    unified,
    word_spans,
)

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
