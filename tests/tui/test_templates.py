"""The dashboard on templates: the render beside the source, includes and users, a fragment's
preview across its dependents, a config set from the instruction input.

Every test runs the real app against a real server, writes from outside (the store, or
redis-cli's plain SET) and reads what the panes show.
"""

from __future__ import annotations

import json
from pathlib import Path

import redis

from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui.widgets.prompt_view import PromptView
from tests.tui.conftest import AppFactory
from tests.tui.helpers import settle, text_of, wait_for

SIZE = (200, 60)
FRAGMENT = "Never share {{ user }}'s card number.\n"


def agent(i: int) -> str:
    return (f"You are agent {i} of {{{{ company }}}}, helping {{{{ user }}}}.\n"
            "{% include \"safety\" %}{% if tier == 'gold' %}Priority support.\n{% endif %}")


async def _fleet_of_prompts(store: PromptStore) -> None:
    await store.load("safety", FRAGMENT, kind="text")
    for i in range(1, 4):
        await store.load(f"agent{i}", agent(i), kind="text")
    await store.load("plain", "No template here.\n", kind="text")


def _samples(tmp_path: Path) -> Path:
    path = tmp_path / "samples.json"
    path.write_text(json.dumps({"*": {"company": "Northwind"}, "agent1": {"user": "Ada", "tier": "gold"}}))
    return path


async def test_f5_renders_beside_the_source_and_follows_a_fragment_written_outside(
        store: PromptStore, make_app: AppFactory, redis_sync: redis.Redis, tmp_path: Path) -> None:
    await _fleet_of_prompts(store)
    app = make_app("agent1", samples_file=_samples(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        rendered = screen.query_one("#rendered", PromptView)
        assert not rendered.display
        await pilot.press("f5")
        await wait_for(pilot, lambda: "Priority support." in rendered.text)
        assert rendered.display
        assert rendered.text == "You are agent 1 of Northwind, helping Ada.\nNever share Ada's card number.\nPriority support.\n"
        assert "2  Never share Ada's card number." in text_of(rendered)  # on screen, numbered
        assert "samples.json" in str(rendered.border_title)
        assert "{{ user }}" in text_of(screen.prompt_view)  # the source stays as it is stored
        composition = screen.query_one("#composition")
        assert text_of(composition) == "includes safety"
        # Another program changes the fragment: the render shows it, with no key pressed.
        redis_sync.set("prompt:{safety}:active", "Never read back {{ user }}'s card number.\n")
        await wait_for(pilot, lambda: "Never read back Ada's card number." in rendered.text)


async def test_a_missing_variable_names_itself_in_one_line(store: PromptStore, make_app: AppFactory,
                                                           tmp_path: Path) -> None:
    await _fleet_of_prompts(store)
    app = make_app("agent2", samples_file=_samples(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        rendered = app.dashboard.query_one("#rendered", PromptView)
        await wait_for(pilot, lambda: "Missing variable" in rendered.text)
        assert rendered.text == "Missing variable 'user': 'agent2' and its includes read company, tier, user."
        assert str(rendered.border_title).startswith("not rendered")


async def test_a_bad_samples_file_is_one_line_and_the_source_still_shows(store: PromptStore,
                                                                         make_app: AppFactory,
                                                                         tmp_path: Path) -> None:
    await _fleet_of_prompts(store)
    bad = tmp_path / "samples.json"
    bad.write_bytes(b"\xff\xfe not json")
    app = make_app("agent1", samples_file=bad)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        rendered = app.dashboard.query_one("#rendered", PromptView)
        await wait_for(pilot, lambda: "not UTF-8" in rendered.text)
        assert len(rendered.text.splitlines()) == 1 and "samples.json" in rendered.text
        assert "You are agent 1" in text_of(app.dashboard.prompt_view)


async def test_a_fragment_shows_its_users_and_its_preview_diffs_every_dependents_render(
        store: PromptStore, make_app: AppFactory, redis_sync: redis.Redis, tmp_path: Path) -> None:
    await _fleet_of_prompts(store)
    app = make_app("safety", samples_file=_samples(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        composition = screen.query_one("#composition")
        await wait_for(pilot, lambda: "used by" in text_of(composition))
        assert text_of(composition) == "used by 3 prompts: agent1, agent2, agent3"
        await pilot.press("ctrl+g", *"add rule: never guess a number")
        await wait_for(pilot, lambda: "prompts using it change" in str(screen.diff_view.border_title))
        title = str(screen.diff_view.border_title)
        assert title.startswith("Preview, 3 of 3 prompts using it change: add rule")
        shown = text_of(screen.diff_view)
        for heading in ("══ safety: +", "══ render of agent1: +", "══ render of agent2: +", "══ render of agent3: +"):
            assert heading in shown
        assert "Never share Ada's card number." in shown  # agent1's render, with its samples
        assert redis_sync.get("prompt:{safety}:active") == FRAGMENT  # a preview writes nothing
        await pilot.press("enter")
        await wait_for(pilot, lambda: "never guess a number" in (redis_sync.get("prompt:{safety}:active") or ""))


async def test_a_config_instruction_previews_the_config_and_enter_sets_it(store: PromptStore, make_app: AppFactory,
                                                                          redis_sync: redis.Redis) -> None:
    await store.load("default", "Be brief.\n", kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        await pilot.press("ctrl+g", *"config model=gpt-5 temperature=0.2")
        await wait_for(pilot, lambda: str(screen.diff_view.border_title).startswith("Preview: config"))
        assert "+   \"model\": \"gpt-5\"," in text_of(screen.diff_view)
        assert redis_sync.hget("prompt:meta", "config") is None
        await pilot.press("enter")
        await wait_for(pilot, lambda: redis_sync.hget("prompt:meta", "config") is not None)
        assert json.loads(redis_sync.hget("prompt:meta", "config")) == {"model": "gpt-5", "temperature": 0.2}
        assert redis_sync.get("prompt:active") == "Be brief.\n"
        await wait_for(pilot, lambda: "\"model\": \"gpt-5\"" in text_of(screen.diff_view))  # vs the original
        assert "changed from the original" not in str(screen.prompt_view.border_subtitle)  # the text did not
        await pilot.press(*"config unset nope")
        await wait_for(pilot, lambda: "no key 'nope'" in screen.instruction_bar.hint)


async def test_undo_of_your_own_config_change_takes_it_back(store: PromptStore, make_app: AppFactory,
                                                              redis_sync: redis.Redis) -> None:
    from tests.tui.helpers import answer

    await store.load("default", "Be brief.\n", kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+g", *"config model=gpt-5", "enter")
        await wait_for(pilot, lambda: redis_sync.hget("prompt:meta", "config") is not None)
        await settle(pilot)
        await pilot.press("ctrl+z")
        question = await answer(pilot, "y")
        assert "model" in str(question.detail)  # the question shows the config's change
        await wait_for(pilot, lambda: redis_sync.hget("prompt:meta", "config") is None)
        assert redis_sync.get("prompt:active") == "Be brief.\n"
        assert app.dashboard.mine.to_undo("default") is None  # nothing of the person's left to undo


async def test_markup_typed_or_in_a_file_name_shows_as_text(store: PromptStore, make_app: AppFactory,
                                                            tmp_path: Path) -> None:
    await _fleet_of_prompts(store)
    odd = tmp_path / "x[link=x:y][b].json"
    odd.write_text(json.dumps({"agent1": {"user": "Ada", "company": "[b]N[/b]", "tier": "x"}}))
    app = make_app("agent1", samples_file=odd)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        await pilot.press("f5")
        rendered = screen.query_one("#rendered", PromptView)
        await wait_for(pilot, lambda: "[b]N[/b]" in rendered.text)
        assert "x[link=x:y][b].json" in rendered._border_title.plain  # type: ignore[union-attr]
        await pilot.press("ctrl+g", *"add rule: never write [/] or [b] tags")
        await wait_for(pilot, lambda: "[/]" in screen.diff_view._border_title.plain)  # type: ignore[union-attr]
        assert app.is_running


async def test_used_by_follows_prompts_that_start_or_stop_including_it(store: PromptStore, make_app: AppFactory,
                                                                       redis_sync: redis.Redis) -> None:
    await _fleet_of_prompts(store)
    app = make_app("safety")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        composition = app.dashboard.query_one("#composition")
        await wait_for(pilot, lambda: text_of(composition) == "used by 3 prompts: agent1, agent2, agent3")
        await store.load("agent4", 'Also: {% include "safety" %}', kind="text")
        await wait_for(pilot, lambda: text_of(composition).startswith("used by 4 prompts"))
        redis_sync.set("prompt:{agent1}:active", "No include any more.\n")  # another program's write
        await wait_for(pilot, lambda: text_of(composition) == "used by 3 prompts: agent2, agent3, agent4")
