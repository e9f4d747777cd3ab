"""``dprompt mcp --http``: the same MCP server over Streamable HTTP, for a team.

One process serves every colleague's client. It speaks both protocol eras through the
SDK's session manager: 2026-07-28 clients send stateless requests (``server/discover``,
``subscriptions/listen`` as an SSE stream of ``resources/updated``), and older ones open a
session with ``initialize`` and ``resources/subscribe``. One store and one change feed
serve them all.

Safe by default:

- bound to 127.0.0.1 (DNS-rebinding protection on: only loopback Host and Origin
  headers are accepted there);
- every request needs a bearer token from the config file's ``[[mcp.tokens]]``
  (``name``, ``token``, ``access = "read"`` or ``"write"``), compared in constant time;
  a read token lists, reads and listens, and is refused every write;
- the same ``load_prompt`` policy as stdio (no files, no URLs, no private addresses
  unless the operator allows them);
- bounded: a request body (1 MiB), open sessions, listen streams, and how long one
  notification to one client may take.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dynamic_prompt.core.errors import ConfigError

log = logging.getLogger(__name__)

READ_SCOPE = "prompts:read"
WRITE_SCOPE = "prompts:write"
MIN_TOKEN_CHARS = 24
MAX_REQUEST_BYTES = 1024 * 1024
"""A request body above this is refused (413) before it is parsed: prompts are at most 4 MiB of
text, but a tool call that carries one is a rare, deliberate act; raise with --max-request-bytes."""
DEFAULT_MAX_SESSIONS = 64
DEFAULT_MAX_LISTENERS = 256
DEFAULT_PORT = 8766


@dataclass(frozen=True)
class Token:
    """One bearer token from the config file: who holds it and what it may do."""

    name: str
    digest: bytes
    """SHA-256 of the token: the token itself is not kept in memory longer than reading the file."""
    write: bool


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def tokens_from_table(table: Mapping[str, Any], where: Path | str) -> list[Token]:
    """The ``[[mcp.tokens]]`` entries of the config file; a bad one is one clear line."""
    mcp = table.get("mcp", {})
    if not isinstance(mcp, Mapping):
        raise ConfigError(f"{where}: [mcp] must be a table.")
    raw = mcp.get("tokens", [])
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: mcp.tokens must be an array of tables ([[mcp.tokens]]).")
    out: list[Token] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw, start=1):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: mcp.tokens entry {i} must be a table with name, token and access.")
        name, token, access = entry.get("name"), entry.get("token"), entry.get("access", "read")
        if not isinstance(name, str) or not name.strip() or len(name) > 64 or not name.isprintable():
            raise ConfigError(f"{where}: mcp.tokens entry {i} needs a name (1-64 printable characters).")
        if not isinstance(token, str) or len(token) < MIN_TOKEN_CHARS or not token.isascii() or not token.isprintable():
            raise ConfigError(f"{where}: the token of {name!r} must be at least {MIN_TOKEN_CHARS} printable ASCII "
                              "characters (dprompt mcp --new-token makes one).")
        if access not in ("read", "write"):
            raise ConfigError(f"{where}: the access of {name!r} is 'read' or 'write', not {access!r}.")
        if name in seen:
            raise ConfigError(f"{where}: two tokens are named {name!r}.")
        seen.add(name)
        out.append(Token(name, hashlib.sha256(token.encode()).digest(), access == "write"))
    return out


class StaticTokens:
    """The SDK's ``TokenVerifier`` over the configured tokens.

    Every configured token is compared, in constant time, on every request: how long a
    check takes says nothing about which token, or how much of one, was right.
    """

    def __init__(self, tokens: Sequence[Token]) -> None:
        self.tokens = list(tokens)

    async def verify_token(self, token: str) -> Any:
        """An ``AccessToken`` for a configured token, else ``None`` (the SDK answers 401)."""
        from mcp.server.auth.provider import AccessToken

        digest = hashlib.sha256(token.encode("utf-8", "replace")).digest()
        found: Token | None = None
        for candidate in self.tokens:
            if hmac.compare_digest(candidate.digest, digest) and found is None:
                found = candidate
        if found is None:
            return None
        scopes = [READ_SCOPE, WRITE_SCOPE] if found.write else [READ_SCOPE]
        return AccessToken(token="(hidden)", client_id=found.name, scopes=scopes)


def may_write(request: Any) -> bool:
    """Whether the HTTP request behind a handler carries a token that may write."""
    scope = getattr(request, "scope", None)
    user = scope.get("user") if isinstance(scope, Mapping) else None
    scopes = getattr(user, "scopes", None)
    return isinstance(scopes, (list, tuple, set, frozenset)) and WRITE_SCOPE in scopes


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine."""
    import ipaddress

    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_app(server: Any, tokens: Sequence[Token], *, host: str, port: int,
              max_sessions: int = DEFAULT_MAX_SESSIONS, max_request_bytes: int = MAX_REQUEST_BYTES) -> Any:
    """The Starlette app: ``/mcp`` behind bearer authentication, on the SDK's session manager."""
    from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
    from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.authentication import AuthenticationMiddleware
    from starlette.routing import Route

    security = None
    if is_loopback(host):
        # A web page the person opens must not reach this server by a DNS name that points at 127.0.0.1.
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    manager = StreamableHTTPSessionManager(app=server, security_settings=security, max_sessions=max_sessions,
                                           max_request_body_size=max_request_bytes)
    endpoint = RequireAuthMiddleware(StreamableHTTPASGIApp(manager), [READ_SCOPE], None)
    return Starlette(
        routes=[Route("/mcp", endpoint=endpoint)],
        middleware=[Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(StaticTokens(tokens))),
                    Middleware(AuthContextMiddleware)],
        lifespan=lambda app: manager.run(),
    )
