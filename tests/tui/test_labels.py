"""The release user's dashboard: labels in the panes, a label's text, promote and roll back.

The label switcher (f9) shows a label's text, with the diff against production;
an instruction typed there edits the label, never production; f10 asks before
promoting, naming the versions and how many live agents change; shift+f10 rolls
back. A label move made elsewhere (the CLI, another terminal) shows at once.
"""

from __future__ import annotations

from dynamic_prompt.store import PromptStore
from tests.tui.conftest import AppFactory
from tests.tui.helpers import SAMPLE, answer, settle, text_of, wait_for

SIZE = (160, 48)


async def _labelled(store: PromptStore) -> None:
    """production v1; staging v2 (tone sarcastic), made by an edit on the label."""
    await store.load("default", SAMPLE, kind="text")
    await store.set_label("default", "staging", "production")
    await store.modify("default", "change tone to sarcastic", label="staging")


async def _show_label(pilot, screen, label: str) -> None:  # type: ignore[no-untyped-def]
    """Press f9 until the text pane shows ``label`` (production, latest, then the others)."""
    for _ in range(6):
        if screen.view.label == label:
            return
        await pilot.press("f9")
        await settle(pilot)
    raise AssertionError(f"f9 never showed {label!r}; at {screen.view.label!r}")


async def test_a_label_shows_with_its_diff_and_an_instruction_edits_only_the_label(
        store: PromptStore, make_app: AppFactory) -> None:
    await _labelled(store)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        assert "staging v2" in str(screen.prompt_view.border_title)
        assert "staging" in text_of(screen.timeline)
        await _show_label(pilot, screen, "staging")
        await wait_for(pilot, lambda: "Tone: Sarcastic" in text_of(screen.prompt_view))
        assert "production" in str(screen.diff_view.border_title)
        assert "Tone: Friendly" in text_of(screen.diff_view) and "Tone: Sarcastic" in text_of(screen.diff_view)
        screen.instruction_bar.input.value = "add rule: keep it short"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.state is not None and screen.state.version == 3)
        assert await store.get_active("default") == SAMPLE  # production untouched
        assert (await store.labels("default")).labels.named["staging"] == 3
        # Production's own writes are refused at a label, in one line, and write nothing.
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert await store.get_active("default") == SAMPLE


async def test_promote_asks_naming_versions_and_agents_then_rollback_moves_it_back(
        store: PromptStore, make_app: AppFactory) -> None:
    await _labelled(store)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        await _show_label(pilot, screen, "staging")
        await pilot.press("f10")
        asked = await answer(pilot, "n")
        assert "staging (v2)" in asked.title_text and "production of default" in asked.title_text
        assert "0 live agents" in str(asked.detail) and "v2 instead of v1" in str(asked.detail)
        assert await store.get_active("default") == SAMPLE  # "no" moved nothing
        await pilot.press("f10")
        await answer(pilot, "y")
        await wait_for(pilot, lambda: screen.labels is not None and screen.labels.labels.production == 2)
        assert "Tone: Sarcastic" in (await store.get_active("default") or "")
        await pilot.press("shift+f10")
        asked = await answer(pilot, "y")
        assert "back from v2 to v1" in asked.title_text
        await wait_for(pilot, lambda: screen.labels is not None and screen.labels.labels.production == 1)
        assert await store.get_active("default") == SAMPLE


async def test_a_label_moved_elsewhere_shows_at_once(store: PromptStore, make_app: AppFactory) -> None:
    await _labelled(store)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        await store.set_label("default", "canary", "v2")  # another terminal
        await wait_for(pilot, lambda: "canary v2" in str(screen.prompt_view.border_title))
        await store.rollout("default", 25, "canary")
        await wait_for(pilot, lambda: "rollout v2 25%" in str(screen.prompt_view.border_title))


async def test_f10_at_production_during_a_rollout_asks_to_promote_the_rollouts_version(
        store: PromptStore, make_app: AppFactory) -> None:
    await _labelled(store)
    await store.rollout("default", 40, "staging")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        assert screen.view.label == "production"
        await wait_for(pilot, lambda: screen.labels is not None and screen.labels.release.rollout is not None)
        await pilot.press("f10")
        asked = await answer(pilot, "y")
        assert "Promote the rollout's v2 (40%) to production of default?" == asked.title_text
        assert "the rollout ends" in str(asked.detail)
        await wait_for(pilot, lambda: screen.labels is not None and screen.labels.labels.production == 2)
        assert (await store.labels("default")).release.rollout is None
