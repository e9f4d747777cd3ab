"""One server call at a time, with redis-py's errors turned into one-line library errors.

Every part of the store sends its commands through :class:`ServerCalls`, so a
person reads the same sentence whichever command hit the problem, and the one
failover rule (a refusal that the server's kind explains, such as a Sentinel
master that moved: point the client at the server to use now and try once more)
lives in one place.
Retries of a connection that died in the pool are redis-py's own
(:mod:`dynamic_prompt.server.target` configures them); nothing here retries on top.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis

from dynamic_prompt.server import ServerTarget
from dynamic_prompt.server.errors import FAILURES, library_error
from dynamic_prompt.server.kinds import PlainServer, ServerKind
from dynamic_prompt.server.target import TLS_SCHEMES

T = TypeVar("T")



class ServerCalls:
    """Runs commands on ``client``; failures become :class:`~dynamic_prompt.core.errors.DynamicPromptError`.

    Args:
        client: an asyncio redis-py client with ``decode_responses=False``.
        target: the server, for messages (password masked); optional.
    """

    def __init__(self, client: aioredis.Redis, target: ServerTarget | None) -> None:
        self.client = client
        self.target = target
        self.kind: ServerKind = target.kind if target is not None else PlainServer()
        """What the server's kind does differently (failover, scanning)."""

    @property
    def where(self) -> str:
        """The server as messages name it: "the Redis server at redis://host:6379/0"."""
        return f"the Redis server at {self.target.display}" if self.target else "the Redis server"

    async def __call__(self, factory: Callable[[], Awaitable[T]], *, key: str = "", prompt: str = "") -> T:
        """Run ``factory()`` (one command, pipeline or script); ``key``/``prompt`` name what it
        touches, for a wrong-type message whose key the server did not name."""
        try:
            return await factory()
        except FAILURES as exc:
            # A failover (a Sentinel master that moved) refused before writing anything:
            # the server's kind points the client at the new one, and we try once more.
            if not await self.kind.after_refusal(self.client, exc):
                raise library_error(exc, self.where, key=key, prompt=prompt,
                                    found_type=await self._type_of(key, exc),
                                    tls_without_cert=self._tls_without_cert) from None
        try:
            return await factory()
        except FAILURES as exc:
            raise library_error(exc, self.where, key=key, prompt=prompt,
                                found_type=await self._type_of(key, exc),
                                tls_without_cert=self._tls_without_cert) from None

    @property
    def _tls_without_cert(self) -> bool:
        target = self.target
        return bool(target and target.url.lower().startswith(TLS_SCHEMES) and not target.tls_cert_file)

    async def _type_of(self, key: str, exc: BaseException) -> str:
        """What ``key`` holds, when ``exc`` is a wrong-type reply that did not say (else "")."""
        if not key or "WRONGTYPE" not in str(exc) or key in str(exc):
            return ""
        try:
            found = await self.client.type(key)
        except FAILURES:
            return ""  # only a better message was at stake
        return found.decode() if isinstance(found, bytes) else str(found)
