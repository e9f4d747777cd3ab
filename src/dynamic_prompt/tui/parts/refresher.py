"""The dashboard's one reader after a change: the feed says what changed, it reads once, posts.

:class:`Refresher` owns two workers: the change feed (keyspace notifications and
its fallbacks, see :mod:`dynamic_prompt.live.feed`) and the refresh loop. Feed events
only mark what is stale; the loop wakes once for a burst and reads:

- for the shown prompt: its state (one script run), the diff pane's rows (built once,
  in a thread; the lines changed from the original come from the same diff), and
  its changelog;
- for any other prompt that changed: its row of the listing (one pipelined read of
  all of them), never a scan of the keyspace;
- a version Redis no longer keeps (past ``version_retention``), compared with the active
  text: its text from the archive, when the dashboard keeps one (the title says so);
- the whole listing only when the feed (re)connected, since changes may have been
  missed then; the listing comes from the prompt index (never a scan), and a prompt
  another program wrote joins the index when the feed first reports it. Once, in the
  background, the store reconciles the index with the keyspace (at most once per five
  minutes across every process on the server).

What it read goes to the screen as messages; it never touches a widget.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

from textual.widget import Widget

from dynamic_prompt.archive.records import ArchivedVersion
from dynamic_prompt.core import diff as diffmod
from dynamic_prompt.core import prompt_config
from dynamic_prompt.core.errors import DynamicPromptError, VersionNotFoundError
from dynamic_prompt.core.models import EventKind, PromptEvent, PromptState, PromptSummary
from dynamic_prompt.live.cluster_feed import Feed, feed_for
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from dynamic_prompt.store.labels import LabelState
from dynamic_prompt.tui import diffrows
from dynamic_prompt.tui.diffrows import DiffRows
from dynamic_prompt.tui.messages import (
    DiffReady,
    FeedMode,
    HistoryLoaded,
    LabelsLoaded,
    ListLoaded,
    Loaded,
    LoadFailed,
    RowsLoaded,
    StoreFailed,
)
from dynamic_prompt.tui.view import DiffKind, View

HISTORY_LIMIT = 100
"""Changelog entries the timeline shows."""

PAINT_WAIT = 0.2
"""Longest wait for the prompt pane's frame before the changelog is read."""

ArchivedLookup = Callable[[str, int], Awaitable[ArchivedVersion | None]]
"""Version ``number`` of prompt ``name`` as the archive kept it (``None``: not there)."""


class Refresher(Widget):
    """Reads the store after changes and for the view the screen shows; posts what it read."""

    DEFAULT_CSS = "Refresher { display: none; }"

    def __init__(self, store: PromptStore, target: ServerTarget, view: View, *,
                 archived: ArchivedLookup | None = None) -> None:
        super().__init__(id="refresher")
        self.store = store
        self.target = target
        self.archived = archived
        """Where a version Redis no longer keeps is looked up (the archive), if anywhere."""
        self.view = view
        """What the screen shows (it says so with :meth:`show`)."""
        self.feed: Feed | None = None
        self.busy = False
        """True while the loop reads (tests wait for it to settle)."""
        self.last_change = time.monotonic()
        """When the last read was asked for (monotonic seconds): the app's idle work waits."""
        self.reads = 0
        """Passes of the loop that read the shown prompt (tests count them)."""
        self._wake = asyncio.Event()
        self._painted = asyncio.Event()
        self._shown_stale = True
        self._diff_stale = False
        self._listing_stale = True
        self._others: set[str] = set()
        self._listed: set[str] = set()
        self._state: PromptState | None = None
        self._shown_text: dict[str, str] = {}

    # -- what the screen asks -----------------------------------------------------------

    def on_mount(self) -> None:
        """Start the feed and the loop."""
        self.run_worker(self._run_feed(), name="feed", group="feed", exit_on_error=False)
        self.run_worker(self._loop(), name="refresher", group="refresher", exit_on_error=False)
        self.run_worker(self._reconcile(), name="reconcile", group="reconcile", exit_on_error=False)
        self._poke()

    def on_unmount(self) -> None:
        """Stop the feed."""
        if self.feed is not None:
            self.feed.stop()

    def show(self, view: View) -> None:
        """The screen shows ``view`` now: read the prompt if it is another one, else the diff."""
        other_prompt = view.name != self.view.name
        other_label = view.label != self.view.label
        self.view = view
        if other_prompt:
            self._state = None
            self._shown_stale = True
        elif other_label:
            self._shown_stale = True  # another text in the text pane
        else:
            self._diff_stale = True
        self._poke()

    def changed(self, name: str) -> None:
        """Prompt ``name`` changed: re-read it (the shown one whole, another one's row)."""
        if name == self.view.name:
            self._shown_stale = True
        else:
            self._others.add(name)
        self._poke()

    def everything(self) -> None:
        """Re-read the shown prompt and the whole listing (after a resync)."""
        self._shown_stale = True
        self._listing_stale = True
        self._poke()

    def painted(self) -> None:
        """The prompt pane drew the last state posted (the changelog may be read now)."""
        self._painted.set()

    @property
    def pending(self) -> bool:
        """True while something is about to be read."""
        return self.busy or self._wake.is_set()

    def _poke(self) -> None:
        self.last_change = time.monotonic()
        self._wake.set()

    # -- the feed -----------------------------------------------------------------------

    async def _run_feed(self) -> None:
        feed = self.feed = feed_for(self.target)

        def deliver(event: PromptEvent) -> None:
            if event.kind is EventKind.MODE:
                self.post_message(FeedMode(str(event.mode or ""), feed.reason))
            elif event.kind is EventKind.RESYNC:
                self.everything()
            elif event.name:
                self.changed(event.name)

        await feed.run(deliver)

    # -- the loop -----------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            self.busy = False
            await self._wake.wait()
            self._wake.clear()
            self.busy = True
            view = self.view
            shown, diff, listing, others = self._shown_stale, self._diff_stale, self._listing_stale, self._others
            self._shown_stale = self._diff_stale = self._listing_stale = False
            self._others = set()
            try:
                # The shown prompt first: it is what a person watches, and at 10,000 prompts
                # the listing takes longer to read than the prompt.
                if shown:
                    await self._read_shown(view)
                elif diff and self._state is not None and not view.previewing:
                    await self._post_diff(view, self._state)
                if listing:
                    rows = await self.store.list()
                    self._listed = {row.name for row in rows}
                    self.post_message(ListLoaded(rows))
                    others = set()  # the listing has every row
                others.discard(view.name)
                if others:
                    found = await self.store.summaries(sorted(others))
                    self.post_message(RowsLoaded(found))
                    await self._adopt(found)
            except DynamicPromptError as exc:
                self.post_message(StoreFailed(str(exc)))
            except Exception as exc:  # noqa: BLE001 - a bug must show, not end the live view
                self.post_message(StoreFailed(f"{type(exc).__name__}: {exc}"))

    async def _adopt(self, rows: dict[str, PromptSummary | None]) -> None:
        """Index prompts the feed reported that the listing did not have (another program's)."""
        new = [name for name, row in rows.items() if row is not None and name not in self._listed]
        if new:
            self._listed.update(new)
            await self.store.adopt(new)

    async def _reconcile(self) -> None:
        """Once: index prompts other programs wrote before anyone watched (rate-limited)."""
        with contextlib.suppress(DynamicPromptError):
            if await self.store.reconcile():
                self._listing_stale = True
                self._poke()

    async def _read_shown(self, view: View) -> None:
        name = view.name
        try:
            state = await self.store.state(name)
            labels = await self.store.labels(name)
            self.post_message(LabelsLoaded(name, labels))
            state = await self._at_label(view, state, labels)
        except DynamicPromptError as exc:
            self.post_message(LoadFailed(name, str(exc)))
            return
        if view is not self.view and view.name != self.view.name:
            return  # the screen moved on meanwhile; its own read is queued
        self.reads += 1
        self._state = state
        before = self._shown_text.get(name)
        rows = None
        if state.exists and not view.previewing:
            rows, title = await self._diff_rows(view, state)
        changed, flash = await asyncio.to_thread(_marks, state, before, rows if view.source.kind is DiffKind.BACKUP
                                                 else None)
        self._shown_text = {name: state.active or ""}
        self._painted.clear()
        self.post_message(Loaded(state, changed, flash))
        self.post_message(RowsLoaded({name: state.summary()}))
        if rows is not None:
            self.post_message(DiffReady(title, rows, view, view.source.kind.value))
        # The prompt pane paints before the changelog is read: it is what a person watches.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._painted.wait(), PAINT_WAIT)
        self.post_message(HistoryLoaded(name, await self.store.history(name, limit=HISTORY_LIMIT)))

    async def _at_label(self, view: View, state: PromptState, labels: LabelState) -> PromptState:
        """The state the panes show: production's, or at another label its text, with production as
        the diff's other side (the label's version is its version; a label that is gone: production)."""
        if not view.at_label or not state.exists:
            return state
        version = labels.labels.version_of(view.label)
        if version is None:
            return state  # the screen sees the label gone in LabelsLoaded and goes back to production
        text = await self.store.version_text(state.name, version)
        config = prompt_config.encode(await self.store.version_config(state.name, version))
        # The diff's other side is production: its config goes where the original's would.
        return dataclasses.replace(state, active=text, backup=state.active,
                                   meta=dataclasses.replace(state.meta, version=version, config=config,
                                                            backup_config=state.meta.config))

    async def _post_diff(self, view: View, state: PromptState) -> None:
        rows, title = await self._diff_rows(view, state)
        self.post_message(DiffReady(title, rows, view, view.source.kind.value))

    async def _diff_rows(self, view: View, state: PromptState) -> tuple[DiffRows, str]:
        """The diff pane's rows for ``view`` (texts read as the source needs, diffed in a thread).

        Each side is a version's text with its config below it when either side has one
        (:func:`~dynamic_prompt.core.prompt_config.compared`): a config change shows as one.
        """
        name, active, source = state.name, state.active or "", view.source
        if source.kind is DiffKind.VERSION:
            old, old_config, where = await self._kept_or_archived(name, source.a)
            new, new_config = active, state.config
            title = f"Diff: v{source.a}{where} → v{state.version} (active)"
        elif source.kind is DiffKind.CHANGE:
            older = [v for v in await self.store.versions(name) if v < source.a]
            new = await self.store.version_text(name, source.a)
            old = await self.store.version_text(name, older[0]) if older else ""
            old_config, new_config = await self.store.version_configs(name, [older[0] if older else 0, source.a])
            title = f"Change: {f'v{older[0]}' if older else 'nothing'} → v{source.a}"
        elif source.kind is DiffKind.PAIR:
            old = await self.store.version_text(name, source.a)
            new = await self.store.version_text(name, source.b)
            old_config, new_config = await self.store.version_configs(name, [source.a, source.b])
            title = f"Diff: v{source.a} → v{source.b}"
        else:
            # At a label the state's "backup" is production's text (see _at_label).
            old, new = state.backup or "", active
            old_config, new_config = prompt_config.read(state.meta.backup_config), state.config
            title = (f"Diff: production → {view.label} v{state.version}" if view.at_label
                     else f"Diff: original → v{state.version}")
        old, new = prompt_config.compared(old, old_config, new, new_config)
        return await asyncio.to_thread(diffrows.build, old, new, view.mode), title

    async def _kept_or_archived(self, name: str, number: int) -> tuple[str, dict[str, Any], str]:
        """Version ``number``'s text and config: from Redis, else from the archive (with " (archive)")."""
        try:
            text = await self.store.version_text(name, number)
            return text, await self.store.version_config(name, number), ""
        except VersionNotFoundError:
            found = await self.archived(name, number) if self.archived is not None else None
            if found is None:
                raise
            return found.text, dict(found.config), " (archive)"


def _marks(state: PromptState, shown: str | None, rows: DiffRows | None) -> tuple[frozenset[int], frozenset[int]]:
    """Lines differing from the backup (from the backup diff's ``rows`` when there are some),
    and lines that changed since the text ``shown`` before (to flash)."""
    active = state.active or ""
    if rows is not None:
        # The rows may run on below the text into its config (prompt_config.compared): only the
        # text's own lines are marked in the prompt pane.
        lines = active.count("\n") + (0 if active.endswith("\n") or not active else 1)
        changed = frozenset(n for n in rows.changed_new_lines() if n <= lines)
    elif state.backup is not None:
        changed = frozenset(diffmod.changed_new_lines(state.backup, active))
    else:
        changed = frozenset()
    flash: frozenset[int] = frozenset()
    if shown is not None and shown != active and active:
        flash = frozenset(diffmod.changed_new_lines(shown, active))
    return changed, flash
