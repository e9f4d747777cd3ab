"""The asyncio form of the agents' client (see :mod:`dynamic_prompt.live.client`)."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from redis import exceptions as rexc

from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core.errors import DynamicPromptError
from dynamic_prompt.live.client_base import ClientBase, Read
from dynamic_prompt.live.engine import UNREACHABLE, ClientEngine
from dynamic_prompt.server.errors import FAILURES, library_error
from dynamic_prompt.store.fleet import AgentInfo, fleet_async

# -- the asyncio client -----------------------------------------------------------------


class AsyncPromptClient(ClientBase):
    """The asyncio form of :class:`PromptClient`: same options, same rules.

    Its background tasks run on the event loop of the first read; use it from
    that loop only. ``await client.aclose()`` (or ``async with``) stops them.

    Example::

        async with AsyncPromptClient() as prompts:
            system = await prompts.get_active("support")
    """

    def __init__(self, redis_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(redis_url, **kwargs)
        self._engine: ClientEngine | None = None
        self._start_lock: asyncio.Lock | None = None

    async def get_active(self, name: str = keymod.DEFAULT_NAME, *, strict: bool | None = None) -> str | None:
        """The active text of ``name`` (see :meth:`PromptClient.get_active`)."""
        entry = self._fresh.get(name)
        if entry is not None:
            next(self._reads[name])
            return entry.text
        return (await self._read_slow(name, strict)).text

    async def read(self, name: str = keymod.DEFAULT_NAME, *, strict: bool | None = None) -> Read:
        """Like :meth:`get_active`, with the version and whether the text is stale."""
        entry = self._fresh.get(name)
        if entry is not None:
            next(self._reads[name])
            return Read(name, entry.text, entry.version)
        return await self._read_slow(name, strict)

    async def _read_slow(self, name: str, strict: bool | None) -> Read:
        keymod.validate_name(name)
        engine = await self._ensure_started()
        self._reads.setdefault(name, itertools.count())  # before any entry exists: hits count here
        if self.cache.watch(name):
            engine.watch(name)
        strict, good = self._before_fetch(name, strict)
        if good is not None:
            return await self._read_bounded(engine, name)
        if time.monotonic() < self._down_until:
            return self._fallback(name, strict, None)
        token = self.cache.token(name)
        try:
            entry = (await engine.fetch([name]))[name]
        except UNREACHABLE as exc:
            self.failed(exc)
            return self._fallback(name, strict, exc)
        except rexc.RedisError as exc:
            raise library_error(exc, f"the Redis server at {self.target.display}") from None
        self.accept(name, token, entry)
        return Read(name, entry.text, entry.version, False, "redis")

    async def _read_bounded(self, engine: ClientEngine, name: str) -> Read:
        """Like :meth:`PromptClient._read_bounded`, awaiting the engine's re-read."""
        if time.monotonic() < self._down_until:
            return self._refreshed(name, None)
        future, started = engine.refresh(name)
        try:
            # shield: a reader that stops waiting must not cancel the re-read others share.
            entry = await asyncio.wait_for(asyncio.shield(future), self._budget_left(started))
            return self._refreshed(name, entry)
        except asyncio.TimeoutError:
            return self._refreshed(name, None)
        except asyncio.CancelledError:
            if future.cancelled():  # the client closed under us
                return self._refreshed(name, None)
            raise
        except FAILURES as exc:
            return self._refreshed(name, None, exc)

    async def fleet(self, name: str = keymod.DEFAULT_NAME) -> list[AgentInfo]:
        """The agents reading ``name`` (this one included), marked behind / gone."""
        engine = await self._ensure_started()
        return await fleet_async(engine.client, name, layout=self.target.kind.layout)

    async def _ensure_started(self) -> ClientEngine:
        if self._engine is not None:
            return self._engine
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._closed:
                raise DynamicPromptError("This AsyncPromptClient is closed.")
            if self._engine is None:
                # Resolving may start the embedded server (a subprocess): not on the loop.
                target = await asyncio.to_thread(lambda: self.target)
                engine = ClientEngine(self, target)
                engine.start()
                self._engine = engine
            return self._engine

    def _announce_soon(self) -> None:
        if self._engine is not None:
            self._engine.poke()

    async def aclose(self) -> None:
        """Stop the background tasks, leave the fleet view, close every connection."""
        self._closed = True
        engine, self._engine = self._engine, None
        self.cache.go_offline()
        if engine is not None:
            await engine.aclose()

    async def __aenter__(self) -> AsyncPromptClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
