"""The archiver: copies every version and changelog entry from Redis into the archive.

What is archived, precisely:

- **While it runs**, every change by anyone. The change feed names the prompt that
  changed, and the archiver then reads all that Redis still holds of it: every kept
  version, the whole changelog, the original, the labels. Events only say "look again", so
  a burst of changes costs one read, and nothing between two reads is lost unless that
  prompt's changelog overflowed in between (more than its cap, 100 entries by default,
  written within one read's time). A feed that reconnects, or may have missed events, is
  followed by a read of every prompt. So is every ``sweep_every`` seconds (default 5 min).
- **When it was not running**, what Redis still holds when it starts again (catch-up):
  the newest ``changelog_cap`` entries (100) and the kept versions (the newest
  ``version_retention``, 200, plus every labelled one) of every prompt. Beyond that bound,
  older entries and versions made while no archiver ran are gone from Redis before they
  could be archived. The same holds for a prompt made and deleted, and for a text another
  program wrote over production and overwrote again, while no archiver ran.

Two archivers on one archive, or one restarted, never duplicate a row (see
:mod:`dynamic_prompt.archive.db`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from dynamic_prompt.archive.db import Archive, labels_of
from dynamic_prompt.archive.records import ArchivedPrompt, ArchivedVersion, sha
from dynamic_prompt.core import prompt_config
from dynamic_prompt.core.errors import DynamicPromptError
from dynamic_prompt.core.models import EventKind, PromptEvent
from dynamic_prompt.store.prompt_store import PromptStore

log = logging.getLogger(__name__)

DEFAULT_SWEEP_EVERY = 300.0


@dataclass(frozen=True)
class Synced:
    """What one pass added to the archive."""

    prompts: int = 0
    versions: int = 0
    changes: int = 0
    failed: tuple[str, ...] = ()
    """One line per prompt that could not be read this time (it is read again on its next change)."""

    def __add__(self, other: Synced) -> Synced:
        return Synced(self.prompts + other.prompts, self.versions + other.versions, self.changes + other.changes,
                      self.failed + other.failed)


def made_by(entries: list[str]) -> dict[int, tuple[float, str]]:
    """Version number -> (when, by whom) it was made, from a changelog listed newest first.

    The oldest entry naming a version made it; later ones (a label moved onto it) did not.
    """
    from dynamic_prompt.core.models import ChangeEntry

    out: dict[int, tuple[float, str]] = {}
    for raw in reversed(entries):
        entry = ChangeEntry.from_json(raw)
        if entry.version is not None and entry.version not in out:
            out[entry.version] = (entry.timestamp, entry.user_id)
    return out


def server_id(store: PromptStore) -> str:
    """The name rows of this server carry in the archive: its URL without any password."""
    return store.target.display if store.target is not None else "unknown"


class Archiver:
    """Follows one server into one archive.

    Args:
        store: the server's store.
        archive: the archive file.
        sweep_every: seconds between reads of every prompt, on top of the change feed.
    """

    def __init__(self, store: PromptStore, archive: Archive, *, sweep_every: float = DEFAULT_SWEEP_EVERY) -> None:
        self.store = store
        self.archive = archive
        self.server = server_id(store)
        self.sweep_every = sweep_every
        self.total = Synced()
        """Everything this archiver added since it started."""
        self.last_synced = 0.0
        """When the last pass ended (time.time())."""
        self.on_synced: Callable[[str | None, Synced], None] | None = None
        """Called after each pass: the prompt's name (``None`` for a pass over all) and what it added."""
        self._dirty: set[str] = set()
        self._deleted: set[str] = set()
        self._all = False
        self._wake = asyncio.Event()
        self._opened = archive.opened

    # -- one pass -----------------------------------------------------------------------

    async def sync(self, name: str, *, deleted: bool = False) -> Synced:
        """Archive all that Redis holds of ``name`` now (rows kept already are skipped).

        ``deleted``: the feed said its keys were deleted; if Redis holds nothing of it, the
        archive notes it was deleted on purpose (``dprompt recover`` then leaves it out).
        """
        store = self.store
        cap = max(store.settings.changelog_cap, 100)
        state = await store.state(name)
        entries = await store.changelog_raw(name, cap)
        known = await asyncio.to_thread(self.archive.known_versions, self.server, name)
        numbers = await store.versions(name)
        wanted = [n for n in numbers if n not in known]
        if numbers and numbers[0] in known and numbers[0] not in wanted:
            wanted.append(numbers[0])  # the newest kept one tells whether these are the numbers we know
        texts = dict(zip(wanted, await store.version_texts(name, wanted))) if wanted else {}
        top = numbers[0] if numbers else None
        if top is not None and top in known and texts.get(top) is not None and sha(texts[top] or "") not in known[top]:
            # Same numbers, other texts: Redis lost the prompt and it was made again. Read all.
            wanted = [n for n in numbers if n not in texts]
            texts.update(zip(wanted, await store.version_texts(name, wanted)))
        configs = dict(zip(texts, await store.version_configs(name, list(texts)))) if texts else {}
        meta = state.meta
        made = made_by(entries)
        versions = [ArchivedVersion(name, n, t, configs.get(n) or {}, *made.get(n, (0.0, "")))
                    for n, t in texts.items() if t is not None]
        prompt = None
        if state.active is not None:
            # Production's text as it is now, under its number (a text no version holds is an outside write).
            held = texts.get(meta.version)
            outside = held is not None and held != state.active
            versions.append(ArchivedVersion(name, meta.version, state.active,
                                            prompt_config.read(meta.config), meta.updated_at, meta.updated_by,
                                            outside=outside))
            try:
                labels = labels_of((await store.labels(name)).labels.named)
            except DynamicPromptError:
                labels = {}  # a user who may not read labels still archives texts and history
            prompt = ArchivedPrompt(name, state.backup, labels, meta.source, meta.version, time.time(),
                                    original_config=prompt_config.read(meta.backup_config))
        added_v, added_c = await asyncio.to_thread(self.archive.add, self.server, versions, entries,
                                                   name=name, prompt=prompt)
        if deleted and state.active is None and not numbers and not entries:
            await asyncio.to_thread(self.archive.mark_gone, self.server, name)
        return Synced(1, added_v, added_c)

    async def catch_up(self) -> Synced:
        """Archive every prompt the server holds (on start, after a feed gap, on each sweep)."""
        with contextlib.suppress(DynamicPromptError):
            await self.store.reconcile()  # prompts other programs wrote that the index misses
        total = Synced()
        for name in await self.store.names():
            total += await self._sync_quietly(name)
        return total

    async def _sync_quietly(self, name: str, *, deleted: bool = False) -> Synced:
        try:
            return await self.sync(name, deleted=deleted)
        except DynamicPromptError as exc:
            log.info("archiving %s failed: %s", name, exc)
            return Synced(failed=(f"{name}: {exc}",))

    # -- following ------------------------------------------------------------------------

    def heard(self, event: PromptEvent) -> None:
        """A change feed's event: mark what to read again (the loop in :meth:`run` reads it)."""
        if event.kind == EventKind.RESYNC:
            self._all = True
        elif event.kind == EventKind.MODE:
            return
        elif event.name is not None:
            self._dirty.add(event.name)
            if event.kind == EventKind.DELETED:
                self._deleted.add(event.name)
        else:
            self._all = True
        self._wake.set()

    async def run(self, stop: asyncio.Event, *, feed_options: dict[str, float] | None = None) -> None:
        """Catch up, then follow the server until ``stop`` is set.

        Server faults never end it: a failed pass is logged and tried again on the next
        event or sweep (the feed reconnects by itself and asks for a read of everything).
        """
        from dynamic_prompt.live.cluster_feed import feed_for

        assert self.store.target is not None, "following needs the store's server target"
        feed = feed_for(self.store.target, **(feed_options or {}))
        listener = asyncio.create_task(feed.run(self.heard))
        self._all = True
        self._wake.set()
        next_sweep = time.monotonic() + self.sweep_every
        try:
            while not stop.is_set():
                timeout = max(0.0, min(next_sweep - time.monotonic(), 1.0))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                if stop.is_set():
                    break
                if time.monotonic() >= next_sweep:
                    self._all, next_sweep = True, time.monotonic() + self.sweep_every
                self._wake.clear()
                if self._all:
                    # A deletion heard with it still counts: a pass over all reads only the prompts
                    # Redis holds, so it alone would never mark one gone (and recover would bring it back).
                    deleted = self._deleted
                    self._all, self._dirty, self._deleted = False, set(), set()
                    done = await self._pass_all()
                    for name in sorted(deleted):
                        done += await self._sync_quietly(name, deleted=True)
                    self._report(None, done)
                    continue
                names, self._dirty = sorted(self._dirty), set()
                deleted, self._deleted = self._deleted, set()
                for name in names:
                    self._report(name, await self._sync_quietly(name, deleted=name in deleted))
        finally:
            feed.stop()
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    async def _pass_all(self) -> Synced:
        try:
            return await self.catch_up()
        except DynamicPromptError as exc:
            log.info("archiving every prompt failed: %s", exc)
            self._all = True  # try again on the next wake-up or sweep
            return Synced(failed=(str(exc),))

    def _report(self, name: str | None, done: Synced) -> None:
        self.total += done
        self.last_synced = time.time()
        if self.archive.opened != self._opened:
            # The file was deleted or replaced and made again: fill it with all that Redis holds.
            self._opened = self.archive.opened
            self._all = True
            self._wake.set()
        if self.on_synced is not None:
            self.on_synced(name, done)
