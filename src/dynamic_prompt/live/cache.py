"""The near cache's state, with no IO: what agents read from process memory.

:class:`NearCache` holds the text of each prompt a process reads, plus the
bookkeeping that keeps it honest. The change feed lives in
:mod:`dynamic_prompt.live.feed`, the fetchers in :mod:`dynamic_prompt.live.engine`
and the readers in :mod:`dynamic_prompt.live.client`; this module only decides what
may be stored and what may be served, so its rules can be tested without a server.

The rules:

* A value read from Redis is stored only if no event for its prompt (and no
  resync) arrived since the read began. Every fetch starts by taking a
  :meth:`NearCache.token`; :meth:`NearCache.store` refuses a token that an
  invalidation has since moved past. So a read racing an invalidation cannot
  put the old text back.
* Only while the feed is live (after a resync, until it disconnects) are
  values stored for serving; :attr:`NearCache.fresh` is empty otherwise, so
  readers fall through to Redis.
* The last value read of every prompt is also kept as *last known good*, to
  serve (flagged stale) while Redis cannot be reached, or does not answer
  within a read's budget (the client's bounded reads).

Readers call ``fresh.get(name)`` with no lock: a dict lookup is atomic under
the GIL, and every mutation happens under :attr:`NearCache.lock` and never
rebinds the dict, so a reader sees either the old entry or none.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dynamic_prompt.core.prompt_config import EMPTY as EMPTY_CONFIG


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One prompt as read from Redis.

    Attributes:
        text: the active text, or ``None`` when the prompt has none.
        version: the meta hash's version when read (0 when unknown).
        content_hash: SHA-1 (hex) of the raw bytes, as Redis' ``sha1hex`` computes it;
            lets the fleet view tell "serves the current text" apart from "behind"
            even for writes no version was recorded for.
        seq: the fetch's sequence number (later-started fetches win).
        label: the label this entry was read at (``production`` by default).
        served: why this text, when it is not production's own: ``rollout 40%``,
            ``label staging``, ``experiment b`` ("" for production's text).
        arms: an experiment's variants, each an entry of its own (empty: no experiment);
            ``text`` is then the variant this agent's own id gets.
        bounds: the arms' cumulative bucket bounds (:meth:`~dynamic_prompt.core.labels.Experiment.thresholds`).
        experiment: the experiment's id (the salt of its callers' buckets).
        seed: the CRC of the prompt's name and the experiment's id, so that picking a
            caller's variant costs one CRC of the caller's key (:func:`~dynamic_prompt.core.labels.seed`).
        config: the served version's config (model, temperature, ...), read-only; empty when none.
    """

    text: str | None
    version: int = 0
    content_hash: str = ""
    seq: int = 0
    label: str = "production"
    served: str = ""
    arms: tuple[Arm, ...] = ()
    bounds: tuple[int, ...] = ()
    experiment: str = ""
    seed: int = 0
    config: Mapping[str, Any] = field(default_factory=lambda: EMPTY_CONFIG)


@dataclass(frozen=True, slots=True)
class Arm:
    """One variant of an experiment as cached: its name and what it serves."""

    name: str
    entry: CacheEntry


class NearCache:
    """Prompt texts in memory, with generation checks against racing invalidations.

    Thread-safe: mutations take :attr:`lock`; :attr:`fresh` is read lock-free.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fresh: dict[str, CacheEntry] = {}
        """Entries that may be served now (never rebound: readers hold a reference)."""
        self.last_good: dict[str, CacheEntry] = {}
        """The newest value read of each prompt, for stale serving when Redis is down."""
        self.watched: set[str] = set()
        """Every view this process has asked for (re-read after events and resyncs): a prompt's
        name, or ``NAME@LABEL`` for one read at a label (:mod:`dynamic_prompt.live.views`)."""
        self.views: dict[str, set[str]] = {}
        """Prompt name -> the watched views of it: an event for the prompt drops them all."""
        self.armed: dict[str, CacheEntry] = {}
        """Servable entries of prompts running an experiment (a variant per caller key): kept out
        of :attr:`fresh`, so the hot path of every other read stays one lookup and a return."""
        self.fresh_at: dict[str, dict[str, CacheEntry]] = {}
        """Label -> prompt name -> the entry of ``NAME@LABEL`` in :attr:`fresh`: the same entries,
        keyed so a reader bound to one label looks up by name alone (never rebound either)."""
        self.live = False
        """True between a resync and the next disconnect: events will tell us of changes."""
        self._clock = 0
        self._epoch = 0
        self._generation: dict[str, int] = {}
        self._seq = itertools.count(1)
        self.invalidations = 0
        self.resyncs = 0

    # -- tokens -----------------------------------------------------------------------

    def next_seq(self) -> int:
        """A sequence number for a fetch about to start (``next`` on a count is atomic)."""
        return next(self._seq)

    def token(self, name: str) -> int:
        """Take before reading ``name`` from Redis; hand back to :meth:`store`."""
        with self.lock:
            return max(self._epoch, self._generation.get(name, 0))

    def _current(self, name: str) -> int:
        return max(self._epoch, self._generation.get(name, 0))

    # -- writes from fetchers ---------------------------------------------------------

    def store(self, name: str, token: int, entry: CacheEntry) -> bool:
        """Keep ``entry`` read under ``token``; True if it may now be served.

        The entry always becomes last known good (if newer than the one kept),
        because it *was* the server's value when read. It is served from
        memory only if the feed is live and nothing invalidated ``name`` since
        ``token`` was taken.
        """
        with self.lock:
            kept = self.last_good.get(name)
            if kept is None or entry.seq > kept.seq:
                self.last_good[name] = entry
            if not self.live or token != self._current(name):
                return False
            held = self.fresh.get(name) or self.armed.get(name)
            if held is not None and held.seq > entry.seq:
                return False  # a fetch that started later already stored its answer
            if entry.arms:
                self.armed[name] = entry
                self.fresh.pop(name, None)
                return True
            self.fresh[name] = entry
            self.armed.pop(name, None)
            prompt, at, label = name.partition("@")
            if at:
                self.fresh_at.setdefault(label, {})[prompt] = entry
            return True

    def at(self, label: str) -> dict[str, CacheEntry]:
        """The servable entries read at ``label``, by prompt name (the dict is never rebound)."""
        with self.lock:
            return self.fresh_at.setdefault(label, {})

    def _drop_all(self) -> None:
        self.fresh.clear()
        self.armed.clear()
        for entries in self.fresh_at.values():
            entries.clear()

    # -- writes from the feed ---------------------------------------------------------

    def invalidate(self, name: str) -> None:
        """An event for prompt ``name``: drop every view of it, and refuse every read that began before now."""
        with self.lock:
            self._clock += 1
            for key in self.views.get(name, (name,)):
                self._generation[key] = self._clock
                self.fresh.pop(key, None)
                self.armed.pop(key, None)
                prompt, at, label = key.partition("@")
                if at and label in self.fresh_at:
                    self.fresh_at[label].pop(prompt, None)
            self._generation[name] = self._clock
            self.fresh.pop(name, None)
            self.armed.pop(name, None)
            self.invalidations += 1

    def views_of(self, name: str) -> set[str]:
        """The watched views of prompt ``name``."""
        with self.lock:
            return set(self.views.get(name, ()))

    def resync(self) -> None:
        """The feed (re)subscribed: whatever happened before is unknown, so drop all and go live."""
        with self.lock:
            self._clock += 1
            self._epoch = self._clock
            # Per-name generations below the epoch are dead weight now.
            self._generation.clear()
            self._drop_all()
            self.live = True
            self.resyncs += 1

    def go_offline(self) -> None:
        """The feed is down: events may be missed, so nothing may be served from memory."""
        with self.lock:
            self._clock += 1
            self._epoch = self._clock
            self._generation.clear()
            self._drop_all()
            self.live = False

    def reset(self) -> None:
        """Forget everything but the watched names (a forked child starts over)."""
        with self.lock:
            self._clock += 1
            self._epoch = self._clock
            self._generation.clear()
            self._drop_all()
            self.last_good.clear()
            self.live = False

    def after_fork(self) -> None:
        """In a forked child: a parent thread may have held the lock; start over unlocked."""
        self.lock = threading.Lock()
        self.reset()

    def watched_names(self) -> set[str]:
        """A copy of :attr:`watched` (readers in other threads may add to it)."""
        with self.lock:
            return set(self.watched)

    def watch(self, key: str) -> bool:
        """Remember that view ``key`` (a name, or ``NAME@LABEL``) is read here; True if it is new."""
        with self.lock:
            if key in self.watched:
                return False
            self.watched.add(key)
            self.views.setdefault(key.partition("@")[0], set()).add(key)
            return True
