"""The dashboard screen: owns the panes, the change feed and every core call.

Data flows one way. The :class:`~dynamic_prompt.live.feed.ChangeFeed` runs in a
worker and posts messages; handlers mark prompts dirty and wake one refresher
worker, which reads the store and posts what it read; handlers hand that to
the panes. A burst of writes therefore costs one read per prompt, and a slow
read never blocks typing. The person's actions live in
:mod:`dynamic_prompt.tui.screens.dashboard_actions`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

from dynamic_prompt.core import diff as diffmod
from dynamic_prompt.core.errors import ConnectionFailedError, DynamicPromptError
from dynamic_prompt.core.models import PromptEvent, PromptState
from dynamic_prompt.live.feed import ChangeFeed
from dynamic_prompt.store import PromptStore, estimate_tokens
from dynamic_prompt.store.fleet import fleet_many_async
from dynamic_prompt.tui import diffrows
from dynamic_prompt.tui.actions import DASHBOARD_ACTIONS, bindings
from dynamic_prompt.tui.messages import (
    DiffReady,
    FeedMode,
    HistoryLoaded,
    ListLoaded,
    Loaded,
    PromptChanged,
    Resync,
    StoreFailed,
)
from dynamic_prompt.tui.screens.dashboard_actions import DashboardActions
from dynamic_prompt.tui.screens.dashboard_instruction import InstructionFlow
from dynamic_prompt.tui.widgets.diff_view import DiffView
from dynamic_prompt.tui.widgets.fleet import FleetView
from dynamic_prompt.tui.widgets.instruction import InstructionBar
from dynamic_prompt.tui.widgets.prompt_list import PromptList
from dynamic_prompt.tui.widgets.prompt_view import PromptView
from dynamic_prompt.tui.widgets.status_bar import StatusBar
from dynamic_prompt.tui.widgets.timeline import Timeline

if TYPE_CHECKING:
    from dynamic_prompt.tui.app import DashboardApp

HISTORY_LIMIT = 100
PAINT_WAIT = 0.2
"""Longest wait for the prompt pane's frame before the other panes are refreshed."""

FLEET_REFRESH = 1.0
"""Seconds between reads of the fleet view while it shows."""


class DashboardScreen(DashboardActions, InstructionFlow, Screen[None]):
    """Prompt list, active prompt, diff, timeline, instruction input, status bar."""

    BINDINGS = [
        *bindings(DASHBOARD_ACTIONS),
    ]

    app: DashboardApp

    def __init__(self, store: PromptStore, name: str) -> None:
        super().__init__(id="dashboard")
        self.store = store
        self.current = name
        self.state: PromptState | None = None
        self.diff_source: tuple[str, int] | None = None  # None: backup; ("version"|"change", v)
        self.diff_mode = "unified"
        self.instruction = ""
        self.feed: ChangeFeed | None = None
        self._dirty: set[str] = set()
        self._dirty_all = True
        self._list_dirty = True
        self._wake = asyncio.Event()
        self._painted = asyncio.Event()
        self._diff_generation = 0
        self._diff_shown = -1
        self._preview_timer: Timer | None = None
        self.refreshing = False
        """True while the refresher reads (tests wait for it to settle)."""
        self.last_change = time.monotonic()
        """When the last refresh was asked for (monotonic seconds): the app's idle work waits."""

    # -- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """The panes."""
        clock = self.app.clock
        with Horizontal(id="top"):
            yield PromptList(clock, id="prompts")
            yield PromptView(id="prompt")
            yield DiffView(id="diff")
        yield Timeline(clock, id="timeline")
        yield FleetView(id="fleet")
        yield InstructionBar(self._active_text, id="instruction")
        yield StatusBar(id="status")
        yield Footer()

    @property
    def prompt_view(self) -> PromptView:
        """The active prompt pane."""
        return self.query_one("#prompt", PromptView)

    @property
    def diff_view(self) -> DiffView:
        """The diff pane."""
        return self.query_one("#diff", DiffView)

    @property
    def timeline(self) -> Timeline:
        """The changelog pane."""
        return self.query_one("#timeline", Timeline)

    @property
    def prompt_list(self) -> PromptList:
        """The prompt list pane."""
        return self.query_one("#prompts", PromptList)

    @property
    def status(self) -> StatusBar:
        """The status bar."""
        return self.query_one("#status", StatusBar)

    @property
    def instruction_bar(self) -> InstructionBar:
        """The instruction input and its hint line."""
        return self.query_one("#instruction", InstructionBar)

    def _active_text(self) -> str | None:
        return self.state.active if self.state else None

    def on_mount(self) -> None:
        """Titles, then start the feed and the refresher."""
        self.prompt_list.border_title = "Prompts"
        self.prompt_view.border_title = self.current
        self.diff_view.border_title = "Diff"
        self.timeline.border_title = "Changelog"
        self.status.server = self.app.server_label
        self.status.prompt_name = self.current
        self.prompt_list.focus()
        self.run_worker(self._refresher(), name="refresher", group="refresher", exit_on_error=False)
        self.run_worker(self._watch_fleet(), name="fleet", group="fleet", exit_on_error=False)
        self.run_worker(self._run_feed(), name="feed", group="feed", exit_on_error=False)
        self._wake.set()

    def on_unmount(self) -> None:
        """Stop the feed."""
        if self.feed is not None:
            self.feed.stop()

    # -- the fleet pane (f2): who serves which version ---------------------------------

    def action_toggle_fleet(self) -> None:
        """Show or hide the fleet pane."""
        view = self.query_one("#fleet", FleetView)
        view.display = not view.display

    async def _watch_fleet(self) -> None:
        """Read the agents of every listed prompt about once a second, while the pane shows."""
        view = self.query_one("#fleet", FleetView)
        clock = asyncio.get_running_loop().time
        last = 0.0
        while True:
            await asyncio.sleep(0.1)  # short naps, so the pane fills as soon as it opens
            if not view.display:
                last = 0.0
            elif clock() - last >= FLEET_REFRESH:
                last = clock()
                names = list(self.prompt_list.names) or [self.current]
                try:
                    found = await fleet_many_async(self.store.client, names)
                    view.agents = tuple(agent for rows in found.values() for agent in rows)
                except Exception:  # noqa: BLE001 - the status bar already reports a dead server
                    pass

    # -- the feed ---------------------------------------------------------------------

    async def _run_feed(self) -> None:
        """Turn feed events into messages until the screen goes away."""
        feed = self.feed = ChangeFeed(self.app.target)

        def deliver(event: PromptEvent) -> None:
            if event.kind == "mode":
                self.post_message(FeedMode(event.mode or "", feed.reason))
            elif event.kind == "resync":
                self.post_message(Resync())
            elif event.name:
                self.post_message(PromptChanged(event.name, deleted=event.kind == "deleted"))

        await feed.run(deliver)

    @on(FeedMode)
    def _feed_mode(self, message: FeedMode) -> None:
        self.status.mode = message.mode
        self.status.note = message.reason if message.mode != "notifications" else ""

    @on(Resync)
    def _resync(self) -> None:
        self.request_refresh(everything=True)

    @on(PromptChanged)
    def _prompt_changed(self, message: PromptChanged) -> None:
        self.request_refresh(message.name)

    @property
    def settled(self) -> bool:
        """True when no read or diff is pending (nothing is about to change on screen)."""
        if self.refreshing or self._wake.is_set() or self.state is None:
            return False
        busy = {"diff", "preview", "apply", "action", "highlight"}
        return not any(w.group in busy and not w.is_finished for w in self.app.workers)

    def request_refresh(self, name: str | None = None, *, everything: bool = False) -> None:
        """Re-read ``name`` (or the current prompt and everything) soon; bursts coalesce."""
        self.last_change = time.monotonic()
        if everything:
            self._dirty_all = True
        elif name is not None:
            self._dirty.add(name)
        self._list_dirty = True
        self._wake.set()

    # -- the refresher: the only place that re-reads after a change --------------------

    async def _refresher(self) -> None:
        while True:
            self.refreshing = False
            await self._wake.wait()
            self._wake.clear()
            self.refreshing = True
            names, everything, listing = self._dirty, self._dirty_all, self._list_dirty
            self._dirty, self._dirty_all, self._list_dirty = set(), False, False
            for attempt in range(2):
                try:
                    if everything or self.current in names:
                        await self._load_current()
                    if listing:
                        self.post_message(ListLoaded(await self.store.list()))
                    break
                except ConnectionFailedError as exc:
                    # After a server restart the pool's first connection is stale:
                    # that call fails and drops it, so one retry gets a fresh one.
                    if attempt:
                        self.post_message(StoreFailed(str(exc)))
                except DynamicPromptError as exc:
                    self.post_message(StoreFailed(str(exc)))
                    break
                except Exception as exc:  # noqa: BLE001 - a bug must show, not kill the live view
                    self.post_message(StoreFailed(f"{type(exc).__name__}: {exc}"))
                    break

    async def _load_current(self) -> None:
        name = self.current
        state = await self.store.state(name)
        shown = self.prompt_view.text if self.prompt_view.version else None
        changed, flash = await asyncio.to_thread(_marks, state, shown)
        if name != self.current:
            return
        self._painted.clear()
        self.post_message(Loaded(state, changed, flash))
        # The prompt pane paints before the other panes are read and rebuilt: it is
        # what a person watches, and their work would otherwise delay its frame.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._painted.wait(), PAINT_WAIT)
        if self.instruction.strip():
            self._preview(self.instruction)
        else:
            await self._load_diff(state)
        self.post_message(HistoryLoaded(name, await self.store.history(name, limit=HISTORY_LIMIT)))

    async def _load_diff(self, state: PromptState) -> None:
        """Compute the diff pane's rows for the current diff source (in a thread)."""
        self._diff_generation += 1
        generation = self._diff_generation
        name, active = state.name, state.active or ""
        source = self.diff_source
        if source is None:
            old, new = state.backup or "", active
            title, kind = f"Diff: original → v{state.version}", "normal"
        elif source[0] == "version":
            old, new = await self.store.version_text(name, source[1]), active
            title, kind = f"Diff: v{source[1]} → v{state.version} (active)", "version"
        else:
            version = source[1]
            older = [v for v in await self.store.versions(name) if v < version]
            new = await self.store.version_text(name, version)
            old = await self.store.version_text(name, older[0]) if older else ""
            before = f"v{older[0]}" if older else "nothing"
            title, kind = f"Change: {before} → v{version}", "change"
        rows = await asyncio.to_thread(diffrows.build, old, new, self.diff_mode)
        self.post_message(DiffReady(title, rows, generation, kind))

    @work(exclusive=True, group="diff", exit_on_error=False)
    async def reload_diff(self) -> None:
        """Recompute the diff pane (after the source or view changed)."""
        try:
            if self.instruction.strip():
                self._preview(self.instruction)
                return
            state = self.state
            if state is None or not state.exists:
                return
            await self._load_diff(state)
        except DynamicPromptError as exc:
            self.post_message(StoreFailed(str(exc)))

    # -- handlers: the panes get what the workers read --------------------------------

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        state = message.state
        if state.name != self.current:
            return
        self.state = state
        text = state.active or ""
        view = self.prompt_view
        view.show(text, state.version, message.changed, message.flash)
        view.border_title = f"{state.name}  v{state.version}" if state.exists else state.name
        if not state.exists:
            view.border_subtitle = "no text yet: ctrl+l loads a file, ctrl+n creates a prompt"
            self.diff_view.show(None, note="(no prompt)")
        else:
            parts = [f"{len(view.lines)} lines"]
            if message.changed:
                parts.append(f"{len(message.changed)} changed from the original")
            if view.lazy:
                parts.append("large: highlighted line by line")
            view.border_subtitle = ", ".join(parts)
        self.call_after_refresh(self._painted.set)
        status = self.status
        status.prompt_name = state.name
        status.version = state.version
        status.size_bytes = len(text.encode("utf-8", "replace"))
        status.tokens = estimate_tokens(text)

    @on(ListLoaded)
    def _list_loaded(self, message: ListLoaded) -> None:
        self.prompt_list.set_prompts(message.summaries, self.current)
        self.prompt_list.border_title = f"Prompts ({len(message.summaries)})"

    @on(HistoryLoaded)
    def _history_loaded(self, message: HistoryLoaded) -> None:
        if message.name == self.current:
            self.timeline.set_entries(message.entries)

    @on(DiffReady)
    def _diff_ready(self, message: DiffReady) -> None:
        if message.generation < self._diff_shown:
            return
        self._diff_shown = message.generation
        rows = message.rows
        view = self.diff_view
        view.show(rows, note="No differences." if message.kind != "preview" else "The instruction changes nothing.")
        view.border_title = message.title
        mode = "side by side" if rows.mode == "split" else "unified"
        view.border_subtitle = f"+{rows.added} -{rows.removed}  ·  {mode}"

    @on(StoreFailed)
    def _store_failed(self, message: StoreFailed) -> None:
        self.notify(message.message, severity="error", markup=False)

    # -- picking ----------------------------------------------------------------------

    @on(PromptList.Picked)
    def _picked(self, message: PromptList.Picked) -> None:
        self.focus_prompt(message.name)

    def focus_prompt(self, name: str) -> None:
        """Point every pane at prompt ``name``."""
        if name == self.current:
            return
        self.current = name
        self.state = None
        self.diff_source = None
        self.prompt_view.show("", 0)
        self.timeline.set_entries([])
        self.request_refresh(everything=True)

    @on(Timeline.Picked)
    def _entry_picked(self, message: Timeline.Picked) -> None:
        entry = message.entry
        if entry.version is None:
            self.notify("That entry has no version number (written by another tool).", markup=False)
            return
        self.diff_source = ("change", entry.version)
        self.reload_diff()

    @on(Timeline.Compare)
    def _entry_compare(self, message: Timeline.Compare) -> None:
        if message.entry.version is None:
            self.notify("That entry has no version number (written by another tool).", markup=False)
            return
        self.diff_source = ("version", message.entry.version)
        self.reload_diff()


def _marks(state: PromptState, shown: str | None) -> tuple[frozenset[int], frozenset[int]]:
    """Lines differing from the backup, and lines that changed since ``shown`` (to flash)."""
    active = state.active or ""
    changed = frozenset(diffmod.changed_new_lines(state.backup, active)) if state.backup is not None else frozenset()
    flash: frozenset[int] = frozenset()
    if shown is not None and shown != active and active:
        flash = frozenset(diffmod.changed_new_lines(shown, active))
    return changed, flash
