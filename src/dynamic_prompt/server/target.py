"""Which server to talk to, and clients for it.

A server comes from ``--redis-url``, ``REDIS_URL`` or the config file (in that
order); with none, the shared embedded server is found or started. A
``redis+sentinel://`` URL names a Sentinel-managed master (:mod:`dynamic_prompt.server.sentinel`);
a ``redis+cluster://`` URL, or a ``redis://`` URL of a node that says it is in a
cluster, names a Redis Cluster (:mod:`dynamic_prompt.server.cluster`). Every URL
shown to a person goes through :func:`display_url`, which masks the password.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aioredis
from redis import exceptions as rexc
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from dynamic_prompt.core.config import Settings, load_settings
from dynamic_prompt.core.errors import ConfigError
from dynamic_prompt.core.redact import mask_url
from dynamic_prompt.server import cluster, embedded, sentinel, tls
from dynamic_prompt.server.kinds import SentinelServer, ServerKind, kind_of

SCHEMES = ("redis", "rediss", "unix")


@dataclass(frozen=True)
class ServerTarget:
    """A resolved server: its URL, where it came from, and TLS options.

    Attributes:
        url: the full URL (may hold a password: never print it, use ``display``).
        origin: ``--redis-url``, ``REDIS_URL``, ``config file`` or ``embedded``.
        tls_ca_certs: CA bundle for ``rediss://``.
        tls_cert_file: client certificate for servers that require one (with ``tls_key_file``).
        tls_server_name: verify certificates against this name (a Sentinel-discovered master
            is reached by IP address).
    """

    url: str
    origin: str
    tls_ca_certs: str | None = None
    started_embedded: bool = False
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_server_name: str | None = None
    """The name certificates are verified against (default: the host connected to)."""
    cluster_mode: str = ""
    """``cluster`` when a ``redis://`` node said it is in a cluster, ``node`` for one primary of a
    cluster reached alone (the change feed's), else ""."""

    @property
    def display(self) -> str:
        """The URL with its password masked, safe for the screen and logs."""
        return mask_url(self.url)

    def __repr__(self) -> str:
        # Masked: a crash report that prints locals (Textual, rich) must not show the password.
        return (f"ServerTarget(url={self.display!r}, origin={self.origin!r}, "
                f"tls_ca_certs={self.tls_ca_certs!r}, tls_server_name={self.tls_server_name!r}, "
                f"started_embedded={self.started_embedded!r}, cluster_mode={self.cluster_mode!r})")

    @property
    def embedded(self) -> bool:
        """True when this is the shared embedded server."""
        return self.origin == "embedded"

    @property
    def kind(self) -> ServerKind:
        """What kind of server this is (plain, Sentinel, embedded, cluster): the seam for what differs."""
        return kind_of(self.url, self.origin, cluster_mode=self.cluster_mode)

    @property
    def is_cluster(self) -> bool:
        """True for a Redis Cluster (named by ``redis+cluster://`` or detected)."""
        return self.kind.name == "cluster"

    def node(self, host: str, port: int) -> ServerTarget:
        """One node of this cluster, reached alone (same credentials and TLS settings)."""
        return replace(self, url=cluster.address_of(self.url, host, port), cluster_mode="node",
                       started_embedded=False)


def validate_url(url: str) -> str:
    """Return ``url`` if redis-py can use it; else one clear line (password masked)."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("The Redis URL is empty.")
    url = url.strip()
    if sentinel.is_sentinel_url(url):
        sentinel.parse(url)
        return url
    if cluster.is_cluster_url(url):
        _check_options(url, urlsplit(cluster.node_url(url)).query)
        return cluster.validate(url)
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a bad port
    except ValueError:
        raise ConfigError(f"Bad Redis URL {mask_url(url)!r}: the port is not a number.") from None
    if parts.scheme not in SCHEMES:
        raise ConfigError(
            f"Bad Redis URL {mask_url(url)!r}: it must start with redis://, rediss://, unix://, "
            "redis+sentinel:// or redis+cluster://."
        )
    if parts.scheme in ("redis", "rediss") and not parts.hostname:
        raise ConfigError(f"Bad Redis URL {mask_url(url)!r}: it names no host.")
    if parts.scheme == "unix" and not parts.path:
        raise ConfigError(f"Bad Redis URL {mask_url(url)!r}: it names no socket path.")
    path = parts.path.strip("/")
    if parts.scheme != "unix" and path and not path.isdigit():
        raise ConfigError(f"Bad Redis URL {mask_url(url)!r}: the database must be a number.")
    _check_options(url, parts.query)
    del port
    return url


URL_OPTIONS = ("db", "password")
"""The query options a URL may carry (the unix:// form's ?db= and ?password=)."""


def _check_options(url: str, query: str) -> None:
    """Refuse client options in the URL: redis-py would let them override ours.

    ``?decode_responses=true`` would hand the store text where it expects bytes,
    ``?ssl_cert_reqs=none`` would switch certificate checks off, and an unknown name
    reaches redis-py's constructor as a keyword it does not take.
    """
    for pair in filter(None, query.split("&")):
        option = unquote(pair.partition("=")[0])
        if option in URL_OPTIONS:
            continue
        shown = option.encode("unicode_escape").decode("ascii")[:40]
        if option.startswith("ssl"):
            hint = ("certificates are always verified; for a private CA or another host name set "
                    "tls_ca_certs or tls_server_name in the config file")
        else:
            hint = f"a URL may carry only {' and '.join(URL_OPTIONS)}; dprompt sets its own client options"
        raise ConfigError(f"Bad Redis URL {mask_url(url)!r}: the option {shown!r} is not supported ({hint}).")


def resolve(settings: Settings | None = None, *, start_embedded: bool = True) -> ServerTarget:
    """The server to use for ``settings``; starts the embedded one when none is configured."""
    settings = settings or load_settings()
    if settings.redis_url:
        if settings.redis_url.strip().lower().startswith(TLS_SCHEMES):
            _check_tls_files(settings)
        configured = ServerTarget(
            validate_url(settings.redis_url),
            settings.redis_url_origin,
            settings.tls_ca_certs,
            tls_cert_file=settings.tls_cert_file,
            tls_key_file=settings.tls_key_file,
            tls_server_name=settings.tls_server_name,
        )
        return detect_cluster(configured)
    if not start_embedded:
        found = embedded.status()
        if found.state is embedded.ServerState.NOT_RUNNING:
            raise embedded.EmbeddedServerError(
                "No server is configured and the embedded server is not running."
            )
        if found.state is not embedded.ServerState.ANSWERING:
            raise embedded.not_answering_error(found, 1.0)
        return ServerTarget(found.url, "embedded")
    server = embedded.ensure_running()
    return ServerTarget(server.url, "embedded", started_embedded=server.started)


TLS_SCHEMES = ("rediss://", "rediss+sentinel://", "rediss+cluster://")


def detect_cluster(target: ServerTarget) -> ServerTarget:
    """``target``, marked as a cluster when its ``redis://`` / ``rediss://`` node says it is one.

    One ``INFO cluster`` round trip with a one-second bound; a server that does not
    answer is left as a plain server (the command that follows says why it failed).
    """
    if target.cluster_mode or not target.url.lower().startswith(("redis://", "rediss://")):
        return target
    if cluster.detect(target.url, _client_kwargs(target, timeout=cluster.DETECT_TIMEOUT, retries=0)):
        return replace(target, cluster_mode="cluster")
    return target


def _check_tls_files(settings: Settings) -> None:
    """One line, before connecting, for a TLS file that is not there (only TLS URLs need them)."""
    for key in ("tls_ca_certs", "tls_cert_file", "tls_key_file"):
        value = getattr(settings, key)
        if value and not os.path.isfile(os.path.expanduser(value)):
            raise ConfigError(f"The {key} setting names {value}, which is not a readable file.")


def _client_kwargs(
    target: ServerTarget, *, timeout: float | None, retries: int | None = None,
    retry_class: type[Any] = Retry,
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "decode_responses": False,
        "socket_connect_timeout": min(5.0, timeout) if timeout else 5.0,
        "socket_timeout": timeout,
        "health_check_interval": 0,
    }
    kwargs["retry"] = retry_policy(retry_class, retries)
    if target.url.lower().startswith(TLS_SCHEMES):
        kwargs["ssl_cert_reqs"] = ssl.CERT_REQUIRED
        if target.tls_ca_certs:
            kwargs["ssl_ca_certs"] = os.path.expanduser(target.tls_ca_certs)
        if target.tls_cert_file and target.tls_key_file:
            kwargs["ssl_certfile"] = os.path.expanduser(target.tls_cert_file)
            kwargs["ssl_keyfile"] = os.path.expanduser(target.tls_key_file)
    return kwargs


def retry_policy(retry_class: type[Any], retries: int | None, *, backoff: bool = True) -> Any:
    """The one retry rule of every client: redis-py's ``Retry``, on connection errors only.

    A pooled connection that died with a server restart fails on first use; a command
    that never reached the server is safe to send again, and a repeated commit is
    recognised by its write id. A *timeout* is not retried: the server may be hung, and
    a second wait would only double the time to say so. ``retries=0`` (the change feed)
    surfaces every fault, so the feed can resync after it. ``backoff=False`` retries at
    once: an agent's read has a 50 ms budget, and a dead pooled connection is replaced
    by a fresh one, not by waiting.
    """
    if retries == 0:
        return retry_class(NoBackoff(), 0)
    return retry_class(ExponentialBackoff(cap=0.5, base=0.05) if backoff else NoBackoff(), retries or 2,
                       supported_errors=(rexc.ConnectionError,))


def async_client(
    target: ServerTarget, *, timeout: float | None = 10.0, retries: int | None = None,
    protocol: int | None = None,
) -> aioredis.Redis:
    """An asyncio client (bytes replies) for ``target``; ``retries=0`` surfaces every fault.

    ``protocol=2`` speaks RESP2 (the change feed needs it: under redis-py's default RESP3,
    tracking invalidations are push messages redis-py keeps to itself).
    """
    # The asyncio client needs the asyncio Retry: the sync one never awaits the call.
    kwargs = _client_kwargs(target, timeout=timeout, retries=retries, retry_class=AsyncRetry)
    if protocol is not None:
        kwargs["protocol"] = protocol
    name = target.tls_server_name if _is_tls(target) else None
    behind_sentinels = isinstance(target.kind, SentinelServer)
    if name and behind_sentinels:
        kwargs.update(connection_class=tls.AsyncNamedSentinelSSLConnection, ssl_server_name=name)
    try:
        client = target.kind.async_client(target.url, kwargs)
    except ValueError as exc:
        raise ConfigError(f"Bad Redis URL {target.display!r}: {exc}") from None
    if name and not behind_sentinels:
        tls.use_server_name(client.connection_pool, name, tls.AsyncNamedSSLConnection)
    return client


def sync_client(target: ServerTarget, *, timeout: float | None = 10.0) -> redis.Redis:
    """A blocking client (bytes replies) for ``target``."""
    kwargs = _client_kwargs(target, timeout=timeout)
    name = target.tls_server_name if _is_tls(target) else None
    behind_sentinels = isinstance(target.kind, SentinelServer)
    if name and behind_sentinels:
        kwargs.update(connection_class=tls.SyncNamedSentinelSSLConnection, ssl_server_name=name)
    try:
        client = target.kind.sync_client(target.url, kwargs)
    except ValueError as exc:
        raise ConfigError(f"Bad Redis URL {target.display!r}: {exc}") from None
    if name and not behind_sentinels:
        tls.use_server_name(client.connection_pool, name, tls.SyncNamedSSLConnection)
    return client


def _is_tls(target: ServerTarget) -> bool:
    return target.url.lower().startswith(TLS_SCHEMES)
