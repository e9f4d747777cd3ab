"""Fixtures for the reliability suite (new names only; the root fixtures stay as they are).

- ``make_server``: private valkey-servers with extra config lines, cleaned up after the test;
- ``snapshot``: every key of a server as DUMP payloads, to prove a refused operation changed nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from tests.support.servers import TestServer

ServerFactory = Callable[..., TestServer]


@pytest.fixture
def make_server() -> Iterator[ServerFactory]:
    """Start private servers (``make_server(extra_lines, persist=False)``); all stopped afterwards."""
    started: list[TestServer] = []

    def factory(extra: list[str] | None = None, *, persist: bool = False) -> TestServer:
        server = TestServer(extra, persist=persist)
        started.append(server)
        return server.start()

    yield factory
    for server in started:
        server.cleanup()


def dump_all(client: redis.Redis) -> dict[bytes, bytes]:
    """Every key with its DUMP payload (type, value and encoding, byte for byte)."""
    return {key: client.dump(key) for key in client.keys("*")}


def admin(server: TestServer) -> redis.Redis:
    """A blocking client as the default (all-powerful) user."""
    return redis.Redis.from_url(server.url)


@pytest.fixture
def raw_redis(server_url: str, redis_sync: redis.Redis) -> Iterator[redis.Redis]:
    """A bytes client on the (flushed) session server, for DUMP snapshots."""
    client = redis.Redis.from_url(server_url)
    yield client
    client.close()
