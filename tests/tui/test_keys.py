"""Keys as data: one table feeds the bindings, the key bar, the help, the palette and the README."""

from __future__ import annotations

from pathlib import Path

from textual.command import CommandPalette

from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui.actions import ALL_ACTIONS, markdown_table
from dynamic_prompt.tui.commands import PALETTE_ACTIONS, DashboardCommands, label
from tests.tui.conftest import AppFactory
from tests.tui.helpers import SAMPLE, settle, text_of, wait_for

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_action_has_a_unique_id_key_and_description() -> None:
    ids = [a.id for a in ALL_ACTIONS]
    assert len(ids) == len(set(ids))
    assert all(a.key and a.description and a.help for a in ALL_ACTIONS)


def test_the_readme_key_table_is_the_apps() -> None:
    table = markdown_table()
    assert table in README.read_text(encoding="utf-8"), "README.md's key table is stale; paste this:\n" + table


def test_the_palette_lists_each_action_once() -> None:
    labels = [label(a) for a in PALETTE_ACTIONS]
    assert len(labels) == len(set(labels))
    assert {a.id for a in PALETTE_ACTIONS} == {a.id for a in ALL_ACTIONS} - {"palette"}


async def test_the_real_palette_shows_each_command_once(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        palette = app.screen
        await wait_for(pilot, lambda: palette.query_one("CommandList").option_count > 20)
        await pilot.pause(0.3)
        options = palette.query_one("CommandList")
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        titles = [p.splitlines()[0] for p in prompts]
        assert len(titles) == len(set(titles)), sorted(t for t in titles if titles.count(t) > 1)
        assert "Quit" in titles and "Keys" not in titles  # ours, not Textual's too
        assert "Revert change (changelog)" in titles and "Theme" in titles
        assert DashboardCommands in app.COMMANDS


async def test_the_key_bar_keeps_help_palette_and_quit_at_80_columns(
    store: PromptStore, make_app: AppFactory
) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        bar = text_of(app.dashboard.key_bar)
        assert bar.startswith("f1 Help  ^p Palette  ^q Quit")
        app.dashboard.timeline.table.focus()
        await pilot.pause()
        assert "x Revert change" in text_of(app.dashboard.key_bar)  # the pane's own keys come next


async def test_a_click_on_the_key_bar_runs_the_action(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.click("#keys", offset=(2, 0))  # "f1 Help"
        from dynamic_prompt.tui.screens.confirm import HelpScreen

        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = text_of(app.screen.query_one("#help-scroll"))
        assert "keymap id" in shown and "revert" in shown
        assert [a.id for _, a in app.screen.rows] == [a.id for a in ALL_ACTIONS]
