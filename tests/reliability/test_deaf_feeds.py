"""A feed that went deaf notices it: cleared flags, FLUSHDB/FLUSHALL, CONFIG refused.

Every test runs on a private server of each kind this machine has (Valkey 8,
and Redis 7 where ``/usr/bin/redis-server`` exists), because each one
reconfigures or flushes its server. The agent is a :class:`PromptClient`; the
writer is a plain redis-py client, as redis-cli or the Ruby gem would be.
"""

from __future__ import annotations

import pytest
import redis

from dynamic_prompt import PromptClient
from dynamic_prompt.live.feed import NEEDED_FLAGS
from tests.reliability.conftest import ServerFactory
from tests.support.waiting import eventually

FAST = {"ping_interval": 0.2, "ping_timeout": 1.0, "poll_interval": 0.2}
SLOW_POLL = {"ping_interval": 0.2, "ping_timeout": 1.0, "poll_interval": 30.0}
"""A 30 s poll: a change seen within seconds was not found by the poll."""



def serving_from_memory(client: PromptClient, name: str) -> bool:
    return client.feed_mode != "disconnected" and client.read(name).source == "memory"


def flags(admin: redis.Redis) -> str:
    return str(admin.config_get("notify-keyspace-events")["notify-keyspace-events"])


# -- notifications mode: someone clears the flags ----------------------------------------


@pytest.mark.parametrize("cleared_to", ["", "El"], ids=["empty", "another-apps-flags"])
def test_cleared_flags_are_restored_and_the_missed_write_is_served(
    make_kind_server: ServerFactory, cleared_to: str
) -> None:
    server = make_kind_server()
    admin = redis.Redis.from_url(server.url, decode_responses=True)
    admin.set("prompt:{p}:active", "one")
    with PromptClient(server.url, announce=False, feed_options=FAST) as client:
        assert client.get_active("p") == "one"
        eventually(lambda: client.feed_mode == "notifications" and serving_from_memory(client, "p"))
        admin.config_set("notify-keyspace-events", cleared_to)  # another program's CONFIG SET
        admin.set("prompt:{p}:active", "two")  # no keyspace event is sent for this write
        eventually(lambda: client.get_active("p") == "two", 5.0)
        assert client.feed_mode == "notifications"
        assert "notify-keyspace-events" in client.feed_reason  # the feed says why it resynced
        restored = flags(admin)
        assert set(NEEDED_FLAGS) <= set(restored) and set(cleared_to) <= set(restored)
        # Live again: the next write arrives as a notification, and memory serves it.
        admin.set("prompt:{p}:active", "three")
        eventually(lambda: client.get_active("p") == "three", 5.0)
        eventually(lambda: serving_from_memory(client, "p"))
    admin.close()


# -- a flush sends no keyspace event ------------------------------------------------------


@pytest.mark.parametrize("flush", ["flushdb", "flushall"])
def test_a_flush_is_noticed_and_the_prompt_is_gone(make_kind_server: ServerFactory, flush: str) -> None:
    server = make_kind_server()
    admin = redis.Redis.from_url(server.url, decode_responses=True)
    admin.set("prompt:{p}:active", "one")
    admin.set("prompt:active", "the default")
    with PromptClient(server.url, announce=False, feed_options=SLOW_POLL) as client:
        assert client.get_active("p") == "one" and client.get_active() == "the default"
        eventually(lambda: serving_from_memory(client, "p") and serving_from_memory(client, "default"))
        getattr(admin, flush)()
        eventually(lambda: client.get_active("p") is None, 5.0)
        eventually(lambda: client.get_active() is None, 5.0)
        assert client.read("p").text is None and not client.read("p").stale
        # The feed is still live after the resync: a later write arrives as usual.
        admin.set("prompt:{p}:active", "after the flush")
        eventually(lambda: client.get_active("p") == "after the flush", 5.0)
    admin.close()


def test_a_flush_of_another_db_costs_a_re_read_not_the_text(make_kind_server: ServerFactory) -> None:
    """Tracking is not per database: a flush elsewhere resyncs us, and the text survives it."""
    server = make_kind_server()
    admin = redis.Redis.from_url(server.url, decode_responses=True)
    admin.set("prompt:{p}:active", "kept")
    with PromptClient(server.url, announce=False, feed_options=SLOW_POLL) as client:
        assert client.get_active("p") == "kept"
        eventually(lambda: serving_from_memory(client, "p"))
        resyncs = client.stats().resyncs
        redis.Redis(port=server.port, db=5).flushdb()
        eventually(lambda: client.stats().resyncs > resyncs, 5.0)
        eventually(lambda: serving_from_memory(client, "p"))
        assert client.get_active("p") == "kept"
    admin.close()


# -- CONFIG refused, CLIENT TRACKING allowed: tracking is the feed -----------------------


@pytest.mark.parametrize(
    ("extra", "user"),
    [(['rename-command CONFIG ""'], None), (["user agent on >agent-pw ~* &* +@all -config"], "agent:agent-pw")],
    ids=["config-renamed", "acl-without-config"],
)
def test_config_refused_an_outside_write_arrives_by_tracking(
    make_kind_server: ServerFactory, extra: list[str], user: str | None
) -> None:
    server = make_kind_server(extra)
    url = server.url if user is None else f"redis://{user}@127.0.0.1:{server.port}/0"
    writer = redis.Redis.from_url(server.url, decode_responses=True)  # redis-cli, the Ruby gem
    writer.set("prompt:{p}:active", "one")
    with PromptClient(url, announce=False, feed_options=SLOW_POLL) as client:
        assert client.get_active("p") == "one"
        eventually(lambda: serving_from_memory(client, "p"))
        writer.set("prompt:{p}:active", "two")
        # Well before the 30 s poll: only tracking invalidations can explain it.
        eventually(lambda: client.get_active("p") == "two", 3.0)
        assert client.feed_mode == "tracking"
        assert "CONFIG" in client.feed_reason and "agent-pw" not in client.feed_reason
        eventually(lambda: serving_from_memory(client, "p"))
        writer.delete("prompt:{p}:active")
        eventually(lambda: client.get_active("p") is None, 3.0)
        writer.set("prompt:{p}:active", "three")
        eventually(lambda: client.get_active("p") == "three", 3.0)
        writer.flushdb()
        eventually(lambda: client.get_active("p") is None, 3.0)
    writer.close()


def test_config_and_tracking_refused_fall_back_to_channel_and_poll(make_kind_server: ServerFactory) -> None:
    server = make_kind_server(['rename-command CONFIG ""', 'rename-command CLIENT ""'])
    writer = redis.Redis.from_url(server.url, decode_responses=True)
    writer.set("prompt:{p}:active", "one")
    with PromptClient(server.url, announce=False, feed_options=FAST) as client:
        assert client.get_active("p") == "one"
        eventually(lambda: client.feed_mode == "channel" and serving_from_memory(client, "p"))
        assert "CONFIG" in client.feed_reason and "TRACKING" in client.feed_reason
        writer.set("prompt:{p}:active", "two")  # found by the poll (0.2 s here)
        eventually(lambda: client.get_active("p") == "two", 5.0)
    writer.close()


def test_config_revoked_mid_session_switches_to_tracking(make_kind_server: ServerFactory) -> None:
    server = make_kind_server(["user agent on >agent-pw ~* &* +@all"])
    admin = redis.Redis.from_url(server.url, decode_responses=True)
    admin.set("prompt:{p}:active", "one")
    url = f"redis://agent:agent-pw@127.0.0.1:{server.port}/0"
    with PromptClient(url, announce=False, feed_options=SLOW_POLL) as client:
        assert client.get_active("p") == "one"
        eventually(lambda: client.feed_mode == "notifications" and serving_from_memory(client, "p"))
        admin.execute_command("ACL", "SETUSER", "agent", "-config")
        eventually(lambda: client.feed_mode == "tracking", 5.0)  # its next flag check was refused
        assert "CONFIG" in client.feed_reason
        admin.config_set("notify-keyspace-events", "")  # nobody can merge them back now
        admin.set("prompt:{p}:active", "two")
        eventually(lambda: client.get_active("p") == "two", 3.0)
    admin.close()
