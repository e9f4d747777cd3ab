"""The background work of one agents' client: change feed, refresher, fleet announcer.

:class:`ClientEngine` runs on one event loop (the client's own thread for
:class:`~dynamic_prompt.live.client.PromptClient`, the caller's loop for
:class:`~dynamic_prompt.live.client.AsyncPromptClient`). It turns feed events into
cache invalidations, re-reads invalidated prompts so the next read is a hit
again, and announces what this agent serves to the fleet view. It also runs
the *bounded reads*' background refreshes: at most one re-read per prompt in
flight (:meth:`ClientEngine.refresh`), which a read waits on for no longer than
its ``read_budget`` before serving the last known good text. The state rules
live in :mod:`dynamic_prompt.live.cache`; the read path in :mod:`dynamic_prompt.live.client`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry

from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core.models import PromptEvent
from dynamic_prompt.live import views
from dynamic_prompt.live.cache import CacheEntry, NearCache
from dynamic_prompt.live.cluster_feed import feed_for
from dynamic_prompt.live.feed import EventKind, FeedMode
from dynamic_prompt.server import ServerTarget, async_client
from dynamic_prompt.server.errors import FAILURES, UNREACHABLE
from dynamic_prompt.server.target import retry_policy
from dynamic_prompt.store.fleet import ANNOUNCE_SCRIPT, KEEP_GONE_SECONDS, announcement


class EngineOwner(Protocol):
    """What the engine needs of the client it works for: the whole interface between them."""

    @property
    def cache(self) -> NearCache:
        """The client's near cache (the engine invalidates and fills it)."""
        ...

    @property
    def agent_id(self) -> str:
        """How the agent appears in the fleet view."""
        ...

    @property
    def announce(self) -> bool:
        """Whether to announce to the fleet view."""
        ...

    @property
    def announce_interval(self) -> float:
        """Seconds between fleet heartbeats."""
        ...

    @property
    def timeout(self) -> float:
        """Socket timeout of the engine's reads."""
        ...

    @property
    def feed_options(self) -> Mapping[str, float]:
        """Options of the change feed."""
        ...

    @property
    def stale(self) -> bool:
        """Whether the client is serving last known good text."""
        ...

    @property
    def feed_mode(self) -> str:
        """The feed's mode, as last told."""
        ...

    def reads(self, name: str) -> int:
        """How many times ``name`` (a view: a name or ``NAME@LABEL``) was read."""
        ...

    def arm_counts(self, name: str) -> dict[str, int]:
        """Serves of each experiment variant of ``name``."""
        ...

    def accept(self, name: str, token: int, entry: CacheEntry) -> None:
        """Keep a value read from Redis under ``token``."""
        ...

    def failed(self, exc: BaseException) -> None:
        """A read could not reach Redis."""
        ...

    def feed_changed(self, mode: FeedMode, reason: str) -> None:
        """The feed's mode (or reason) changed."""
        ...

    def server_back(self) -> None:
        """The server answers again (the feed resynced)."""
        ...

    def count_announce(self) -> None:
        """One announcement was sent."""
        ...

log = logging.getLogger("dynamic_prompt.live.client")

MIN_ANNOUNCE_GAP = 0.25
"""At most one announcement round this often, however fast prompts change."""



@dataclass(frozen=True, slots=True)
class _Refresh:
    """A re-read in flight: its outcome, when it began, the cache token it began under."""

    future: asyncio.Future[CacheEntry]
    started: float
    token: int


def _settle(target: concurrent.futures.Future[CacheEntry], source: asyncio.Future[CacheEntry]) -> None:
    """Copy a finished re-read's outcome to a reader thread's future."""
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif (exc := source.exception()) is not None:
        target.set_exception(exc)
    else:
        target.set_result(source.result())


class ClientEngine:
    """The background work of one client, on one event loop: feed, refresher, announcer."""

    def __init__(self, owner: EngineOwner, target: ServerTarget) -> None:
        self.owner = owner
        self.target = target
        self.client: aioredis.Redis = async_client(target, timeout=owner.timeout)
        # One immediate retry covers a pooled connection that died with a server restart;
        # a timeout is not retried (the server may be hung: a second wait doubles the read).
        self.client.set_retry(retry_policy(AsyncRetry, 1, backoff=False))
        self.feed = feed_for(target, names=(), **owner.feed_options)
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._poke = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._announced: dict[str, tuple[Any, ...]] = {}
        self._last_reads: dict[str, tuple[int, float]] = {}
        self._inflight: dict[str, _Refresh] = {}
        self._fetches: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Start the feed, the refresher and the announcer (on the running loop)."""
        for name in self.owner.cache.watched_names():
            self.watch(name)
        self._tasks = [
            asyncio.create_task(self.feed.run(self._on_event), name="dprompt-client-feed"),
            asyncio.create_task(self._refresher(), name="dprompt-client-refresher"),
        ]
        if self.owner.announce:
            self._tasks.append(asyncio.create_task(self._announcer(), name="dprompt-client-announcer"))

    def watch(self, key: str) -> None:
        """View ``key`` (a name or ``NAME@LABEL``) is read here now: poll its prompt and announce it."""
        assert self.feed.names is not None
        self.feed.names.add(views.split_view(key)[0])
        self._last_reads.setdefault(key, (0, time.monotonic()))
        self._poke.set()

    def poke(self) -> None:
        """Announce soon (something this agent serves changed)."""
        self._poke.set()

    # -- the feed ---------------------------------------------------------------------

    def _on_event(self, event: PromptEvent) -> None:
        owner, cache = self.owner, self.owner.cache
        if event.kind == EventKind.MODE:
            owner.feed_changed(FeedMode(event.mode) if event.mode else FeedMode.DISCONNECTED, self.feed.reason)
            self._poke.set()
        elif event.kind == EventKind.RESYNC:
            cache.resync()
            owner.server_back()
            self._dirty |= cache.watched_names()
            self._wake.set()
        elif event.name is not None:
            cache.invalidate(event.name)
            watched = cache.views_of(event.name)
            if watched:
                self._dirty |= watched
                self._wake.set()

    async def fetch(self, keys: list[str]) -> dict[str, CacheEntry]:
        """Each view's text and version, consistent per prompt (:mod:`dynamic_prompt.live.views`).

        One round trip of four reads per prompt (a MULTI on one server; on a cluster one
        small script per prompt, since one MULTI may not name two prompts' slots and is not
        redirected while a slot migrates), and one ``HMGET`` per prompt whose views need
        a kept version's text (a label, a rollout this agent is in, an experiment).
        """
        seqs = {key: self.owner.cache.next_seq() for key in keys}
        names = sorted({views.split_view(key)[0] for key in keys})
        layout = self.target.kind.layout
        if self.target.kind.sharded:
            replies = await asyncio.gather(*(self._read_one(name) for name in names))
            first = dict(zip(names, replies))
        else:
            async with self.client.pipeline(transaction=True) as pipe:
                for name in names:
                    views.queue_reads(pipe, layout, name)
                flat = await pipe.execute(raise_on_error=False)
            n = views.READS_PER_PROMPT
            first = {name: views.first_replies(flat[i * n:(i + 1) * n]) for i, name in enumerate(names)}
        plans = {key: views.plan(key, first[views.split_view(key)[0]], self.owner.agent_id) for key in keys}
        needed: dict[str, set[int]] = {}
        for p in plans.values():
            if p.needs():
                needed.setdefault(p.name, set()).update(p.needs())
        texts: dict[str, dict[int, views.Stored]] = {}
        if needed:
            order = sorted(needed)

            async def versions(name: str) -> dict[int, views.Stored]:
                wanted = sorted(needed[name])
                raw: list[Any] = await self.client.hmget(layout.keys_for(name).versions, views.version_fields(wanted))
                return views.version_replies(wanted, raw)

            for name, got in zip(order, await asyncio.gather(*(versions(name) for name in order))):
                texts[name] = got
        return {key: views.finish(p, texts.get(p.name, {}), seqs[key], self.owner.agent_id)
                for key, p in plans.items()}

    async def _read_one(self, name: str) -> list[Any]:
        layout = self.target.kind.layout
        return views.script_reply(await self.client.eval(views.VIEW_SCRIPT, 4, *views.script_keys(layout, name)))

    # -- re-reads: after events, and for bounded reads --------------------------------

    def refresh(self, name: str) -> tuple[asyncio.Future[CacheEntry], float]:
        """A re-read of ``name`` that began after its last invalidation, and when it began.

        An in-flight one is shared (the refresher's too), so however many readers
        ask, one request per prompt waits on a hung server; one that began before
        the latest event is not, since its answer may predate that event. The
        result is stored like any fetch; a failure marks the server down for
        ``retry_after``.
        """
        held = self._inflight.get(name)
        if held is None or held.token != self.owner.cache.token(name):
            self._launch([name])
            held = self._inflight[name]
        return held.future, held.started

    def refresh_into(self, name: str, target: concurrent.futures.Future[CacheEntry]) -> None:
        """:meth:`refresh`, its outcome copied to ``target`` (a reader thread waits on it)."""
        future, _ = self.refresh(name)
        future.add_done_callback(lambda f: _settle(target, f))

    def _launch(self, names: list[str]) -> asyncio.Task[None]:
        """One batched fetch of ``names``, each with a future readers may join."""
        loop = asyncio.get_running_loop()
        cache, now = self.owner.cache, time.monotonic()
        batch: dict[str, _Refresh] = {}
        for name in names:
            held = batch[name] = self._inflight[name] = _Refresh(loop.create_future(), now, cache.token(name))
            held.future.add_done_callback(functools.partial(self._refresh_done, name, held))
        task = asyncio.create_task(self._fetch_into(batch), name="dprompt-client-refresh")
        self._fetches.add(task)
        task.add_done_callback(self._fetches.discard)
        return task

    async def _fetch_into(self, batch: dict[str, _Refresh]) -> None:
        try:
            entries = await self.fetch(list(batch))
        except asyncio.CancelledError:
            for held in batch.values():
                held.future.cancel()
            raise
        except FAILURES as exc:
            log.debug("refresh failed: %s", exc)
            if isinstance(exc, UNREACHABLE):
                self.owner.failed(exc)
            for held in batch.values():
                if not held.future.done():
                    held.future.set_exception(exc)
            return
        for name, held in batch.items():
            self.owner.accept(name, held.token, entries[name])
            if not held.future.done():
                held.future.set_result(entries[name])

    def _refresh_done(self, name: str, held: _Refresh, _: asyncio.Future[CacheEntry]) -> None:
        if self._inflight.get(name) is held:
            del self._inflight[name]
        if not held.future.cancelled():
            held.future.exception()  # retrieved: readers that gave up waiting never will

    async def _refresher(self) -> None:
        """Re-read invalidated prompts, so the next read is a hit again."""
        cache = self.owner.cache
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            names = sorted(self._dirty)
            self._dirty.clear()
            if not names or not cache.live:
                continue
            # A re-read a reader already started since the event does the job.
            stale = [n for n in names if (h := self._inflight.get(n)) is None or h.token != cache.token(n)]
            if stale:
                await self._launch(stale)

    # -- the fleet announcements ------------------------------------------------------

    async def _announcer(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.owner.announce_interval
        next_due = 0.0
        while not self._closing:
            wait = next_due - loop.time()
            if wait > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._poke.wait(), wait)
            self._poke.clear()
            if self._closing:
                return
            now = loop.time()
            due = now >= next_due
            try:
                await self.announce_once(force=due)
                if due:
                    next_due = now + interval
            except FAILURES as exc:
                log.debug("announce failed: %s", exc)
                if due:
                    next_due = now + min(interval, 1.0)
            await asyncio.sleep(MIN_ANNOUNCE_GAP)

    async def announce_once(self, *, force: bool) -> int:
        """Announce every prompt whose served text changed (all of them if ``force``).

        One announcement per prompt: what its production view serves (and why: a
        rollout, an experiment's variant counts), else the first label it is read at.
        """
        owner, cache = self.owner, self.owner.cache
        with cache.lock:
            keys = sorted(cache.watched)
            served = {k: cache.fresh.get(k) or cache.armed.get(k) or cache.last_good.get(k) for k in keys}
        by_prompt: dict[str, list[str]] = {}
        for key in keys:
            by_prompt.setdefault(views.split_view(key)[0], []).append(key)
        names = sorted(by_prompt)
        now = time.monotonic()
        batch: list[tuple[str, tuple[Any, ...], str, int]] = []
        for name in names:
            # The production view (the name itself) sorts first among a prompt's views.
            entry = next((e for k in by_prompt[name] if (e := served[k]) is not None), None)
            if entry is None:
                continue  # never read successfully: nothing to say yet
            counts = owner.arm_counts(name) if entry.arms else {}
            snapshot = (entry.version, entry.content_hash, entry.label, entry.served, owner.stale, owner.feed_mode)
            if not force and self._announced.get(name) == snapshot:
                continue
            reads = sum(owner.reads(k) for k in by_prompt[name])
            before, since = self._last_reads.get(name, (0, now))
            rate = (reads - before) / max(now - since, 1e-3)
            payload = announcement(
                agent_id=owner.agent_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                prompt=name,
                prompts=names,
                version=entry.version,
                content_hash=entry.content_hash,
                reads_per_s=rate,
                interval=owner.announce_interval,
                mode=owner.feed_mode,
                stale=owner.stale,
                label=entry.label,
                served=entry.served,
                variants=counts,
            )
            batch.append((name, snapshot, payload, reads))
        if not batch:
            return 0
        async with self.client.pipeline(transaction=False) as pipe:
            for name, _, payload, _ in batch:
                # EVAL, not a registered script's EVALSHA: redis-py's cluster pipeline refuses
                # EVALSHA, and the server caches an EVAL'd script by its hash all the same.
                pipe.eval(ANNOUNCE_SCRIPT, 1, keymod.agents_key(name), owner.agent_id, payload,
                          repr(KEEP_GONE_SECONDS))
            # The fleet view lists prompts from this set, not by scanning for agents' keys.
            pipe.sadd(keymod.FLEET_INDEX_KEY, *(name for name, _, _, _ in batch))
            await pipe.execute()
        for name, snapshot, _, reads in batch:
            self._announced[name] = snapshot
            self._last_reads[name] = (reads, now)
        for _ in batch:
            owner.count_announce()
        return len(batch)

    # -- shutdown ---------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop every task, take this agent out of the fleet view, close connections."""
        self._closing = True
        self.feed.stop()
        self._wake.set()
        self._poke.set()
        pending = set(self._tasks) | self._fetches
        # Cancel until every task is done: on Python < 3.12 a wait_for that times out
        # just as it is cancelled can swallow the cancellation, so once is not enough.
        for _ in range(100):
            if not pending:
                break
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.05)
        self._tasks = []
        if self._announced:
            # A clean exit is not "gone": remove our entries (best effort, briefly).
            with contextlib.suppress(Exception):
                async with self.client.pipeline(transaction=False) as pipe:
                    for name in self._announced:
                        pipe.hdel(keymod.agents_key(name), self.owner.agent_id)
                    await asyncio.wait_for(pipe.execute(), 1.0)
        with contextlib.suppress(Exception):
            await self.client.aclose()
