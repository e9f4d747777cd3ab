"""The change feed on real servers: notifications, tracking, fallbacks, restarts, deafness."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import redis

from dynamic_prompt.live.feed import MODE_CHANNEL, EventKind, FeedMode, merge_notify_flags
from dynamic_prompt.server import ServerTarget
from tests.support.feedwatch import FeedWatcher
from tests.support.redis7 import private_server, server_kinds
from tests.support.servers import TestServer

FAST = {"ping_interval": 0.2, "ping_timeout": 1.0}

Start = Callable[..., TestServer]


@pytest.fixture(params=server_kinds())
def start(request: pytest.FixtureRequest) -> Iterator[Start]:
    """Private servers (Valkey, and Redis 7 where installed): these tests reconfigure or flush them."""
    started: list[TestServer] = []

    def factory(extra: list[str] | None = None) -> TestServer:
        started.append(private_server(request.param, extra))
        return started[-1]

    yield factory
    for server in started:
        server.cleanup()


def test_merge_flags_keeps_others() -> None:
    assert merge_notify_flags("") == "K$gx"
    assert merge_notify_flags("Elx") == "ElxK$g"
    assert merge_notify_flags("KA") == "KA"
    assert set(merge_notify_flags("Kg")) == set("Kg$x")


def test_modes_and_kinds_are_strings_the_faces_compare() -> None:
    # The dashboard and the MCP server compare and show modes as plain strings.
    assert FeedMode.TRACKING == "tracking" and f"{FeedMode.NOTIFICATIONS}" == "notifications"
    assert {"channel": "label"}[FeedMode.CHANNEL] == "label" and MODE_CHANNEL is FeedMode.CHANNEL
    assert EventKind.RESYNC == "resync" and str(EventKind.DELETED) == "deleted"


async def test_outside_set_arrives_as_event_and_flags_are_merged(start: Start) -> None:
    server = start()
    target = ServerTarget(server.url, "test")
    redis_sync = redis.Redis.from_url(server.url, decode_responses=True)
    redis_sync.config_set("notify-keyspace-events", "El")
    async with FeedWatcher(target) as rec:
        await rec.wait_resync(5)
        assert rec.feed.mode == "notifications"
        flags = redis_sync.config_get("notify-keyspace-events")["notify-keyspace-events"]
        assert set("ElK$gx") <= set(flags)  # the other app's E and l are kept
        redis_sync.set("prompt:active", "hello")
        await rec.wait_change("default", 5)
        redis_sync.set("prompt:{other}:active", "x")
        await rec.wait_change("other", 5)
        redis_sync.delete("prompt:{other}:active")
        await rec.wait_for(lambda e: e.name == "other" and e.kind == "deleted", 5)
        # Keys that are not a prompt's active text make no events. Events arrive in
        # order on one link: once the barrier's event is in, theirs would be too.
        redis_sync.set("prompt:{other}:unrelated", "x")
        redis_sync.set("unrelated", "x")
        redis_sync.set("prompt:{barrier}:active", "x")
        await rec.wait_change("barrier", 5)
        assert not [e for _, e in rec.events if e.name not in (None, "default", "other", "barrier")]
    redis_sync.close()


async def test_config_and_tracking_refused_fall_back_to_channel_and_polling(start: Start) -> None:
    server = start(['rename-command CONFIG ""', 'rename-command CLIENT ""'])
    target = ServerTarget(server.url, "test")
    client = redis.Redis.from_url(server.url)
    async with FeedWatcher(target, poll_interval=0.2) as rec:
        await rec.wait_mode("channel", 5)
        assert "CONFIG" in rec.feed.reason and "TRACKING" in rec.feed.reason
        # A write by this tool announces itself on the channel.
        client.publish("dprompt:changes", '{"name": "p", "version": 3, "action": "modify"}')
        await rec.wait_change("p", 5)
        assert [e.version for _, e in rec.events if e.name == "p"] == [3]
        # A write by anyone else is found by the poll.
        client.set("prompt:active", "outside")
        await rec.wait_change("default", 5)
        # A rename announces the old name with version 0: gone, not changed.
        client.publish("dprompt:changes", '{"name": "old", "version": 0, "action": "rename"}')
        await rec.wait_for(lambda e: e.name == "old", 5)
        assert [e.kind for _, e in rec.events if e.name == "old"] == [EventKind.DELETED]
        client.publish("dprompt:changes", "garbage that is not json")
        client.publish("dprompt:changes", '{"name": "barrier", "version": 1}')
        await rec.wait_change("barrier", 5)  # published after the garbage: in order
        assert all(e.name in (None, "p", "old", "default", "barrier") for _, e in rec.events)
    client.close()


async def test_server_restart_reconnects_and_resyncs(start: Start) -> None:
    server = start()
    target = ServerTarget(server.url, "test")
    async with FeedWatcher(target, ping_interval=0.2, ping_timeout=1.0) as rec:
        await rec.wait_resync(5)
        server.stop()
        down = await rec.wait_mode("disconnected", 5)
        server.start()
        await rec.wait_resync(15, since=down)
        assert rec.feed.mode == "notifications"
        redis.Redis.from_url(server.url).set("prompt:active", "after restart")
        await rec.wait_change("default", 5, since=down)


async def test_config_refused_tracking_reports_everyones_writes(start: Start) -> None:
    server = start(['rename-command CONFIG ""'])
    target = ServerTarget(server.url, "test")
    client = redis.Redis.from_url(server.url)
    client.set("prompt:{gone}:active", "x")
    async with FeedWatcher(target, poll_interval=60.0, **FAST) as rec:
        await rec.wait_mode("tracking", 5)
        await rec.wait_resync(5)
        assert "CONFIG" in rec.feed.reason
        t = time.monotonic()
        client.set("prompt:active", "outside")  # the gem's key
        await rec.wait_change("default", 5, since=t)
        client.delete("prompt:{gone}:active")
        await rec.wait_for(lambda e: e.name == "gone" and e.kind == "deleted", 5, since=t)
        # A script writing several keys: one event per prompt whose text it wrote.
        client.eval("redis.call('SET', KEYS[1], 'a'); redis.call('SET', KEYS[2], 'b')",
                    2, "prompt:{lua}:active", "prompt:{lua}:meta")
        await rec.wait_change("lua", 5, since=t)
        client.set("prompt:{barrier}:active", "x")
        await rec.wait_change("barrier", 5, since=t)
        assert [e.kind for _, e in rec.events if e.name == "lua"] == ["changed"]
        t = time.monotonic()
        client.flushdb()
        await rec.wait_resync(5, since=t)
    client.close()


async def test_cleared_flags_are_merged_back_with_a_resync_and_a_reason(start: Start) -> None:
    server = start()
    target = ServerTarget(server.url, "test")
    admin = redis.Redis.from_url(server.url, decode_responses=True)
    async with FeedWatcher(target, **FAST) as rec:
        await rec.wait_resync(5)
        t = time.monotonic()
        admin.config_set("notify-keyspace-events", "E")  # another app, dropping ours
        await rec.wait_resync(5, since=t)
        assert rec.feed.mode == "notifications"
        assert "notify-keyspace-events was 'E'" in rec.feed.reason
        assert set("EK$gx") <= set(admin.config_get("notify-keyspace-events")["notify-keyspace-events"])
        admin.set("prompt:active", "heard again")
        await rec.wait_change("default", 5, since=t)
    admin.close()


async def test_a_flush_is_a_resync_in_notifications_mode(start: Start) -> None:
    server = start()
    target = ServerTarget(server.url, "test")
    admin = redis.Redis.from_url(server.url)
    async with FeedWatcher(target, **FAST) as rec:
        await rec.wait_mode("notifications", 5)
        await rec.wait_resync(5)
        assert rec.feed.reason == ""  # tracking (for flushes) is on: nothing to report
        t = time.monotonic()
        admin.flushdb()
        await rec.wait_resync(5, since=t)
        t = time.monotonic()
        admin.flushall()
        await rec.wait_resync(5, since=t)
        assert all(e.mode != "disconnected" for _, e in rec.events)
    admin.close()
