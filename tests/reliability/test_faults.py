"""Faults: the server stops, dies mid-write or the link silently dies; CONFIG is forbidden.

Nothing crashes, every error while down is one line, everything resyncs when
the server is back, and no write is ever half-applied.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time

import pytest
import redis

from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import (
    ConflictError,
    ConnectionFailedError,
    DynamicPromptError,
)
from dynamic_prompt.live.feed import (
    MODE_CHANNEL,
    MODE_DISCONNECTED,
    MODE_NOTIFICATIONS,
    MODE_POLLING,
    MODE_TRACKING,
)
from dynamic_prompt.server import ServerTarget, async_client
from dynamic_prompt.store import PromptStore
from tests.reliability.clirun import error_line, ok, run_cli
from tests.reliability.conftest import ServerFactory, admin
from tests.support.checks import one_line
from tests.support.feedwatch import FeedWatcher
from tests.support.proxy import FreezableProxy

TEXT = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n"
FAST_FEED = {"ping_interval": 0.2, "ping_timeout": 1.0, "poll_interval": 0.3}


def _one_line(exc: BaseException) -> str:
    return one_line(exc)


@pytest.mark.parametrize("persist", [False, True], ids=["no-persistence", "aof"])
async def test_server_stops_and_comes_back(make_server: ServerFactory, persist: bool) -> None:
    server = make_server(persist=persist)
    target = ServerTarget(server.url, "test")
    store = PromptStore.connect(target, Settings(user="t"))
    await store.load("p", TEXT, kind="text")
    await store.modify("p", "add rule: Be brief.")
    async with FeedWatcher(target, **FAST_FEED) as feed:
        await feed.wait_mode(MODE_NOTIFICATIONS, 5)
        down_at = time.monotonic()
        server.stop()
        await feed.wait_mode(MODE_DISCONNECTED, 5, since=down_at)
        # While down: every call is one clear line, through the store and the CLI.
        for call in (lambda: store.get_active("p"), lambda: store.modify("p", "change tone to dry"),
                     lambda: store.history("p"), lambda: store.list(), lambda: store.revert("p")):
            with pytest.raises(ConnectionFailedError) as info:
                await call()
            assert "Cannot reach" in _one_line(info.value)
        for args in (["get", "-n", "p"], ["modify", "-n", "p", "change tone to dry"], ["list"],
                     ["history", "-n", "p"], ["server", "status"]):
            line = error_line(run_cli(*args, url=server.url))
            assert "Cannot reach" in line and str(server.port) in line
        # Back on the same port: the same store, feed and CLI carry on.
        up_at = time.monotonic()
        server.start()
        await feed.wait_resync(15, since=up_at)
        await feed.wait_mode(MODE_NOTIFICATIONS, 5, since=up_at)
        if persist:
            state = await store.state("p")
            assert state.version == 2 and "Be brief." in (state.active or "")
            await store.modify("p", "change tone to dry")
        else:
            assert await store.get_active("p") is None  # the data went with the server
            await store.load("p", TEXT, kind="text")
        await feed.wait_change("p", 5, since=up_at)  # notifications flow again (flags re-merged)
        assert ok(run_cli("get", "-n", "p", url=server.url)).stdout.startswith("# Agent")
    await store.aclose()


def _check_chain(r: redis.Redis, name: str) -> int:
    """The invariants of one prompt's keys; returns its version."""
    prefix = f"prompt:{{{name}}}:"
    meta = {a.decode(): b.decode() for a, b in r.hgetall(prefix + "meta").items()}
    versions = {int(v): t for v, t in r.hgetall(prefix + "versions").items()}
    log = [json.loads(e) for e in r.lrange(prefix + "changelog", 0, -1)]
    active = r.get(prefix + "active")
    top = int(meta["version"])
    assert max(versions) == top and sorted(versions) == list(range(1, top + 1))
    assert active == versions[top] and meta["hash"] == hashlib.sha1(active).hexdigest()
    assert [e["version"] for e in log] == list(range(top, 0, -1))
    # An 'external' entry would mean the text and its meta disagreed: a half-applied write.
    assert all(e["action"] != "external" for e in log), log[:3]
    return top


async def test_kill_9_during_a_burst_never_half_applies(make_server: ServerFactory) -> None:
    """appendfsync always + SIGKILL mid-burst, three times: every acknowledged write survives whole."""
    server = make_server(persist=True)
    settings = Settings(user="w", version_retention=100_000, changelog_cap=100_000)
    target = ServerTarget(server.url, "test")
    seed = PromptStore.connect(target, settings)
    await seed.load("k", TEXT, kind="text")
    acked: dict[int, str] = {}
    stop = asyncio.Event()

    async def writer(i: int) -> None:
        store = PromptStore(async_client(target, timeout=2.0), settings, target)
        rnd = random.Random(i)
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if rnd.random() < 0.7:
                    result = await store.modify("k", f"add rule: writer {i} write {n}")
                else:
                    state = await store.state("k")
                    result = await store.set_active("k", (state.active or "") + f"edit {i}/{n}\n",
                                                    expected_version=state.version)
                acked[result.version] = hashlib.sha1(result.text.encode()).hexdigest()
            except (ConnectionFailedError, ConflictError):
                await asyncio.sleep(0.01)
        await store.aclose()

    tasks = [asyncio.create_task(writer(i)) for i in range(4)]
    r = admin(server)
    tops = []
    for _ in range(3):
        goal = len(acked) + 40
        while len(acked) < goal:
            await asyncio.sleep(0.01)
        server.kill()  # SIGKILL: no shutdown, no final fsync
        await asyncio.sleep(0.2)
        server.start()
        r = admin(server)
        tops.append(_check_chain(r, "k"))
    stop.set()
    await asyncio.gather(*tasks)
    top = _check_chain(r, "k")
    versions = {int(v): hashlib.sha1(t).hexdigest() for v, t in r.hgetall("prompt:{k}:versions").items()}
    lost = {v for v, h in acked.items() if versions.get(v) != h}
    assert not lost, f"acknowledged writes lost or changed after kill -9: {sorted(lost)[:10]}"
    assert top >= tops[-1] and len(acked) >= 120
    await seed.aclose()


async def test_a_silently_dead_link_is_caught_by_the_ping_watchdog(make_server: ServerFactory) -> None:
    server = make_server()
    proxy = FreezableProxy(server.port).start()
    target = ServerTarget(proxy.url, "proxy")
    writer = PromptStore.connect(ServerTarget(server.url, "direct"), Settings(user="t"))
    slow_store = PromptStore(async_client(target, timeout=1.0, retries=0), Settings(user="t"), target)
    try:
        await writer.load("p", TEXT, kind="text")
        async with FeedWatcher(target, **FAST_FEED) as feed:
            await feed.wait_mode(MODE_NOTIFICATIONS, 5)
            t = time.monotonic()
            await writer.modify("p", "change tone to dry")
            await feed.wait_change("p", 5, since=t)

            frozen_at = time.monotonic()
            proxy.freeze()
            seen = await feed.wait_mode(MODE_DISCONNECTED, 5, since=frozen_at)
            # Bounded by the watchdog: ping_timeout plus one ping interval and a poll tick.
            assert seen - frozen_at <= FAST_FEED["ping_timeout"] + 1.0, seen - frozen_at
            # A store call on the dead link fails in bounded time with one line.
            t = time.monotonic()
            with pytest.raises(ConnectionFailedError) as info:
                await slow_store.get_active("p")
            assert time.monotonic() - t < 5 and "Cannot reach" in _one_line(info.value)
            await writer.modify("p", "add rule: Written while the link was dead.")

            thawed_at = time.monotonic()
            proxy.thaw()
            await feed.wait_resync(15, since=thawed_at)
            await feed.wait_mode(MODE_NOTIFICATIONS, 5, since=thawed_at)
            # Resync means re-read: the write made while the link was dead is there.
            assert "Written while the link was dead." in (await slow_store.get_active("p") or "")
            t = time.monotonic()
            await writer.modify("p", "change tone to warm")
            await feed.wait_change("p", 5, since=t)
            assert all(e.mode != MODE_DISCONNECTED for at, e in feed.events if at > t)
    finally:
        await writer.aclose()
        await slow_store.aclose()
        proxy.close()


@pytest.mark.parametrize(
    ("extra", "url_user"),
    [
        (['rename-command CONFIG ""'], None),
        (["user feed on >feed-pw ~* &* +@all -config"], "feed:feed-pw"),
    ],
    ids=["config-renamed", "acl-without-config"],
)
async def test_config_forbidden_hears_anyone_through_client_tracking(
    make_server: ServerFactory, extra: list[str], url_user: str | None
) -> None:
    """Managed servers refuse CONFIG: client tracking still reports every write by anyone."""
    server = make_server(extra)
    url = server.url if url_user is None else f"redis://{url_user}@127.0.0.1:{server.port}/0"
    target = ServerTarget(url, "test")
    store = PromptStore.connect(target, Settings(user="t"))
    await store.load("p", TEXT, kind="text")
    async with FeedWatcher(target, **{**FAST_FEED, "poll_interval": 60.0}) as feed:
        await feed.wait_mode(MODE_TRACKING, 5)
        assert "CONFIG" in feed.feed.reason and "feed-pw" not in feed.feed.reason
        t = time.monotonic()
        admin(server).set("prompt:{p}:active", "Set by redis-cli.\n")  # no announcement, no poll for 60 s
        await feed.wait_change("p", 5, since=t)
    await store.aclose()


@pytest.mark.parametrize(
    ("extra", "url_user"),
    [
        (['rename-command CONFIG ""', 'rename-command CLIENT ""'], None),
        (["user feed on >feed-pw ~* &* +@all -config -client"], "feed:feed-pw"),
    ],
    ids=["config-and-client-renamed", "acl-without-config-and-client"],
)
async def test_config_forbidden_falls_back_to_the_channel_and_says_so(
    make_server: ServerFactory, extra: list[str], url_user: str | None
) -> None:
    server = make_server(extra)
    url = server.url if url_user is None else f"redis://{url_user}@127.0.0.1:{server.port}/0"
    target = ServerTarget(url, "test")
    store = PromptStore.connect(target, Settings(user="t"))
    await store.load("p", TEXT, kind="text")
    async with FeedWatcher(target, **FAST_FEED) as feed:
        await feed.wait_mode(MODE_CHANNEL, 5)
        assert feed.feed.mode == MODE_CHANNEL
        assert "CONFIG" in feed.feed.reason and "TRACKING" in feed.feed.reason
        assert "feed-pw" not in feed.feed.reason
        t = time.monotonic()
        await store.modify("p", "change tone to dry")  # announced on the change channel
        await feed.wait_change("p", 5, since=t)
        t = time.monotonic()
        admin(server).set("prompt:{p}:active", "Set by redis-cli.\n")  # no announcement: the poll sees it
        await feed.wait_change("p", 5, since=t)
    await store.aclose()


async def test_no_config_and_no_pubsub_falls_back_to_polling(make_server: ServerFactory) -> None:
    server = make_server(["user lone on >lone-pw ~* +@all -config -@pubsub"])
    target = ServerTarget(f"redis://lone:lone-pw@127.0.0.1:{server.port}/0", "test")
    writer = PromptStore.connect(ServerTarget(server.url, "admin"), Settings(user="t"))
    await writer.load("p", TEXT, kind="text")
    async with FeedWatcher(target, **FAST_FEED) as feed:
        await feed.wait_mode(MODE_POLLING, 5)
        assert "pub/sub" in feed.feed.reason
        t = time.monotonic()
        await writer.modify("p", "change tone to dry")
        await feed.wait_change("p", 5, since=t)
    await writer.aclose()


async def test_store_reports_a_server_that_never_answers_in_bounded_time(make_server: ServerFactory) -> None:
    server = make_server()
    proxy = FreezableProxy(server.port).start()
    proxy.freeze()  # accepts, never answers: a black hole
    try:
        target = ServerTarget(proxy.url, "proxy")
        store = PromptStore(async_client(target, timeout=1.0, retries=0), Settings(), target)
        t = time.monotonic()
        with pytest.raises(DynamicPromptError) as info:
            await store.load("p", TEXT, kind="text")
        assert time.monotonic() - t < 5
        assert "Cannot reach" in _one_line(info.value)
        await store.aclose()
    finally:
        proxy.close()


@pytest.mark.parametrize("how", ["paused", "black-hole"])
def test_every_cli_command_fails_within_the_readmes_5_s_on_a_hung_server(make_server: ServerFactory,
                                                                         how: str) -> None:
    """A server that accepts and never answers (SIGSTOP, or a link that swallows everything):
    each command says so in one line within about 5 s (it took 30.5 s: three 10 s tries)."""
    import os
    import signal

    server = make_server()
    ok(run_cli("load", "--text", TEXT, url=server.url))
    proxy = FreezableProxy(server.port).start()
    url = proxy.url if how == "black-hole" else server.url
    assert server.proc is not None
    try:
        if how == "paused":
            os.kill(server.proc.pid, signal.SIGSTOP)
        else:
            proxy.freeze()
        for args in (["get"], ["modify", "change tone to dry"], ["list"], ["history"]):
            start = time.monotonic()
            line = error_line(run_cli(*args, url=url))
            elapsed = time.monotonic() - start
            assert line.startswith(f"error: Cannot reach the Redis server at {url}"), line
            assert elapsed < 12, (args, elapsed)  # ~5 s; the old 30.5 s is far beyond
    finally:
        if how == "paused":
            os.kill(server.proc.pid, signal.SIGCONT)
        proxy.close()
    assert ok(run_cli("get", url=server.url)).stdout == TEXT  # and nothing was written meanwhile


@pytest.mark.parametrize(
    "instruction",
    ['replace "calm" with "calm, calm"', "add rule: Answer in English."],
)
async def test_a_commit_whose_reply_is_lost_is_not_applied_twice(make_server: ServerFactory,
                                                                instruction: str) -> None:
    """The write lands, the reply is lost, the client retries: the instruction takes effect once."""
    server = make_server()
    proxy = FreezableProxy(server.port).start()
    target = ServerTarget(proxy.url, "proxy")
    store = PromptStore.connect(target, Settings(user="t"))  # redis-py's default retry, as the CLI has
    try:
        await store.load("p", "Tone: calm\n\n## Rules\n1. Be kind.\n", kind="text")
        proxy.drop_next_reply(b"*2\r\n$2\r\nok\r\n")  # the commit script's reply
        result = await store.modify("p", instruction)
        assert proxy.dropped == 1
        state = await store.state("p")
        assert state.version == 2 == result.version and result.text == state.active
        assert state.active.count("calm, calm") <= 1 and state.active.count("Answer in English") <= 1
        assert [e.version for e in await store.history("p")] == [2, 1]
    finally:
        await store.aclose()
        proxy.close()
