"""The asyncio form of the agents' client (see :mod:`dynamic_prompt.live.client`)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from redis import exceptions as rexc

from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core.errors import DynamicPromptError, PromptNotFoundError
from dynamic_prompt.live import views
from dynamic_prompt.live.client_base import ClientBase, Read
from dynamic_prompt.live.engine import UNREACHABLE, ClientEngine
from dynamic_prompt.server.errors import FAILURES, library_error
from dynamic_prompt.server.kinds import index_names
from dynamic_prompt.store.fleet import AgentInfo, fleet_async

if TYPE_CHECKING:
    from dynamic_prompt.core.templates import Renderer

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
        self._renderer: Renderer | None = None
        self._parts: dict[str, str | None] = {}
        """The parts of the render in progress (gathered from memory before it runs)."""

    async def get_active(self, name: str = keymod.DEFAULT_NAME, *, label: str | None = None,
                         key: str | None = None, strict: bool | None = None) -> str | None:
        """The text of ``name`` this agent serves (see :meth:`PromptClient.get_active`)."""
        if label is None:
            entry = self._fresh.get(name)
            if entry is not None:
                next(self._reads[name])
                return entry.text
        view = self._memory_view(name, label)
        entry = self._fresh.get(view) or self.cache.armed.get(view)
        if entry is not None:
            next(self._reads[view])
            return self._pick(name, entry, key).text if entry.arms else entry.text
        return (await self._read_slow(name, label, key, strict)).text

    async def read(self, name: str = keymod.DEFAULT_NAME, *, label: str | None = None, key: str | None = None,
                   strict: bool | None = None) -> Read:
        """Like :meth:`get_active`, with the version, the label, why and staleness."""
        view = self._memory_view(name, label)
        entry = self._fresh.get(view) or self.cache.armed.get(view)
        if entry is not None:
            next(self._reads[view])
            return self._read_of(view, entry, key)
        return await self._read_slow(name, label, key, strict)

    async def render(self, name: str, variables: Mapping[str, Any] | None = None, /, *, label: str | None = None,
                     key: str | None = None, lenient: bool = False, **more: Any) -> str:
        """The prompt with variables filled in (see :meth:`PromptClient.render`): every part from memory."""
        from dynamic_prompt.core.templates import Renderer  # jinja2 loads on the first render only
        from dynamic_prompt.store.includes import gather_parts

        text = await self.get_active(name, label=label, key=key)
        if text is None:
            at = f" at label {label!r}" if label else ""
            raise PromptNotFoundError(f"There is no prompt named {name!r}{at} to render.")
        ref = name if label is None or label == "production" else f"{name}@{label}"
        # The renderer reads synchronously: every part it will reach is gathered first (each
        # a memory read once cached), and it compiles each part once per text as before.
        self._parts = await gather_parts(ref, text, self._part)
        renderer = self._renderer
        if renderer is None:
            renderer = self._renderer = Renderer(lambda part: self._parts.get(part))
        return renderer.render(ref, {**(variables or {}), **more}, strict=not lenient, text=text).text

    async def _part(self, ref: str) -> str | None:
        """An included part's text: from memory (production or a label), or a kept version (read once)."""
        from dynamic_prompt.core.includes import parse_ref

        part = parse_ref(ref)
        if part.version is None:
            return await self.get_active(part.name, label=None if part.label == "production" else part.label)
        held = self._versions.get((part.name, part.version))
        if held is None:
            engine = await self._ensure_started()
            raw = await engine.client.hget(self.target.kind.layout.keys_for(part.name).versions, str(part.version))
            held = self._keep_pinned(ref, part.name, part.version, raw)
        return held

    async def snapshot(self, label: str | None = None, names: Sequence[str] | None = None) -> dict[str, Read]:
        """Every prompt (or ``names``) at ``label``, in one batch (see :meth:`PromptClient.snapshot`)."""
        engine = await self._ensure_started()
        try:
            if names is None:
                names = sorted(await index_names(engine.client, self.target.kind.layout))
            keys = [self._checked_view(name, label) for name in names]
            for key in keys:
                self._reads.setdefault(key, itertools.count())
                if self.cache.watch(key):
                    engine.watch(key)
            tokens = {key: self.cache.token(key) for key in keys}
            entries = await engine.fetch(keys) if keys else {}
        except rexc.RedisError as exc:
            raise library_error(exc, f"the Redis server at {self.target.display}") from None
        out: dict[str, Read] = {}
        for key, entry in entries.items():
            self.accept(key, tokens[key], entry)
            if entry.text is not None:
                out[views.split_view(key)[0]] = self._read_of(key, entry, None, False, "redis")
        return out

    async def _read_slow(self, name: str, label: str | None, key: str | None, strict: bool | None) -> Read:
        view = self._checked_view(name, label)
        engine = await self._ensure_started()
        self._reads.setdefault(view, itertools.count())  # before any entry exists: hits count here
        if self.cache.watch(view):
            engine.watch(view)
        strict, good = self._before_fetch(view, strict)
        if good is not None:
            return await self._read_bounded(engine, view, key)
        if time.monotonic() < self._down_until:
            return self._fallback(view, strict, None, key)
        token = self.cache.token(view)
        try:
            entry = (await engine.fetch([view]))[view]
        except UNREACHABLE as exc:
            self.failed(exc)
            return self._fallback(view, strict, exc, key)
        except rexc.RedisError as exc:
            raise library_error(exc, f"the Redis server at {self.target.display}") from None
        self.accept(view, token, entry)
        return self._read_of(view, entry, key, False, "redis")

    async def _read_bounded(self, engine: ClientEngine, name: str, key: str | None = None) -> Read:
        """Like :meth:`PromptClient._read_bounded`, awaiting the engine's re-read."""
        if time.monotonic() < self._down_until:
            return self._refreshed(name, None, key=key)
        future, started = engine.refresh(name)
        try:
            # shield: a reader that stops waiting must not cancel the re-read others share.
            entry = await asyncio.wait_for(asyncio.shield(future), self._budget_left(started))
            return self._refreshed(name, entry, key=key)
        except asyncio.TimeoutError:
            return self._refreshed(name, None, key=key)
        except asyncio.CancelledError:
            if future.cancelled():  # the client closed under us
                return self._refreshed(name, None, key=key)
            raise
        except FAILURES as exc:
            return self._refreshed(name, None, exc, key)

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
