"""The dashboard does not keep showing what a FLUSHDB deleted or what a deaf feed missed.

Each test flushes or reconfigures its server, so each starts a private one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from dynamic_prompt.core.config import Settings
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui.app import DashboardApp
from tests.support.servers import TestServer
from tests.tui.helpers import SAMPLE, settle, wait_for

SIZE = (140, 45)


@pytest.fixture
def server() -> Iterator[TestServer]:
    s = TestServer().start()
    yield s
    s.cleanup()


async def _app_with_prompts(server: TestServer) -> DashboardApp:
    target = ServerTarget(server.url, "test")
    settings = Settings(redis_url=server.url, redis_url_origin="test", user="tester")
    store = PromptStore.connect(target, settings)
    await store.load("default", SAMPLE, kind="text")
    await store.load("other", "Other\n", kind="text")
    await store.aclose()
    return DashboardApp(target, settings, server_label="deaf-test", remember_theme=False)


@pytest.mark.parametrize("flush", ["flushdb", "flushall"])
async def test_a_flush_shows_the_prompts_gone(server: TestServer, flush: str) -> None:
    app = await _app_with_prompts(server)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        await wait_for(pilot, lambda: {"default", "other"} <= set(screen.prompt_list.names))
        assert screen.prompt_view.text == SAMPLE
        admin = redis.Redis.from_url(server.url)
        getattr(admin, flush)()  # sends no keyspace event at all
        admin.close()
        await wait_for(pilot, lambda: screen.state is not None and not screen.state.exists, timeout=5)
        # The list keeps only the current prompt's row (as "(none)"): "other" is gone.
        await wait_for(pilot, lambda: screen.prompt_list.names == ["default"], timeout=5)
        assert screen.prompt_view.text == ""
        assert screen.status.mode == "notifications"


async def test_cleared_flags_do_not_leave_the_dashboard_deaf(server: TestServer) -> None:
    app = await _app_with_prompts(server)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        admin = redis.Redis.from_url(server.url, decode_responses=True)
        admin.config_set("notify-keyspace-events", "")
        new = SAMPLE.replace("Tone: Friendly", "Tone: Terse")
        admin.set("prompt:active", new)  # no keyspace event: the flags are gone
        await wait_for(pilot, lambda: screen.prompt_view.text == new, timeout=5)
        assert "K" in admin.config_get("notify-keyspace-events")["notify-keyspace-events"]
        admin.close()
