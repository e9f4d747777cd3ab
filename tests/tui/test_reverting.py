"""The one who must revert now: one change undone among later ones, any two versions compared,
a search in the text, notes on every write, and prompts managed without the CLI."""

from __future__ import annotations

import redis

from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui.screens.editor import EditorScreen
from dynamic_prompt.tui.screens.forms import NameScreen
from tests.tui.conftest import AppFactory
from tests.tui.helpers import SAMPLE, answer, settle, text_of, wait_for

SIZE = (160, 48)


async def _history(store: PromptStore) -> None:
    """v1 the load, v2 a colleague's bad change, then two good ones (v3, v4)."""
    await store.load("default", SAMPLE, kind="text")
    await store.modify("default", "add rule: always promise a refund", user="colleague")
    await store.modify("default", "change tone to warm", user="alice")
    await store.modify("default", "add rule: sign every answer", user="bob")


async def _pick_version(pilot, app, version: int) -> None:  # type: ignore[no-untyped-def]
    timeline = app.dashboard.timeline
    timeline.table.focus()
    row = next(i for i, e in enumerate(timeline.shown) if e.version == version)
    timeline.table.move_cursor(row=row)
    await pilot.pause()
    assert timeline.selected is not None and timeline.selected.version == version


async def test_reverting_one_change_three_versions_back_keeps_the_two_later_ones(
    store: PromptStore, make_app: AppFactory
) -> None:
    await _history(store)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _pick_version(pilot, app, 2)
        await pilot.press("x")
        question = (await answer(pilot, "y")).title_text
        assert "v2" in question and "changes made after it stay" in question
        await wait_for(pilot, lambda: app.dashboard.prompt_view.version == 5)
        text = await store.get_active("default")
        assert text is not None
        assert "always promise a refund" not in text
        assert "Tone: Warm" in text and "sign every answer" in text  # the two later changes stay
        entry = (await store.history("default"))[0]
        assert entry.action == "revert-change" and entry.version == 5


async def test_reverting_a_change_a_later_one_rewrote_shows_the_conflict_and_writes_nothing(
    store: PromptStore, make_app: AppFactory
) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.modify("default", "change tone to warm")  # v2
    await store.modify("default", "change tone to sarcastic")  # v3 rewrote the same line
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _pick_version(pilot, app, 2)
        await pilot.press("x")
        await answer(pilot, "y")
        await wait_for(pilot, lambda: any("Nothing was written" in n.message for n in app._notifications))
        message = next(n.message for n in app._notifications if "Nothing was written" in n.message)
        assert "Tone" in message  # the conflicting line is named
        assert (await store.state("default")).version == 3


async def test_compare_any_two_versions(store: PromptStore, make_app: AppFactory) -> None:
    await _history(store)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _pick_version(pilot, app, 2)
        await pilot.press("m")
        assert "v2 marked" in str(app.dashboard.timeline.border_title)
        await _pick_version(pilot, app, 4)
        await pilot.press("c")
        diff = app.dashboard.diff_view
        await wait_for(pilot, lambda: "v2" in str(diff.border_title) and "v4" in str(diff.border_title))
        await settle(pilot)
        shown = text_of(diff)
        assert "Tone: Warm" in shown and "sign every answer" in shown
        refund = [line for line in shown.splitlines() if "always promise a refund" in line]
        assert refund and all(" + " not in line and " - " not in line for line in refund)  # in both: context
        # Compare one version with the active text.
        await pilot.press("escape")  # clears the mark
        await _pick_version(pilot, app, 1)
        await pilot.press("c")
        await wait_for(pilot, lambda: "v1" in str(diff.border_title))
        await settle(pilot)
        assert "always promise a refund" in text_of(diff)


async def test_find_in_the_prompt_text_with_next_and_previous(store: PromptStore, make_app: AppFactory) -> None:
    text = "".join(f"filler line {n}\n" for n in range(200)).replace("filler line 50\n", "the NEEDLE one\n")
    text = text.replace("filler line 150\n", "a needle two\n")
    await store.load("default", text, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = app.dashboard.prompt_view
        await pilot.press("ctrl+f")
        await pilot.press(*"needle")
        await wait_for(pilot, lambda: "1 of 2" in str(view.border_subtitle))
        assert "the NEEDLE one" in text_of(view)
        await pilot.press("enter")  # next
        await wait_for(pilot, lambda: "2 of 2" in str(view.border_subtitle))
        assert "a needle two" in text_of(view) and "the NEEDLE one" not in text_of(view)
        await pilot.press("shift+f3")  # previous
        await wait_for(pilot, lambda: "1 of 2" in str(view.border_subtitle))
        assert "the NEEDLE one" in text_of(view)
        await pilot.press("escape")
        assert view.search_query == "" and app.focused is view


async def test_a_note_rides_on_an_instruction_and_on_an_edit(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(*"add rule: never use emojis")
        app.dashboard.instruction_bar.note.focus()
        await pilot.press(*"customers asked")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.dashboard.prompt_view.version == 2)
        assert (await store.history("default"))[0].note == "customers asked"
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
        app.screen.query_one("#editor").text = "Edited\n"  # type: ignore[attr-defined]
        app.screen.query_one("#editor-note").value = "shorter is better"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.dashboard.prompt_view.version == 3)
        entry = (await store.history("default"))[0]
        assert entry.action == "edit" and entry.note == "shorter is better"
        await settle(pilot)
        assert "shorter is better" in text_of(app.dashboard.timeline)


async def _name_dialog(pilot, app, name: str) -> None:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: isinstance(app.screen, NameScreen))
    box = app.screen.query_one("#name")
    box.value = name  # type: ignore[attr-defined]
    await pilot.press("enter")


async def test_duplicate_rename_and_delete_from_the_prompt_list(
    store: PromptStore, make_app: AppFactory, redis_sync: redis.Redis
) -> None:
    await store.load("support", SAMPLE, kind="text")
    await store.modify("support", "add rule: never use emojis")
    app = make_app("support")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        listing = app.dashboard.prompt_list
        listing.focus()
        await pilot.press("d")
        await _name_dialog(pilot, app, "support-b")
        await wait_for(pilot, lambda: "support-b" in listing.names and app.dashboard.current == "support-b")
        assert await store.get_active("support-b") == await store.get_active("support")
        await settle(pilot)
        listing.focus()
        listing.move_cursor(row=listing.names.index("support-b"))
        await pilot.press("r")
        await _name_dialog(pilot, app, "support-trial")
        await wait_for(pilot, lambda: "support-trial" in listing.names and "support-b" not in listing.names)
        assert app.dashboard.current == "support-trial"
        assert await store.get_active("support-b") is None
        await settle(pilot)
        listing.focus()
        listing.move_cursor(row=listing.names.index("support-trial"))
        await pilot.press("delete")
        detail = str((await answer(pilot, "y")).detail)
        assert "changelog entries" in detail and "kept versions" in detail  # names what goes
        await wait_for(pilot, lambda: "support-trial" not in listing.names)
        assert await store.get_active("support-trial") is None
        assert await store.get_active("support") is not None  # the original stays
        assert not redis_sync.keys("prompt:{support-trial}:*")
