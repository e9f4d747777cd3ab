"""Which server to talk to, and clients for it.

A server comes from ``--redis-url``, ``REDIS_URL`` or the config file (in that
order); with none, the shared embedded server is found or started. A
``redis+sentinel://`` URL names a Sentinel-managed master (:mod:`dynamic_prompt.server.sentinel`). Every URL
shown to a person goes through :func:`display_url`, which masks the password.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio as aioredis
from redis import exceptions as rexc
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from dynamic_prompt.core.config import Settings, load_settings
from dynamic_prompt.core.errors import ConfigError
from dynamic_prompt.core.redact import mask_url
from dynamic_prompt.server import embedded, sentinel

SCHEMES = ("redis", "rediss", "unix")


@dataclass(frozen=True)
class ServerTarget:
    """A resolved server: its URL, where it came from, and TLS options.

    Attributes:
        url: the full URL (may hold a password: never print it, use ``display``).
        origin: ``--redis-url``, ``REDIS_URL``, ``config file`` or ``embedded``.
        tls_ca_certs: CA bundle for ``rediss://``.
        tls_cert_file: client certificate for servers that require one (with ``tls_key_file``).
    """

    url: str
    origin: str
    tls_ca_certs: str | None = None
    started_embedded: bool = False
    tls_cert_file: str | None = None
    tls_key_file: str | None = None

    @property
    def display(self) -> str:
        """The URL with its password masked, safe for the screen and logs."""
        return mask_url(self.url)

    def __repr__(self) -> str:
        # Masked: a crash report that prints locals (Textual, rich) must not show the password.
        return (f"ServerTarget(url={self.display!r}, origin={self.origin!r}, "
                f"tls_ca_certs={self.tls_ca_certs!r}, started_embedded={self.started_embedded!r})")

    @property
    def embedded(self) -> bool:
        """True when this is the shared embedded server."""
        return self.origin == "embedded"


def validate_url(url: str) -> str:
    """Return ``url`` if redis-py can use it; else one clear line (password masked)."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("The Redis URL is empty.")
    url = url.strip()
    if sentinel.is_sentinel_url(url):
        sentinel.parse(url)
        return url
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a bad port
    except ValueError:
        raise ConfigError(f"Bad Redis URL {mask_url(url)!r}: the port is not a number.") from None
    if parts.scheme not in SCHEMES:
        raise ConfigError(
            f"Bad Redis URL {mask_url(url)!r}: it must start with redis://, rediss://, unix:// "
            "or redis+sentinel://."
        )
    if parts.scheme in ("redis", "rediss") and not parts.hostname:
        raise ConfigError(f"Bad Redis URL {mask_url(url)!r}: it names no host.")
    if parts.scheme == "unix" and not parts.path:
        raise ConfigError(f"Bad Redis URL {mask_url(url)!r}: it names no socket path.")
    path = parts.path.strip("/")
    if parts.scheme != "unix" and path and not path.isdigit():
        raise ConfigError(f"Bad Redis URL {mask_url(url)!r}: the database must be a number.")
    del port
    return url


def resolve(settings: Settings | None = None, *, start_embedded: bool = True) -> ServerTarget:
    """The server to use for ``settings``; starts the embedded one when none is configured."""
    settings = settings or load_settings()
    if settings.redis_url:
        if settings.redis_url.strip().lower().startswith(("rediss://", "rediss+sentinel://")):
            _check_tls_files(settings)
        return ServerTarget(
            validate_url(settings.redis_url),
            settings.redis_url_origin,
            settings.tls_ca_certs,
            tls_cert_file=settings.tls_cert_file,
            tls_key_file=settings.tls_key_file,
        )
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
    if retries == 0:
        # The change feed wants every fault to surface, so it can resync after it.
        kwargs["retry"] = retry_class(NoBackoff(), 0)
    else:
        # A pooled connection that died with a server restart fails on first use;
        # redis-py retries only the errors named here, so name them. A command
        # that never reached the server is safe to send again, and a repeated
        # commit is caught by its expected-version check.
        kwargs["retry"] = retry_class(ExponentialBackoff(cap=0.5, base=0.05), retries or 2)
        kwargs["retry_on_error"] = [rexc.ConnectionError, rexc.TimeoutError]
    if target.url.startswith(("rediss://", "rediss+sentinel://")):
        kwargs["ssl_cert_reqs"] = ssl.CERT_REQUIRED
        if target.tls_ca_certs:
            kwargs["ssl_ca_certs"] = os.path.expanduser(target.tls_ca_certs)
        if target.tls_cert_file and target.tls_key_file:
            kwargs["ssl_certfile"] = os.path.expanduser(target.tls_cert_file)
            kwargs["ssl_keyfile"] = os.path.expanduser(target.tls_key_file)
    return kwargs


def async_client(
    target: ServerTarget, *, timeout: float | None = 10.0, retries: int | None = None
) -> aioredis.Redis:
    """An asyncio client (bytes replies) for ``target``; ``retries=0`` surfaces every fault."""
    # The asyncio client needs the asyncio Retry: the sync one never awaits the call.
    kwargs = _client_kwargs(target, timeout=timeout, retries=retries, retry_class=AsyncRetry)
    if sentinel.is_sentinel_url(target.url):
        return sentinel.async_master(sentinel.parse(target.url), kwargs)
    try:
        return aioredis.Redis.from_url(
            target.url,
            **kwargs,
        )
    except ValueError as exc:
        raise ConfigError(f"Bad Redis URL {target.display!r}: {exc}") from None


def sync_client(target: ServerTarget, *, timeout: float | None = 10.0) -> redis.Redis:
    """A blocking client (bytes replies) for ``target``."""
    kwargs = _client_kwargs(target, timeout=timeout)
    if sentinel.is_sentinel_url(target.url):
        return sentinel.sync_master(sentinel.parse(target.url), kwargs)
    try:
        return redis.Redis.from_url(target.url, **kwargs)
    except ValueError as exc:
        raise ConfigError(f"Bad Redis URL {target.display!r}: {exc}") from None
