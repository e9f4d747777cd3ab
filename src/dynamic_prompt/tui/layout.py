"""Which layout the dashboard takes for a terminal size (pure).

Wide enough, every pane shows at once: the prompt list, the prompt and the diff side
by side, the changelog below. A small terminal (80x24 is the classic) cannot give
each pane enough room, so it shows one pane at a time, with tabs to switch.
"""

from __future__ import annotations

import enum

NARROW_BELOW_COLUMNS = 110
NARROW_BELOW_ROWS = 32
COMPACT_BELOW_COLUMNS = 160


class Layout(str, enum.Enum):
    """How the panes are arranged."""

    WIDE = "wide"
    """Everything at once, a full-width prompt list."""
    COMPACT = "compact"
    """Everything at once, a narrower prompt list."""
    TABS = "tabs"
    """One pane at a time, tabs to switch."""


def layout_for(columns: int, rows: int) -> Layout:
    """The layout for a terminal of ``columns`` x ``rows`` cells."""
    if columns < NARROW_BELOW_COLUMNS or rows < NARROW_BELOW_ROWS:
        return Layout.TABS
    if columns < COMPACT_BELOW_COLUMNS:
        return Layout.COMPACT
    return Layout.WIDE


PANES: tuple[tuple[str, str], ...] = (
    ("prompt-pane", "Prompt"),
    ("diff", "Diff"),
    ("timeline", "Changelog"),
    ("prompts", "Prompts"),
    ("fleet", "Fleet"),
)
"""(pane id, tab label), in tab order."""
