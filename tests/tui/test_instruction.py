"""The instruction input: completions, a debounced preview, Enter applies, errors change nothing."""

from __future__ import annotations

from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui.suggester import InstructionSuggester, ghost
from tests.tui.conftest import AppFactory
from tests.tui.helpers import SAMPLE, settle, text_of, wait_for

SIZE = (140, 45)


def test_ghost_completes_up_to_the_first_placeholder() -> None:
    assert ghost("change x", "change tone to <tone>") is None
    assert ghost("change t", "change tone to <tone>") == "change tone to "
    assert ghost("", "change tone to <tone>") is None
    assert ghost("change tone to sar", "change tone to sarcastic") == "change tone to sarcastic"


async def test_suggester_uses_the_prompt_rules() -> None:
    suggester = InstructionSuggester(lambda: SAMPLE)
    found = await suggester.get_suggestion("remove rule about nev")
    assert found == "remove rule about Never promise refunds"


async def test_typing_suggests_and_previews_without_writing(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        await pilot.press("ctrl+g")
        await pilot.press(*"change tone to sarc")
        bar = screen.instruction_bar
        await wait_for(pilot, lambda: bar.input._suggestion == "change tone to sarcastic")
        assert "change tone to" in bar.hint
        await pilot.press("right")  # accept the completion
        assert bar.input.value == "change tone to sarcastic"
        await wait_for(pilot, lambda: str(screen.diff_view.border_title).startswith("Preview:"))
        shown = text_of(screen.diff_view)
        assert "+ Tone: Sarcastic" in shown
        assert (await store.state("default")).version == 1  # a preview writes nothing


async def test_enter_applies_and_clears(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        screen.instruction_bar.input.focus()
        screen.instruction_bar.input.value = "add rule: Never use emojis"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.prompt_view.version == 2)
        assert screen.instruction_bar.input.value == ""
        assert "Never use emojis" in text_of(screen.prompt_view)
        await settle(pilot)
        assert "original" in str(screen.diff_view.border_title)


async def test_an_unknown_instruction_shows_one_line_and_changes_nothing(
    store: PromptStore, make_app: AppFactory
) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        bar = screen.instruction_bar
        bar.input.focus()
        bar.input.value = "frobnicate the widgets"
        await pilot.press("enter")
        await wait_for(pilot, lambda: bar.has_class("-error"))
        assert "\n" not in bar.hint and bar.hint
        await settle(pilot)
        assert (await store.state("default")).version == 1
        assert bar.input.value == "frobnicate the widgets"


async def test_an_ambiguous_target_names_the_candidates(store: PromptStore, make_app: AppFactory) -> None:
    text = SAMPLE.replace("4. Ask for", "4. Never promise discounts\n5. Ask for")
    await store.load("default", text, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bar = app.dashboard.instruction_bar
        bar.input.focus()
        bar.input.value = "remove rule about never promise"
        await pilot.press("enter")
        await wait_for(pilot, lambda: bar.has_class("-error"))
        assert "refunds" in bar.hint and "discounts" in bar.hint
        assert (await store.state("default")).version == 1
