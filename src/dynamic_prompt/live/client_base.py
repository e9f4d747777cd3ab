"""What both agents' clients share: options, the near cache, counters, the fallback rules.

:class:`ClientBase` is the state of one client and the rules of its slow path (a
miss, a bounded read, serving last known good); :class:`~dynamic_prompt.live.client.PromptClient`
and :class:`~dynamic_prompt.live.async_client.AsyncPromptClient` add how they reach
Redis. It is also the engine's :class:`~dynamic_prompt.live.engine.EngineOwner`:
everything the background work tells the client goes through the methods at its end.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import time
from bisect import bisect_right as _bisect
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from zlib import crc32 as _crc32

from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core import labels as lab
from dynamic_prompt.core.config import Settings, load_settings
from dynamic_prompt.core.errors import ConfigError, ConnectionFailedError
from dynamic_prompt.live import views
from dynamic_prompt.live.cache import EMPTY_CONFIG, CacheEntry, NearCache
from dynamic_prompt.live.engine import UNREACHABLE
from dynamic_prompt.live.feed import FeedMode
from dynamic_prompt.server import ServerTarget, resolve
from dynamic_prompt.server.errors import library_error

log = logging.getLogger("dynamic_prompt.live.client")

DEFAULT_ANNOUNCE_INTERVAL = 5.0
"""Seconds between fleet heartbeats (a change is announced at once, rate-limited)."""

DEFAULT_FEED_OPTIONS: Mapping[str, float] = {"ping_interval": 0.5, "ping_timeout": 2.0, "poll_interval": 0.5}
"""Agents want a dead link noticed sooner than the dashboard does."""

DEFAULT_READ_BUDGET = 0.05
"""Seconds a read with a last known good text may wait for Redis before serving it stale."""


@dataclass(frozen=True, slots=True)
class Read:
    """One read of a prompt, with where it came from.

    Attributes:
        name: the prompt.
        text: its active text, or ``None`` when it has none.
        version: the version of that text (0 when unknown).
        stale: True when Redis could not be reached and this is the last known good text.
        source: ``memory`` (the near cache), ``redis`` (read now) or ``last-known-good``.
        label: the label it was read at (``production`` unless one was asked for).
        served: why this text, when it is not the label's own: ``rollout 40%`` (this
            agent is in a staged rollout), ``experiment b`` (the variant the caller's key
            got), ``label staging``; "" for production's text.
        config: the served version's config (model, temperature, tools: whatever was set
            with ``dprompt config``), read-only; empty when none was set.
    """

    name: str
    text: str | None
    version: int
    stale: bool = False
    source: str = "memory"
    label: str = "production"
    served: str = ""
    config: Mapping[str, Any] = field(default_factory=lambda: EMPTY_CONFIG)


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
    feed_reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _value(counter: itertools.count[int]) -> int:
    """How many times ``next`` was called on ``counter`` (its repr is ``count(N)``)."""
    return int(repr(counter)[6:-1])


def default_agent_id() -> str:
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
        read_budget: float = DEFAULT_READ_BUDGET,
        feed_options: Mapping[str, float] | None = None,
    ) -> None:
        if not isinstance(read_budget, (int, float)) or isinstance(read_budget, bool) or read_budget < 0:
            raise ConfigError("read_budget must be a number of seconds, 0 or more.")
        if target is None:
            settings = settings or load_settings()
            if redis_url:
                settings = settings.with_url(redis_url, "argument")
        self._settings = settings
        self._target = target
        self.strict = strict
        self._default_id = agent_id is None
        self.agent_id = agent_id or default_agent_id()
        self.announce = announce
        self.announce_interval = float(announce_interval)
        self.timeout = timeout
        self.retry_after = retry_after
        self.read_budget = float(read_budget)
        self.feed_options = {**DEFAULT_FEED_OPTIONS, **(feed_options or {})}
        self.cache = NearCache()
        # The hot path reads this dict directly; NearCache never rebinds it.
        self._fresh = self.cache.fresh
        # Counters are itertools.count objects: next() on one is a single C call, so it
        # is atomic under the GIL and the cheapest exact counter a hot path can bump.
        self._reads: dict[str, itertools.count[int]] = {}
        """Reads per view (a prompt's name, or ``NAME@LABEL``)."""
        self._arm_reads: dict[str, dict[str, itertools.count[int]]] = {}
        """Serves per experiment variant, per prompt (announced to the fleet view)."""
        self._misses = itertools.count()
        self._stale_serves = itertools.count()
        self._direct_reads = itertools.count()
        self._announces = itertools.count()
        self.stale = False
        """True while the last read served last known good text because Redis was unreachable."""
        self.on_new_text: Callable[[str, str], None] | None = None
        """Called (on the feed's thread) with a view's key and its new text when a change arrives:
        the renderer compiles a changed part then, between the agent's calls."""
        self.feed_mode: str = FeedMode.DISCONNECTED
        """The change feed's mode: notifications / tracking / channel / polling / disconnected."""
        self.feed_reason = ""
        """Why the feed is in that mode, or what it last repaired (e.g. flags another client cleared)."""
        self._down_until = 0.0
        self._closed = False
        self._versions: dict[tuple[str, int], str] = {}
        """Kept versions an include pins by number (``NAME@vN``): a version never changes once written."""

    def _keep_pinned(self, ref: str, name: str, version: int, raw: bytes | str | None) -> str:
        """Remember a pinned version's text read from Redis, or refuse the include if it is not kept whole."""
        if raw is None:
            from dynamic_prompt.core.includes import TemplateError

            raise TemplateError(f"The include {ref!r} names a version that is not kept whole; pin it with a "
                                f"label instead (dprompt label set {name} NAME v{version}).")
        held = self._versions[(name, version)] = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        return held

    @property
    def target(self) -> ServerTarget:
        """The server (resolving it may start the shared embedded server)."""
        if self._target is None:
            self._target = resolve(self._settings)
        return self._target

    def reads(self, name: str) -> int:
        """How many times ``name`` (or a view ``NAME@LABEL``) was read through this client."""
        counter = self._reads.get(name)
        return _value(counter) if counter is not None else 0

    def arm_counts(self, name: str) -> dict[str, int]:
        """Serves of each experiment variant of ``name`` so far."""
        return {arm: _value(c) for arm, c in list(self._arm_reads.get(name, {}).items())}

    @staticmethod
    def _memory_view(name: str, label: str | None) -> str:
        """The cache key a read of ``name`` at ``label`` looks up (unchecked: a miss checks)."""
        return name if label is None or label == lab.PRODUCTION else name + views.SEP + label

    @staticmethod
    def _checked_view(name: str, label: str | None) -> str:
        """The view key of ``name`` at ``label``, both checked (the slow path: once per view)."""
        keymod.validate_name(name)
        if label is not None:
            lab.validate_label(label)
        return views.view_key(name, label)

    def _pick(self, name: str, entry: CacheEntry, key: str | None) -> CacheEntry:
        """What one caller gets: an experiment's variant for ``key`` (default: this agent), counted.

        :func:`dynamic_prompt.live.views.pick` inlined (every call of a read's hot path
        costs about 60 ns); a test keeps the two equal to ``Experiment.choose``.
        """
        caller = self.agent_id if key is None else key if type(key) is str else str(key)
        crc = _crc32(caller.encode("utf-8", "surrogatepass"), entry.seed)
        arm = entry.arms[_bisect(entry.bounds, crc % lab.BUCKETS)]
        counters = self._arm_reads.get(name)
        if counters is None:
            counters = self._arm_reads.setdefault(name, {})
        counter = counters.get(arm.name)
        if counter is None:
            counter = counters.setdefault(arm.name, itertools.count())
        next(counter)
        return arm.entry

    def _read_of(self, view: str, entry: CacheEntry, key: str | None, stale: bool = False,
                 source: str = "memory") -> Read:
        """A :class:`Read` of ``entry`` (read as view ``view``) for caller ``key``."""
        name = views.split_view(view)[0]
        if entry.arms:
            entry = self._pick(name, entry, key)
        return Read(name, entry.text, entry.version, stale, source, entry.label, entry.served, entry.config)

    def stats(self) -> ClientStats:
        """The counters: hits, misses, invalidations, stale serves, feed mode, hit ratio, ..."""
        misses = _value(self._misses)
        hits = sum(_value(c) for c in list(self._reads.values())) - misses
        return ClientStats(
            hits=hits,
            misses=misses,
            invalidations=self.cache.invalidations,
            stale_serves=_value(self._stale_serves),
            direct_reads=_value(self._direct_reads),
            resyncs=self.cache.resyncs,
            announces=_value(self._announces),
            feed_mode=self.feed_mode,
            hit_ratio=hits / (hits + misses) if hits + misses else 0.0,
            feed_reason=self.feed_reason,
        )

    # -- shared pieces of the slow path -----------------------------------------------

    def _before_fetch(self, name: str, strict: bool | None) -> tuple[bool, CacheEntry | None]:
        """Count a miss; the resolved ``strict``, and the text a bounded read may fall back on.

        ``None`` when there is none or ``strict`` forbids serving it: then the
        read waits for Redis up to ``timeout``, as a first read must.
        """
        next(self._misses)
        next(self._reads[name])
        strict = self.strict if strict is None else strict
        return strict, None if strict else self.cache.last_good.get(name)

    def accept(self, name: str, token: int, entry: CacheEntry) -> None:
        """Keep a value read from Redis; announce at once if the text served changed."""
        before = self.cache.last_good.get(name)
        self.cache.store(name, token, entry)
        if not self.cache.live:
            next(self._direct_reads)
        self.stale = False
        if before is None or (before.content_hash, before.version) != (entry.content_hash, entry.version):
            self._announce_soon()
            warm = self.on_new_text
            if warm is not None and before is not None and entry.text is not None:
                warm(name, entry.text)

    def _announce_soon(self) -> None:
        raise NotImplementedError

    # -- what the engine tells the client (its EngineOwner interface) -------------------

    def feed_changed(self, mode: FeedMode, reason: str) -> None:
        """The feed's mode changed; while it is down, events may be missed: nothing from memory."""
        self.feed_mode, self.feed_reason = mode, reason
        if mode == FeedMode.DISCONNECTED:
            self.cache.go_offline()

    def server_back(self) -> None:
        """The feed resynced: the server answers again, reads may try it at once."""
        self._down_until = 0.0

    def count_announce(self) -> None:
        """One announcement was sent (``stats().announces``)."""
        next(self._announces)

    def _fallback(self, name: str, strict: bool, exc: BaseException | None, key: str | None = None) -> Read:
        """Redis is unreachable: the last known good text of view ``name``, flagged stale (or raise)."""
        where = f"the Redis server at {self.target.display}"
        reason = f": {str(exc).splitlines()[0]}" if exc is not None and str(exc) else ""
        if strict:
            raise ConnectionFailedError(f"Cannot reach {where}{reason}.")
        good = self.cache.last_good.get(name)
        if good is None:
            raise ConnectionFailedError(
                f"Cannot reach {where}{reason}, and prompt {views.split_view(name)[0]!r} was never read before."
            )
        next(self._stale_serves)
        self.stale = True
        return self._read_of(name, good, key, True, "last-known-good")

    def _budget_left(self, started: float) -> float:
        """Seconds a bounded read may still wait on a re-read begun at ``started``.

        0 when the re-read is older than the budget: a hung server costs the
        first read its budget, not every read.
        """
        return max(0.0, started + self.read_budget - time.monotonic())

    def _refreshed(self, name: str, entry: CacheEntry | None, exc: BaseException | None = None,
                   key: str | None = None) -> Read:
        """A bounded read's answer: the re-read's text, else last known good flagged stale."""
        if entry is not None:
            return self._read_of(name, entry, key, False, "redis")
        if exc is not None and not isinstance(exc, UNREACHABLE):
            raise library_error(exc, f"the Redis server at {self.target.display}") from None
        return self._fallback(name, False, exc, key)

    def failed(self, exc: BaseException) -> None:
        """A read could not reach Redis: reads serve last known good for a while."""
        log.debug("prompt read failed: %s", exc)
        self._down_until = time.monotonic() + self.retry_after
