"""Every action: revert, undo, restore, edit (with conflicts), load, new, search, copy, help, quit."""

from __future__ import annotations

from pathlib import Path

import redis

from dynamic_prompt.core.config import Settings, read_config_file
from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui.screens.confirm import ConfirmScreen, HelpScreen
from dynamic_prompt.tui.screens.editor import ConflictScreen, EditorScreen
from dynamic_prompt.tui.screens.forms import NewPromptScreen, PathScreen
from tests.tui.conftest import AppFactory
from tests.tui.helpers import SAMPLE, answer, settle, text_of, wait_for

SIZE = (140, 45)


async def _tuned(store: PromptStore) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.modify("default", "change tone to sarcastic")
    await store.modify("default", "add rule: never use emojis")


async def test_revert_asks_then_reverts(store: PromptStore, make_app: AppFactory) -> None:
    await _tuned(store)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+r")
        await answer(pilot, "n")  # declined: nothing changes
        await settle(pilot)
        assert (await store.state("default")).version == 3
        await pilot.press("ctrl+r")
        await answer(pilot, "y")
        await wait_for(pilot, lambda: app.dashboard.prompt_view.version == 4)
        assert (await store.get_active("default")) == SAMPLE
        assert "Tone: Friendly" in text_of(app.dashboard.prompt_view)


async def test_undo_with_nothing_of_yours_says_so_and_writes_nothing(
    store: PromptStore, make_app: AppFactory
) -> None:
    await _tuned(store)  # written by someone else: this session has nothing of its own to undo
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+z")  # the input is empty: the key reaches the dashboard
        await wait_for(pilot, lambda: any("Nothing of yours to undo" in n.message for n in app._notifications))
        assert not isinstance(app.screen, ConfirmScreen)
        assert (await store.state("default")).version == 3


async def test_restore_a_version_from_the_timeline_after_confirming(store: PromptStore, make_app: AppFactory) -> None:
    await _tuned(store)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.dashboard.timeline.table
        table.focus()
        table.move_cursor(row=2)  # v1, the load
        await pilot.press("ctrl+o")
        assert "version 1" in (await answer(pilot, "y")).title_text
        await wait_for(pilot, lambda: app.dashboard.prompt_view.version == 4)
        assert await store.get_active("default") == SAMPLE


async def test_manual_edit_saves_from_its_version(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
        editor = app.screen.query_one("#editor")
        editor.text = "Edited by hand\n"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.dashboard.prompt_view.version == 2)
        assert await store.get_active("default") == "Edited by hand\n"
        assert app.dashboard.timeline.entries[0].action == "edit"


async def _edit_into_conflict(pilot, app, redis_sync: redis.Redis) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+t")
    await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
    redis_sync.set("prompt:active", SAMPLE + "Added by someone else\n")  # they write meanwhile
    app.screen.query_one("#editor").text = "Mine\n"
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: isinstance(app.screen, ConflictScreen))
    assert "Added by someone else" in text_of(app.screen.query_one("#their-diff"))


async def test_edit_conflict_shows_their_change_and_can_overwrite(
    store: PromptStore, make_app: AppFactory, redis_sync: redis.Redis
) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _edit_into_conflict(pilot, app, redis_sync)
        await pilot.press("o")
        await wait_for(pilot, lambda: app.dashboard.prompt_view.text == "Mine\n")
        assert await store.get_active("default") == "Mine\n"


async def test_edit_conflict_can_reload_their_text(
    store: PromptStore, make_app: AppFactory, redis_sync: redis.Redis
) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _edit_into_conflict(pilot, app, redis_sync)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
        assert "Added by someone else" in app.screen.query_one("#editor").text  # type: ignore[attr-defined]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.dashboard)
        assert await store.get_active("default") == SAMPLE + "Added by someone else\n"


async def test_load_a_file_asks_before_replacing(store: PromptStore, make_app: AppFactory, tmp_path: Path) -> None:
    await store.load("default", SAMPLE, kind="text")
    path = tmp_path / "new.md"
    path.write_text("Loaded from a file\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, PathScreen))
        app.screen.query_one("#path").value = str(path)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await answer(pilot, "y")
        await wait_for(pilot, lambda: app.dashboard.prompt_view.text == "Loaded from a file\n")
        assert (await store.state("default")).backup == "Loaded from a file\n"


async def test_load_a_missing_file_changes_nothing(store: PromptStore, make_app: AppFactory, tmp_path: Path) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, PathScreen))
        app.screen.query_one("#path").value = str(tmp_path / "missing.md")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app._notifications) > 0)
        assert app.screen is app.dashboard
        assert (await store.state("default")).version == 1


async def test_new_prompt_from_typed_text(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewPromptScreen))
        await pilot.press(*"helper")
        app.screen.query_one("#text").text = "I help.\n"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.dashboard.current == "helper" and app.dashboard.prompt_view.version == 1)
        await wait_for(pilot, lambda: "helper" in app.dashboard.prompt_list.names)
        assert await store.get_active("helper") == "I help.\n"


async def test_filter_the_changelog(store: PromptStore, make_app: AppFactory) -> None:
    await _tuned(store)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        timeline = app.dashboard.timeline
        timeline.table.focus()
        await pilot.press("slash")
        await pilot.press(*"emoji")
        await wait_for(pilot, lambda: len(timeline.shown) == 1)
        assert timeline.shown[0].instruction == "add rule: never use emojis"
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(timeline.shown) == 3)


async def test_copy_puts_the_active_prompt_on_the_clipboard(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: app.clipboard == SAMPLE)


async def test_help_lists_the_keys(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = {a.id: k for k, a in app.screen.rows}
        assert keys["revert"] == "ctrl+r" and keys["quit"] == "ctrl+q"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.dashboard)


async def test_quit(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running)


async def test_command_palette_runs_an_action(store: PromptStore, make_app: AppFactory) -> None:
    await _tuned(store)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"revert to the original text")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await answer(pilot, "y")
        await wait_for(pilot, lambda: app.dashboard.prompt_view.version == 4)
        assert app.dashboard.timeline.entries[0].action == "revert"


async def test_keymap_rebinds_an_action(store: PromptStore, make_app: AppFactory, settings: Settings) -> None:
    from dataclasses import replace

    await _tuned(store)
    app = make_app(settings=replace(settings, keymap={"revert": "f9", "timeline.mark": "b"}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bound = {key: b.binding.id for key, b in app.screen.active_bindings.items()}
        assert bound.get("f9") == "revert" and bound.get("ctrl+r") != "revert"
        assert "f9 Revert" in text_of(app.dashboard.key_bar)
        await pilot.press("f9")
        await answer(pilot, "y")
        await wait_for(pilot, lambda: app.dashboard.prompt_view.version == 4)
        # A pane's key too: the changelog's mark.
        app.dashboard.timeline.table.focus()
        await pilot.press("down", "b")
        assert app.dashboard.timeline.marked is not None and app.dashboard.timeline.marked.version == 3
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = {a.id: k for k, a in app.screen.rows}
        assert keys["revert"] == "f9" and keys["timeline.mark"] == "b"


async def test_a_keymap_naming_no_action_is_said_once(
    store: PromptStore, make_app: AppFactory, settings: Settings
) -> None:
    from dataclasses import replace

    await store.load("default", SAMPLE, kind="text")
    app = make_app(settings=replace(settings, keymap={"revrt": "f9"}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        warnings = [n.message for n in app._notifications if "revrt" in n.message]
        assert len(warnings) == 1 and "no action called revrt" in warnings[0]


async def test_theme_is_applied_and_remembered(store: PromptStore, make_app: AppFactory, settings: Settings) -> None:
    from dataclasses import replace

    await store.load("default", SAMPLE, kind="text")
    app = make_app(settings=replace(settings, theme="nord"), remember_theme=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.theme == "nord"
        app.theme = "gruvbox"
        await wait_for(pilot, lambda: read_config_file().get("theme") == "gruvbox")
