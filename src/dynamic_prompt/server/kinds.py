"""The seam for a kind of server: plain, Sentinel, embedded, Cluster.

Everything that differs between kinds of server lives behind :class:`ServerKind`:
how its URL reads, how clients reach it, what a failover means for a refused
command and for a long-lived subscription, how keys are scanned, where a
prompt's keys live (:class:`~dynamic_prompt.core.keys.KeyLayout`), and whether one
command may touch several prompts. Nothing outside
:mod:`dynamic_prompt.server` asks "is this Sentinel?": the store, the change feed
and the agents' client ask their target's kind.

Adding a kind is one more implementation here (and its URL form in
:func:`kind_of`), not edits across the tree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar, Protocol, cast

import redis
import redis.asyncio as aioredis

from dynamic_prompt.core.keys import (
    DEFAULT_NAME,
    GEM_LAYOUT,
    INDEX_KEY,
    TAGGED_LAYOUT,
    KeyLayout,
    valid_names,
)
from dynamic_prompt.server import cluster, sentinel


class ServerKind(Protocol):
    """What one kind of server does differently."""

    name: ClassVar[str]
    """A word for messages and the status bar: ``plain``, ``sentinel``, ``embedded``, ``cluster``."""

    layout: ClassVar[KeyLayout]
    """Where each prompt's keys live (``default`` is the gem's keys except on a cluster)."""

    sharded: ClassVar[bool]
    """True when keys of different prompts may sit on different nodes: then no command
    (a MULTI, a script) may name keys of two prompts, and notifications are per node."""

    def async_client(self, url: str, kwargs: dict[str, Any]) -> aioredis.Redis:
        """An asyncio client for ``url`` with redis-py ``kwargs`` (timeouts, retry, TLS)."""
        ...

    def sync_client(self, url: str, kwargs: dict[str, Any]) -> redis.Redis:
        """A blocking client for ``url`` with redis-py ``kwargs``."""
        ...

    async def after_refusal(self, client: aioredis.Redis, exc: BaseException) -> bool:
        """A command was refused with ``exc``: if a failover explains it (nothing was written),
        point ``client`` at the server to use now and return True, so the caller tries once more."""
        ...

    async def link_moved(self, client: aioredis.Redis, connection: Any) -> bool:
        """Whether a long-lived link (a subscription) no longer points at the server to listen to."""
        ...

    def scan(self, client: aioredis.Redis, pattern: str) -> AsyncIterator[bytes]:
        """Every key matching ``pattern``, a page at a time."""
        ...


class PlainServer:
    """One server named by a ``redis://``, ``rediss://`` or ``unix://`` URL."""

    name: ClassVar[str] = "plain"
    layout: ClassVar[KeyLayout] = GEM_LAYOUT
    sharded: ClassVar[bool] = False

    def async_client(self, url: str, kwargs: dict[str, Any]) -> aioredis.Redis:
        """``redis.asyncio.Redis.from_url``."""
        return aioredis.Redis.from_url(url, **kwargs)

    def sync_client(self, url: str, kwargs: dict[str, Any]) -> redis.Redis:
        """``redis.Redis.from_url``."""
        return redis.Redis.from_url(url, **kwargs)

    async def after_refusal(self, client: aioredis.Redis, exc: BaseException) -> bool:
        """A plain server has no failover: a refusal stands."""
        return False

    async def link_moved(self, client: aioredis.Redis, connection: Any) -> bool:
        """A plain server stays where it is."""
        return False

    async def scan(self, client: aioredis.Redis, pattern: str) -> AsyncIterator[bytes]:
        """SCAN with MATCH, 1,000 keys a page."""
        cursor = 0
        while True:
            cursor, keys = await client.scan(cursor, match=pattern, count=1000)
            for key in keys:
                yield key if isinstance(key, bytes) else str(key).encode()
            if cursor == 0:
                return


class EmbeddedServer(PlainServer):
    """The embedded default: a plain server on a private unix socket that never moves."""

    name: ClassVar[str] = "embedded"


class SentinelServer(PlainServer):
    """A master found through sentinels (``redis+sentinel://``), followed through failovers."""

    name: ClassVar[str] = "sentinel"

    def async_client(self, url: str, kwargs: dict[str, Any]) -> aioredis.Redis:
        """A client whose pool asks the sentinels where the master is (see :mod:`.sentinel`)."""
        return sentinel.async_master(sentinel.parse(url), kwargs)

    def sync_client(self, url: str, kwargs: dict[str, Any]) -> redis.Redis:
        """The blocking form of :meth:`async_client`."""
        return sentinel.sync_master(sentinel.parse(url), kwargs)

    async def after_refusal(self, client: aioredis.Redis, exc: BaseException) -> bool:
        """A demoted or isolated old master refused (``READONLY``, ``NOREPLICAS``): nothing was
        written there; ask the sentinels where the master is now."""
        if not (sentinel.stale_master_error(exc) and sentinel.is_sentinel_client(client)):
            return False
        await sentinel.rediscover(client)
        return True

    async def link_moved(self, client: aioredis.Redis, connection: Any) -> bool:
        """True when the master moved away from where ``connection`` points (a failover)."""
        return await sentinel.master_moved(client, connection)


class ClusterServer:
    """A Redis Cluster, reached through any of its nodes (see :mod:`.cluster`)."""

    name: ClassVar[str] = "cluster"
    layout: ClassVar[KeyLayout] = TAGGED_LAYOUT
    sharded: ClassVar[bool] = True

    def async_client(self, url: str, kwargs: dict[str, Any]) -> aioredis.Redis:
        """redis-py's asyncio ``RedisCluster`` (it has the same command methods as ``Redis``)."""
        return cast(aioredis.Redis, cluster.async_cluster(url, kwargs))

    def sync_client(self, url: str, kwargs: dict[str, Any]) -> redis.Redis:
        """redis-py's blocking ``RedisCluster``."""
        return cast(redis.Redis, cluster.sync_cluster(url, kwargs))

    async def after_refusal(self, client: aioredis.Redis, exc: BaseException) -> bool:
        """redis-py follows MOVED and ASK and re-learns the slot map after a failover itself."""
        return False

    async def link_moved(self, client: aioredis.Redis, connection: Any) -> bool:
        """Subscriptions are per node; the cluster feed follows the topology (see live.cluster_feed)."""
        return False

    async def scan(self, client: aioredis.Redis, pattern: str) -> AsyncIterator[bytes]:
        """SCAN every primary in turn, 1,000 keys a page (each node holds its own slots)."""
        nodes = cast(Any, client)
        await nodes.initialize()
        for node in nodes.get_primaries():
            cursor = 0
            while True:
                reply = await nodes.execute_command("SCAN", cursor, "MATCH", pattern, "COUNT", 1000,
                                                    target_nodes=node)
                cursors, keys = reply  # redis-py keys the cursor by node: {"host:port": cursor}
                cursor = int(next(iter(cursors.values()))) if isinstance(cursors, dict) else int(cursors)
                for key in keys:
                    yield key if isinstance(key, bytes) else str(key).encode()
                if cursor == 0:
                    break


class ClusterNode(PlainServer):
    """One primary of a cluster, reached alone: the change feed listens on each (notifications
    and tracking are node-local). Keys use the cluster's layout."""

    name: ClassVar[str] = "cluster node"
    layout: ClassVar[KeyLayout] = TAGGED_LAYOUT
    sharded: ClassVar[bool] = True


_PLAIN = PlainServer()
_CLUSTER = ClusterServer()
_CLUSTER_NODE = ClusterNode()
_EMBEDDED = EmbeddedServer()
_SENTINEL = SentinelServer()


def kind_of(url: str, origin: str = "", *, cluster_mode: str = "") -> ServerKind:
    """The kind of server ``url`` names (``origin`` ``embedded`` for the embedded default).

    ``cluster_mode`` is what resolving the target found: ``cluster`` (a node said it is
    in a cluster), ``node`` (one primary of a cluster, reached alone) or "" (nothing).
    """
    if cluster.is_cluster_url(url) or cluster_mode == "cluster":
        return _CLUSTER
    if cluster_mode == "node":
        return _CLUSTER_NODE
    if sentinel.is_sentinel_url(url):
        return _SENTINEL
    if origin == "embedded":
        return _EMBEDDED
    return _PLAIN


async def index_names(client: aioredis.Redis, layout: KeyLayout) -> set[str]:
    """The prompts in the index, and ``default`` where it is the gem's keys (the gem never
    writes the index, so its prompt is always a candidate; a read says whether it has text)."""
    names = valid_names(await client.smembers(INDEX_KEY))
    if layout.gem_default:
        names.add(DEFAULT_NAME)
    return names


async def scan_names(kind: ServerKind, client: aioredis.Redis) -> set[str]:
    """Every prompt whose active key a keyspace scan finds (the reconciliation, and one
    cluster node's poll: costs grow with the keyspace, so never on every change)."""
    found: set[str] = set()
    for pattern in kind.layout.active_patterns:
        async for key in kind.scan(client, pattern):
            parsed = kind.layout.parse_key(key.decode("utf-8", "replace"))
            if parsed:
                found.add(parsed[0])
    return found


__all__ = ["ClusterNode", "ClusterServer", "EmbeddedServer", "PlainServer", "SentinelServer", "ServerKind", "index_names", "kind_of", "scan_names"]
