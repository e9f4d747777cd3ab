"""The dashboard screen: owns what is shown (a :class:`~dynamic_prompt.tui.view.View`), routes
what its parts read to the panes, and turns keys into requests to its parts.

Data flows one way. A write by anyone -> a feed event -> the :class:`Refresher` reads
once -> messages -> the handlers here -> the panes. The parts own their workers:
:class:`Refresher` (the feed and every read after a change), :class:`InstructionFlow`
(preview and apply), :class:`Actions` (the person's other writes) and
:class:`FleetWatch`. No part reads this screen's state; each is given what it needs.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

from dynamic_prompt.core.models import PromptState
from dynamic_prompt.store import PromptStore, estimate_tokens
from dynamic_prompt.tui.actions import DASHBOARD_ACTIONS, bindings
from dynamic_prompt.tui.messages import (
    Applied,
    DiffReady,
    FeedMode,
    HistoryLoaded,
    InstructionProblem,
    ListLoaded,
    Loaded,
    LoadFailed,
    RowsLoaded,
    StoreFailed,
    Written,
)
from dynamic_prompt.tui.parts.actions import Actions, ShowPrompt
from dynamic_prompt.tui.parts.fleet_watch import FleetLoaded, FleetWatch
from dynamic_prompt.tui.parts.instruction_flow import InstructionFlow
from dynamic_prompt.tui.parts.refresher import Refresher
from dynamic_prompt.tui.suggester import completions
from dynamic_prompt.tui.view import BACKUP, DiffMode, DiffSource, View
from dynamic_prompt.tui.widgets.diff_view import DiffView
from dynamic_prompt.tui.widgets.fleet import FleetView
from dynamic_prompt.tui.widgets.instruction import InstructionBar
from dynamic_prompt.tui.widgets.prompt_list import PromptList
from dynamic_prompt.tui.widgets.prompt_view import PromptView
from dynamic_prompt.tui.widgets.status_bar import StatusBar
from dynamic_prompt.tui.widgets.timeline import Timeline

if TYPE_CHECKING:
    from dynamic_prompt.tui.app import DashboardApp

PREVIEW_DELAY = 0.25
"""Seconds of quiet typing before the instruction is previewed."""

WORKING = ("preview", "apply", "action", "highlight")
"""Worker groups whose results are about to change the screen."""


class DashboardScreen(Screen[None]):
    """Prompt list, active prompt, diff, timeline, instruction input, status bar."""

    BINDINGS = bindings(DASHBOARD_ACTIONS)

    app: DashboardApp

    def __init__(self, store: PromptStore, name: str) -> None:
        super().__init__(id="dashboard")
        self.store = store
        self.view = View(name)
        """What every pane shows (the prompt, and what the diff pane compares)."""
        self.state: PromptState | None = None
        """The shown prompt as last read."""
        self.instruction = ""
        self._preview_timer: Timer | None = None

    @property
    def current(self) -> str:
        """The prompt every pane is about."""
        return self.view.name

    # -- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """The panes, and the parts that feed them."""
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
        yield Refresher(self.store, self.app.target, self.view)
        yield InstructionFlow(self.store)
        yield Actions(self.store)
        yield FleetWatch(self.store)

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

    @property
    def refresher(self) -> Refresher:
        """The part that reads after every change."""
        return self.query_one(Refresher)

    @property
    def instruction_flow(self) -> InstructionFlow:
        """The part that previews and applies instructions."""
        return self.query_one(InstructionFlow)

    @property
    def actions(self) -> Actions:
        """The part that runs the person's other writes."""
        return self.query_one(Actions)

    def _active_text(self) -> str | None:
        return self.state.active if self.state else None

    def on_mount(self) -> None:
        """Titles and the first focus."""
        self.prompt_list.border_title = "Prompts"
        self.prompt_view.border_title = self.current
        self.diff_view.border_title = "Diff"
        self.timeline.border_title = "Changelog"
        self.status.server = self.app.server_label
        self.status.prompt_name = self.current
        self.prompt_list.focus()

    @property
    def settled(self) -> bool:
        """True when no read or diff is pending (nothing is about to change on screen)."""
        if self.refresher.pending or self.state is None:
            return False
        return not any(w.group in WORKING and not w.is_finished for w in self.app.workers)

    @property
    def last_change(self) -> float:
        """When the last read was asked for (monotonic seconds): the app's idle work waits."""
        return self.refresher.last_change

    def _show(self, view: View) -> None:
        """Show ``view`` from now on; the refresher reads what it needs."""
        self.view = view
        self.refresher.show(view)

    # -- what the parts read -> the panes ----------------------------------------------

    @on(FeedMode)
    def _feed_mode(self, message: FeedMode) -> None:
        self.status.mode = message.mode
        # Also in notifications mode: what the feed repaired ("flags ... restored") or cannot
        # hear ("flushes go unseen") is worth a glance.
        self.status.note = message.reason

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        state = message.state
        if state.name != self.current:
            return
        self.state = state
        self.prompt_list.mark_current(state.name)
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
        self.call_after_refresh(self.refresher.painted)
        status = self.status
        status.prompt_name = state.name
        status.version = state.version
        status.size_bytes = len(text.encode("utf-8", "replace"))
        status.tokens = estimate_tokens(text)
        if self.view.previewing and state.exists:
            self.instruction_flow.preview(state, self.instruction, self.view)  # on the new text

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        if message.name != self.current:
            return
        shown = self.state
        if shown is not None and shown.name != message.name:
            # A switch to a prompt that cannot be read: stay on the one the panes show.
            self._show(dataclasses.replace(self.view, name=shown.name, source=BACKUP))
            self.prompt_list.mark_current(shown.name)
            self.notify(f"Cannot show {message.name}: {message.message}", severity="error", markup=False)
            return
        self.notify(message.message, severity="error", markup=False)

    @on(ListLoaded)
    def _list_loaded(self, message: ListLoaded) -> None:
        self.prompt_list.set_prompts(message.summaries, self.current)
        self._list_title()

    @on(RowsLoaded)
    def _rows_loaded(self, message: RowsLoaded) -> None:
        for name, row in message.rows.items():
            self.prompt_list.set_row(name, row, self.current)
        self._list_title()

    def _list_title(self) -> None:
        self.prompt_list.border_title = f"Prompts ({self.prompt_list.stored})"
        self.query_one(FleetWatch).follow(self.prompt_list.names or [self.current],
                                         self.query_one("#fleet", FleetView).display)

    @on(HistoryLoaded)
    def _history_loaded(self, message: HistoryLoaded) -> None:
        if message.name == self.current:
            self.timeline.set_entries(message.entries)

    @on(DiffReady)
    def _diff_ready(self, message: DiffReady) -> None:
        if message.view != self.view or message.instruction != (self.instruction if self.view.previewing else ""):
            return  # computed for what the screen showed before
        rows = message.rows
        view = self.diff_view
        view.show(rows, note="No differences." if message.kind != "preview" else "The instruction changes nothing.")
        view.border_title = message.title
        mode = "side by side" if rows.mode == "split" else "unified"
        view.border_subtitle = f"+{rows.added} -{rows.removed}  ·  {mode}"

    @on(FleetLoaded)
    def _fleet_loaded(self, message: FleetLoaded) -> None:
        self.query_one("#fleet", FleetView).agents = message.agents

    @on(StoreFailed)
    def _store_failed(self, message: StoreFailed) -> None:
        self.notify(message.message, severity="error", markup=False)

    @on(Written)
    def _written(self, message: Written) -> None:
        result = message.result
        if result.changed:
            self.notify(f"{message.done}: now v{result.version}.", markup=False)
        else:
            self.notify(result.message or "Nothing changed.", markup=False)
        for warning in result.warnings:
            self.notify(warning, severity="warning", markup=False)
        self._feed_down_reread(result.name)

    def _feed_down_reread(self, name: str) -> None:
        """The feed brings our own writes back too; only while it is down, ask for the read."""
        if self.status.mode == "disconnected":
            self.refresher.changed(name)

    # -- the instruction input --------------------------------------------------------

    @on(InstructionBar.Typed)
    def _typed(self, message: InstructionBar.Typed) -> None:
        self.instruction = message.value
        if self._preview_timer is not None:
            self._preview_timer.stop()
        previewing = bool(message.value.strip())
        if previewing != self.view.previewing:
            self._show(dataclasses.replace(self.view, previewing=previewing))
        if not previewing:
            self.instruction_bar.show_hint(())
            return
        self.instruction_bar.show_hint(completions(message.value, self._active_text(), 4))
        self._preview_timer = self.set_timer(PREVIEW_DELAY, self._preview_now)

    def _preview_now(self) -> None:
        if self.state is not None and self.state.exists and self.view.previewing:
            self.instruction_flow.preview(self.state, self.instruction, self.view)

    @on(InstructionBar.Apply)
    def _apply(self, message: InstructionBar.Apply) -> None:
        state = self.state
        if state is None or not state.exists:
            self.instruction_bar.show_error(f"There is no prompt named {self.current!r} yet: load one first.")
            return
        self.instruction_flow.apply(state, message.value)

    @on(InstructionProblem)
    def _instruction_problem(self, message: InstructionProblem) -> None:
        if message.instruction != self.instruction:
            return  # the person has typed on since
        self.instruction_bar.show_error(message.message, message.suggestions)

    @on(Applied)
    def _applied(self, message: Applied) -> None:
        if message.instruction == self.instruction:
            self.instruction = ""
            self.instruction_bar.clear()
            self._show(dataclasses.replace(self.view, previewing=False))
        self.notify(f"v{message.result.version}: {message.instruction.strip()[:80]}", markup=False)
        for warning in message.result.warnings:
            self.notify(warning, severity="warning", markup=False)
        self._feed_down_reread(message.result.name)

    # -- picking ----------------------------------------------------------------------

    @on(PromptList.Picked)
    def _picked(self, message: PromptList.Picked) -> None:
        self.focus_prompt(message.name)

    @on(ShowPrompt)
    def _show_prompt(self, message: ShowPrompt) -> None:
        self.focus_prompt(message.name)

    def focus_prompt(self, name: str) -> None:
        """Point every pane at prompt ``name`` (once it has been read; if it cannot be, nothing moves)."""
        if name == self.current:
            return
        self._show(View(name, mode=self.view.mode, previewing=self.view.previewing))
        self.status.prompt_name = name

    @on(Timeline.Picked)
    def _entry_picked(self, message: Timeline.Picked) -> None:
        if message.entry.version is None:
            self.notify("That entry has no version number (written by another tool).", markup=False)
            return
        self._show(dataclasses.replace(self.view, source=DiffSource.change(message.entry.version)))

    @on(Timeline.Compare)
    def _entry_compare(self, message: Timeline.Compare) -> None:
        if message.entry.version is None:
            self.notify("That entry has no version number (written by another tool).", markup=False)
            return
        self._show(dataclasses.replace(self.view, source=DiffSource.version(message.entry.version)))

    # -- keys -------------------------------------------------------------------------

    def _require_state(self) -> PromptState | None:
        if self.state is None or not self.state.exists:
            self.notify(f"There is no prompt named {self.current!r} yet: load a file or create one.",
                        severity="warning", markup=False)
            return None
        return self.state

    def action_revert(self) -> None:
        """Revert to the original text (asks first)."""
        if (state := self._require_state()) is not None:
            self.actions.revert(state)

    def action_undo(self) -> None:
        """Undo the last change."""
        if (state := self._require_state()) is not None:
            self.actions.undo(state)

    def action_restore(self) -> None:
        """Restore the version picked in the timeline (asks first)."""
        state = self._require_state()
        if state is None:
            return
        entry = self.timeline.selected
        if entry is None or entry.version is None:
            self.notify("Pick a changelog entry with a version first (the timeline, below).",
                        severity="warning", markup=False)
            return
        self.actions.restore(state, entry.version)

    def action_edit(self) -> None:
        """Edit the text by hand (saves with conflict detection)."""
        if (state := self._require_state()) is not None:
            self.actions.edit(state)

    def action_load(self) -> None:
        """Load a file into this prompt."""
        self.actions.load(self.current)

    def action_new_prompt(self) -> None:
        """Create a new prompt from text or a file."""
        self.actions.new_prompt()

    def action_copy(self) -> None:
        """Copy the active prompt to the clipboard."""
        state = self._require_state()
        if state is not None and state.active is not None:
            self.app.copy_to_clipboard(state.active)
            self.notify(f"Copied {state.name} v{state.version} ({len(state.active):,} characters).",
                        markup=False)

    def action_search(self) -> None:
        """Open the changelog filter."""
        self.timeline.start_search()

    def action_toggle_diff(self) -> None:
        """Switch between unified and side-by-side diffs."""
        mode = DiffMode.SPLIT if self.view.mode is DiffMode.UNIFIED else DiffMode.UNIFIED
        self._show(dataclasses.replace(self.view, mode=mode))
        self._preview_now()

    def action_diff_backup(self) -> None:
        """Diff against the original again."""
        self._show(dataclasses.replace(self.view, source=BACKUP))

    def action_focus_instruction(self) -> None:
        """Move to the instruction input."""
        self.instruction_bar.input.focus()

    def action_toggle_fleet(self) -> None:
        """Show or hide the fleet pane."""
        view = self.query_one("#fleet", FleetView)
        view.display = not view.display
        self._list_title()

