"""Redis Sentinel URLs: find the current master of a service through its sentinels.

A prompt store behind Sentinel is named by one URL, so it works everywhere a
``redis://`` URL does (``--redis-url``, ``REDIS_URL``, the config file, the
agents' client, the MCP server)::

    redis+sentinel://[user:password@]host[:port][,host[:port]...]/SERVICE[/DB][?sentinel_password=...]

- the hosts are the sentinels (port 26379 when omitted);
- ``SERVICE`` is the master's name in the sentinels' configuration;
- ``user:password`` authenticate to the master (and its replicas), as in a
  ``redis://`` URL; sentinels that require their own password take
  ``sentinel_password`` (and ``sentinel_username``) from the query;
- ``rediss+sentinel://`` speaks TLS to the master and the sentinels.

Clients come from redis-py's :mod:`redis.sentinel` and :mod:`redis.asyncio.sentinel`:
their connection pool asks the sentinels for the master whenever it connects,
so after a failover the next connection (the change feed's reconnect, a
retried command) goes to the new master.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import contextlib
import time

import redis
import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelPool
from redis.sentinel import Sentinel, SentinelConnectionPool

from dynamic_prompt.errors import ConfigError
from dynamic_prompt.redact import mask_url

SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_SENTINEL_PORT = 26379

RECHECK_SECONDS = 1.0
"""How often a pool asks the sentinels where the master is (at most; only when used)."""


class _FollowingPool(AsyncSentinelPool):
    """A Sentinel pool that also re-asks for the master on use, at most once a second.

    redis-py asks only when it opens a connection. After a failover the old master
    may keep answering pooled connections for seconds (until the sentinels demote
    it), serving reads of data that no longer exists and refusing writes; this
    drops those idle connections within a second of the switch.
    """

    _checked = 0.0

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        now = time.monotonic()
        if now - self._checked >= RECHECK_SECONDS:
            self._checked = now
            await self.get_master_address()
        return await super().get_connection(*args, **kwargs)


class _FollowingSyncPool(SentinelConnectionPool):
    """The blocking form of :class:`_FollowingPool`."""

    _checked = 0.0

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        now = time.monotonic()
        if now - self._checked >= RECHECK_SECONDS:
            self._checked = now
            self.get_master_address()  # drops idle connections when the master moved
        return super().get_connection(*args, **kwargs)


@dataclass(frozen=True)
class SentinelURL:
    """The parts of a ``redis+sentinel://`` URL (see the module docstring)."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None
    tls: bool = False

    def __repr__(self) -> str:
        # Never the passwords: crash reports print locals.
        hosts = ",".join(f"{h}:{p}" for h, p in self.sentinels)
        return f"SentinelURL({hosts}/{self.service}/{self.db}, tls={self.tls})"


def is_sentinel_url(url: str) -> bool:
    """True for ``redis+sentinel://`` and ``rediss+sentinel://`` URLs."""
    return url.split("://", 1)[0].lower() in SCHEMES


def parse(url: str) -> SentinelURL:
    """The parts of a sentinel URL, or :class:`ConfigError` in one line (password masked)."""
    shown = mask_url(url)
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in SCHEMES:
        raise ConfigError(f"Bad Sentinel URL {shown!r}: it must start with redis+sentinel://.")
    rest, _, query = rest.partition("?")
    authority, _, path = rest.partition("/")
    credentials, at, hosts = authority.rpartition("@")
    if not at:
        credentials, hosts = "", authority
    username = password = None
    if credentials:
        user, colon, secret = credentials.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    sentinels: list[tuple[str, int]] = []
    for item in hosts.split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith("["):  # [::1]:26379
            host, _, port_text = item[1:].partition("]")
            port_text = port_text.lstrip(":")
        else:
            host, _, port_text = item.rpartition(":") if ":" in item else (item, "", "")
        if not port_text:
            port = DEFAULT_SENTINEL_PORT
        elif port_text.isdigit() and 0 < int(port_text) < 65536:
            port = int(port_text)
        else:
            raise ConfigError(f"Bad Sentinel URL {shown!r}: {port_text!r} is not a port.")
        if not host:
            raise ConfigError(f"Bad Sentinel URL {shown!r}: a sentinel address has no host.")
        sentinels.append((host, port))
    if not sentinels:
        raise ConfigError(f"Bad Sentinel URL {shown!r}: it names no sentinel.")
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise ConfigError(f"Bad Sentinel URL {shown!r}: it names no service (…/SERVICE after the hosts).")
    if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise ConfigError(f"Bad Sentinel URL {shown!r}: after the service comes only a database number.")
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(params) - {"sentinel_password", "sentinel_username"})
    if unknown:
        raise ConfigError(f"Bad Sentinel URL {shown!r}: unknown option {unknown[0]!r}.")
    return SentinelURL(
        sentinels=tuple(sentinels),
        service=unquote(parts[0]),
        db=int(parts[1]) if len(parts) == 2 else 0,
        username=username,
        password=password,
        sentinel_username=params.get("sentinel_username") or None,
        sentinel_password=params.get("sentinel_password") or None,
        tls=scheme.lower() == "rediss+sentinel",
    )


def _split_kwargs(parsed: SentinelURL, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(kwargs for the master's connections, kwargs for the sentinels' connections)."""
    common = dict(kwargs)
    if parsed.tls:
        common["ssl"] = True
    else:
        for key in [k for k in common if k.startswith("ssl_")]:
            del common[key]
    master = {**common, "db": parsed.db, "username": parsed.username, "password": parsed.password}
    sentinel = {
        key: value for key, value in common.items()
        if key in ("socket_connect_timeout", "socket_timeout", "ssl", "ssl_cert_reqs", "ssl_ca_certs",
                   "ssl_certfile", "ssl_keyfile")
    }
    sentinel["username"] = parsed.sentinel_username
    sentinel["password"] = parsed.sentinel_password
    return master, sentinel


class _AsyncMaster(aioredis.Redis):
    """A master client that also closes its links to the sentinels when it closes."""

    sentinel_manager: AsyncSentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        manager, self.sentinel_manager = self.sentinel_manager, None
        for link in manager.sentinels if manager else ():
            with contextlib.suppress(Exception):
                await link.aclose()


class _SyncMaster(redis.Redis):
    """The blocking form of :class:`_AsyncMaster`."""

    sentinel_manager: Sentinel | None = None

    def close(self) -> None:
        super().close()
        manager, self.sentinel_manager = self.sentinel_manager, None
        for link in manager.sentinels if manager else ():
            with contextlib.suppress(Exception):
                link.close()


def async_master(parsed: SentinelURL, kwargs: dict[str, Any]) -> aioredis.Redis:
    """An asyncio client for the service's current master (closing it closes everything)."""
    master, sentinel = _split_kwargs(parsed, kwargs)
    manager = AsyncSentinel(list(parsed.sentinels), sentinel_kwargs=sentinel, **master)
    client: _AsyncMaster = manager.master_for(
        parsed.service, redis_class=_AsyncMaster, connection_pool_class=_FollowingPool
    )
    client.sentinel_manager = manager
    return client


def sync_master(parsed: SentinelURL, kwargs: dict[str, Any]) -> redis.Redis:
    """A blocking client for the service's current master (closing it closes everything)."""
    master, sentinel = _split_kwargs(parsed, kwargs)
    manager = Sentinel(list(parsed.sentinels), sentinel_kwargs=sentinel, **master)
    client: _SyncMaster = manager.master_for(
        parsed.service, redis_class=_SyncMaster, connection_pool_class=_FollowingSyncPool
    )
    client.sentinel_manager = manager
    return client


async def master_moved(client: aioredis.Redis, connection: Any) -> bool:
    """True when ``client`` is Sentinel-managed and its master is no longer where
    ``connection`` (a long-lived pub/sub link) points.

    A failover does not close the old master's connections: a subscriber there
    would hear nothing written to the new master until the old one rejoins as a
    replica (seconds later, if ever). The change feed asks this at every
    watchdog ping and reconnects (and resyncs) when the master moved.
    """
    pool = client.connection_pool
    if not isinstance(pool, AsyncSentinelPool) or connection is None:
        return False
    host, port = await pool.sentinel_manager.discover_master(pool.service_name)
    return (str(host), int(port)) != (str(getattr(connection, "host", "")), int(getattr(connection, "port", 0)))


def stale_master_error(exc: BaseException) -> bool:
    """True for the refusals a demoted or isolated old master gives (nothing was written)."""
    message = str(exc)
    return message.startswith(("NOREPLICAS", "READONLY"))


async def rediscover(client: aioredis.Redis) -> bool:
    """Ask the sentinels for the master again and drop idle links to an old one.

    A stale master answers (``NOREPLICAS``, ``READONLY``) instead of failing to
    connect, so redis-py's pool would keep using it. True when ``client`` is
    Sentinel-managed and the master has moved (a retry goes to the new one).
    """
    pool = client.connection_pool
    if not isinstance(pool, AsyncSentinelPool):
        return False
    before = pool.master_address
    return bool(await pool.get_master_address() != before)
