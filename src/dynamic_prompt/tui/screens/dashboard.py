"""The dashboard screen: owns what is shown (a :class:`~dynamic_prompt.tui.view.View`), routes
what its parts read to the panes.

Data flows one way. A write by anyone -> a feed event -> the :class:`Refresher` reads
once -> messages -> the handlers here -> the panes. The parts own their workers:
:class:`Refresher` (the feed and every read after a change), :class:`InstructionFlow`
(preview and apply), :class:`Actions` (the person's other writes), :class:`FleetWatch`
and :class:`ArchiveKeeper` (the archiver, while the dashboard is open). No part reads
this screen's state; each is given what it needs.
The person's requests (keys, the instruction input) are turned into work by
:mod:`.dashboard_keys`; which panes show, by :mod:`.arrangement`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.css.query import NoMatches
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Input, Static, Tab, Tabs

from dynamic_prompt.core.keys import DEFAULT_NAME
from dynamic_prompt.core.models import FeedMode as LiveMode
from dynamic_prompt.core.models import PromptState
from dynamic_prompt.store import PromptStore
from dynamic_prompt.store.labels import LabelState
from dynamic_prompt.tui.actions import ALL_ACTIONS, Scope
from dynamic_prompt.tui.layout import PANES
from dynamic_prompt.tui.messages import (
    Applied,
    DiffReady,
    FeedMode,
    HistoryLoaded,
    InstructionProblem,
    LabelsLoaded,
    ListLoaded,
    Loaded,
    LoadFailed,
    Moved,
    RowsLoaded,
    StoreFailed,
    Written,
)
from dynamic_prompt.tui.parts.actions import Actions, Renamed, ShowPrompt, Undone
from dynamic_prompt.tui.parts.archiving import ArchiveKeeper, ArchiveUnavailable
from dynamic_prompt.tui.parts.composer import Composed, Composer, Composition
from dynamic_prompt.tui.parts.fleet_watch import FleetLoaded, FleetWatch
from dynamic_prompt.tui.parts.instruction_flow import InstructionFlow
from dynamic_prompt.tui.parts.refresher import Refresher
from dynamic_prompt.tui.render import title as plain_title
from dynamic_prompt.tui.screens.arrangement import Arrangement
from dynamic_prompt.tui.screens.dashboard_keys import DashboardKeys
from dynamic_prompt.tui.session import OwnChanges
from dynamic_prompt.tui.view import BACKUP, View
from dynamic_prompt.tui.widgets.diff_view import DiffView
from dynamic_prompt.tui.widgets.fleet import FleetView
from dynamic_prompt.tui.widgets.instruction import InstructionBar
from dynamic_prompt.tui.widgets.key_bar import KeyBar
from dynamic_prompt.tui.widgets.prompt_list import PromptList
from dynamic_prompt.tui.widgets.prompt_view import PromptView
from dynamic_prompt.tui.widgets.status_bar import StatusBar
from dynamic_prompt.tui.widgets.timeline import Timeline

if TYPE_CHECKING:
    from dynamic_prompt.tui.app import DashboardApp

TICK = 5.0
"""Seconds between redraws of relative times ("2m ago"); nothing is read for them."""

WORKING = ("preview", "apply", "action", "highlight")
"""Worker groups whose results are about to change the screen."""


class DashboardScreen(Screen[None]):
    """Prompt list, active prompt, diff, timeline, instruction input, status bar, key bar.

    The panes and bars sit inside a :class:`DashboardKeys` container, whose bindings
    (the dashboard's keys) therefore work wherever the focus is.
    """

    app: DashboardApp

    def __init__(self, store: PromptStore, name: str, *, read_only: bool = False,
                 archive: Path | None = None) -> None:
        super().__init__(id="dashboard")
        self.store = store
        self.archive_path = archive
        """The archive file kept while the dashboard is open (``None``: no archive)."""
        self.view = View(name)
        """What every pane shows (the prompt, and what the diff pane compares)."""
        self.state: PromptState | None = None
        """The shown prompt as last read (at a label: that label's text and version)."""
        self.labels: LabelState | None = None
        """Where the shown prompt's labels point, and its rollout or experiment, as last read."""
        self.read_only = read_only
        self.instruction = ""
        self.mine = OwnChanges()
        """The person's own changes in this session (their undo and redo)."""
        self._refresher: Refresher | None = None
        self.composition: Composition | None = None
        """The shown prompt as a template (its includes, its users, its render), as last composed."""
        self.panes = Arrangement(self, self.follow_fleet)
        """Which panes show (the layout for the terminal's size, the tab, the fleet pane)."""

    @property
    def current(self) -> str:
        """The prompt every pane is about."""
        return self.view.name

    # -- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """The panes, and the parts that feed them."""
        clock = self.app.clock
        with DashboardKeys(id="body"):
            yield Tabs(*(Tab(label, id=f"tab-{pane}") for pane, label in PANES), id="pane-tabs")
            with Container(id="main"):
                yield PromptList(clock, id="prompts")
                with Vertical(id="prompt-pane"):
                    yield Input(placeholder="find in the prompt (Enter / F3: next, shift+F3: previous, "
                                "Esc: close)", id="find")
                    yield Static(id="composition", markup=False)
                    yield PromptView(id="prompt")
                    yield PromptView(id="rendered")
                yield DiffView(id="diff")
                yield Timeline(clock, id="timeline")
                yield FleetView(id="fleet")
            yield InstructionBar(self._active_text, id="instruction")
            yield StatusBar(id="status")
            yield KeyBar(ALL_ACTIONS, self.app.key_of, id="keys")
        keeper = ArchiveKeeper(self.store, self.archive_path)
        self._refresher = Refresher(self.store, self.app.target, self.view, archived=keeper.archived_version)
        yield self._refresher
        yield keeper
        composer = Composer(self.store, self.app.samples_file)
        yield composer
        yield InstructionFlow(self.store, composer)
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
        if self._refresher is None:
            raise NoMatches("the dashboard has not been composed yet")
        return self._refresher

    @property
    def instruction_flow(self) -> InstructionFlow:
        """The part that previews and applies instructions."""
        return self.query_one(InstructionFlow)

    @property
    def actions(self) -> Actions:
        """The part that runs the person's other writes."""
        return self.query_one(Actions)

    @property
    def archive(self) -> ArchiveKeeper:
        """The part that keeps the archive (and opens it for search and stats)."""
        return self.query_one(ArchiveKeeper)

    @property
    def keys(self) -> DashboardKeys:
        """The container that holds the panes and runs the dashboard's keys."""
        return self.query_one("#body", DashboardKeys)

    @property
    def key_bar(self) -> KeyBar:
        """The keys that matter now."""
        return self.query_one("#keys", KeyBar)

    def _active_text(self) -> str | None:
        return self.state.active if self.state else None

    def on_mount(self) -> None:
        """Titles, the first focus (the instruction input), the clock for relative times."""
        self.prompt_list.border_title = "Prompts"
        self.prompt_view.border_title = self.current
        self.diff_view.border_title = "Diff"
        self.status.server = self.app.server_label
        self.status.prompt_name = self.current
        self.status.read_only = self.read_only
        self.key_bar.read_only = self.read_only
        if self.read_only:
            self.instruction_bar.read_only()
        # Prompts are prose: whole lines show by default; F6 scrolls them sideways instead.
        self.prompt_view.set_wrap(True)
        self.diff_view.set_wrap(True)
        self.instruction_bar.input.focus()
        self.set_interval(TICK, self._tick, name="relative-times")

    def on_resize(self, event: Resize) -> None:
        """Arrange the panes for the terminal's size."""
        self.panes.fit(event.size.width, event.size.height)

    @on(Tabs.TabActivated, "#pane-tabs")
    def _tab(self, event: Tabs.TabActivated) -> None:
        if event.tab.id:
            self.panes.show(event.tab.id.removeprefix("tab-"))

    def _tick(self) -> None:
        self.prompt_list.tick()
        self.timeline.tick()

    def on_descendant_focus(self) -> None:
        """The key bar shows the focused pane's own keys first."""
        focused = self.focused
        scope = Scope.DASHBOARD
        for node in focused.ancestors_with_self if focused is not None else ():
            if node is self.timeline:
                scope = Scope.TIMELINE
            elif node is self.prompt_list:
                scope = Scope.PROMPTS
        self.key_bar.scope = scope

    @property
    def settled(self) -> bool:
        """True when no read or diff is pending (nothing is about to change on screen)."""
        # A timer may ask while the app shuts down and the parts are gone: not quiet.
        refresher = self._refresher
        if refresher is None or not refresher.is_attached or refresher.pending or self.state is None:
            return False
        return not any(w.group in WORKING and not w.is_finished for w in self.app.workers)

    @property
    def last_change(self) -> float:
        """When the last read was asked for (monotonic seconds): the app's idle work waits."""
        return self._refresher.last_change if self._refresher is not None else 0.0

    def show_view(self, view: View) -> None:
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
        self.prompt_view.show_state(state, message.changed, message.flash)
        self.call_after_refresh(self.archive.start)  # once: the archiver starts after the first paint
        if not state.exists:
            self.diff_view.show(None, note="(no prompt)")
        self.call_after_refresh(self.refresher.painted)
        self.status.show_state(state)
        self.titles()
        self.compose_shown()
        if self.instruction.strip() and state.exists:  # what is typed, previewed on the new text
            self.keys.preview_typed()

    @on(LabelsLoaded)
    def _labels_loaded(self, message: LabelsLoaded) -> None:
        if message.name != self.current:
            return
        self.labels = message.state
        if self.view.at_label and message.state.labels.version_of(self.view.label) is None:
            self.notify(f"Label {self.view.label!r} of {self.current} is gone; showing production.", markup=False)
            self.show_view(dataclasses.replace(self.view, label="production", source=BACKUP))
        self.timeline.set_labels(message.state.labels)
        self.query_one("#fleet", FleetView).release = message.state.release.summary()
        self.titles()

    def titles(self) -> None:
        """The text pane's title: the prompt, the label shown, where the others point, the release."""
        view, labels, state = self.view, self.labels, self.state
        if state is None or state.name != self.current or not state.exists:
            return  # the pane's own title ("no text yet") stays
        title = f"{state.name}  {view.label + ' ' if view.at_label else ''}v{state.version}"
        if labels is not None and labels.name == self.current:
            others = [f"{label} v{v}" for label, v in labels.labels.all().items()
                      if label != view.label and (label != "latest" or v != labels.labels.production)]
            if others:
                title += "  (" + ", ".join(others) + ": f9)"
            if labels.release.active:
                title += "  · " + labels.release.summary()
        self.prompt_view.border_title = plain_title(title)

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        self.archive.start()  # the archiver tries again by itself, as the refresher does
        if message.name != self.current:
            return
        shown = self.state
        if shown is not None and shown.name != message.name:
            # A switch to a prompt that cannot be read: stay on the one the panes show.
            self.show_view(dataclasses.replace(self.view, name=shown.name, source=BACKUP))
            self.status.prompt_name = shown.name
            self.prompt_list.mark_current(shown.name)
            self.notify(f"Cannot show {message.name}: {message.message}", severity="error", markup=False)
            return
        self.notify(message.message, severity="error", markup=False)

    @on(ListLoaded)
    def _list_loaded(self, message: ListLoaded) -> None:
        self.prompt_list.set_prompts(message.summaries, self.current)
        self._list_title()
        self.compose_shown()

    @on(RowsLoaded)
    def _rows_loaded(self, message: RowsLoaded) -> None:
        for name, row in message.rows.items():
            self.prompt_list.set_row(name, row, self.current)
        self._list_title()
        others = frozenset(message.rows) - {self.current}
        if others:
            # Another prompt changed: a part this one includes (its render changed), or one that
            # now includes this one or no longer does (its users changed). Only those are read.
            self.compose_shown(others)

    def compose_shown(self, changed: frozenset[str] = frozenset()) -> None:
        """Read the shown prompt's includes, users and render (the composer posts Composed)."""
        state = self.state
        if state is None or not state.exists or state.name != self.current:
            return
        listed = {name: row.version for name, row in self.prompt_list.summaries.items()}
        self.query_one(Composer).follow(state, self.view.label, listed, changed)

    @on(Composed)
    def _composed(self, message: Composed) -> None:
        found = message.composition
        if found.name != self.current:
            return
        self.composition = found
        line = self.query_one("#composition", Static)
        text = found.line()
        line.update(text)
        line.display = bool(text)
        rendered = self.query_one("#rendered", PromptView)
        if found.rendered is not None:
            rendered.show(found.rendered, found.version)
            rendered.border_title = plain_title(f"rendered with {found.values_from}")
            rendered.border_subtitle = f"{len(rendered.lines)} lines · f5 hides"
        else:
            rendered.show(found.problem or "This prompt has no template syntax: it is served as it is.",
                          found.version)
            rendered.border_title = plain_title(f"not rendered (values: {found.values_from or 'none'})"
                                                if found.problem else "rendered")
            rendered.border_subtitle = "f5 hides"

    def _list_title(self) -> None:
        self.prompt_list.border_title = f"Prompts ({self.prompt_list.stored})"
        self.follow_fleet()

    def follow_fleet(self) -> None:
        """Read the fleet while its pane shows, and only then."""
        if self.is_mounted:
            self.query_one(FleetWatch).follow(self.prompt_list.names or [self.current], self.panes.fleet_visible)

    @on(HistoryLoaded)
    def _history_loaded(self, message: HistoryLoaded) -> None:
        if message.name == self.current:
            self.timeline.set_entries(message.entries)

    @on(DiffReady)
    def _diff_ready(self, message: DiffReady) -> None:
        if message.view != self.view or message.instruction != (self.instruction if self.view.previewing else ""):
            return  # computed for what the screen showed before
        preview = message.kind == "preview"
        self.diff_view.show_ready(message.title, message.rows, preview=preview)
        if preview and self.panes.shown == "prompt-pane":
            self.panes.bring("diff")  # in tabs, what is typed is previewed where it can be seen

    @on(FleetLoaded)
    def _fleet_loaded(self, message: FleetLoaded) -> None:
        self.query_one("#fleet", FleetView).agents = message.agents

    @on(StoreFailed)
    def _store_failed(self, message: StoreFailed) -> None:
        self.notify(message.message, severity="error", markup=False)

    @on(ArchiveUnavailable)
    def _archive_unavailable(self, message: ArchiveUnavailable) -> None:
        self.notify(message.message, severity="warning", markup=False)

    @on(Written)
    def _written(self, message: Written) -> None:
        result = message.result
        if result.changed:
            self.notify(f"{message.done}: now v{result.version}.", markup=False)
            self.mine.wrote(result.name, result.version)
        else:
            self.notify(result.message or "Nothing changed.", markup=False)
        for warning in result.warnings:
            self.notify(warning, severity="warning", markup=False)
        self._feed_down_reread(result.name)

    @on(Moved)
    def _moved(self, message: Moved) -> None:
        result = message.result
        if result.changed:
            self.notify(f"{message.done}: production v{result.previous} → v{result.version}.", markup=False)
        else:
            self.notify(result.message or "Nothing moved.", markup=False)
        self._feed_down_reread(result.name)

    @on(Undone)
    def _undone(self, message: Undone) -> None:
        result = message.result
        verb = "Redid" if message.redo else "Undid"
        if not result.changed:
            self.notify(result.message or "Nothing changed.", markup=False)
            return
        if message.redo:
            self.mine.redid(result.name, result.version)
        else:
            self.mine.undid(result.name, result.version)
        self.notify(f"{verb} your change v{message.reverted}: now v{result.version}.", markup=False)
        self._feed_down_reread(result.name)

    @on(Renamed)
    def _renamed(self, message: Renamed) -> None:
        if message.new:
            self.mine.renamed(message.old, message.new)
            if message.old == self.current:
                self.focus_prompt(message.new)
        else:
            self.mine.forget(message.old)
            if message.old == self.current:  # the shown prompt is gone: show another one
                others = [n for n in self.prompt_list.names if n != message.old]
                self.focus_prompt(others[0] if others else DEFAULT_NAME)
        self.refresher.everything()

    def _feed_down_reread(self, name: str) -> None:
        """The feed brings our own writes back too; only while it is down, ask for the read."""
        if self.status.mode == LiveMode.DISCONNECTED:
            self.refresher.changed(name)

    # -- the instruction input --------------------------------------------------------

    @on(InstructionProblem)
    def _instruction_problem(self, message: InstructionProblem) -> None:
        if message.instruction != self.instruction:
            return  # the person has typed on since
        self.instruction_bar.show_error(message.message)
        if self.view.previewing:  # no preview to show: the diff pane goes back to the live diff
            self.show_view(dataclasses.replace(self.view, previewing=False))

    @on(Applied)
    def _applied(self, message: Applied) -> None:
        if message.instruction == self.instruction:
            self.instruction = ""
            self.instruction_bar.clear()
            self.show_view(dataclasses.replace(self.view, previewing=False))
        result = message.result
        if result.changed:
            self.mine.wrote(result.name, result.version)
        self.notify(f"v{result.version}: {message.instruction.strip()[:80]}", markup=False)
        for warning in result.warnings:
            self.notify(warning, severity="warning", markup=False)
        self._feed_down_reread(result.name)

    # -- picking ----------------------------------------------------------------------

    @on(PromptList.Picked)
    def _picked(self, message: PromptList.Picked) -> None:
        self.focus_prompt(message.name)
        self.panes.bring("prompt-pane")

    @on(ShowPrompt)
    def _show_prompt(self, message: ShowPrompt) -> None:
        self.focus_prompt(message.name)

    def focus_prompt(self, name: str) -> None:
        """Point every pane at prompt ``name`` (once it has been read; if it cannot be, nothing moves)."""
        if name == self.current:
            return
        self.show_view(View(name, mode=self.view.mode, previewing=self.view.previewing))
        self.labels = None
        self.status.prompt_name = name
        self.timeline.marked = None
