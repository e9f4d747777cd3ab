"""Costs that grow with the change, not with the keyspace: counted on real servers.

On a server full of other programs' keys, the listing and the fleet come from
the indexes (no SCAN), a prompt another program wrote joins the index when it is
first seen or at a rate-limited reconciliation, and with the dashboard open an
outside write to one prompt costs a handful of commands, not a walk of the keyspace.
"""

from __future__ import annotations

import asyncio

import pytest
import redis

from dynamic_prompt.core.config import Settings
from dynamic_prompt.live.feed import ChangeFeed
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from tests.reliability.conftest import ServerFactory
from tests.support.servers import TestServer
from tests.tui.helpers import settle, wait_for

TEXT = "# Agent\n\nTone: Calm\n"
OTHER_KEYS = 20_000


def _calls(client: redis.Redis, command: str) -> int:
    stats = client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def _crowded(server: TestServer, prompts: int) -> redis.Redis:
    """``server`` holding ``OTHER_KEYS`` unrelated keys and ``prompts`` prompts loaded by dprompt."""
    admin = redis.Redis.from_url(server.url, decode_responses=True)
    for start in range(0, OTHER_KEYS, 1000):
        admin.mset({f"other:{i}": "x" for i in range(start, start + 1000)})

    async def load() -> None:
        store = PromptStore.connect(ServerTarget(server.url, "test"), Settings(user="t"))
        try:
            for i in range(prompts):
                await store.load(f"p{i}", TEXT, kind="text")
        finally:
            await store.aclose()

    asyncio.run(load())
    return admin


def test_the_listing_and_the_fleet_send_no_scan(make_server: ServerFactory) -> None:
    # Every listing scanned the keyspace (1,000 keys a page); the fleet scanned twice.
    server = make_server()
    admin = _crowded(server, 5)
    admin.set("prompt:active", "the gem's own prompt\n")  # the gem never writes the index
    before = _calls(admin, "scan")

    async def main() -> tuple[list[str], list[str]]:
        store = PromptStore.connect(ServerTarget(server.url, "test"), Settings())
        try:
            listed = [p.name for p in await store.list()]
            fleet = sorted(await store.fleet())
            return listed, fleet
        finally:
            await store.aclose()

    listed, fleet = asyncio.run(main())
    assert listed == ["default", "p0", "p1", "p2", "p3", "p4"]
    assert fleet == sorted(listed)
    assert _calls(admin, "scan") == before
    admin.close()


def test_another_programs_prompt_joins_the_index_at_a_rate_limited_reconcile(make_server: ServerFactory) -> None:
    server = make_server()
    admin = _crowded(server, 2)
    admin.set("prompt:{outside}:active", "written by redis-cli\n")
    before = _calls(admin, "scan")

    async def main() -> None:
        store = PromptStore.connect(ServerTarget(server.url, "test"), Settings())
        try:
            assert "outside" not in [p.name for p in await store.list()]
            assert await store.reconcile() == ["outside"]
            scans = _calls(admin, "scan")
            assert scans - before >= OTHER_KEYS // 1000
            assert "outside" in [p.name for p in await store.list()]
            assert admin.sismember("dprompt:index", "outside")
            # Within the interval another reconcile (by this or any process) scans nothing.
            admin.set("prompt:{later}:active", "also outside\n")
            assert await store.reconcile() == []
            assert _calls(admin, "scan") == scans
            assert await store.reconcile(force=True) == ["later"]
        finally:
            await store.aclose()

    asyncio.run(main())
    admin.close()


def test_the_channel_modes_poll_reads_the_index_not_the_keyspace(make_kind_server: ServerFactory) -> None:
    # In channel mode (CONFIG and CLIENT refused) the dashboard's feed polled every prompt
    # found by a SCAN, once a second.
    server = make_kind_server(['rename-command CONFIG ""', 'rename-command CLIENT ""'])
    admin = _crowded(server, 3)
    target = ServerTarget(server.url, "test")
    before = _calls(admin, "scan")

    async def main() -> list[str]:
        feed = ChangeFeed(target, poll_interval=0.1, ping_interval=0.2)
        changed: list[str] = []
        task = asyncio.create_task(feed.run(lambda e: changed.append(e.name) if e.name else None))
        try:
            for _ in range(100):
                if feed.mode == "channel":
                    break
                await asyncio.sleep(0.05)
            assert feed.mode == "channel"
            admin.set("prompt:{p1}:active", "changed by redis-cli\n")  # no channel message: the poll finds it
            for _ in range(100):
                if "p1" in changed:
                    break
                await asyncio.sleep(0.05)
            return changed
        finally:
            feed.stop()
            await asyncio.wait_for(task, 10)

    assert "p1" in asyncio.run(main())
    assert _calls(admin, "scan") == before
    admin.close()


async def test_an_outside_write_costs_the_open_dashboard_a_few_commands_and_no_scan(
        make_server: ServerFactory) -> None:
    pytest.importorskip("textual")
    from dynamic_prompt.tui.app import DashboardApp

    server = make_server()
    admin = await asyncio.to_thread(_crowded, server, 10)
    # The dashboard's own refresh, without its archiver (which reads each changed prompt once
    # more, into the archive file: tests/tui/test_archive_screens.py).
    app = DashboardApp(ServerTarget(server.url, "test"), Settings(user="t"), name="p0", remember_theme=False,
                       archive=False)
    async with app.run_test(size=(200, 60)) as pilot:
        screen = app.dashboard
        await wait_for(pilot, lambda: len(screen.prompt_list.names) == 10)
        await settle(pilot)
        admin.config_resetstat()
        writes = 20
        for i in range(writes):
            admin.set(f"prompt:{{p{1 + i % 9}}}:active", f"outside write {i}\n")
        # A prompt no dprompt process has seen: it joins the listing and the index.
        admin.set("prompt:{newcomer}:active", "from another program\n")
        await wait_for(pilot, lambda: "newcomer" in screen.prompt_list.names)
        await settle(pilot)
        stats = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in admin.info("commandstats").items()}
    assert stats.get("scan", 0) == 0
    assert admin.sismember("dprompt:index", "newcomer")
    ours = {k: v for k, v in stats.items() if k not in ("set", "config|resetstat", "info")}
    # The changed rows (at most one pipelined EXISTS + STRLEN + HGETALL each), the
    # watchdog's pings and flag checks, and the one SADD of the newcomer.
    assert sum(ours.values()) <= 3 * (writes + 1) + 40, ours
    admin.close()
