"""SVG snapshots of the dashboard, grouped by feature.

Deterministic by construction: fixed prompt texts, a fixed clock for the app
and for the store's timestamps, UTC, user "tester", a fixed server label, a
fixed terminal size, no blinking cursor, and a flash that outlasts the shot.
Update with ``python3 -m pytest tests/tui --snapshot-update``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis
from textual.pilot import Pilot
from textual.widgets import Input

from dynamic_prompt.core.config import Settings
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui.app import DashboardApp
from dynamic_prompt.tui.screens.archive import SearchScreen, StatsScreen
from dynamic_prompt.tui.screens.confirm import ConfirmScreen, HelpScreen
from dynamic_prompt.tui.screens.editor import EditorScreen
from dynamic_prompt.tui.screens.forms import NameScreen
from dynamic_prompt.tui.view import DiffMode
from dynamic_prompt.tui.widgets import prompt_view
from dynamic_prompt.tui.widgets.archive_stats import StatsPanel
from tests.tui.helpers import FIXED_NOW, SAMPLE, SERVER_LABEL, settle, wait_for

SIZE = (120, 40)


@pytest.fixture
def server_url(_private_server: Any) -> str:
    """Snapshots come from the private server alone: one stored image per screen,
    whichever other servers the run was given (REDIS_URL)."""
    return str(_private_server.url)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """UTC, a store whose clock is stopped at FIXED_NOW, a long flash."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(PromptStore, "clock", staticmethod(lambda: FIXED_NOW))
    monkeypatch.setattr(prompt_view, "FLASH_SECONDS", 600.0)
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def seeded(frozen: None, redis_sync: redis.Redis, target: ServerTarget, settings: Settings) -> DashboardApp:
    """Three prompts, the default one tuned twice by two people."""

    async def seed() -> None:
        store = PromptStore.connect(target, settings)
        try:
            await store.load("default", SAMPLE, kind="text")
            await store.modify("default", "change tone to sarcastic", user="alice")
            await store.modify("default", "add rule: never use emojis", user="bob")
            await store.load("billing-agent", "You route billing questions.\nTone: Formal\n", kind="text")
            await store.load("triage", "You triage tickets.\n", kind="text")
        finally:
            await store.aclose()

    asyncio.run(seed())
    app = DashboardApp(target, settings, "default", clock=lambda: FIXED_NOW + 125,
                       server_label=SERVER_LABEL, remember_theme=False)
    app.animation_level = "none"  # the tabs' underline would be shot mid-slide
    return app


def _no_blink(pilot: Pilot[Any]) -> None:
    for widget in pilot.app.query("Input"):
        widget.cursor_blink = False  # type: ignore[attr-defined]


def steady(run_before: Callable[[Pilot[Any]], Awaitable[None]]) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """``run_before``, then every input's cursor shown and still: a key press restarts an
    input's blink timer even with blinking off, so the shot could land on either phase."""

    async def run(pilot: Pilot[Any]) -> None:
        await run_before(pilot)
        for widget in pilot.app.query(Input):
            if widget._blink_timer is not None:
                widget._blink_timer.pause()
            widget._cursor_visible = True
        await pilot.pause()

    return run


SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])
"""The main views, the help and the dialogs at the classic small terminal, a laptop's and a big one."""


async def _diff_pane(pilot: Pilot[Any]) -> None:
    """In the tabs layout (80x24), go to the diff's tab, where the shot is about the diff."""
    app = pilot.app
    assert isinstance(app, DashboardApp)
    if app.dashboard.panes.tabs:
        app.dashboard.panes.show("diff")
        await pilot.pause()


class TestDashboard:
    @SIZES
    def test_initial_view(self, snap_compare: Any, seeded: DashboardApp, size: tuple[int, int]) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            _no_blink(pilot)

        assert snap_compare(seeded, terminal_size=size, run_before=steady(run_before))

    @SIZES
    def test_side_by_side_diff_wrapped(self, snap_compare: Any, seeded: DashboardApp, size: tuple[int, int]) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            _no_blink(pilot)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: seeded.dashboard.diff_view.rows.mode is DiffMode.SPLIT)  # type: ignore[union-attr]
            await _diff_pane(pilot)
            await settle(pilot)

        assert snap_compare(seeded, terminal_size=size, run_before=steady(run_before))

    def test_change_picked_in_timeline(self, snap_compare: Any, seeded: DashboardApp) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            table = seeded.dashboard.timeline.table
            table.focus()
            table.move_cursor(row=1)
            await pilot.press("enter")
            await wait_for(pilot, lambda: "Change: v1 → v2" in str(seeded.dashboard.diff_view.border_title))
            await settle(pilot)

        assert snap_compare(seeded, terminal_size=SIZE, run_before=steady(run_before))

    def test_two_versions_compared(self, snap_compare: Any, seeded: DashboardApp) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            table = seeded.dashboard.timeline.table
            table.focus()
            table.move_cursor(row=2)
            await pilot.press("m")
            table.move_cursor(row=0)
            await pilot.press("c")
            await wait_for(pilot, lambda: "v1" in str(seeded.dashboard.diff_view.border_title))
            await settle(pilot)

        assert snap_compare(seeded, terminal_size=SIZE, run_before=steady(run_before))

    def test_find_in_the_prompt(self, snap_compare: Any, seeded: DashboardApp) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            _no_blink(pilot)
            await pilot.press("ctrl+f", *"the")
            await wait_for(pilot, lambda: "of" in str(seeded.dashboard.prompt_view.border_subtitle))
            await settle(pilot)

        assert snap_compare(seeded, terminal_size=SIZE, run_before=steady(run_before))

    def test_read_only(self, snap_compare: Any, seeded: DashboardApp) -> None:
        seeded.read_only = True

        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            _no_blink(pilot)

        assert snap_compare(seeded, terminal_size=SIZE, run_before=steady(run_before))


class TestInstruction:
    @SIZES
    def test_preview_while_typing(self, snap_compare: Any, seeded: DashboardApp, size: tuple[int, int]) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            _no_blink(pilot)
            await pilot.press(*"remove rule about refunds")
            await wait_for(pilot, lambda: str(seeded.dashboard.diff_view.border_title).startswith("Preview"))
            await _diff_pane(pilot)
            await settle(pilot)

        assert snap_compare(seeded, terminal_size=size, run_before=steady(run_before))

    def test_unknown_instruction(self, snap_compare: Any, seeded: DashboardApp) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            _no_blink(pilot)
            await pilot.press(*"make it pop", "enter")
            await wait_for(pilot, lambda: seeded.dashboard.instruction_bar.has_class("-error"))
            await settle(pilot)

        assert snap_compare(seeded, terminal_size=SIZE, run_before=steady(run_before))


class TestDialogs:
    @SIZES
    def test_revert_confirmation(self, snap_compare: Any, seeded: DashboardApp, size: tuple[int, int]) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: isinstance(seeded.screen, ConfirmScreen))

        assert snap_compare(seeded, terminal_size=size, run_before=steady(run_before))

    @SIZES
    def test_revert_one_change_confirmation(
        self, snap_compare: Any, seeded: DashboardApp, size: tuple[int, int]
    ) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            table = seeded.dashboard.timeline.table
            table.focus()
            table.move_cursor(row=1)
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(seeded.screen, ConfirmScreen))

        assert snap_compare(seeded, terminal_size=size, run_before=steady(run_before))

    @SIZES
    def test_help(self, snap_compare: Any, seeded: DashboardApp, size: tuple[int, int]) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            await pilot.press("f1")
            await wait_for(pilot, lambda: isinstance(seeded.screen, HelpScreen))

        assert snap_compare(seeded, terminal_size=size, run_before=steady(run_before))

    @SIZES
    def test_editor(self, snap_compare: Any, seeded: DashboardApp, size: tuple[int, int]) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            await pilot.press("ctrl+t")
            await wait_for(pilot, lambda: isinstance(seeded.screen, EditorScreen))
            for widget in seeded.screen.query("TextArea"):
                widget.cursor_blink = False  # type: ignore[attr-defined]
            _no_blink(pilot)
            await pilot.pause()

        assert snap_compare(seeded, terminal_size=size, run_before=steady(run_before))

    @SIZES
    def test_delete_confirmation(self, snap_compare: Any, seeded: DashboardApp, size: tuple[int, int]) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            listing = seeded.dashboard.prompt_list
            if seeded.dashboard.panes.tabs:
                seeded.dashboard.panes.show("prompts")
            listing.focus()
            listing.move_cursor(row=listing.names.index("triage"))
            await pilot.press("delete")
            await wait_for(pilot, lambda: isinstance(seeded.screen, ConfirmScreen))

        assert snap_compare(seeded, terminal_size=size, run_before=steady(run_before))

    def test_rename_dialog(self, snap_compare: Any, seeded: DashboardApp) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            listing = seeded.dashboard.prompt_list
            listing.focus()
            listing.move_cursor(row=listing.names.index("triage"))
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(seeded.screen, NameScreen))
            _no_blink(pilot)
            await pilot.pause()

        assert snap_compare(seeded, terminal_size=SIZE, run_before=steady(run_before))


class TestArchive:
    """The archive's search (F11) and stats (F12), once the dashboard's archiver caught up."""

    @staticmethod
    async def _caught_up(pilot: Pilot[Any], app: DashboardApp) -> None:
        await settle(pilot)
        keeper = app.dashboard.archive
        # The seed's 5 changelog entries (3 loads, 2 modifies) are in the archive.
        await wait_for(pilot, lambda: keeper.archive is not None
                       and keeper.archive.counts(keeper.server)[1] >= 5)

    @SIZES
    def test_search_results(self, snap_compare: Any, seeded: DashboardApp, size: tuple[int, int]) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await self._caught_up(pilot, seeded)
            await pilot.press("f11")
            await wait_for(pilot, lambda: isinstance(seeded.screen, SearchScreen))
            search = seeded.screen
            assert isinstance(search, SearchScreen)
            search.query_input.value = "sarcastic"
            await pilot.press("enter")
            await wait_for(pilot, lambda: search.results.row_count == 3 and search.results.has_focus)
            _no_blink(pilot)
            await pilot.pause()

        assert snap_compare(seeded, terminal_size=size, run_before=steady(run_before))

    @SIZES
    def test_stats(self, snap_compare: Any, seeded: DashboardApp, size: tuple[int, int]) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await self._caught_up(pilot, seeded)
            await pilot.press("f12")
            await wait_for(pilot, lambda: isinstance(seeded.screen, StatsScreen))
            panel = seeded.screen.query_one("#stats-overall", StatsPanel)
            await wait_for(pilot, lambda: panel.stats is not None)
            await pilot.pause()

        assert snap_compare(seeded, terminal_size=size, run_before=steady(run_before))


class TestLive:
    def test_outside_write_is_flashed(self, snap_compare: Any, seeded: DashboardApp, redis_sync: redis.Redis) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            text = redis_sync.get("prompt:active")
            assert isinstance(text, str)
            redis_sync.set("prompt:active", text.replace("Cite the help-center", "Always cite the help-center"))
            view = seeded.dashboard.prompt_view
            await wait_for(pilot, lambda: view.flash)
            # The flash ends on a timer: hold it, so a slow settle cannot shoot the screen after it.
            assert view._flash_timer is not None
            view._flash_timer.pause()
            await settle(pilot)
            assert view.flash
            # Where the focus is when the shot is taken, said rather than raced for (it is the
            # instruction input after start-up; under load a shot once caught it elsewhere).
            seeded.dashboard.instruction_bar.input.focus()
            await pilot.pause()

        assert snap_compare(seeded, terminal_size=SIZE, run_before=steady(run_before))


class TestSafety:
    def test_markup_and_escapes_are_literal(
        self, snap_compare: Any, frozen: None, redis_sync: redis.Redis, target: ServerTarget, settings: Settings
    ) -> None:
        redis_sync.set("prompt:active", "Be [bold red]loud[/] \x1b[31mred\x1b[0m \x1b]52;c;aGk=\x07 abc\u202edef\n")
        app = DashboardApp(target, settings, "default", clock=lambda: FIXED_NOW + 125,
                           server_label=SERVER_LABEL, remember_theme=False)

        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)

        assert snap_compare(app, terminal_size=SIZE, run_before=steady(run_before))
