"""The operator watching: the changelog follows the newest entry, times tick, read-only mode."""

from __future__ import annotations

import dataclasses
import time

import pytest
import redis

from dynamic_prompt.core.config import Settings
from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui.screens import dashboard as dashboard_module
from dynamic_prompt.tui.screens.confirm import ConfirmScreen
from dynamic_prompt.tui.screens.editor import EditorScreen
from tests.tui.conftest import AppFactory
from tests.tui.helpers import SAMPLE, settle, text_of, wait_for

SIZE = (160, 48)


async def test_twelve_outside_writes_leave_the_newest_entry_in_view(
    store: PromptStore, make_app: AppFactory
) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.dashboard.timeline
        for n in range(1, 13):  # another shell, 12 times in a row
            await store.modify("default", f"add rule: outside rule {n}", user="colleague")
        await wait_for(pilot, lambda: timeline.entries and timeline.entries[0].version == 13)
        await settle(pilot)
        shown = text_of(timeline)
        assert "v13" in shown and "outside rule 12" in shown
        assert timeline.table.cursor_row == 0  # following: the newest row is the selected one
        assert "new" not in str(timeline.border_title)


async def test_scrolled_away_the_changelog_says_how_many_are_new_and_home_jumps(
    store: PromptStore, make_app: AppFactory
) -> None:
    await store.load("default", SAMPLE, kind="text")
    for n in range(1, 6):
        await store.modify("default", f"add rule: early rule {n}")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.dashboard.timeline
        timeline.table.focus()
        await pilot.press("down", "down", "down")  # reading v3: the pane must not jump away
        assert timeline.selected is not None and timeline.selected.version == 3
        for n in range(1, 4):
            await store.modify("default", f"add rule: later rule {n}", user="colleague")
        await wait_for(pilot, lambda: timeline.entries[0].version == 9)
        await settle(pilot)
        assert timeline.selected is not None and timeline.selected.version == 3
        assert "3 new" in str(timeline.border_title)
        await pilot.press("home")
        await settle(pilot)
        assert timeline.selected is not None and timeline.selected.version == 9
        assert "new" not in str(timeline.border_title)
        assert "v9" in text_of(timeline)


async def test_relative_times_tick(
    store: PromptStore, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard_module, "TICK", 0.05)
    await store.load("default", SAMPLE, kind="text")
    now = [time.time() + 1]
    app = make_app(clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        listed = app.dashboard.prompt_list
        before = text_of(listed)
        now[0] += 40 * 60  # forty minutes later, nothing written
        await wait_for(pilot, lambda: text_of(listed) != before)
        assert "40m ago" in text_of(listed)


def _settings_read_only(settings: Settings) -> Settings:
    return dataclasses.replace(settings, read_only=True)


async def test_read_only_shows_changes_live_and_refuses_every_write(
    store: PromptStore, make_app: AppFactory, settings: Settings, redis_sync: redis.Redis
) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.modify("default", "add rule: never use emojis")
    app = make_app(settings=_settings_read_only(settings))  # the config file's read_only = true
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        assert screen.read_only and "READ-ONLY" in text_of(screen.status)
        for key in ("ctrl+z", "ctrl+r", "ctrl+o", "ctrl+t", "ctrl+l", "ctrl+n"):
            notes = len(app._notifications)
            await pilot.press(key)
            await wait_for(pilot, lambda: len(app._notifications) > notes)
            assert not isinstance(app.screen, (ConfirmScreen, EditorScreen)), key
            assert "read-only" in list(app._notifications)[-1].message, key
        # An instruction is previewed, never applied.
        await pilot.click("#instruction-input")
        await pilot.press(*"change tone to sarcastic")
        await wait_for(pilot, lambda: str(screen.diff_view.border_title).startswith("Preview"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Read-only" in screen.instruction_bar.hint)
        # The changelog's and the list's writes too.
        screen.timeline.table.focus()
        notes = len(app._notifications)
        await pilot.press("x")
        await wait_for(pilot, lambda: len(app._notifications) > notes)
        screen.prompt_list.focus()
        notes = len(app._notifications)
        await pilot.press("delete")
        await wait_for(pilot, lambda: len(app._notifications) > notes)
        assert not isinstance(app.screen, ConfirmScreen)
        assert (await store.state("default")).version == 2
        # What others write still shows at once.
        redis_sync.set("prompt:active", SAMPLE + "Written elsewhere\n")
        await wait_for(pilot, lambda: "Written elsewhere" in screen.prompt_view.text)


async def test_read_only_flag_of_the_command_line(make_app: AppFactory, store: PromptStore) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app(read_only=True)  # dprompt tui --read-only
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.dashboard.read_only
        assert "read-only" in text_of(app.dashboard.key_bar)
        assert "Undo" not in text_of(app.dashboard.key_bar)  # the bar lists no write keys
