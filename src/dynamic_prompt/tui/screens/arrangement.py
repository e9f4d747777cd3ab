"""Which of the dashboard's panes show: the layout for the terminal, the tab, the fleet pane.

Owned by the dashboard screen (composition): it sets the screen's layout class (the
stylesheet does the arranging), marks the pane shown in the tabs layout, and keeps
the fleet reader following the fleet pane only while that pane can be seen.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.screen import Screen
from textual.widgets import Tabs

from dynamic_prompt.tui.layout import PANES, Layout, layout_for

PANE_IDS = tuple(pane for pane, _ in PANES)


class Arrangement:
    """The panes' arrangement on ``screen``; ``follow_fleet`` is told when the fleet pane's visibility may change."""

    def __init__(self, screen: Screen[None], follow_fleet: Callable[[], None]) -> None:
        self.screen = screen
        self.follow_fleet = follow_fleet
        self.mode = Layout.WIDE
        self.shown = "prompt-pane"
        """The pane the tabs layout shows (an id from :data:`~dynamic_prompt.tui.layout.PANES`)."""
        self.fleet_shown = False
        """Whether the wide layouts show the fleet pane (F2)."""
        self._fitted = False

    @property
    def tabs(self) -> bool:
        """True in the one-pane-at-a-time layout."""
        return self.mode is Layout.TABS

    def fit(self, columns: int, rows: int) -> None:
        """Take the layout for a terminal of ``columns`` x ``rows`` (nothing to do if it is the same)."""
        mode = layout_for(columns, rows)
        if mode is not self.mode or not self._fitted:
            # A change of classes restyles the whole screen: only when the layout really changes.
            self._fitted = True
            self.set_layout(mode)

    def set_layout(self, mode: Layout) -> None:
        """Show every pane (wide, compact) or one at a time with tabs."""
        self.mode = mode
        for value in Layout:
            self.screen.set_class(value is mode, f"-{value.value}")
        self.show(self.shown)

    def show(self, pane: str) -> None:
        """Make ``pane`` the tabs layout's pane (the others keep their place in the wide ones)."""
        self.shown = pane
        for other in PANE_IDS:
            self.screen.query_one(f"#{other}").set_class(other == pane, "-shown")
        tabs = self.screen.query_one("#pane-tabs", Tabs)
        if tabs.active != f"tab-{pane}":
            tabs.active = f"tab-{pane}"
        self.follow_fleet()

    def bring(self, pane: str) -> None:
        """In the tabs layout, switch to ``pane`` (what an action just filled); elsewhere it shows already."""
        if self.tabs:
            self.show(pane)

    def step(self, step: int) -> str:
        """The previous (-1) or next (+1) pane; returns its id."""
        at = PANE_IDS.index(self.shown) if self.shown in PANE_IDS else 0
        self.show(PANE_IDS[(at + step) % len(PANE_IDS)])
        return self.shown

    @property
    def fleet_visible(self) -> bool:
        """Whether the fleet pane can be seen (toggled in the wide layouts, its tab in the tabs layout)."""
        return self.shown == "fleet" if self.tabs else self.fleet_shown

    def toggle_fleet(self) -> None:
        """F2: show or hide the fleet pane beside the changelog; in the tabs layout go to it, or back."""
        if self.tabs:
            self.show("fleet" if self.shown != "fleet" else "prompt-pane")
            return
        self.fleet_shown = not self.fleet_shown
        self.screen.query_one("#main").set_class(self.fleet_shown, "-fleet")
        self.follow_fleet()
