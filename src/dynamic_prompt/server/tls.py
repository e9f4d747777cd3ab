"""TLS connections verified against a name the operator chose (``tls_server_name``).

redis-py checks a server's certificate against the host it connects to. Behind
Sentinel that host is the IP address a sentinel reports for the master, so either
every certificate must carry every IP a master may ever have, or the check must be
turned off. With ``tls_server_name`` set, every TLS connection (to a plain
``rediss://`` server or to a Sentinel-discovered master) sends that name as SNI and
verifies the certificate against it, wherever it connects.

These are redis-py's own connection classes with one more keyword,
``ssl_server_name``: the only way to reach the name redis-py passes to the TLS
handshake is a subclass of the connection class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.sentinel import SentinelManagedSSLConnection as AsyncSentinelSSLConnection
from redis.sentinel import SentinelManagedSSLConnection


class AsyncNamedSSLConnection(aioredis.SSLConnection):
    """An asyncio TLS connection that verifies the certificate against ``ssl_server_name``."""

    def __init__(self, *, ssl_server_name: str | None = None, **kwargs: Any) -> None:
        self.ssl_server_name = ssl_server_name
        super().__init__(**kwargs)

    def _connection_arguments(self) -> Mapping[str, Any]:
        arguments = dict(super()._connection_arguments())
        if self.ssl_server_name:
            arguments["server_hostname"] = self.ssl_server_name
        return arguments


class AsyncNamedSentinelSSLConnection(AsyncSentinelSSLConnection):
    """:class:`AsyncNamedSSLConnection` for a master found through sentinels."""

    def __init__(self, *, ssl_server_name: str | None = None, **kwargs: Any) -> None:
        self.ssl_server_name = ssl_server_name
        super().__init__(**kwargs)

    def _connection_arguments(self) -> Mapping[str, Any]:
        arguments = dict(super()._connection_arguments())
        if self.ssl_server_name:
            arguments["server_hostname"] = self.ssl_server_name
        return arguments


class _SyncNamed:
    """The blocking clients pass ``self.host`` to ``wrap_socket``: show them the name instead."""

    host: str
    ssl_server_name: str | None

    def _wrap_socket_with_ssl(self, sock: Any) -> Any:
        host = self.host
        if self.ssl_server_name:
            self.host = self.ssl_server_name
        try:
            return super()._wrap_socket_with_ssl(sock)  # type: ignore[misc]
        finally:
            self.host = host


class SyncNamedSSLConnection(_SyncNamed, redis.SSLConnection):
    """A blocking TLS connection that verifies the certificate against ``ssl_server_name``."""

    def __init__(self, *, ssl_server_name: str | None = None, **kwargs: Any) -> None:
        self.ssl_server_name = ssl_server_name
        super().__init__(**kwargs)


class SyncNamedSentinelSSLConnection(_SyncNamed, SentinelManagedSSLConnection):
    """:class:`SyncNamedSSLConnection` for a master found through sentinels."""

    def __init__(self, *, ssl_server_name: str | None = None, **kwargs: Any) -> None:
        self.ssl_server_name = ssl_server_name
        super().__init__(**kwargs)


def use_server_name(pool: Any, name: str, connection_class: type[Any]) -> None:
    """Make ``pool`` open ``connection_class`` connections verified against ``name``.

    For a pool made by ``from_url``, whose URL scheme picks the connection class and
    wins over keyword arguments.
    """
    pool.connection_class = connection_class
    pool.connection_kwargs["ssl_server_name"] = name
