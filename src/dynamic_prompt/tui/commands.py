"""The command palette: every dashboard action once, by name, run where its key works."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from dynamic_prompt.tui.actions import ALL_ACTIONS, SCOPE_NAMES, Action

if TYPE_CHECKING:
    from dynamic_prompt.tui.app import DashboardApp

PALETTE_ACTIONS: tuple[Action, ...] = tuple(a for a in ALL_ACTIONS if a.id != "palette")
"""What the palette lists (the palette itself aside)."""

SYSTEM_DUPLICATES = frozenset({"Quit", "Keys"})
"""Textual's own palette commands that our actions already list (quit, the keys' help)."""


def label(action: Action) -> str:
    """``Revert change (changelog)``: the name a person searches for, and where it works."""
    where = SCOPE_NAMES[action.scope]
    return action.description if where in ("anywhere", "dashboard") else f"{action.description} ({where})"


class DashboardCommands(Provider):
    """Undo, redo, revert, restore, edit, find, load, new, the changelog's and the list's actions."""

    async def _run(self, action: Action) -> None:
        app: DashboardApp = self.app  # type: ignore[assignment]
        await app.run_key_action(action.id)

    async def discover(self) -> Hits:
        """Every action, before anything is typed."""
        for action in PALETTE_ACTIONS:
            yield DiscoveryHit(label(action), partial(self._run, action), help=action.help)

    async def search(self, query: str) -> Hits:
        """Actions whose name or description matches ``query``."""
        matcher = self.matcher(query)
        for action in PALETTE_ACTIONS:
            text = f"{label(action)}: {action.help}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(label(action)), partial(self._run, action), help=action.help)
