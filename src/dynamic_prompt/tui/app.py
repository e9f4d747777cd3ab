"""The dashboard application: the app class, its bindings, theme and keymap.

Everything the panes do lives in :mod:`dynamic_prompt.tui.screens.dashboard`;
this module only wires the store, the settings and the screen together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.theme import Theme

from dynamic_prompt.archive.db import default_path
from dynamic_prompt.core.config import Settings, save_setting
from dynamic_prompt.core.keys import DEFAULT_NAME
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui.actions import ALL_ACTIONS, APP_ACTIONS, Action, Scope, bindings, by_id
from dynamic_prompt.tui.commands import SYSTEM_DUPLICATES, DashboardCommands
from dynamic_prompt.tui.idle_gc import IdleCollector
from dynamic_prompt.tui.screens.confirm import HelpScreen
from dynamic_prompt.tui.screens.dashboard import DashboardScreen

IDLE_GC_TICK = 0.25
"""Seconds between looks for a quiet moment to collect garbage in."""


class DashboardApp(App[None]):
    """The live dashboard for the prompts in one server.

    Args:
        target: the server (its masked URL shows in the status bar).
        settings: keymap, theme, user and store limits.
        name: the prompt to show first.
        clock: returns "now" in epoch seconds (tests fix it for stable screenshots).
        server_label: what the status bar calls the server (default: the masked URL).
        remember_theme: save the theme to the config file when it changes.
        read_only: refuse every write (default: the settings' ``read_only``).
        samples_file: the rendered view's sample values (default: samples.json beside the config).
        archive: keep every change in the archive file while the dashboard is open (the
            settings' ``archive``, else the data dir's); off, the archive's search and
            stats say so. Tests that count what the dashboard reads turn it off.
    """

    TITLE = "dynamic-prompt"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {DashboardCommands}
    BINDINGS = bindings(APP_ACTIONS)

    def __init__(
        self,
        target: ServerTarget,
        settings: Settings,
        name: str = DEFAULT_NAME,
        clock: Callable[[], float] | None = None,
        *,
        server_label: str | None = None,
        remember_theme: bool = True,
        read_only: bool | None = None,
        samples_file: Path | None = None,
        archive: bool = True,
    ) -> None:
        super().__init__()
        self.samples_file = samples_file
        """Where the rendered view's sample values come from (``None``: samples.json beside the config)."""
        self.target = target
        self.settings = settings
        self.prompt_name = name
        self.clock: Callable[[], float] = clock or time.time
        if server_label is None:
            # A cluster found behind a redis:// URL says so: its feed and its keys differ.
            detected = target.is_cluster and "+cluster://" not in target.url
            server_label = target.display + (" (cluster)" if detected else "")
        self.server_label = server_label
        self.remember_theme = remember_theme
        self.read_only = settings.read_only if read_only is None else read_only
        self.store = PromptStore.connect(target, settings)
        self.archive_path = default_path(settings.archive)
        """The archive file the dashboard keeps (and its search and stats read)."""
        self.archive_on = archive
        self._saved_theme = settings.theme
        if settings.theme and settings.theme in self.available_themes:
            self.theme = settings.theme
        known = {a.id for a in ALL_ACTIONS}
        self.unknown_keymap_ids = sorted(set(settings.keymap) - known)
        """Keymap entries that name no action (said once, on start)."""
        if settings.keymap:
            self.set_keymap({k: v for k, v in settings.keymap.items() if k in known})
        self.idle_gc = IdleCollector(
            busy=lambda: not self.dashboard.settled,
            last_change=lambda: self.dashboard.last_change,
        )

    @property
    def dashboard(self) -> DashboardScreen:
        """The dashboard screen (the panes)."""
        return self.get_screen("dashboard")  # type: ignore[return-value]

    def on_mount(self) -> None:
        """Show the dashboard; remember theme changes from now on."""
        self.install_screen(DashboardScreen(self.store, self.prompt_name, read_only=self.read_only,
                                            archive=self.archive_path if self.archive_on else None),
                            "dashboard")
        self.push_screen("dashboard")
        if self.unknown_keymap_ids:
            self.notify(f"config [keymap]: no action called {', '.join(self.unknown_keymap_ids)}; "
                        "F1 lists the ids.", severity="warning", markup=False)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        # Full garbage collections wait for quiet moments (see idle_gc): started after
        # the first frame, so what start-up built is frozen out of later passes.
        self.call_after_refresh(self.idle_gc.start)
        self.set_interval(IDLE_GC_TICK, self.idle_gc.tick, name="idle-gc")

    def _theme_changed(self, theme: Theme) -> None:
        if not self.remember_theme or theme.name == self._saved_theme:
            return
        self._saved_theme = theme.name
        try:
            save_setting("theme", theme.name)
        except OSError as exc:
            self.notify(f"Could not save the theme: {exc.strerror}.", severity="warning", markup=False)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own commands, less the ones our actions already list (quit, keys)."""
        for command in super().get_system_commands(screen):
            if command.title not in SYSTEM_DUPLICATES:
                yield command

    async def on_unmount(self) -> None:
        """Close the store's connections; give the garbage collector back."""
        self.idle_gc.stop()
        await self.store.aclose()

    def key_of(self, action: Action) -> str:
        """The key ``action`` is bound to now (the keymap applied)."""
        if action.id == "palette":
            return self.COMMAND_PALETTE_BINDING
        return self._keymap.get(action.id, action.key)

    def bound_keys(self) -> list[tuple[str, Action]]:
        """(key as bound now, action) for every action, in the help screen's order."""
        return [(self.key_of(a), a) for a in ALL_ACTIONS]

    async def run_key_action(self, action_id: str) -> None:
        """Run the action ``action_id`` where its key works (the key bar's clicks, the palette)."""
        action = by_id(action_id)
        if action.scope is Scope.APP:
            await self.run_action(action.action)
            return
        screen = self.dashboard
        if self.screen is not screen:
            return  # a dialog is open: it answers first
        where = {Scope.TIMELINE: screen.timeline, Scope.PROMPTS: screen.prompt_list}.get(action.scope, screen.keys)
        if action.scope in (Scope.TIMELINE, Scope.PROMPTS):
            where.focus()
        await where.run_action(action.action)

    async def action_run_key(self, action_id: str) -> None:
        """The key bar's clicks: ``app.run_key('<action id>')``."""
        await self.run_key_action(action_id)

    def action_help(self) -> None:
        """Show the keys."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.bound_keys()))


def run_dashboard(target: ServerTarget, settings: Settings, *, name: str = DEFAULT_NAME,
                  samples_file: Path | None = None) -> None:
    """Run the dashboard in this terminal until the person quits."""
    DashboardApp(target, settings, name=name, samples_file=samples_file).run()


__all__ = ["DashboardApp", "run_dashboard"]
