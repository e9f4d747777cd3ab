"""The change feed on real servers: notifications, fallbacks, restarts."""

from __future__ import annotations

import asyncio

import redis

from dynamic_prompt.live.feed import merge_notify_flags
from dynamic_prompt.server import ServerTarget
from tests.support.feedwatch import FeedWatcher
from tests.support.servers import TestServer


def test_merge_flags_keeps_others() -> None:
    assert merge_notify_flags("") == "K$gx"
    assert merge_notify_flags("Elx") == "ElxK$g"
    assert merge_notify_flags("KA") == "KA"
    assert set(merge_notify_flags("Kg")) == set("Kg$x")


async def test_outside_set_arrives_as_event_and_flags_are_merged(redis_sync: redis.Redis, target: ServerTarget) -> None:
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
        # Keys that are not a prompt's active text make no events.
        redis_sync.set("prompt:{other}:unrelated", "x")
        redis_sync.set("unrelated", "x")
        await asyncio.sleep(0.2)
        assert not [e for _, e in rec.events if e.name not in (None, "default", "other")]


async def test_config_refused_falls_back_to_channel_and_polling() -> None:
    server = TestServer(['rename-command CONFIG ""']).start()
    try:
        target = ServerTarget(server.url, "test")
        client = redis.Redis.from_url(server.url)
        async with FeedWatcher(target, poll_interval=0.2) as rec:
            await rec.wait_mode("channel", 5)
            assert "CONFIG" in rec.feed.reason
            # A write by this tool announces itself on the channel.
            client.publish("dprompt:changes", '{"name": "p", "version": 3, "action": "modify"}')
            await rec.wait_change("p", 5)
            assert [e.version for _, e in rec.events if e.name == "p"] == [3]
            # A write by anyone else is found by the poll.
            client.set("prompt:active", "outside")
            await rec.wait_change("default", 5)
            client.publish("dprompt:changes", "garbage that is not json")
            await asyncio.sleep(0.3)
            assert all(e.name in (None, "p", "default") for _, e in rec.events)
        client.close()
    finally:
        server.cleanup()


async def test_server_restart_reconnects_and_resyncs() -> None:
    server = TestServer().start()
    try:
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
    finally:
        server.cleanup()
