"""Redis Sentinel: one redis+sentinel:// URL for the CLI, the store, the feed and the agents'
client, and a failover that all of them ride out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis

from dynamic_prompt import PromptClient
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import ConfigError, ConnectionFailedError
from dynamic_prompt.live.feed import MODE_NOTIFICATIONS
from dynamic_prompt.server import ServerTarget, validate_url
from dynamic_prompt.server import sentinel as sentinel_url
from dynamic_prompt.store import PromptStore
from tests.reliability.clirun import error_line, ok, run_cli
from tests.support.checks import no_secret, one_line
from tests.support.feedwatch import FeedWatcher
from tests.support.sentinel import SERVICE, SentinelPair
from tests.support.waiting import eventually_async

PW = "sentinel-test-pw-7731"
TEXT = "# Agent\n\nTone: Calm\n"
FAST_FEED = {"ping_interval": 0.2, "ping_timeout": 1.0, "poll_interval": 0.2}


@pytest.fixture
def pair() -> Iterator[SentinelPair]:
    started = SentinelPair(password=PW).start()
    yield started
    started.cleanup()


def test_cli_store_and_feed_through_a_sentinel_url(pair: SentinelPair) -> None:
    url = pair.url
    out = ok(run_cli("load", "--text", TEXT, url=url))
    assert "version 1" in out.stdout and PW not in out.all
    ok(run_cli("modify", "change tone to dry", url=url))
    master = redis.Redis(port=pair.master.port, password=PW, decode_responses=True)
    assert "Tone: Dry" in (master.get("prompt:active") or "")  # it went to the master
    assert ok(run_cli("get", url=url)).stdout.startswith("# Agent")
    status = ok(run_cli("server", "status", url=url))
    assert f"redis+sentinel://:***@127.0.0.1:{pair.port}/{SERVICE}" in status.stdout and PW not in status.all
    # Bad sentinel URLs and an unreachable sentinel: one line each, password masked.
    for bad in (f"redis+sentinel://:{PW}@127.0.0.1:{pair.port}", f"redis+sentinel://:{PW}@127.0.0.1:x/{SERVICE}"):
        line = error_line(run_cli("get", url=bad))
        assert "Bad Sentinel URL" in line and PW not in line
    line = error_line(run_cli("get", url=f"redis+sentinel://:{PW}@127.0.0.1:1/{SERVICE}"))
    assert "Cannot reach" in line and PW not in line
    line = error_line(run_cli("get", url=f"redis+sentinel://:{PW}@127.0.0.1:{pair.port}/no-such-service"))
    assert PW not in line
    master.close()


def test_validate_url_accepts_sentinel_urls_and_refuses_broken_ones() -> None:
    good = "redis+sentinel://alice:pw@s1:26379,s2/prompts/2?sentinel_password=spw"
    assert validate_url(good) == good
    for bad in ("redis+sentinel://s1", "redis+sentinel:///prompts", "redis+sentinel://s1/p/x",
                "redis+sentinel://s1/p?nope=1", "redis+sentinel://s1:99999/p", "redis+sentinel://::1/p",
                "redis+sentinel://[::1/p", "redis+sentinel://[::1]::5/p", "redis+sentinel://s1:\u00b2/p",
                "redis+sentinel://s1/p/\u00b2", "redis+sentinel://admin:Sup3r?Secr3t@s1/p"):
        with pytest.raises(ConfigError) as info:
            validate_url(bad)
        no_secret(one_line(info.value), secrets=("Sup3r?Secr3t", "Secr3t"))
    parsed = sentinel_url.parse("redis+sentinel://[::1]:5000,s2/prompts?sentinel_password=a+b%26c")
    assert parsed.sentinels == (("::1", 5000), ("s2", 26379))
    assert parsed.sentinel_password == "a+b&c"  # a "+" stays a "+"


async def test_a_failover_is_ridden_out_by_store_feed_and_agents(pair: SentinelPair) -> None:
    baseline = pair.clients()
    target = ServerTarget(pair.url, "test")
    settings = Settings(redis_url=pair.url, redis_url_origin="test", user="t")
    store = PromptStore.connect(target, settings)
    await store.load("p", TEXT, kind="text")
    agent = PromptClient(settings=settings, announce=False)
    try:
        assert agent.get_active("p") == TEXT
        async with FeedWatcher(target, **FAST_FEED) as feed:
            await feed.wait_mode(MODE_NOTIFICATIONS, 5)
            t = time.monotonic()
            await store.modify("p", "change tone to dry")
            await feed.wait_change("p", 5, since=t)

            new_master = pair.failover()
            assert new_master != pair.master.port

            # The store's next write lands on the new master (a stale connection is retried
            # after the sentinel names the new one); nothing written before is lost.
            t = time.monotonic()
            deadline = time.monotonic() + 10
            while True:
                try:
                    result = await store.modify("p", "change tone to warm")
                    break
                except ConnectionFailedError as exc:
                    assert time.monotonic() < deadline, f"no write succeeded after the failover: {exc}"
                    await asyncio.sleep(0.1)
            assert result.version == 3
            promoted = redis.Redis(port=new_master, password=PW, decode_responses=True)
            assert "Tone: Warm" in (promoted.get("prompt:{p}:active") or "")
            assert sorted(int(v) for v in promoted.hkeys("prompt:{p}:versions")) == [1, 2, 3]
            # The feed moves to the new master: it reports the write, or resyncs after it
            # (a resync tells every consumer to re-read), and then hears new writes there.
            await feed.wait_for(lambda e: e.kind == "resync" or (e.kind == "changed" and e.name == "p"),
                                15, since=t)
            await eventually_async(lambda: "Tone: Warm" in (agent.get_active("p") or ""), 15)
            t = time.monotonic()
            promoted.set("prompt:{p}:active", "Written on the new master by redis-cli.\n")
            await feed.wait_change("p", 10, since=t)
            await eventually_async(lambda: agent.get_active("p") == "Written on the new master by redis-cli.\n", 10)
            promoted.close()
    finally:
        agent.close()
        await store.aclose()
    # Every client, feed reconnection and failover left no link to the sentinel behind.
    await eventually_async(lambda: pair.clients() <= baseline, 5)


async def test_a_connection_busy_during_the_failover_is_not_left_on_the_old_master(pair: SentinelPair) -> None:
    """redis-py drops only idle connections when the master moves; one in use at that moment
    came back to the pool still open to the old master, serving its (isolated) data."""
    target = ServerTarget(pair.url, "test")
    store = PromptStore.connect(target, Settings(redis_url=pair.url, redis_url_origin="test", user="t"))
    try:
        await store.load("p", TEXT, kind="text")
        pool = store.client.connection_pool
        busy = await pool.get_connection()
        await busy.connect()
        new_master = pair.failover()
        await pool.release(busy)
        promoted = redis.Redis(port=new_master, password=PW, decode_responses=True)
        promoted.set("prompt:{p}:active", "Only on the new master.\n")
        promoted.close()
        async def moved() -> bool:
            return await store.get_active("p") == "Only on the new master.\n"

        await eventually_async(moved, 5)
        result = await store.modify("p", "change tone to dry")  # and writes land there too
        assert result.changed
    finally:
        await store.aclose()


async def test_sentinels_down_with_the_master_up_changes_nothing_for_the_feed_or_reads(
    pair: SentinelPair,
) -> None:
    target = ServerTarget(pair.url, "test")
    store = PromptStore.connect(target, Settings(redis_url=pair.url, redis_url_origin="test", user="t"))
    try:
        await store.load("p", TEXT, kind="text")
        async with FeedWatcher(target, **FAST_FEED) as feed:
            await feed.wait_mode(MODE_NOTIFICATIONS, 5)
            assert pair.proc is not None
            pair.proc.kill()
            pair.proc.wait()
            down_at = time.monotonic()
            for _ in range(6):  # a few seconds of work without any sentinel
                started = time.monotonic()
                assert await store.get_active("p") == TEXT
                # A deadline guard, not a speed figure: a read is a round trip to the master;
                # one that went looking for a sentinel would wait out connect timeouts first.
                assert time.monotonic() - started < 2.5
                await asyncio.sleep(0.5)
            t = time.monotonic()
            await store.modify("p", "change tone to dry")
            await feed.wait_change("p", 5, since=t)
            assert all(e.mode != "disconnected" for at, e in feed.events if at >= down_at)
    finally:
        await store.aclose()

