"""The command palette: every dashboard action, by name."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from dynamic_prompt.tui.actions import APP_ACTIONS, DASHBOARD_ACTIONS, Action

if TYPE_CHECKING:
    from dynamic_prompt.tui.app import DashboardApp


class DashboardCommands(Provider):
    """Revert, undo, restore, edit, load, new, search, copy, diff views, help, quit."""

    @property
    def _actions(self) -> tuple[Action, ...]:
        return DASHBOARD_ACTIONS + APP_ACTIONS

    async def _run(self, action: Action) -> None:
        app: DashboardApp = self.app  # type: ignore[assignment]
        if action in APP_ACTIONS:
            await app.run_action(action.action)
        else:
            await app.dashboard.run_action(action.action)

    def _label(self, action: Action) -> str:
        return f"{action.description}: {action.help}"

    async def discover(self) -> Hits:
        """Every action, before anything is typed."""
        for action in self._actions:
            yield DiscoveryHit(self._label(action), partial(self._run, action), help=action.help)

    async def search(self, query: str) -> Hits:
        """Actions whose name or description matches ``query``."""
        matcher = self.matcher(query)
        for action in self._actions:
            label = self._label(action)
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(self._run, action), help=action.help)
