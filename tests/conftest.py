"""Fixtures: real servers, never a fake.

The session starts a private valkey-server (the binary of the embedded
default) on a free port. When the test run is given ``REDIS_URL``, every
Redis-facing test runs against that server too (the database the URL names,
which the tests flush), so CI exercises both Valkey and Redis.

The code under test never sees the person's own config, data dir or
``REDIS_URL``: each test gets empty ones.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest
import redis

from tests.support.servers import TestServer

if TYPE_CHECKING:
    from dynamic_prompt.core.config import Settings
    from dynamic_prompt.server import ServerTarget
    from dynamic_prompt.store import PromptStore

_EXTERNAL_URL = os.environ.pop("REDIS_URL", None)

def _server_params() -> list[str]:
    return ["valkey", "redis-url"] if _EXTERNAL_URL else ["valkey"]


@pytest.fixture(scope="session")
def _private_server() -> Iterator[TestServer]:
    server = TestServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session", params=_server_params())
def server_url(request: pytest.FixtureRequest, _private_server: TestServer) -> str:
    """The URL of a real server to test against (one per configured server)."""
    if request.param == "valkey":
        return _private_server.url
    assert _EXTERNAL_URL is not None
    return _EXTERNAL_URL


@pytest.fixture(autouse=True)
def _isolated_user_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the person's config, data dir or server."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("DPROMPT_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("DPROMPT_DATA_DIR", str(home / "data"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("DPROMPT_USER", "tester")


@pytest.fixture
def redis_sync(server_url: str) -> Iterator[redis.Redis]:
    """A plain client on a flushed database; restores notify-keyspace-events afterwards."""
    client = redis.Redis.from_url(server_url, decode_responses=True)
    client.flushdb()
    flags = client.config_get("notify-keyspace-events").get("notify-keyspace-events", "")
    yield client
    try:
        client.config_set("notify-keyspace-events", flags)
        client.flushdb()
    finally:
        client.close()


@pytest.fixture
def settings(server_url: str) -> Settings:
    """Settings pointing at the test server."""
    from dynamic_prompt.core.config import Settings

    return Settings(redis_url=server_url, redis_url_origin="test", user="tester",
                    changelog_cap=100, version_retention=200)


@pytest.fixture
def target(server_url: str) -> ServerTarget:
    """The test server as a resolved target."""
    from dynamic_prompt.server import ServerTarget

    return ServerTarget(server_url, "test")


@pytest.fixture
async def store(redis_sync: redis.Redis, settings: Settings, target: ServerTarget) -> AsyncIterator[PromptStore]:
    """A :class:`PromptStore` on a flushed database of a real server."""
    from dynamic_prompt.store import PromptStore

    s = PromptStore.connect(target, settings)
    yield s
    await s.aclose()
