"""Writes by anyone show up without a key press; a lost server is survived."""

from __future__ import annotations

import asyncio

import redis

from dynamic_prompt.core.config import Settings
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui.app import DashboardApp
from tests.support.servers import TestServer
from tests.tui.conftest import AppFactory
from tests.tui.helpers import SAMPLE, settle, text_of, wait_for

SIZE = (140, 45)


async def test_a_redis_cli_write_appears_in_every_pane(
    store: PromptStore, make_app: AppFactory, redis_sync: redis.Redis
) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        new = SAMPLE.replace("Tone: Friendly", "Tone: Terse")
        redis_sync.set("prompt:active", new)  # the gem's key, written by another client
        await wait_for(pilot, lambda: screen.prompt_view.text == new)
        assert screen.prompt_view.flash == frozenset({5})  # the changed line is flashed
        await settle(pilot)
        assert "+ Tone: Terse" in text_of(screen.diff_view)
        assert screen.timeline.entries[0].action == "external"
        assert screen.status.version == 2
        await wait_for(pilot, lambda: not screen.prompt_view.flash, timeout=5)


async def test_an_outside_write_reaches_the_diff_while_an_instruction_that_cannot_apply_is_typed(
    store: PromptStore, make_app: AppFactory, redis_sync: redis.Redis
) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        await pilot.press(*"remove rule about unicorns")  # no such rule: no preview to show
        await wait_for(pilot, lambda: "unicorns" in text_of(screen.instruction_bar))
        await wait_for(pilot, lambda: not screen.view.previewing)
        redis_sync.set("prompt:active", SAMPLE.replace("Tone: Friendly", "Tone: Terse"))
        await wait_for(pilot, lambda: "+ Tone: Terse" in text_of(screen.diff_view))
        assert "Preview" not in str(screen.diff_view.border_title)
        assert screen.instruction == "remove rule about unicorns"  # what was typed stays


async def test_a_modify_by_another_store_appears(
    store: PromptStore, make_app: AppFactory, settings: Settings, target: ServerTarget
) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        other = PromptStore.connect(target, settings)
        try:
            await other.modify("default", "add rule: Never use emojis", user="agent-7")
        finally:
            await other.aclose()
        screen = app.dashboard
        await wait_for(pilot, lambda: screen.prompt_view.version == 2)
        await settle(pilot)
        assert "Never use emojis" in text_of(screen.prompt_view)
        assert screen.timeline.entries[0].user_id == "agent-7"


async def test_a_burst_of_writes_is_coalesced(
    store: PromptStore, make_app: AppFactory, redis_sync: redis.Redis
) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        before = screen.refresher.reads
        for i in range(30):
            redis_sync.set("prompt:active", SAMPLE + f"burst {i}\n")
        await wait_for(pilot, lambda: screen.prompt_view.text.endswith("burst 29\n"))
        await settle(pilot)
        loads = screen.refresher.reads - before
        assert 1 <= loads < 15, loads  # one read per wake, not one per write


async def test_a_deleted_prompt_is_shown_as_gone(
    store: PromptStore, make_app: AppFactory, redis_sync: redis.Redis
) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.load("other", "Other\n", kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await wait_for(pilot, lambda: "other" in app.dashboard.prompt_list.names)
        await store.clear("other")
        await wait_for(pilot, lambda: "other" not in app.dashboard.prompt_list.names)


async def test_server_restart_disconnects_then_resyncs(tmp_path: object) -> None:
    server = TestServer(persist=True).start()
    try:
        target = ServerTarget(server.url, "test")
        settings = Settings(redis_url=server.url, redis_url_origin="test", user="tester")
        store = PromptStore.connect(target, settings)
        await store.load("default", SAMPLE, kind="text")
        await store.aclose()
        app = DashboardApp(target, settings, server_label="restart-test", remember_theme=False)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.dashboard
            await asyncio.to_thread(server.stop)
            await wait_for(pilot, lambda: screen.status.mode == "disconnected")
            assert "disconnected" in text_of(screen.status)
            assert screen.prompt_view.text == SAMPLE  # still showing the last text
            await asyncio.to_thread(server.start)
            client = redis.Redis.from_url(server.url)
            client.set("prompt:active", "Changed while the dashboard was away\n")
            client.close()
            await wait_for(pilot, lambda: screen.status.mode == "notifications", timeout=15)
            await wait_for(pilot, lambda: screen.prompt_view.text == "Changed while the dashboard was away\n")
            assert "notifications" in text_of(screen.status)
    finally:
        server.cleanup()


async def test_a_failing_store_call_is_one_notification(
    store: PromptStore, make_app: AppFactory, redis_sync: redis.Redis
) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.modify("default", "add rule: never use emojis")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        screen.timeline.table.focus()
        await pilot.press("down")  # v1
        # Another program leaves the versions key holding a list: restoring cannot read v1.
        redis_sync.delete("prompt:versions")
        redis_sync.rpush("prompt:versions", "not", "a", "hash")
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: any("wrong type" in n.message for n in app._notifications))
        assert app.is_running and app.screen is screen
        assert redis_sync.lrange("prompt:versions", 0, -1) == ["not", "a", "hash"]
