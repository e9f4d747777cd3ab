"""Fixtures for the reliability suite (new names only; the root fixtures stay as they are).

- ``make_server``: private valkey-servers with extra config lines, cleaned up after the test;
- ``make_kind_server``: the same for each kind of server the run has (Valkey, and Redis 7
  where it is installed), the test running once per kind;
- ``snapshot``: every key of a server as DUMP payloads, to prove a refused operation changed nothing.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator

import pytest
import redis

from tests.support.redis7 import private_server, server_kinds
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


@pytest.fixture(params=server_kinds())
def make_kind_server(request: pytest.FixtureRequest) -> Iterator[ServerFactory]:
    """Private servers of one kind (``make_kind_server(extra_lines)``), all stopped afterwards,
    also those a test left paused with SIGSTOP."""
    started: list[TestServer] = []

    def factory(extra: list[str] | None = None) -> TestServer:
        server = private_server(request.param, extra)
        started.append(server)
        return server

    yield factory
    for server in started:
        if server.proc is not None:
            os.kill(server.proc.pid, signal.SIGCONT)  # a stopped server cannot exit
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
