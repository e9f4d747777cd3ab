"""Redis Cluster: how a cluster is named, found and reached.

A cluster is named by the URL of any one of its nodes. Two forms:

- ``redis://host:port`` (or ``rediss://``): :func:`detect` asks that node once
  (``INFO cluster``) when the target is resolved, so a URL copied from a managed
  service's console works as it is;
- ``redis+cluster://host:port`` (or ``rediss+cluster://``): says so up front. No
  question is asked, and a node that turns out not to be in cluster mode is one
  clear error rather than a quiet fall-back to one server.

A cluster has one database, so a URL may name ``/0`` or none. Clients are
redis-py's :class:`redis.asyncio.RedisCluster` and :class:`redis.RedisCluster`:
they learn the slot map from the node named, follow ``MOVED`` and ``ASK``
redirects (a slot migrating), and refresh the map after a failover.
"""

from __future__ import annotations

import random
import socket
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis
from redis import exceptions as rexc
from redis.crc import key_slot

from dynamic_prompt.core.errors import ConfigError
from dynamic_prompt.core.redact import mask_url

SCHEMES = ("redis+cluster", "rediss+cluster")

DETECT_TIMEOUT = 1.0
"""How long :func:`detect` waits for the node's answer (seconds)."""


def is_cluster_url(url: str) -> bool:
    """True for ``redis+cluster://`` and ``rediss+cluster://``."""
    return url.strip().lower().split("://", 1)[0] in SCHEMES


def node_url(url: str) -> str:
    """The plain ``redis://`` / ``rediss://`` form redis-py's cluster client takes."""
    scheme, rest = url.strip().split("://", 1)
    plain = "rediss" if scheme.lower().startswith("rediss") else "redis"
    return f"{plain}://{rest}"


def validate(url: str) -> str:
    """``url`` if it names a cluster node redis-py can reach; else one line (password masked)."""
    parts = urlsplit(node_url(url))
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigError(f"Bad Redis URL {mask_url(url)!r}: the port is not a number.") from None
    if not parts.hostname:
        raise ConfigError(f"Bad Redis URL {mask_url(url)!r}: it names no host.")
    path = parts.path.strip("/")
    if path not in ("", "0"):
        raise ConfigError(f"Bad Redis URL {mask_url(url)!r}: a cluster has only database 0.")
    return url


def address_of(url: str, host: str, port: int) -> str:
    """``url`` with its host and port replaced (credentials, scheme and TLS kept): one node's URL."""
    parts = urlsplit(node_url(url))
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@{host}:{port}" if auth else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, "/0", parts.query, ""))


def detect(url: str, kwargs: dict[str, Any]) -> bool:
    """Whether the server at plain ``url`` is a node of a cluster (one ``INFO cluster``).

    Any failure (the server is down, asks for a password it was not given, refuses
    INFO) answers False: the plain client that follows then says what is wrong in
    its own words, and a cluster node refusing INFO is still reached, as one server.
    """
    try:
        with redis.Redis.from_url(url, **{**kwargs, "socket_timeout": DETECT_TIMEOUT,
                                          "socket_connect_timeout": DETECT_TIMEOUT}) as client:
            info = client.info("cluster")
    except (rexc.RedisError, OSError, socket.error, ValueError):
        return False
    return bool(int(info.get("cluster_enabled", 0) or 0))


def _cluster_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    out = dict(kwargs)
    out.pop("db", None)
    return out


def async_cluster(url: str, kwargs: dict[str, Any]) -> aioredis.RedisCluster:
    """redis-py's asyncio cluster client for the cluster ``url`` names."""
    return aioredis.RedisCluster.from_url(node_url(url), **_cluster_kwargs(kwargs))


def sync_cluster(url: str, kwargs: dict[str, Any]) -> redis.RedisCluster:
    """redis-py's blocking cluster client for the cluster ``url`` names."""
    return redis.RedisCluster.from_url(node_url(url), **_cluster_kwargs(kwargs))


async def slot_ranges(client: aioredis.RedisCluster) -> list[tuple[int, int, str, int]]:
    """``(first slot, last slot, host, port)`` of every range, asked of the cluster."""
    await client.initialize()
    nodes = list(client.get_nodes())
    random.shuffle(nodes)
    last: BaseException | None = None
    for node in nodes:
        try:
            reply = await client.execute_command("CLUSTER SLOTS", target_nodes=node)
        except (rexc.RedisError, OSError) as exc:
            last = exc
            continue
        if isinstance(reply, dict):  # redis-py parses CLUSTER SLOTS into {(start, end): {...}}
            return sorted((int(a), int(b), str(v["primary"][0]), int(v["primary"][1]))
                          for (a, b), v in reply.items())
        return sorted((int(e[0]), int(e[1]), _text(e[2][0]), int(e[2][1])) for e in reply)
    raise rexc.ConnectionError(f"no node of the cluster answered ({last})")


async def primaries(client: aioredis.RedisCluster) -> list[tuple[str, int]]:
    """The primaries serving slots now, asked of the cluster (not redis-py's cached map).

    Each known node is asked in turn until one answers, so a dead primary (the
    moment of a failover) does not hide the new one.
    """
    return sorted({(host, port) for _, _, host, port in await slot_ranges(client)})


def holder(ranges: list[tuple[int, int, str, int]], key: str) -> tuple[str, int] | None:
    """The primary that serves ``key``'s slot in ``ranges``."""
    slot = key_slot(key.encode())
    for first, last, host, port in ranges:
        if first <= slot <= last:
            return host, port
    return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


__all__ = ["SCHEMES", "address_of", "async_cluster", "detect", "holder", "is_cluster_url", "node_url",
           "primaries", "slot_ranges", "sync_cluster", "validate"]
