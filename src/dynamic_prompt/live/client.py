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
* Bounded reads: once a prompt has a last known good text, a read that misses
  memory waits at most ``read_budget`` (50 ms) for Redis. A hung server or a
  partitioned link costs one background re-read per prompt (on the engine's
  loop), not every read a socket timeout; reads serve the last known good text,
  flagged stale, until it lands, and after a failure do not retry the server
  for ``retry_after`` seconds. A first read (nothing to serve yet) and a strict
  read still wait up to ``timeout``.

Staleness bounds worth knowing: with keyspace notifications, tracking or the
change channel, a change is seen one push later (sub-millisecond on loopback);
a write made outside this tool while both CONFIG and CLIENT TRACKING are
refused is found by the poll (``poll_interval``); flags another program
cleared are noticed at the feed's next ping (``ping_interval``), a link that
dies silently by its watchdog (``ping_timeout``): meanwhile memory may still
serve the old text.

Each client also announces itself to the fleet view (:mod:`dynamic_prompt.store.fleet`).
The background work (feed, refresher, announcer) is :mod:`dynamic_prompt.live.engine`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import logging
import os
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import redis
from redis import exceptions as rexc
from redis.retry import Retry

from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core import labels as lab
from dynamic_prompt.core.errors import DynamicPromptError, PromptNotFoundError
from dynamic_prompt.live import views
from dynamic_prompt.live.async_client import AsyncPromptClient
from dynamic_prompt.live.cache import CacheEntry
from dynamic_prompt.live.client_base import (
    DEFAULT_ANNOUNCE_INTERVAL,
    DEFAULT_FEED_OPTIONS,
    DEFAULT_READ_BUDGET,
    ClientBase,
    ClientStats,
    Read,
    default_agent_id,
)
from dynamic_prompt.live.engine import UNREACHABLE, ClientEngine
from dynamic_prompt.live.feed import FeedMode
from dynamic_prompt.live.loop_thread import LoopThread
from dynamic_prompt.server import sync_client
from dynamic_prompt.server.errors import FAILURES, library_error
from dynamic_prompt.server.kinds import index_names
from dynamic_prompt.server.target import retry_policy
from dynamic_prompt.store.fleet import AgentInfo
from dynamic_prompt.store.fleet import fleet as fleet_sync

log = logging.getLogger(__name__)

# -- the synchronous client -------------------------------------------------------------

if TYPE_CHECKING:
    from dynamic_prompt.core.templates import Renderer

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
            of serving last known good text while Redis is unreachable (strict reads
            wait up to ``timeout``).
        agent_id: how this process appears in the fleet view (default ``host:pid``).
        announce: announce this agent to the fleet view.
        announce_interval: seconds between fleet heartbeats.
        timeout: socket timeout of reads, in seconds.
        retry_after: after a failed read, serve last known good this long before
            trying the server again.
        read_budget: seconds a read that has a last known good text waits for
            Redis (default 0.05); past it the text is served stale while one
            background re-read per prompt goes on.
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
        self._pending: dict[str, tuple[concurrent.futures.Future[CacheEntry], float, int]] = {}
        self._pending_lock = threading.Lock()
        self._renderer: Renderer | None = None
        """Renders templates and their includes from memory (made on the first render)."""
        _SYNC_CLIENTS.add(self)

    # -- reads ------------------------------------------------------------------------

    # Not keyword-only: CPython fills keyword-only defaults one by one on every call, which
    # cost production's plain read 15-20 ns (of ~110); pass them by keyword all the same.
    def get_active(self, name: str = keymod.DEFAULT_NAME, label: str | None = None, key: str | None = None,
                   strict: bool | None = None) -> str | None:
        """The text of ``name`` this agent serves (``None`` if it has none), from memory when possible.

        Pass ``label``, ``key`` and ``strict`` by keyword.

        ``label``: read another label than ``production`` (``staging``, ``latest``, ...);
        an unknown label reads as ``None``, like an unknown prompt. At ``production`` a
        staged rollout this agent is in serves the rolled-out version, and a running
        experiment the variant ``key`` (a user or session id; default this agent's id)
        gets: the same variant for the same key in every process.

        Never older than the last change event this process received. While
        Redis is unreachable, returns the last known good text (see :attr:`stale`)
        unless ``strict`` (default: the client's) is true, which raises
        :class:`~dynamic_prompt.core.errors.ConnectionFailedError`.
        """
        # Production's plain hit, as before labels: one lookup and a return. Everything else
        # (a label, an experiment's variant, a miss) takes the next call.
        if label is None:
            entry = self._fresh.get(name)
            if entry is not None:
                next(self._reads[name])
                return entry.text
        return self._text_other(name, label, key, strict)

    def _text_other(self, name: str, label: str | None, key: str | None, strict: bool | None) -> str | None:
        """:meth:`get_active` beyond production's plain hit: no :class:`Read` is built for a memory hit."""
        view = self._memory_view(name, label)
        entry = self._fresh.get(view)
        if entry is not None:
            next(self._reads[view])
            return entry.text
        entry = self.cache.armed.get(view)
        if entry is not None:
            next(self._reads[view])
            return self._pick(name, entry, key).text
        return self._read_slow(name, label, key, strict).text

    def read(self, name: str = keymod.DEFAULT_NAME, *, label: str | None = None, key: str | None = None,
             strict: bool | None = None) -> Read:
        """Like :meth:`get_active`, with the version, the label, why (rollout, variant) and staleness."""
        return self._read_other(name, label, key, strict)

    def _read_other(self, name: str, label: str | None, key: str | None, strict: bool | None) -> Read:
        """A read that is not production's plain memory hit: another label, an experiment, or Redis."""
        view = self._memory_view(name, label)
        entry = self._fresh.get(view) or self.cache.armed.get(view)
        if entry is not None:
            next(self._reads[view])
            return self._read_of(view, entry, key)
        return self._read_slow(name, label, key, strict)

    def render(self, name: str, variables: Mapping[str, Any] | None = None, /, *, label: str | None = None,
               key: str | None = None, lenient: bool = False, **more: Any) -> str:
        """The prompt ``name`` (at ``label``; an experiment's variant for ``key``) with variables filled in.

        ``render("support", user="Ada", tier="gold")``, or a mapping for names that are also
        options here (``render("support", {"label": "x"})``). The text comes from memory like
        :meth:`get_active`; its parsed template is kept per text, so a render costs the fill
        alone until the prompt changes (any change, by push). A prompt without template
        syntax comes back as it is. A variable the template reads and was not given is a
        :class:`~dynamic_prompt.core.templates.TemplateError` naming it (``lenient=True``:
        empty); one given and never read is not an error.
        """
        text = self.get_active(name, label, key)
        if text is None:
            at = f" at label {label!r}" if label else ""
            raise PromptNotFoundError(f"There is no prompt named {name!r}{at} to render.")
        renderer = self._renderer
        if renderer is None:
            from dynamic_prompt.core.templates import Renderer  # jinja2 loads on the first render only

            renderer = self._renderer = Renderer(self._part)
            # A changed part arrives by push on the feed's thread: compile it there, before the
            # agent's next render meets it (a view's key, NAME or NAME@LABEL, is the part's ref).
            self.on_new_text = self._warm
        ref = name if label is None or label == "production" else f"{name}@{label}"
        return renderer.render(ref, {**(variables or {}), **more}, strict=not lenient, text=text).text

    def _warm(self, view: str, text: str) -> None:
        renderer = self._renderer
        if renderer is not None:
            try:
                renderer.warm(view, text)
            except Exception:  # noqa: BLE001 - compiling ahead is an optimisation: never the feed's end
                log.debug("compiling %s ahead failed", view, exc_info=True)

    def _part(self, ref: str) -> str | None:
        """An included part's text: from memory (production or a label), or a kept version (read once)."""
        from dynamic_prompt.core.includes import parse_ref

        part = parse_ref(ref)
        if part.version is None:
            return self.get_active(part.name, None if part.label == "production" else part.label)
        held = self._versions.get((part.name, part.version))
        if held is None:
            sync = self._sync
            if sync is None:
                return None
            raw = sync.hget(self.target.kind.layout.keys_for(part.name).versions, str(part.version))
            held = self._keep_pinned(ref, part.name, part.version, raw)
        return held

    def at(self, label: str) -> LabelReader:
        """A reader bound to ``label``: ``client.at("staging").get_active("support")``.

        The same reads as ``get_active(name, label=...)``, as cheap as a read of
        production (one dict lookup by name): for agents that serve a label on every call.
        """
        lab.validate_label(label)
        return LabelReader(self, label)

    def snapshot(self, label: str | None = None, names: Sequence[str] | None = None) -> dict[str, Read]:
        """Every prompt (or ``names``) at ``label``, read in one batch and kept in memory.

        For agents that pre-fetch at start: afterwards each of them is a memory read,
        kept current by push like any other. Prompts without text (or without that
        label) are left out.
        """
        self._ensure_started()
        runner, engine, sync = self._runner, self._engine, self._sync
        if runner is None or engine is None or sync is None:
            raise DynamicPromptError("This PromptClient is closed.")
        if names is None:
            try:
                names = sorted(runner.run(index_names(engine.client, self.target.kind.layout), self.timeout * 2))
            except rexc.RedisError as exc:
                raise library_error(exc, f"the Redis server at {self.target.display}") from None
        keys = [self._checked_view(name, label) for name in names]
        for key in keys:
            self._reads.setdefault(key, itertools.count())
            if self.cache.watch(key):
                self._call_in_loop(lambda e, key=key: e.watch(key))
        tokens = {key: self.cache.token(key) for key in keys}
        try:
            entries = runner.run(engine.fetch(keys), self.timeout * 2) if keys else {}
        except rexc.RedisError as exc:
            raise library_error(exc, f"the Redis server at {self.target.display}") from None
        out: dict[str, Read] = {}
        for key, entry in entries.items():
            self.accept(key, tokens[key], entry)
            if entry.text is not None:
                out[views.split_view(key)[0]] = self._read_of(key, entry, None, False, "redis")
        return out

    def _read_slow(self, name: str, label: str | None, key: str | None, strict: bool | None) -> Read:
        view = self._checked_view(name, label)
        self._ensure_started()
        self._reads.setdefault(view, itertools.count())  # before any entry exists: hits count here
        if self.cache.watch(view):
            self._call_in_loop(lambda e: e.watch(view))
        strict, good = self._before_fetch(view, strict)
        if good is not None:
            return self._read_bounded(view, key)
        if time.monotonic() < self._down_until:
            return self._fallback(view, strict, None, key)
        token = self.cache.token(view)
        seq = self.cache.next_seq()
        sync = self._sync
        try:
            if sync is None:
                raise DynamicPromptError("This PromptClient is closed.")
            entry = views.read_sync(sync, self.target.kind.layout, self.target.kind.sharded, view, self.agent_id, seq)
        except UNREACHABLE as exc:
            self.failed(exc)
            return self._fallback(view, strict, exc, key)
        except rexc.RedisError as exc:
            raise library_error(exc, f"the Redis server at {self.target.display}") from None
        self.accept(view, token, entry)
        return self._read_of(view, entry, key, False, "redis")

    def _read_bounded(self, name: str, key: str | None = None) -> Read:
        """Redis' answer within ``read_budget``, else last known good (stale) while it comes."""
        if time.monotonic() < self._down_until:
            return self._refreshed(name, None, key=key)
        future, started = self._background_refresh(name)
        try:
            return self._refreshed(name, future.result(self._budget_left(started)), key=key)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            return self._refreshed(name, None, key=key)
        except FAILURES as exc:
            return self._refreshed(name, None, exc, key)

    def _background_refresh(self, name: str) -> tuple[concurrent.futures.Future[CacheEntry], float]:
        """The pending re-read of ``name`` on the engine's loop, and when it was asked for.

        Asked for now if none is pending, or if the pending one was asked for
        before the latest event for ``name`` (its answer may predate the event).
        """
        token = self.cache.token(name)
        with self._pending_lock:
            held = self._pending.get(name)
            if held is not None and not held[0].done() and held[2] == token:
                return held[0], held[1]
            future: concurrent.futures.Future[CacheEntry] = concurrent.futures.Future()
            started = time.monotonic()
            self._pending[name] = (future, started, token)
        self._call_in_loop(lambda e: e.refresh_into(name, future))
        return future, started

    def fleet(self, name: str = keymod.DEFAULT_NAME) -> list[AgentInfo]:
        """The agents reading ``name`` (this one included), marked behind / gone."""
        self._ensure_started()
        assert self._sync is not None
        return fleet_sync(self._sync, name, layout=self.target.kind.layout)

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
            sync.set_retry(retry_policy(Retry, 1, backoff=False))  # connection errors only, at once
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
        self.cache.go_offline()
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
        self._pending_lock = threading.Lock()
        self._pending = {}  # the parent's loop would settle these, and it is not here
        self.cache.after_fork()
        self.feed_mode = FeedMode.DISCONNECTED
        if self._default_id:
            self.agent_id = default_agent_id()

    def __enter__(self) -> PromptClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



class LabelReader:
    """:meth:`PromptClient.get_active` and :meth:`~PromptClient.read` at one label (see :meth:`PromptClient.at`)."""

    def __init__(self, client: PromptClient, label: str) -> None:
        self.client = client
        self.label = label
        self._fresh = client.cache.at(label) if label != lab.PRODUCTION else client.cache.fresh
        self._counters: dict[str, itertools.count[int]] = {}

    def get_active(self, name: str = keymod.DEFAULT_NAME) -> str | None:
        """The text ``name``'s label points at (``None``: no such prompt or label), from memory when possible."""
        entry = self._fresh.get(name)
        counter = self._counters.get(name)
        if entry is not None and counter is not None:
            next(counter)
            return entry.text if not entry.arms else self.client._pick(name, entry, None).text
        return self.read(name).text

    def read(self, name: str = keymod.DEFAULT_NAME) -> Read:
        """Like :meth:`get_active`, with the version, the label and whether the text is stale."""
        result = self.client.read(name, label=self.label)
        view = views.view_key(name, self.label)
        if name not in self._counters and view in self.client._reads:
            self._counters[name] = self.client._reads[view]  # the client's own count of this view
        return result


__all__ = ["DEFAULT_ANNOUNCE_INTERVAL", "DEFAULT_FEED_OPTIONS", "DEFAULT_READ_BUDGET", "AsyncPromptClient",
           "ClientStats", "LabelReader", "PromptClient", "Read"]
