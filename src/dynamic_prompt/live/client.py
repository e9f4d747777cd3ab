"""The agents' client: the active prompt from process memory, invalidated by push.

Prompt registries usually cache with a TTL and serve a stale prompt for up to
that TTL. Here the change feed (:mod:`dynamic_prompt.live.feed`) tells every agent
the moment a prompt changes, so a read is a dict lookup that is never older
than the last event the process received::

    from dynamic_prompt import PromptClient

    with PromptClient() as prompts:          # same server resolution as `dprompt`
        system = prompts.get_active("support")   # ~100 ns after the first read

How it stays correct (the state rules live in :mod:`dynamic_prompt.live.cache`):

* An event for a prompt drops its entry at once and bumps a generation, so a
  read that raced the invalidation cannot store the old text; the prompt is
  then re-read (GET + meta version in one MULTI) in the background.
* Until the feed has (re)subscribed and resynced, and whenever it is
  disconnected, nothing is served from memory: reads go to Redis.
* When Redis cannot be reached, the last known good text is served and
  flagged stale (:attr:`PromptClient.stale`, :attr:`Read.stale`, the
  ``stale_serves`` counter) instead of raising, unless ``strict=True``.
  After a failure, reads do not retry the server for ``retry_after`` seconds,
  so a dead server does not cost every read a connect timeout.

Staleness bounds worth knowing: with keyspace notifications or the change
channel, a change is seen one push later (sub-millisecond on loopback); a
write made outside this tool while CONFIG is refused is found by the poll
(``poll_interval``); a link that dies silently is noticed by the feed's ping
watchdog (``ping_timeout``), during which memory may still serve the old text.

Each client also announces itself to the fleet view (:mod:`dynamic_prompt.store.fleet`).
The background work (feed, refresher, announcer) is :mod:`dynamic_prompt.live.engine`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import redis
from redis import exceptions as rexc
from redis.backoff import NoBackoff
from redis.retry import Retry

from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core.config import Settings, load_settings
from dynamic_prompt.core.errors import (
    ConnectionFailedError,
    DynamicPromptError,
)
from dynamic_prompt.live.cache import CacheEntry, NearCache
from dynamic_prompt.live.engine import UNREACHABLE, ClientEngine, cache_entry
from dynamic_prompt.live.feed import MODE_DISCONNECTED
from dynamic_prompt.live.loop_thread import LoopThread
from dynamic_prompt.server import ServerTarget, resolve, sync_client
from dynamic_prompt.server.errors import library_error
from dynamic_prompt.store.fleet import (
    AgentInfo,
    fleet_async,
)
from dynamic_prompt.store.fleet import fleet as fleet_sync

log = logging.getLogger(__name__)

DEFAULT_ANNOUNCE_INTERVAL = 5.0
"""Seconds between fleet heartbeats (a change is announced at once, rate-limited)."""

DEFAULT_FEED_OPTIONS: Mapping[str, float] = {"ping_interval": 0.5, "ping_timeout": 2.0, "poll_interval": 0.5}
"""Agents want a dead link noticed sooner than the dashboard does."""



@dataclass(frozen=True, slots=True)
class Read:
    """One read of a prompt, with where it came from.

    Attributes:
        name: the prompt.
        text: its active text, or ``None`` when it has none.
        version: the version of that text (0 when unknown).
        stale: True when Redis could not be reached and this is the last known good text.
        source: ``memory`` (the near cache), ``redis`` (read now) or ``last-known-good``.
    """

    name: str
    text: str | None
    version: int
    stale: bool = False
    source: str = "memory"


@dataclass(frozen=True, slots=True)
class ClientStats:
    """Counters of one client since it was made.

    Counters are plain integers bumped without a lock (a lock would triple the
    cost of a read); under CPython's GIL an increment is not split, so they are
    exact in practice.
    """

    hits: int
    misses: int
    invalidations: int
    stale_serves: int
    direct_reads: int
    resyncs: int
    announces: int
    feed_mode: str
    hit_ratio: float

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _value(counter: itertools.count[int]) -> int:
    """How many times ``next`` was called on ``counter`` (its repr is ``count(N)``)."""
    return int(repr(counter)[6:-1])


def _default_agent_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ClientBase:
    """What both clients share: options, the cache, counters, the fallback rules."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        settings: Settings | None = None,
        target: ServerTarget | None = None,
        strict: bool = False,
        agent_id: str | None = None,
        announce: bool = True,
        announce_interval: float = DEFAULT_ANNOUNCE_INTERVAL,
        timeout: float = 2.0,
        retry_after: float = 0.5,
        feed_options: Mapping[str, float] | None = None,
    ) -> None:
        if target is None:
            settings = settings or load_settings()
            if redis_url:
                settings = settings.with_url(redis_url, "argument")
        self._settings = settings
        self._target = target
        self.strict = strict
        self._default_id = agent_id is None
        self.agent_id = agent_id or _default_agent_id()
        self.announce = announce
        self.announce_interval = float(announce_interval)
        self.timeout = timeout
        self.retry_after = retry_after
        self.feed_options = {**DEFAULT_FEED_OPTIONS, **(feed_options or {})}
        self._cache = NearCache()
        # The hot path reads this dict directly; NearCache never rebinds it.
        self._fresh = self._cache.fresh
        # Counters are itertools.count objects: next() on one is a single C call, so it
        # is atomic under the GIL and the cheapest exact counter a hot path can bump.
        self._reads: dict[str, itertools.count[int]] = {}
        self._misses = itertools.count()
        self._stale_serves = itertools.count()
        self._direct_reads = itertools.count()
        self._announces = itertools.count()
        self.stale = False
        """True while the last read served last known good text because Redis was unreachable."""
        self.feed_mode = MODE_DISCONNECTED
        """The change feed's mode: notifications / channel / polling / disconnected."""
        self._down_until = 0.0
        self._closed = False

    @property
    def target(self) -> ServerTarget:
        """The server (resolving it may start the shared embedded server)."""
        if self._target is None:
            self._target = resolve(self._settings)
        return self._target

    def reads(self, name: str) -> int:
        """How many times ``name`` was read through this client."""
        counter = self._reads.get(name)
        return _value(counter) if counter is not None else 0

    def stats(self) -> ClientStats:
        """The counters: hits, misses, invalidations, stale serves, feed mode, hit ratio, ..."""
        misses = _value(self._misses)
        hits = sum(_value(c) for c in list(self._reads.values())) - misses
        return ClientStats(
            hits=hits,
            misses=misses,
            invalidations=self._cache.invalidations,
            stale_serves=_value(self._stale_serves),
            direct_reads=_value(self._direct_reads),
            resyncs=self._cache.resyncs,
            announces=_value(self._announces),
            feed_mode=self.feed_mode,
            hit_ratio=hits / (hits + misses) if hits + misses else 0.0,
        )

    # -- shared pieces of the slow path -----------------------------------------------

    def _before_fetch(self, name: str, strict: bool | None) -> bool:
        """Count a miss; the resolved ``strict``."""
        next(self._misses)
        next(self._reads[name])
        return self.strict if strict is None else strict

    def _accept(self, name: str, token: int, entry: CacheEntry) -> None:
        """Keep a value read from Redis; announce at once if the text served changed."""
        before = self._cache.last_good.get(name)
        self._cache.store(name, token, entry)
        if not self._cache.live:
            next(self._direct_reads)
        self.stale = False
        if before is None or (before.content_hash, before.version) != (entry.content_hash, entry.version):
            self._announce_soon()

    def _announce_soon(self) -> None:
        raise NotImplementedError

    def _fallback(self, name: str, strict: bool, exc: BaseException | None) -> Read:
        """Redis is unreachable: the last known good text, flagged stale (or raise)."""
        where = f"the Redis server at {self.target.display}"
        reason = f": {str(exc).splitlines()[0]}" if exc is not None and str(exc) else ""
        if strict:
            raise ConnectionFailedError(f"Cannot reach {where}{reason}.")
        good = self._cache.last_good.get(name)
        if good is None:
            raise ConnectionFailedError(
                f"Cannot reach {where}{reason}, and prompt {name!r} was never read before."
            )
        next(self._stale_serves)
        self.stale = True
        return Read(name, good.text, good.version, True, "last-known-good")

    def _failed(self, exc: BaseException) -> None:
        """A read could not reach Redis: reads serve last known good for a while."""
        log.debug("prompt read failed: %s", exc)
        self._down_until = time.monotonic() + self.retry_after


# -- the synchronous client -------------------------------------------------------------

_SYNC_CLIENTS: weakref.WeakSet[PromptClient] = weakref.WeakSet()
_ORPHANS: list[Any] = []
"""What a forked child inherited from its parent's clients: kept, never closed (the
parent still uses those sockets)."""


def _after_fork_in_child() -> None:
    for client in list(_SYNC_CLIENTS):
        client._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class PromptClient(ClientBase):
    """Blocking, thread-safe reads of active prompts from process memory.

    Args:
        redis_url: the server; ``None`` resolves like ``dprompt`` (``REDIS_URL``,
            the config file, else the shared embedded server).
        settings: explicit settings instead of reading the config file.
        target: an already resolved server (overrides ``redis_url``/``settings``).
        strict: raise :class:`~dynamic_prompt.core.errors.ConnectionFailedError` instead
            of serving last known good text while Redis is unreachable.
        agent_id: how this process appears in the fleet view (default ``host:pid``).
        announce: announce this agent to the fleet view.
        announce_interval: seconds between fleet heartbeats.
        timeout: socket timeout of reads, in seconds.
        retry_after: after a failed read, serve last known good this long before
            trying the server again.
        feed_options: :class:`~dynamic_prompt.live.feed.ChangeFeed` options
            (``ping_interval``, ``ping_timeout``, ``poll_interval``).

    Nothing starts until the first read: then one daemon thread runs the change
    feed, the refresher and the announcer on its own event loop. Reads never
    wait for that thread. Call :meth:`close` (or use ``with``) to stop it.

    Example::

        with PromptClient() as prompts:
            messages = [{"role": "system", "content": prompts.get_active("support")}]
    """

    def __init__(self, redis_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(redis_url, **kwargs)
        self._lock = threading.Lock()
        self._engine: ClientEngine | None = None
        self._runner: LoopThread | None = None
        self._sync: redis.Redis | None = None
        _SYNC_CLIENTS.add(self)

    # -- reads ------------------------------------------------------------------------

    def get_active(self, name: str = keymod.DEFAULT_NAME, *, strict: bool | None = None) -> str | None:
        """The active text of ``name`` (``None`` if it has none), from memory when possible.

        Never older than the last change event this process received. While
        Redis is unreachable, returns the last known good text (see :attr:`stale`)
        unless ``strict`` (default: the client's) is true, which raises
        :class:`~dynamic_prompt.core.errors.ConnectionFailedError`.
        """
        entry = self._fresh.get(name)
        if entry is not None:
            next(self._reads[name])
            return entry.text
        return self._read_slow(name, strict).text

    def read(self, name: str = keymod.DEFAULT_NAME, *, strict: bool | None = None) -> Read:
        """Like :meth:`get_active`, with the version and whether the text is stale."""
        entry = self._fresh.get(name)
        if entry is not None:
            next(self._reads[name])
            return Read(name, entry.text, entry.version)
        return self._read_slow(name, strict)

    def _read_slow(self, name: str, strict: bool | None) -> Read:
        keymod.validate_name(name)
        self._ensure_started()
        self._reads.setdefault(name, itertools.count())  # before any entry exists: hits count here
        if self._cache.watch(name):
            self._call_in_loop(lambda e: e.watch(name))
        strict = self._before_fetch(name, strict)
        if time.monotonic() < self._down_until:
            return self._fallback(name, strict, None)
        token = self._cache.token(name)
        seq = self._cache.next_seq()
        k = keymod.keys_for(name)
        sync = self._sync
        try:
            if sync is None:
                raise DynamicPromptError("This PromptClient is closed.")
            with sync.pipeline(transaction=True) as pipe:
                pipe.get(k.active)
                pipe.hget(k.meta, "version")
                raw, version = pipe.execute()
        except UNREACHABLE as exc:
            self._failed(exc)
            return self._fallback(name, strict, exc)
        except rexc.RedisError as exc:
            raise library_error(exc, f"the Redis server at {self.target.display}") from None
        entry = cache_entry(raw, version, seq)
        self._accept(name, token, entry)
        return Read(name, entry.text, entry.version, False, "redis")

    def fleet(self, name: str = keymod.DEFAULT_NAME) -> list[AgentInfo]:
        """The agents reading ``name`` (this one included), marked behind / gone."""
        self._ensure_started()
        assert self._sync is not None
        return fleet_sync(self._sync, name)

    # -- lifecycle --------------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._engine is not None:
            return
        with self._lock:
            if self._closed:
                raise DynamicPromptError("This PromptClient is closed.")
            if self._engine is not None:
                return
            target = self.target
            sync = sync_client(target, timeout=self.timeout)
            sync.set_retry(Retry(NoBackoff(), 1))
            runner = LoopThread(f"dynamic-prompt-client-{self.agent_id}")

            async def make() -> ClientEngine:
                engine = ClientEngine(self, target)
                engine.start()
                return engine

            engine = runner.run(make(), 10)
            self._sync, self._runner = sync, runner
            self._engine = engine  # last: readers check it without the lock

    def _call_in_loop(self, fn: Any) -> None:
        runner, engine = self._runner, self._engine
        if runner is not None and engine is not None:
            runner.call_soon(fn, engine)

    def _announce_soon(self) -> None:
        self._call_in_loop(lambda e: e.poke())

    def close(self) -> None:
        """Stop the background thread, leave the fleet view, close every connection."""
        with self._lock:
            self._closed = True
            engine, runner, sync = self._engine, self._runner, self._sync
            self._engine = self._runner = self._sync = None
        self._cache.go_offline()
        if engine is not None and runner is not None:
            with contextlib.suppress(Exception):
                runner.run(engine.aclose(), 10)
            runner.stop()
        if sync is not None:
            sync.close()

    def _forget_after_fork(self) -> None:
        """In a forked child: the parent's thread is not here; start afresh on next read."""
        _ORPHANS.append((self._engine, self._runner, self._sync))
        self._lock = threading.Lock()
        self._engine = self._runner = self._sync = None
        self._cache.after_fork()
        self.feed_mode = MODE_DISCONNECTED
        if self._default_id:
            self.agent_id = _default_agent_id()

    def __enter__(self) -> PromptClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
        if self._cache.watch(name):
            engine.watch(name)
        strict = self._before_fetch(name, strict)
        if time.monotonic() < self._down_until:
            return self._fallback(name, strict, None)
        token = self._cache.token(name)
        try:
            entry = (await engine.fetch([name]))[name]
        except UNREACHABLE as exc:
            self._failed(exc)
            return self._fallback(name, strict, exc)
        except rexc.RedisError as exc:
            raise library_error(exc, f"the Redis server at {self.target.display}") from None
        self._accept(name, token, entry)
        return Read(name, entry.text, entry.version, False, "redis")

    async def fleet(self, name: str = keymod.DEFAULT_NAME) -> list[AgentInfo]:
        """The agents reading ``name`` (this one included), marked behind / gone."""
        engine = await self._ensure_started()
        return await fleet_async(engine.client, name)

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
        self._cache.go_offline()
        if engine is not None:
            await engine.aclose()

    async def __aenter__(self) -> AsyncPromptClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
