"""The person tuning: focus, typing undo, undo/redo of their own changes, layouts, wrap, editor, messages."""

from __future__ import annotations

import redis

from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui.layout import Layout
from dynamic_prompt.tui.screens.confirm import ConfirmScreen, HelpScreen
from dynamic_prompt.tui.screens.editor import EditorScreen
from tests.tui.conftest import AppFactory
from tests.tui.helpers import SAMPLE, answer, lines_of, settle, text_of, wait_for

SIZE = (160, 48)


async def _apply(pilot, app, instruction: str) -> None:  # type: ignore[no-untyped-def]
    """Type ``instruction`` in the input and press Enter; wait for the version it makes."""
    screen = app.dashboard
    before = screen.prompt_view.version
    screen.instruction_bar.input.focus()
    await pilot.press(*instruction)
    await pilot.press("enter")
    await wait_for(pilot, lambda: screen.prompt_view.version == before + 1)
    await settle(pilot)


async def test_focus_starts_in_the_instruction_input(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.focused is app.dashboard.instruction_bar.input
        await pilot.press(*"add rule")
        assert app.dashboard.instruction_bar.input.value == "add rule"
        assert text_of(app.dashboard.key_bar).startswith("f1 Help")


async def test_ctrl_z_with_text_in_the_input_undoes_the_typing_not_the_prompt(
    store: PromptStore, make_app: AppFactory
) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.modify("default", "add rule: never use emojis")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        box = app.dashboard.instruction_bar.input
        await pilot.press(*"change tone to warm")
        await pilot.press("ctrl+z")
        assert box.value == "change tone to war"
        await pilot.press("ctrl+z", "ctrl+z")
        assert box.value == "change tone to w"
        await pilot.press("ctrl+y")
        assert box.value == "change tone to wa"
        await pilot.press("home")
        assert box.cursor_position == 0
        await pilot.press("end")
        assert box.cursor_position == len("change tone to wa")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert (await store.state("default")).version == 2  # the live prompt never moved


async def test_undo_and_redo_step_through_the_persons_own_changes_and_ask(
    store: PromptStore, make_app: AppFactory
) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _apply(pilot, app, "add rule: never use emojis")  # v2
        await _apply(pilot, app, "change tone to sarcastic")  # v3
        await store.modify("default", "add rule: sign with the team name", user="colleague")  # v4, theirs
        await wait_for(pilot, lambda: app.dashboard.prompt_view.version == 4)
        await settle(pilot)
        # First undo: the tone change (theirs stays). It asks; declining writes nothing.
        await pilot.press("ctrl+z")
        assert "v3" in (await answer(pilot, "n")).title_text
        await settle(pilot)
        assert (await store.state("default")).version == 4
        await pilot.press("ctrl+z")
        assert "v3" in (await answer(pilot, "y")).title_text
        await wait_for(pilot, lambda: app.dashboard.prompt_view.version == 5)
        text = await store.get_active("default")
        assert text is not None and "Tone: Friendly" in text and "emojis" in text and "team name" in text
        # Second undo: further back, the emoji rule.
        await pilot.press("ctrl+z")
        assert "v2" in (await answer(pilot, "y")).title_text
        await wait_for(pilot, lambda: app.dashboard.prompt_view.version == 6)
        text = await store.get_active("default")
        assert text is not None and "emojis" not in text and "team name" in text
        # Redo: the emoji rule comes back; the tone stays undone.
        await pilot.press("ctrl+y")
        await answer(pilot, "y")
        await wait_for(pilot, lambda: app.dashboard.prompt_view.version == 7)
        text = await store.get_active("default")
        assert text is not None and "emojis" in text and "Tone: Friendly" in text and "team name" in text


async def test_at_80x24_panes_become_tabs_and_every_key_is_reachable(
    store: PromptStore, make_app: AppFactory
) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.dashboard
        assert screen.panes.mode is Layout.TABS
        assert screen.prompt_view.size.width >= 70  # the prompt gets the whole width
        bar = text_of(screen.key_bar)
        assert bar.startswith("f1 Help  ^p Palette  ^q Quit")
        await pilot.press("f8")  # next pane: the diff
        assert screen.panes.shown == "diff" and screen.diff_view.size.width >= 70
        await pilot.press("f8")
        assert screen.panes.shown == "timeline"
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        scroll = app.screen.query_one("#help-scroll")
        assert scroll.max_scroll_y > 0  # more keys than fit: the help scrolls
        await pilot.press("end")
        await wait_for(pilot, lambda: scroll.scroll_y == scroll.max_scroll_y)
        assert "Delete this prompt" in text_of(app.screen.query_one("#help-scroll"))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_at_80x24_typing_shows_the_preview_in_the_diff_tab(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.dashboard
        assert screen.panes.shown == "prompt-pane"
        await pilot.press(*"change tone to patient")
        await wait_for(pilot, lambda: screen.panes.shown == "diff")
        assert screen.query_one("#diff").display and "Patient" in text_of(screen.diff_view)
        assert screen.prompt_view.version == 1  # a preview writes nothing


async def test_wide_terminals_show_every_pane_at_once(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        screen = app.dashboard
        assert screen.panes.mode is Layout.WIDE
        for pane in (screen.prompt_list, screen.prompt_view, screen.diff_view, screen.timeline):
            assert pane.region.area > 0
        assert screen.prompt_view.size.width >= 70
        assert not screen.query_one("#pane-tabs").display


LONG = "Tone: Friendly and " + " ".join(f"word{n}" for n in range(30)) + " ENDWORD\n"


async def test_soft_wrap_shows_whole_lines_in_the_prompt_and_both_diffs(
    store: PromptStore, make_app: AppFactory
) -> None:
    await store.load("default", SAMPLE.replace("Tone: Friendly\n", LONG), kind="text")
    await store.modify("default", "add rule: keep it short")
    await store.set_active("default", (await store.get_active("default") or "").replace("ENDWORD", "LASTWORD"),
                           expected_version=2)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        assert screen.prompt_view.wrap and screen.diff_view.wrap  # prose wraps from the start
        assert "LASTWORD" in text_of(screen.prompt_view)
        assert "LASTWORD" in text_of(screen.diff_view) and "ENDWORD" in text_of(screen.diff_view)
        await pilot.press("ctrl+s")  # side by side: both columns wrap, the changed word shows on each side
        await wait_for(pilot, lambda: "side by side" in str(screen.diff_view.border_subtitle))
        await settle(pilot)
        shown = text_of(screen.diff_view)
        assert "ENDWORD" in shown and "LASTWORD" in shown
        await pilot.press("f6")  # sideways scrolling instead: the end of the long line is off the pane
        await settle(pilot)
        assert not screen.prompt_view.wrap
        assert "LASTWORD" not in text_of(screen.prompt_view)
        await pilot.press("f6")
        await settle(pilot)
        assert screen.prompt_view.wrap and "LASTWORD" in text_of(screen.prompt_view)


async def test_the_editor_asks_before_discarding(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
        editor = app.screen
        editor.query_one("#editor").text = "Half-written thought\n"  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert "Discard" in (await answer(pilot, "n")).title_text
        assert app.screen is editor and editor.edited == "Half-written thought\n"
        await pilot.press("escape")
        await answer(pilot, "y")
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen))
        await settle(pilot)
        assert (await store.state("default")).version == 1 and await store.get_active("default") == SAMPLE


async def test_an_unchanged_editor_closes_at_once(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.dashboard)


async def test_an_ambiguity_is_read_whole_under_the_input(store: PromptStore, make_app: AppFactory) -> None:
    text = SAMPLE.replace("3. Never promise refunds", "3. Never promise refunds to customers\n"
                          "5. Never promise refunds by email")
    await store.load("default", text, kind="text")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(*"remove rule about refunds")
        await pilot.press("enter")
        bar = app.dashboard.instruction_bar
        await wait_for(pilot, lambda: "remove rule 3" in bar.hint)
        hint = app.dashboard.query_one("#instruction-hint")
        shown = " ".join(line.strip() for line in lines_of(hint))
        assert hint.size.height >= 2  # wrapped, not cut at the pane's edge
        assert 'say which, e.g. "remove rule 3"' in shown
        assert shown.count("Never promise refunds to customers") == 1
        assert (await store.state("default")).version == 1


async def test_casing_is_kept_as_typed(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _apply(pilot, app, "add rule: iPhone users get the iOS guide")
        text = await store.get_active("default")
        assert text is not None and "iPhone users get the iOS guide" in text


async def test_one_line_count_everywhere(store: PromptStore, make_app: AppFactory) -> None:
    text = "".join(f"line {n}\n" for n in range(1, 42))  # 41 lines, ending in a newline
    await store.load("default", text, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert str(app.dashboard.prompt_view.border_subtitle).startswith("41 lines")
        assert "+41/-0" in text_of(app.dashboard.timeline)
        assert (await store.metadata("default"))["lines"] == 41


async def test_a_prompt_that_cannot_be_read_leaves_the_screen_on_the_one_it_shows(
    store: PromptStore, make_app: AppFactory, redis_sync: redis.Redis
) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.load("broken", "soon broken\n", kind="text")
    redis_sync.delete("prompt:{broken}:active")
    redis_sync.rpush("prompt:{broken}:active", "not", "a", "string")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        screen.prompt_list.focus()
        row = screen.prompt_list.names.index("broken")
        screen.prompt_list.move_cursor(row=row)
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("broken" in n.message for n in app._notifications))
        await settle(pilot)
        assert screen.current == "default" and screen.status.prompt_name == "default"
        assert str(screen.prompt_view.border_title).startswith("default")
        assert "Support assistant" in text_of(screen.prompt_view)
        await _apply(pilot, app, "add rule: still here")
        assert "still here" in (await store.get_active("default") or "")
        assert redis_sync.lrange("prompt:{broken}:active", 0, -1) == ["not", "a", "string"]
