"""redis-py errors -> one-line library errors (no Redis calls here).

Everything that talks to the server (the store, the agents' client) turns a
failure into a :class:`~dynamic_prompt.core.errors.DynamicPromptError` through
:func:`library_error`, so a person reads the same sentence whichever part of
the product hit the problem.
"""

from __future__ import annotations

import asyncio
import re

from redis import exceptions as rexc

from dynamic_prompt.core.errors import (
    ConnectionFailedError,
    CorruptDataError,
    DynamicPromptError,
    PermissionDeniedError,
)

UNREACHABLE: tuple[type[BaseException], ...] = (
    rexc.ConnectionError, rexc.TimeoutError, OSError, asyncio.TimeoutError, rexc.RedisClusterException,
    rexc.ClusterError, rexc.TryAgainError,
)
"""Errors that mean the server could not be reached (as opposed to a refusal): the one such tuple.

(redis-py's cluster client raises ``RedisClusterException``, not a ``RedisError``, when no
node it knows answers or none is in cluster mode; ``ClusterError`` ("TTL exhausted") when
redirects did not settle, ``ClusterDownError`` while a failover is under way, and
``TryAgainError`` while a slot is half-migrated: each is the cluster being briefly away,
not a refusal, so an agent serves what it last read meanwhile.)

(``asyncio.TimeoutError`` is the built-in ``TimeoutError``, an ``OSError``, from Python 3.11; not before.)"""

FAILURES: tuple[type[BaseException], ...] = (rexc.RedisError, *UNREACHABLE)
"""Everything a server call can raise: unreachable, or a refusal (an error reply)."""

_WRONGTYPE_KEY = re.compile(r"WRONGTYPE (\S+) holds a (\w+), not a (\w+)")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message ("" when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def library_error(
    exc: BaseException, where: str, *, key: str = "", prompt: str = "", found_type: str = "",
    tls_without_cert: bool = False,
) -> DynamicPromptError:
    """The library error for ``exc``; ``where`` names the server (password masked).

    ``where`` reads like "the Redis server at redis://host:6379/0". For a wrong-type
    reply whose key the server did not name, ``key`` names the key the command touched
    (and ``found_type`` what it holds, when the caller asked), else ``prompt`` the prompt
    whose keys it touched. ``tls_without_cert`` says the link is TLS and no client
    certificate is configured: a server that requires one may just reset the link
    (TLS 1.3 reports the refusal after the handshake, and a busy server's reset can
    overtake its alert), so that reset gets the same hint as the alert.
    """
    if isinstance(exc, DynamicPromptError):
        return exc
    if isinstance(exc, rexc.AuthenticationError):
        return ConnectionFailedError(f"{_capital(where)} refused the credentials.")
    if isinstance(exc, rexc.NoPermissionError):
        return PermissionDeniedError(
            f"{_capital(where)} does not allow this user to do that: {first_line(exc)}"
        )
    if isinstance(exc, rexc.RedisClusterException):
        text = first_line(exc)
        if "not enabled" in text:
            return ConnectionFailedError(
                f"{_capital(where)} is not in cluster mode: name it with redis:// (one server), "
                "not redis+cluster://."
            )
        reason = text.rpartition(": ")[2].rstrip(".") or type(exc).__name__
        return ConnectionFailedError(f"Cannot reach {where}: no node of the cluster answered ({reason}).")
    if isinstance(exc, UNREACHABLE):
        reason = first_line(exc).rstrip(".") or type(exc).__name__
        if tls_without_cert and ("reset by peer" in reason or "EOF" in reason):
            return ConnectionFailedError(
                f"Cannot reach {where}: it reset the TLS connection; if it requires a client "
                "certificate, set tls_cert_file and tls_key_file in the config file."
            )
        if "CERTIFICATE_REQUIRED" in reason.upper():
            return ConnectionFailedError(
                f"Cannot reach {where}: it requires a client certificate; set tls_cert_file "
                "and tls_key_file in the config file."
            )
        return ConnectionFailedError(f"Cannot reach {where}: {reason}.")
    message = str(exc)
    if "WRONGTYPE" in message:
        # The write scripts name the key (they check types before their first write).
        found = _WRONGTYPE_KEY.search(message)
        if found:
            which = f"The key {found[1]} holds the wrong type of value (a {found[2]}, not a {found[3]})"
        elif key:
            holds = f" (a {found_type})" if found_type else ""
            which = f"The key {key} holds the wrong type of value{holds}"
        else:
            which = f"A key of prompt {prompt!r} holds the wrong type of value" if prompt else (
                "A key holds the wrong type of value")
        return CorruptDataError(f"{which} (another program wrote it); fix or delete that key.")
    if "NOREPLICAS" in message:
        # min-replicas-to-write: the master refuses writes it could not replicate, as it
        # should during a failover. Nothing was written; a retry a moment later lands.
        return ConnectionFailedError(
            f"{_capital(where)} has too few replicas to accept writes (a failover may be "
            "under way); nothing was written, try again in a moment."
        )
    if isinstance(exc, rexc.ReadOnlyError) or "READONLY" in message:
        return PermissionDeniedError(f"{_capital(where)} is a read-only replica.")
    if "NOPERM" in message or "no permissions" in message.lower():
        return PermissionDeniedError(f"{_capital(where)} does not allow this user to do that.")
    return DynamicPromptError(f"The server answered: {first_line(exc)}")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
