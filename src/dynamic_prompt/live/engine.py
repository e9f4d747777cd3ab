"""The background work of one agents' client: change feed, refresher, fleet announcer.

:class:`ClientEngine` runs on one event loop (the client's own thread for
:class:`~dynamic_prompt.live.client.PromptClient`, the caller's loop for
:class:`~dynamic_prompt.live.client.AsyncPromptClient`). It turns feed events into
cache invalidations, re-reads invalidated prompts so the next read is a hit
again, and announces what this agent serves to the fleet view. The state rules
live in :mod:`dynamic_prompt.live.cache`; the read path in :mod:`dynamic_prompt.live.client`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis import exceptions as rexc
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff

from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core.models import PromptEvent
from dynamic_prompt.live.cache import CacheEntry
from dynamic_prompt.live.feed import MODE_DISCONNECTED, ChangeFeed
from dynamic_prompt.server import ServerTarget, async_client
from dynamic_prompt.store.fleet import ANNOUNCE_SCRIPT, KEEP_GONE_SECONDS, announcement

if TYPE_CHECKING:
    from dynamic_prompt.live.client import ClientBase

log = logging.getLogger("dynamic_prompt.live.client")

MIN_ANNOUNCE_GAP = 0.25
"""At most one announcement round this often, however fast prompts change."""

UNREACHABLE = (rexc.ConnectionError, rexc.TimeoutError, OSError, asyncio.TimeoutError)
"""What a read or a background call raises when the server cannot be reached."""


def cache_entry(raw: bytes | None, version: bytes | None, seq: int) -> CacheEntry:
    """A cache entry from a GET and an HGET reply."""
    try:
        number = int(version or 0)
    except ValueError:
        number = 0
    if raw is None:
        return CacheEntry(None, number, "", seq)
    # Hash the raw bytes, as the server's sha1hex does: text from other programs may not be UTF-8.
    return CacheEntry(raw.decode("utf-8", "replace"), number, hashlib.sha1(raw).hexdigest(), seq)


class ClientEngine:
    """The background work of one client, on one event loop: feed, refresher, announcer."""

    def __init__(self, owner: ClientBase, target: ServerTarget) -> None:
        self.owner = owner
        self.target = target
        self.client: aioredis.Redis = async_client(target, timeout=owner.timeout)
        # One quick retry covers a pooled connection that died with a server restart.
        self.client.set_retry(AsyncRetry(NoBackoff(), 1))
        self.feed = ChangeFeed(target, names=(), **owner.feed_options)
        self._announce_script = self.client.register_script(ANNOUNCE_SCRIPT)
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._poke = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._announced: dict[str, tuple[Any, ...]] = {}
        self._last_reads: dict[str, tuple[int, float]] = {}

    def start(self) -> None:
        """Start the feed, the refresher and the announcer (on the running loop)."""
        for name in self.owner._cache.watched_names():
            self.watch(name)
        self._tasks = [
            asyncio.create_task(self.feed.run(self._on_event), name="dprompt-client-feed"),
            asyncio.create_task(self._refresher(), name="dprompt-client-refresher"),
        ]
        if self.owner.announce:
            self._tasks.append(asyncio.create_task(self._announcer(), name="dprompt-client-announcer"))

    def watch(self, name: str) -> None:
        """``name`` is read here now: poll it (in polling modes) and announce it."""
        assert self.feed.names is not None
        self.feed.names.add(name)
        self._last_reads.setdefault(name, (0, time.monotonic()))
        self._poke.set()

    def poke(self) -> None:
        """Announce soon (something this agent serves changed)."""
        self._poke.set()

    # -- the feed ---------------------------------------------------------------------

    def _on_event(self, event: PromptEvent) -> None:
        owner, cache = self.owner, self.owner._cache
        if event.kind == "mode":
            owner.feed_mode = event.mode or MODE_DISCONNECTED
            if owner.feed_mode == MODE_DISCONNECTED:
                # Events may be missed from now on: stop serving from memory.
                cache.go_offline()
            self._poke.set()
        elif event.kind == "resync":
            cache.resync()
            owner._down_until = 0.0  # the server answers again
            self._dirty |= cache.watched_names()
            self._wake.set()
        elif event.name is not None:
            cache.invalidate(event.name)
            if event.name in cache.watched:
                self._dirty.add(event.name)
                self._wake.set()

    async def fetch(self, names: list[str]) -> dict[str, CacheEntry]:
        """Each prompt's text and version, consistent per prompt (one MULTI, one round trip)."""
        seqs = [self.owner._cache.next_seq() for _ in names]
        async with self.client.pipeline(transaction=True) as pipe:
            for name in names:
                k = keymod.keys_for(name)
                pipe.get(k.active)
                pipe.hget(k.meta, "version")
            replies = await pipe.execute()
        return {
            name: cache_entry(replies[2 * i], replies[2 * i + 1], seqs[i]) for i, name in enumerate(names)
        }

    async def _refresher(self) -> None:
        """Re-read invalidated prompts, so the next read is a hit again."""
        cache = self.owner._cache
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            names = sorted(self._dirty)
            self._dirty.clear()
            if not names or not cache.live:
                continue
            tokens = {name: cache.token(name) for name in names}
            try:
                entries = await self.fetch(names)
            except (*UNREACHABLE, rexc.RedisError) as exc:
                # The feed notices a dead server; readers fetch for themselves meanwhile.
                log.debug("refresh failed: %s", exc)
                continue
            for name in names:
                self.owner._accept(name, tokens[name], entries[name])

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
            except (*UNREACHABLE, rexc.RedisError) as exc:
                log.debug("announce failed: %s", exc)
                if due:
                    next_due = now + min(interval, 1.0)
            await asyncio.sleep(MIN_ANNOUNCE_GAP)

    async def announce_once(self, *, force: bool) -> int:
        """Announce every prompt whose served text changed (all of them if ``force``)."""
        owner, cache = self.owner, self.owner._cache
        with cache.lock:
            names = sorted(cache.watched)
            served = {n: cache.fresh.get(n) or cache.last_good.get(n) for n in names}
        now = time.monotonic()
        batch: list[tuple[str, tuple[Any, ...], str, int]] = []
        for name in names:
            entry = served[name]
            if entry is None:
                continue  # never read successfully: nothing to say yet
            snapshot = (entry.version, entry.content_hash, owner.stale, owner.feed_mode)
            if not force and self._announced.get(name) == snapshot:
                continue
            reads = owner.reads(name)
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
            )
            batch.append((name, snapshot, payload, reads))
        if not batch:
            return 0
        async with self.client.pipeline(transaction=False) as pipe:
            for name, _, payload, _ in batch:
                await self._announce_script(
                    keys=[keymod.agents_key(name)],
                    args=[owner.agent_id, payload, repr(KEEP_GONE_SECONDS)],
                    client=pipe,
                )
            await pipe.execute()
        for name, snapshot, _, reads in batch:
            self._announced[name] = snapshot
            self._last_reads[name] = (reads, now)
        for _ in batch:
            next(owner._announces)
        return len(batch)

    # -- shutdown ---------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop every task, take this agent out of the fleet view, close connections."""
        self._closing = True
        self.feed.stop()
        self._wake.set()
        self._poke.set()
        pending = set(self._tasks)
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
