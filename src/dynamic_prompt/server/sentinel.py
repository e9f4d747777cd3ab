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

import contextlib
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import redis
import redis.asyncio as aioredis
from redis import exceptions as rexc
from redis.asyncio.retry import Retry as AsyncRetry
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelPool
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from dynamic_prompt.core.errors import ConfigError
from dynamic_prompt.core.redact import mask_url

SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_SENTINEL_PORT = 26379

RECHECK_SECONDS = 1.0
"""How often a pool asks the sentinels where the master is (at most; only when used)."""


_SENTINEL_DOWN = (rexc.ConnectionError, rexc.TimeoutError, OSError)
"""What asking unreachable sentinels raises (MasterNotFoundError is a ConnectionError)."""


def _points_elsewhere(connection: Any, master: Any) -> bool:
    """True when ``connection`` is open to an address other than ``master``."""
    if master is None or not getattr(connection, "is_connected", False):
        return False
    return (str(connection.host), int(connection.port)) != (str(master[0]), int(master[1]))


class _FollowingPool(AsyncSentinelPool):
    """A Sentinel pool that follows the master through a failover within about a second.

    redis-py asks the sentinels only when it opens a connection, and drops only idle
    connections when the master moves. After a failover the old master may keep
    answering for seconds (until the sentinels demote it, or for as long as a
    partition lasts), serving reads of data that no longer exists and refusing
    writes. So this pool re-asks on use, at most once a second, and closes any
    connection it hands out that is open to another address (one that was busy at
    the switch); that connection reconnects to the current master on use. When no
    sentinel answers, it keeps using the master it knows.
    """

    _checked = 0.0

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        now = time.monotonic()
        if now - self._checked >= RECHECK_SECONDS:
            self._checked = now
            with contextlib.suppress(*_SENTINEL_DOWN):
                await self.get_master_address()
        connection = await super().get_connection(*args, **kwargs)
        if _points_elsewhere(connection, self.master_address):
            await connection.disconnect()
        return connection


class _FollowingSyncPool(SentinelConnectionPool):
    """The blocking form of :class:`_FollowingPool`."""

    _checked = 0.0

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        now = time.monotonic()
        if now - self._checked >= RECHECK_SECONDS:
            self._checked = now
            with contextlib.suppress(*_SENTINEL_DOWN):
                self.get_master_address()  # drops idle connections when the master moved
        connection = super().get_connection(*args, **kwargs)
        if _points_elsewhere(connection, self.master_address):
            connection.disconnect()
        return connection


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
        # Never echo pieces of the URL: a password with a raw "?" or "/" would end up here.
        if item.startswith("["):  # [::1]:26379
            host, bracket, after = item[1:].partition("]")
            if not bracket or (after and not after.startswith(":")):
                raise ConfigError(f"Bad Sentinel URL {shown!r}: an IPv6 address needs [brackets]:port.")
            port_text = after[1:]
        elif item.count(":") > 1:
            raise ConfigError(f"Bad Sentinel URL {shown!r}: write an IPv6 address in [brackets].")
        else:
            host, _, port_text = item.partition(":")
        if not host:
            raise ConfigError(f"Bad Sentinel URL {shown!r}: a sentinel address has no host.")
        if not port_text:
            port = DEFAULT_SENTINEL_PORT
        elif port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536:
            port = int(port_text)
        else:
            raise ConfigError(f"Bad Sentinel URL {shown!r}: a sentinel port is not a number from 1 to 65535.")
        sentinels.append((host, port))
    if not sentinels:
        raise ConfigError(f"Bad Sentinel URL {shown!r}: it names no sentinel.")
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise ConfigError(f"Bad Sentinel URL {shown!r}: it names no service (…/SERVICE after the hosts).")
    if len(parts) > 2 or (len(parts) == 2 and not (parts[1].isascii() and parts[1].isdigit())):
        raise ConfigError(f"Bad Sentinel URL {shown!r}: after the service comes only a database number.")
    # Percent-decoding only: parse_qs would turn a "+" in a password into a space.
    params: dict[str, str] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        params[unquote(key)] = unquote(value)
    unknown = sorted(set(params) - {"sentinel_password", "sentinel_username"})
    if unknown:
        raise ConfigError(
            f"Bad Sentinel URL {shown!r}: the only options are sentinel_username and sentinel_password "
            "(percent-encode & and = inside a value)."
        )
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


def _split_kwargs(
    parsed: SentinelURL, kwargs: dict[str, Any], no_retry: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(kwargs for the master's connections, kwargs for the sentinels' connections).

    ``no_retry`` is a zero-retry ``Retry`` of the client's kind (sync or asyncio).
    """
    common = dict(kwargs)
    if parsed.tls:
        common["ssl"] = True
    else:
        for key in [k for k in common if k.startswith("ssl_")]:
            del common[key]
    master = {**common, "db": parsed.db, "username": parsed.username, "password": parsed.password}
    sentinel = {
        key: value for key, value in common.items()
        if key in ("ssl", "ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
    }
    sentinel["username"] = parsed.sentinel_username
    sentinel["password"] = parsed.sentinel_password
    # Asking a sentinel is quick or pointless: no retries, short timeouts (the next
    # sentinel in the list, or the next check, is the retry).
    sentinel["retry"] = no_retry
    sentinel["socket_connect_timeout"] = min(float(common.get("socket_connect_timeout") or 1.0), 1.0)
    sentinel["socket_timeout"] = min(float(common.get("socket_timeout") or 2.0), 2.0)
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
    master, sentinel = _split_kwargs(parsed, kwargs, AsyncRetry(NoBackoff(), 0))
    manager = AsyncSentinel(list(parsed.sentinels), sentinel_kwargs=sentinel, **master)
    client: _AsyncMaster = manager.master_for(
        parsed.service, redis_class=_AsyncMaster, connection_pool_class=_FollowingPool
    )
    client.sentinel_manager = manager
    return client


def sync_master(parsed: SentinelURL, kwargs: dict[str, Any]) -> redis.Redis:
    """A blocking client for the service's current master (closing it closes everything)."""
    master, sentinel = _split_kwargs(parsed, kwargs, Retry(NoBackoff(), 0))
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
    try:
        master = await pool.sentinel_manager.discover_master(pool.service_name)
    except _SENTINEL_DOWN:
        return False  # no sentinel answers: the link to the master may well be fine
    return _points_elsewhere(connection, master)


def stale_master_error(exc: BaseException) -> bool:
    """True for the refusals a demoted or isolated old master gives (nothing was written).

    redis-py strips the ``READONLY`` prefix from a ReadOnlyError, so it is matched
    by type; ``NOREPLICAS`` has no class of its own.
    """
    return isinstance(exc, rexc.ReadOnlyError) or str(exc).startswith("NOREPLICAS")


def is_sentinel_client(client: aioredis.Redis) -> bool:
    """True when ``client`` finds its master through sentinels."""
    return isinstance(client.connection_pool, AsyncSentinelPool)


async def rediscover(client: aioredis.Redis) -> None:
    """Ask the sentinels for the master again, dropping idle links to an old one.

    A stale master answers (``NOREPLICAS``, ``READONLY``) instead of failing to
    connect, so redis-py's pool would keep using it. Unreachable sentinels are
    not an error here: the caller retries on the master it knows.
    """
    pool = client.connection_pool
    if isinstance(pool, AsyncSentinelPool):
        with contextlib.suppress(*_SENTINEL_DOWN):
            await pool.get_master_address()
