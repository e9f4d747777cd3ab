"""The dashboard's requests: a container around every pane, so its bindings work from any of them.

:class:`DashboardKeys` is the one place the person's requests turn into work: each key
action checks what it needs (a prompt shown, not read-only) and hands the request to
one of the screen's parts, which asks first where a write changes the live prompt. The
instruction input's typing (a preview after a pause) and Enter arrive here too, as the
input's messages, and so do the pane-local keys (the changelog's, the prompt list's).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from textual import on
from textual.actions import SkipAction
from textual.containers import Container
from textual.timer import Timer
from textual.widgets import Input

from dynamic_prompt.archive.records import SearchHit
from dynamic_prompt.core.models import PromptState
from dynamic_prompt.tui.actions import DASHBOARD_ACTIONS, bindings, by_id
from dynamic_prompt.tui.render import title as plain_title
from dynamic_prompt.tui.view import BACKUP, DiffMode, DiffSource
from dynamic_prompt.tui.widgets.instruction import InstructionBar
from dynamic_prompt.tui.widgets.prompt_list import PromptList
from dynamic_prompt.tui.widgets.timeline import Timeline

if TYPE_CHECKING:
    from dynamic_prompt.tui.screens.dashboard import DashboardScreen

PREVIEW_DELAY = 0.25
"""Seconds of quiet typing before the instruction is previewed."""

READ_ONLY = "This dashboard is read-only (dprompt tui --read-only); nothing was written."

PRODUCTION_ONLY = frozenset({"undo", "redo", "revert", "restore", "edit", "timeline.revert_change"})
"""Writes of production's own text: refused (one line) while the text pane shows another label."""


class DashboardKeys(Container):
    """Holds the panes; runs the dashboard's actions on the screen's parts."""

    BINDINGS = bindings(DASHBOARD_ACTIONS)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._preview_timer: Timer | None = None

    @property
    def dashboard(self) -> DashboardScreen:
        """The screen these keys work on."""
        return self.screen  # type: ignore[return-value]

    def _writable(self, action_id: str) -> PromptState | None:
        """The shown prompt, if the action may write it now (else one line saying why, and None)."""
        screen = self.dashboard
        if by_id(action_id).writes and screen.read_only:
            self.notify(READ_ONLY, severity="warning", markup=False)
            return None
        if screen.view.at_label and action_id in PRODUCTION_ONLY:
            self.notify(f"The text pane shows label {screen.view.label!r}; {by_id(action_id).description.lower()} "
                        "works on production: f9 goes back to it. Instructions edit the label.",
                        severity="warning", markup=False)
            return None
        state = screen.state
        if state is None or not state.exists:
            self.notify(f"There is no prompt named {screen.current!r} yet: load a file or create one.",
                        severity="warning", markup=False)
            return None
        return state

    # -- the instruction input ----------------------------------------------------------

    @on(InstructionBar.Typed)
    def _typed(self, message: InstructionBar.Typed) -> None:
        screen = self.dashboard
        screen.instruction = message.value
        if self._preview_timer is not None:
            self._preview_timer.stop()
        previewing = bool(message.value.strip())
        if previewing != screen.view.previewing:
            screen.show_view(dataclasses.replace(screen.view, previewing=previewing))
        if previewing:  # after a pause in the typing (the bar's suggester fills its hint meanwhile)
            self._preview_timer = self.set_timer(PREVIEW_DELAY, self.preview_now)

    def preview_typed(self) -> None:
        """Preview what is typed now (after a write, or when a failed preview had left the live diff)."""
        screen = self.dashboard
        if screen.instruction.strip() and not screen.view.previewing:
            screen.show_view(dataclasses.replace(screen.view, previewing=True))
        self.preview_now()

    def preview_now(self) -> None:
        """Preview the typed instruction on the shown text now (no debounce)."""
        screen = self.dashboard
        if screen.state is not None and screen.state.exists and screen.view.previewing:
            shown = screen.composition
            users = shown.used_by if shown is not None and shown.name == screen.state.name else ()
            screen.instruction_flow.preview(screen.state, screen.instruction, screen.view, users)

    @on(InstructionBar.Apply)
    def _apply(self, message: InstructionBar.Apply) -> None:
        screen = self.dashboard
        if screen.read_only:
            screen.instruction_bar.show_error("Read-only: the preview above is all an instruction does here; "
                                              "nothing was written.")
            return
        state = screen.state
        if state is None or not state.exists:
            screen.instruction_bar.show_error(f"There is no prompt named {screen.current!r} yet: load one first.")
            return
        screen.instruction_flow.apply(state, message.value, message.note, screen.view.label)

    # -- writes -----------------------------------------------------------------------

    def action_undo(self) -> None:
        """Undo the person's own last change (asks; later changes by others stay)."""
        if (state := self._writable("undo")) is None:
            return
        version = self.dashboard.mine.to_undo(state.name)
        if version is None:
            self.notify("Nothing of yours to undo here in this session. To go back anyway: x on a change "
                        "in the changelog, or ctrl+o to restore a version.", markup=False)
            return
        self.dashboard.actions.revert_change(state, version, undo=True)

    def action_redo(self) -> None:
        """Redo the change the person undid (asks)."""
        if (state := self._writable("redo")) is None:
            return
        version = self.dashboard.mine.to_redo(state.name)
        if version is None:
            self.notify("Nothing to redo.", markup=False)
            return
        self.dashboard.actions.revert_change(state, version, redo=True)

    def action_revert(self) -> None:
        """Revert to the original text (asks first)."""
        if (state := self._writable("revert")) is not None:
            self.dashboard.actions.revert(state)

    def action_restore(self) -> None:
        """Restore the version picked in the changelog (asks first)."""
        if (state := self._writable("restore")) is None:
            return
        entry = self.dashboard.timeline.selected
        if entry is None or entry.version is None:
            self.notify("Pick a changelog entry with a version first (the changelog, below).",
                        severity="warning", markup=False)
            return
        self.dashboard.actions.restore(state, entry.version)

    def action_edit(self) -> None:
        """Edit the text by hand (saves with conflict detection)."""
        if (state := self._writable("edit")) is not None:
            self.dashboard.actions.edit(state)

    def action_load(self) -> None:
        """Load a file into this prompt."""
        if self.dashboard.read_only:
            self.notify(READ_ONLY, severity="warning", markup=False)
            return
        self.dashboard.actions.load(self.dashboard.current)

    def action_new_prompt(self) -> None:
        """Create a new prompt from text or a file."""
        if self.dashboard.read_only:
            self.notify(READ_ONLY, severity="warning", markup=False)
            return
        self.dashboard.actions.new_prompt()

    @on(Timeline.RevertChange)
    def _revert_change(self, message: Timeline.RevertChange) -> None:
        if (state := self._writable("timeline.revert_change")) is None:
            return
        if message.entry.version is None:
            self.notify("That entry has no version number (written by another tool).", markup=False)
            return
        self.dashboard.actions.revert_change(state, message.entry.version)

    @on(PromptList.Manage)
    def _manage(self, message: PromptList.Manage) -> None:
        if self.dashboard.read_only:
            self.notify(READ_ONLY, severity="warning", markup=False)
            return
        getattr(self.dashboard.actions, message.what)(message.name)

    # -- labels -------------------------------------------------------------------------

    def action_next_label(self) -> None:
        """Show the next label's text: production, latest, then the others by name."""
        screen = self.dashboard
        labels = screen.labels
        order = list(labels.labels.all()) if labels is not None and labels.name == screen.current else []
        if len(order) <= 2 and (labels is None or labels.labels.latest == labels.labels.production):
            self.notify(f"{screen.current!r} has no label but production. Make one with: dprompt label set "
                        f"{screen.current} staging production", markup=False)
            return
        at = order.index(screen.view.label) if screen.view.label in order else 0
        label = order[(at + 1) % len(order)]
        screen.show_view(dataclasses.replace(screen.view, label=label, source=BACKUP))
        screen.titles()

    def action_promote(self) -> None:
        """Make the shown label's version (or the rollout's) production, after asking."""
        if (state := self._writable("promote")) is None:
            return
        screen = self.dashboard
        if screen.labels is None or screen.labels.name != state.name:
            self.notify("The labels are still being read; try again in a moment.", markup=False)
            return
        screen.actions.promote(state.name, screen.view.label, screen.labels)

    def action_rollback(self) -> None:
        """Move production back where it was before its last promote, after asking."""
        if (state := self._writable("rollback")) is not None:
            self.dashboard.actions.rollback(state.name)

    # -- the view ---------------------------------------------------------------------

    def _source(self, source: DiffSource) -> None:
        screen = self.dashboard
        screen.show_view(dataclasses.replace(screen.view, source=source))

    @on(Timeline.Picked)
    def _entry_picked(self, message: Timeline.Picked) -> None:
        if message.entry.version is None:
            self.notify("That entry has no version number (written by another tool).", markup=False)
            return
        self._source(DiffSource.change(message.entry.version))
        self.dashboard.panes.bring("diff")

    @on(Timeline.Compare)
    def _entry_compare(self, message: Timeline.Compare) -> None:
        entry, marked = message.entry, message.marked
        if entry.version is None or (marked is not None and marked.version is None):
            self.notify("That entry has no version number (written by another tool).", markup=False)
            return
        if marked is not None and marked.version is not None:
            self._source(DiffSource.pair(marked.version, entry.version))
        else:
            self._source(DiffSource.version(entry.version))
        self.dashboard.panes.bring("diff")

    # -- the archive ------------------------------------------------------------------

    def action_search_archive(self) -> None:
        """Search the archive; the hit chosen is diffed against the active text."""
        from dynamic_prompt.tui.screens.archive import SearchScreen

        screen, keeper = self.dashboard, self.dashboard.archive
        if keeper.archive is None:
            self.notify(keeper.unavailable, severity="warning", markup=False)
            return
        self.app.push_screen(SearchScreen(keeper.archive, keeper.server, screen.app.clock,
                                          label=screen.app.server_label), self._hit_chosen)

    def _hit_chosen(self, hit: SearchHit | None) -> None:
        if hit is None:
            return
        screen = self.dashboard
        if hit.version is None:
            self.notify("That changelog entry has no version number (written by another tool).", markup=False)
            return
        if hit.name != screen.current and hit.name not in screen.prompt_list.names:
            self.notify(f"{hit.name!r} is only in the archive (Redis holds nothing of it): `dprompt search "
                        f"WORDS --name {hit.name}` lists its texts, `dprompt recover --name {hit.name}` puts it "
                        "back.", markup=False)
            return
        screen.focus_prompt(hit.name)  # nothing to do when it is the shown one
        self._source(DiffSource.version(hit.version))
        screen.panes.bring("diff")

    def action_archive_stats(self) -> None:
        """The archive's counts for the shown prompt and for every prompt of the server."""
        from dynamic_prompt.tui.screens.archive import StatsScreen

        screen, keeper = self.dashboard, self.dashboard.archive
        if keeper.archive is None:
            self.notify(keeper.unavailable, severity="warning", markup=False)
            return
        self.app.push_screen(StatsScreen(keeper.archive, keeper.server, screen.current, screen.app.clock,
                                         label=screen.app.server_label))

    def action_toggle_diff(self) -> None:
        """Switch between unified and side-by-side diffs."""
        screen = self.dashboard
        mode = DiffMode.SPLIT if screen.view.mode is DiffMode.UNIFIED else DiffMode.UNIFIED
        screen.show_view(dataclasses.replace(screen.view, mode=mode))
        self.preview_now()  # a preview shown is redrawn in the new layout

    def action_diff_backup(self) -> None:
        """Diff against the original again."""
        self._source(BACKUP)

    def action_toggle_wrap(self) -> None:
        """Soft wrap long lines in the prompt and diff panes, or scroll them sideways again."""
        screen = self.dashboard
        wrap = not screen.prompt_view.wrap
        screen.prompt_view.set_wrap(wrap)
        screen.diff_view.set_wrap(wrap)
        self.notify("Long lines wrap." if wrap else "Long lines scroll sideways.", markup=False)

    def action_toggle_rendered(self) -> None:
        """Show the prompt rendered with the sample values below its source, or hide it."""
        pane = self.dashboard.query_one("#prompt-pane")
        pane.toggle_class("-rendered")
        if pane.has_class("-rendered"):
            self.dashboard.compose_shown()  # the samples file may have changed since

    def action_toggle_fleet(self) -> None:
        """Show or hide the fleet pane (in the tabs layout: go to its tab, or back)."""
        self.dashboard.panes.toggle_fleet()

    def action_pane(self, step: int) -> None:
        """The previous or next pane (the tabs layout shows one at a time), focused."""
        screen = self.dashboard
        shown = screen.panes.step(step)
        if shown == "prompt-pane":
            screen.prompt_view.focus()
        elif shown == "timeline":
            screen.timeline.table.focus()
        elif (pane := screen.query_one(f"#{shown}")).focusable:
            pane.focus()

    # -- the prompt's text --------------------------------------------------------------

    def action_find(self) -> None:
        """Search the prompt text: the box opens above it; Enter and F3 go to the next match."""
        screen = self.dashboard
        screen.panes.bring("prompt-pane")
        box = screen.query_one("#find", Input)
        screen.query_one("#prompt-pane").add_class("-finding")
        box.focus()

    @on(Input.Changed, "#find")
    def _find_typed(self, event: Input.Changed) -> None:
        event.stop()
        count = self.dashboard.prompt_view.search(event.value)
        self._find_title(count and 1, count)

    @on(Input.Submitted, "#find")
    def _find_enter(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_find_next()

    def _find_title(self, at: int, count: int) -> None:
        view = self.dashboard.prompt_view
        query = view.search_query
        if not query:
            return
        found = f"{at} of {count}" if count else "no match"
        view.border_subtitle = plain_title(f"find {query[:30]!r}: {found}")

    def action_find_next(self) -> None:
        """The next match of the search."""
        if not self.dashboard.prompt_view.search_query:
            raise SkipAction()
        self._find_title(*self.dashboard.prompt_view.goto_match(1))

    def action_find_previous(self) -> None:
        """The previous match of the search."""
        if not self.dashboard.prompt_view.search_query:
            raise SkipAction()
        self._find_title(*self.dashboard.prompt_view.goto_match(-1))

    def on_key(self, event: object) -> None:
        """Esc in the search box closes it."""
        from textual.events import Key

        screen = self.dashboard
        if isinstance(event, Key) and event.key == "escape" and screen.focused is screen.query_one("#find"):
            event.stop()
            box = screen.query_one("#find", Input)
            box.value = ""
            screen.query_one("#prompt-pane").remove_class("-finding")
            screen.prompt_view.end_search()
            screen.prompt_view.focus()

    def action_copy(self) -> None:
        """Copy the active prompt to the clipboard."""
        state = self.dashboard.state
        if state is not None and state.active is not None:
            self.app.copy_to_clipboard(state.active)
            self.notify(f"Copied {state.name} v{state.version} ({len(state.active):,} characters).",
                        markup=False)

    def action_focus_instruction(self) -> None:
        """Move to the instruction input."""
        self.dashboard.instruction_bar.input.focus()
