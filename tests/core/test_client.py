"""The agents' client on real servers: memory reads, invalidation, fallbacks, leaks, fleet."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from dynamic_prompt import AsyncPromptClient, PromptClient
from dynamic_prompt.core.errors import (
    ConnectionFailedError,
    DynamicPromptError,
    InvalidNameError,
)
from dynamic_prompt.live.cache import CacheEntry, NearCache
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from dynamic_prompt.store.fleet import ANNOUNCE_SCRIPT, fleet, parse_fleet
from tests.support.checks import BAD_NAMES, bad_name_reason, one_line
from tests.support.servers import TestServer
from tests.support.waiting import eventually, eventually_async

FAST = {"ping_interval": 0.2, "ping_timeout": 1.0, "poll_interval": 0.2}




def answers(client: PromptClient) -> str | None:
    """The client's read, or None while it raises (strict clients on a dead server)."""
    try:
        return client.get_active()
    except ConnectionFailedError:
        return None


def live(client: PromptClient | AsyncPromptClient) -> bool:
    return client.feed_mode != "disconnected" and client.cache.live


def commands(r: redis.Redis) -> int:
    return int(r.info("stats")["total_commands_processed"])


def connections(r: redis.Redis) -> int:
    """Connections on the server, not counting ``r``'s own."""
    return len(r.client_list()) - 1


@pytest.fixture
def make_client(server_url: str, redis_sync: redis.Redis) -> Iterator[Callable[..., PromptClient]]:
    made: list[PromptClient] = []

    def factory(**kwargs: Any) -> PromptClient:
        kwargs.setdefault("feed_options", FAST)
        client = PromptClient(server_url, **kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


@pytest.fixture
def private_server() -> Iterator[TestServer]:
    server = TestServer().start()
    yield server
    server.cleanup()


# -- the pure cache rules ---------------------------------------------------------------


def test_a_read_racing_an_invalidation_is_not_stored() -> None:
    cache = NearCache()
    cache.resync()
    token = cache.token("p")
    cache.invalidate("p")  # the event arrived while the GET was in flight
    assert not cache.store("p", token, CacheEntry("old", 1, "h1", cache.next_seq()))
    assert "p" not in cache.fresh
    assert cache.last_good["p"].text == "old"  # still the best we have if Redis goes away
    token = cache.token("p")
    assert cache.store("p", token, CacheEntry("new", 2, "h2", cache.next_seq()))
    assert cache.fresh["p"].text == "new"


def test_resync_and_disconnect_drop_everything() -> None:
    cache = NearCache()
    assert not cache.store("p", cache.token("p"), CacheEntry("x", 1, "", cache.next_seq()))  # not live yet
    cache.resync()
    token = cache.token("p")
    assert cache.store("p", token, CacheEntry("x", 1, "", cache.next_seq()))
    other = cache.token("q")
    cache.resync()  # anything may have changed while we were not subscribed
    assert cache.fresh == {}
    assert not cache.store("q", other, CacheEntry("y", 1, "", cache.next_seq()))
    cache.store("p", cache.token("p"), CacheEntry("x", 1, "", cache.next_seq()))
    cache.go_offline()
    assert cache.fresh == {} and not cache.live
    assert not cache.store("p", cache.token("p"), CacheEntry("x", 1, "", cache.next_seq()))


def test_a_later_fetch_wins_over_an_earlier_one() -> None:
    cache = NearCache()
    cache.resync()
    token = cache.token("p")
    early, late = cache.next_seq(), cache.next_seq()
    assert cache.store("p", token, CacheEntry("late", 2, "", late))
    assert not cache.store("p", token, CacheEntry("early", 1, "", early))
    assert cache.fresh["p"].text == "late" and cache.last_good["p"].text == "late"


def test_parse_fleet_marks_behind_and_gone_and_skips_garbage() -> None:
    def row(agent: str, version: int, h: str, seen: float) -> str:
        return json.dumps({"agent_id": agent, "version": version, "hash": h, "last_seen": seen, "interval": 5})

    flat = {
        "a": row("a", 3, "cur", 100.0),
        "b": row("b", 2, "old", 99.0),
        "c": row("c", 2, "cur", 99.0),  # an outside write the meta only now numbered
        "d": row("d", 3, "cur", 80.0),  # silent for 4 intervals
        "e": "not json",
        "f": "[1, 2]",
    }
    rows = {a.agent_id: a for a in parse_fleet("p", 101.0, flat, 3, "cur")}
    assert set(rows) == {"a", "b", "c", "d"}
    assert not rows["a"].behind and not rows["a"].gone
    assert rows["b"].behind and rows["b"].version == 2
    assert not rows["c"].behind and rows["c"].version == 3
    assert rows["d"].gone and not rows["d"].behind
    assert [a.agent_id for a in parse_fleet("p", 101.0, flat, 3, "cur")][-1] == "d"  # gone ones last


# -- reads from memory ------------------------------------------------------------------


async def test_reads_come_from_memory_not_redis(store: PromptStore, make_client: Callable[..., PromptClient],
                                                redis_sync: redis.Redis) -> None:
    await store.load("default", "You are helpful.", kind="text")
    client = make_client(announce=False)
    assert client.get_active() == "You are helpful."
    eventually(lambda: live(client))
    assert client.get_active() == "You are helpful."  # stored again after the resync
    before = commands(redis_sync)
    for _ in range(10_000):
        assert client.get_active() == "You are helpful."
    spent = commands(redis_sync) - before
    assert spent < 50, f"{spent} commands for 10,000 reads: reads are going to Redis"
    stats = client.stats()
    assert stats.hits >= 10_000 and stats.hit_ratio > 0.99
    assert stats.feed_mode == "notifications"
    read = client.read()
    assert read.source == "memory" and not read.stale and read.version == 1


def test_constructing_starts_nothing(private_server: TestServer) -> None:
    checker = redis.Redis.from_url(private_server.url)
    threads, conns = len(threading.enumerate()), connections(checker)
    client = PromptClient(private_server.url)
    assert len(threading.enumerate()) == threads and connections(checker) == conns
    client.close()
    checker.close()


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
def test_bad_name_is_one_clear_error(make_client: Callable[..., PromptClient], name: str) -> None:
    client = make_client()
    with pytest.raises(InvalidNameError) as info:
        client.get_active(name)
    assert bad_name_reason(name) in one_line(info.value)


def test_no_args_resolves_like_the_cli(server_url: str, redis_sync: redis.Redis,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    redis_sync.set("prompt:active", "from REDIS_URL")
    monkeypatch.setenv("REDIS_URL", server_url)
    with PromptClient() as client:
        assert client.get_active() == "from REDIS_URL"
        assert client.target.origin == "REDIS_URL"


# -- invalidation -----------------------------------------------------------------------


async def test_a_write_by_this_library_is_seen(store: PromptStore, make_client: Callable[..., PromptClient]) -> None:
    await store.load("support", "Tone: Calm\n", kind="text")
    client = make_client()
    assert client.get_active("support") == "Tone: Calm\n"
    eventually(lambda: live(client))
    client.get_active("support")
    result = await store.modify("support", "change tone to sarcastic")
    eventually(lambda: client.get_active("support") == "Tone: Sarcastic\n")
    eventually(lambda: client.read("support").version == result.version)
    assert client.stats().invalidations >= 1


def test_a_write_by_a_plain_redis_client_is_seen(redis_sync: redis.Redis,
                                                 make_client: Callable[..., PromptClient]) -> None:
    redis_sync.set("prompt:{ops}:active", "one")
    client = make_client()
    assert client.get_active("ops") == "one"
    eventually(lambda: live(client))
    for text in ("two", "three", "four"):
        redis_sync.set("prompt:{ops}:active", text)  # what redis-cli SET does
        eventually(lambda t=text: client.get_active("ops") == t)
    redis_sync.delete("prompt:{ops}:active")
    eventually(lambda: client.get_active("ops") is None)
    assert client.read("ops").text is None


def test_a_write_by_the_ruby_gem_is_seen(redis_sync: redis.Redis, make_client: Callable[..., PromptClient]) -> None:
    client = make_client()
    assert client.get_active() is None  # no prompt yet: that answer is cached too
    eventually(lambda: live(client))
    assert client.get_active() is None
    # What the gem's load does: the text, then a changelog entry.
    pipe = redis_sync.pipeline()
    pipe.set("prompt:active", "Gem prompt")
    pipe.set("prompt:backup", "Gem prompt")
    pipe.lpush("prompt:changelog", json.dumps({"timestamp": int(time.time()), "action": "load",
                                               "user_id": "ruby", "metadata": {"source": "x.md"}}))
    pipe.execute()
    eventually(lambda: client.get_active() == "Gem prompt")


async def test_channel_mode_still_invalidates_this_tools_writes() -> None:
    # CONFIG and CLIENT (so CLIENT TRACKING) refused: the change channel is what is left.
    server = TestServer(['rename-command CONFIG ""', 'rename-command CLIENT ""']).start()
    try:
        target = ServerTarget(server.url, "test")
        store = PromptStore.connect(target)
        await store.load("p", "first", kind="text")
        # A 60 s poll: only the change channel can deliver the change in time.
        with PromptClient(target=target, feed_options={"poll_interval": 60.0}) as client:
            assert client.get_active("p") == "first"
            eventually(lambda: client.feed_mode == "channel" and live(client))
            client.get_active("p")
            await store.set_active("p", "second", expected_version=None)
            await asyncio.to_thread(eventually, lambda: client.get_active("p") == "second", 3.0)
        await store.aclose()
    finally:
        server.cleanup()


def test_polling_mode_when_pubsub_is_refused() -> None:
    server = TestServer(['rename-command CONFIG ""', 'rename-command SUBSCRIBE ""',
                         'rename-command PSUBSCRIBE ""']).start()
    try:
        r = redis.Redis.from_url(server.url)
        r.set("prompt:active", "polled 1")
        with PromptClient(server.url, feed_options={"poll_interval": 0.1}) as client:
            assert client.get_active() == "polled 1"
            eventually(lambda: client.feed_mode == "polling" and live(client))
            r.set("prompt:active", "polled 2")
            eventually(lambda: client.get_active() == "polled 2", 3.0)
            # Between polls, memory serves; only the poll can tell it of the next change.
            eventually(lambda: client.read().source == "memory")
            r.set("prompt:active", "polled 3")
            eventually(lambda: client.get_active() == "polled 3", 3.0)
            assert client.stats().hits > 0 and client.stats().invalidations >= 1
        r.close()
    finally:
        server.cleanup()


def test_reads_go_to_redis_while_the_feed_is_down() -> None:
    # A user that may not PING: the feed can never come up, plain reads still work.
    server = TestServer(["user agent on >pw ~* &* +@all -ping"]).start()
    try:
        r = redis.Redis.from_url(server.url)
        r.set("prompt:active", "direct 1")
        url = f"redis://agent:pw@127.0.0.1:{server.port}/0"
        with PromptClient(url) as client:
            for _ in range(20):
                assert client.get_active() == "direct 1"
            r.set("prompt:active", "direct 2")
            assert client.get_active() == "direct 2"  # no event needed: nothing is served from memory
            stats = client.stats()
            assert stats.feed_mode == "disconnected"
            assert stats.hits == 0 and stats.direct_reads == 21
        r.close()
    finally:
        server.cleanup()


# -- an unreachable server --------------------------------------------------------------


def test_stopped_server_serves_last_known_good_then_fresh_after_restart() -> None:
    server = TestServer(persist=True).start()
    try:
        r = redis.Redis.from_url(server.url)
        r.set("prompt:active", "before")
        client = PromptClient(server.url, retry_after=0.05, feed_options=FAST)
        strict = PromptClient(server.url, strict=True, feed_options=FAST)
        assert client.get_active() == "before" and strict.get_active() == "before"
        eventually(lambda: live(client) and live(strict))
        r.close()
        server.stop()
        eventually(lambda: client.feed_mode == "disconnected", 5.0)
        read = client.read()
        assert read.stale and read.text == "before" and read.source == "last-known-good"
        assert client.stale and client.stats().stale_serves >= 1
        assert client.get_active() == "before"  # never raises without strict
        with pytest.raises(ConnectionFailedError):
            client.get_active(strict=True)
        eventually(lambda: strict.feed_mode == "disconnected", 5.0)
        with pytest.raises(ConnectionFailedError):
            strict.get_active()
        server.start()
        r = redis.Redis.from_url(server.url)
        r.set("prompt:active", "after")
        eventually(lambda: client.read().text == "after", 10.0)
        assert not client.read().stale and not client.stale
        eventually(lambda: answers(strict) == "after")  # once its retry_after has passed
        eventually(lambda: live(client), 10.0)  # the feed is back, and memory serves again
        r.set("prompt:active", "after 2")
        eventually(lambda: client.get_active() == "after 2")
        client.close()
        strict.close()
        r.close()
    finally:
        server.cleanup()


def test_never_read_and_unreachable_raises() -> None:
    server = TestServer().start()
    url = server.url
    server.cleanup()
    with PromptClient(url) as client, pytest.raises(ConnectionFailedError):
        client.get_active()


# -- threads, processes, leaks ----------------------------------------------------------


def test_many_threads_only_ever_see_written_values(redis_sync: redis.Redis,
                                                   make_client: Callable[..., PromptClient]) -> None:
    written = {"v0"}
    redis_sync.set("prompt:{t}:active", "v0")
    client = make_client()
    client.get_active("t")
    eventually(lambda: live(client))
    stop = threading.Event()
    seen: list[set[str | None]] = [set() for _ in range(8)]
    last: list[str | None] = [None] * 8

    def reader(i: int) -> None:
        while not stop.is_set():
            for _ in range(100):
                value = client.get_active("t")
                seen[i].add(value)
                last[i] = value
            time.sleep(0)  # an agent does other work between reads; lets the writer run

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for n in range(1, 301):
        written.add(f"v{n}")
        redis_sync.set("prompt:{t}:active", f"v{n}")
    eventually(lambda: all(v == "v300" for v in last), 5.0)
    stop.set()
    for t in threads:
        t.join()
    assert set().union(*seen) <= written
    assert len(set().union(*seen)) > 1  # the readers did see changes while they happened


def _child_reads(url: str, conn: Any, client: PromptClient) -> None:  # pragma: no cover - in a child
    conn.recv()  # wait until the parent changed the prompt
    conn.send(client.get_active())


def test_a_forked_child_does_not_serve_its_parents_memory(redis_sync: redis.Redis,
                                                          make_client: Callable[..., PromptClient],
                                                          server_url: str) -> None:
    redis_sync.set("prompt:active", "before fork")
    client = make_client()
    client.get_active()
    eventually(lambda: live(client) and client.read().source == "memory")
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child_reads, args=(server_url, child, client))
    proc.start()
    redis_sync.set("prompt:active", "after fork")
    eventually(lambda: client.get_active() == "after fork")
    parent.send("go")
    assert parent.poll(10)
    assert parent.recv() == "after fork"
    proc.join(10)


def test_close_leaves_no_thread_or_connection(private_server: TestServer) -> None:
    checker = redis.Redis.from_url(private_server.url)
    checker.set("prompt:active", "x")
    threads, conns = set(threading.enumerate()), connections(checker)
    with PromptClient(private_server.url, feed_options=FAST) as client:
        client.get_active()
        eventually(lambda: live(client))
        assert len(set(threading.enumerate()) - threads) == 1
        assert connections(checker) >= conns + 2  # the feed's link and the reads' pool
    assert set(threading.enumerate()) == threads
    eventually(lambda: connections(checker) == conns)
    with pytest.raises(DynamicPromptError):
        client.get_active("other")
    checker.close()


async def test_async_client_reads_invalidates_and_closes_clean(private_server: TestServer) -> None:
    checker = redis.Redis.from_url(private_server.url)
    checker.set("prompt:{a}:active", "one")
    conns = connections(checker)
    tasks = set(asyncio.all_tasks())
    async with AsyncPromptClient(private_server.url, feed_options=FAST) as client:
        assert await client.get_active("a") == "one"
        deadline = time.monotonic() + 5
        while not live(client) or (await client.read("a")).source != "memory":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        checker.set("prompt:{a}:active", "two")
        while await client.get_active("a") != "two":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.005)
        assert client.stats().invalidations >= 1
        # The announcer runs beside the reads: wait until it has announced the text now served
        # (an empty fleet, or one that still shows "one", until then); then the fleet is exactly
        # this agent, current.
        async def announced_current() -> list[Any]:
            agents = await client.fleet("a")
            return agents if any(not a.behind for a in agents) else []

        agents = await eventually_async(announced_current, 5)
        assert [(a.agent_id, a.prompt, a.behind, a.gone) for a in agents] == [(client.agent_id, "a", False, False)]
    assert set(asyncio.all_tasks()) == tasks
    deadline = time.monotonic() + 5
    while connections(checker) != conns:
        assert time.monotonic() < deadline, "connections left open"
        await asyncio.sleep(0.01)
    checker.close()


# -- fleet ------------------------------------------------------------------------------


async def test_fleet_lists_agents_with_versions_behind_and_gone(store: PromptStore, redis_sync: redis.Redis,
                                                                make_client: Callable[..., PromptClient],
                                                                server_url: str) -> None:
    await store.load("default", "v1 text", kind="text")
    reader = redis.Redis.from_url(server_url)
    client = make_client(agent_id="agent-a", announce_interval=0.2)
    client.get_active()

    def mine() -> Any:
        rows = [a for a in fleet(reader) if a.agent_id == "agent-a"]
        return rows[0] if rows else None

    first = eventually(mine)
    assert first.version == 1 and not first.behind and not first.gone and first.pid > 0
    await store.set_active("default", "v2 text", expected_version=None)
    eventually(lambda: (a := mine()) is not None and a.version == 2 and not a.behind)
    # Another agent that still serves version 1, one that went quiet, and one long gone.
    script = reader.register_script(ANNOUNCE_SCRIPT)
    script(keys=["dprompt:agents:default"],
           args=["old-agent", json.dumps({"agent_id": "old-agent", "version": 1, "hash": "aaaa", "interval": 5}), "300"])
    now = float(reader.time()[0])
    reader.hset("dprompt:agents:default", "quiet", json.dumps({"agent_id": "quiet", "version": 2,
                                                               "last_seen": now - 20, "interval": 5}))
    reader.hset("dprompt:agents:default", "ancient", json.dumps({"agent_id": "ancient", "version": 2,
                                                                 "last_seen": now - 10_000, "interval": 5}))
    rows = {a.agent_id: a for a in fleet(reader)}
    assert rows["old-agent"].behind and not rows["old-agent"].gone
    assert rows["quiet"].gone
    assert not rows["agent-a"].behind
    assert "ancient" not in rows and not reader.hexists("dprompt:agents:default", "ancient")
    assert 0 < reader.ttl("dprompt:agents:default") <= 3 * 5 + 300  # the longest interval wins
    client.close()
    assert not reader.hexists("dprompt:agents:default", "agent-a")  # a clean exit leaves the view
    reader.close()
