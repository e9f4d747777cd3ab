"""The changelog timeline: newest first, following new entries, with marks and a filter.

While the cursor is on the newest entry the timeline follows: a new entry becomes the
top row and the cursor stays on it. Once a person has moved to an older entry, new
ones do not move it: the entry under the cursor stays under the cursor, and the title
says how many new entries arrived (``home`` goes back to the newest and follows again).
A version can be marked (``m``) to compare another with (``c``); ``x`` reverts just the
change an entry made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input

from dynamic_prompt.core.labels import LabelSet
from dynamic_prompt.core.models import ChangeEntry
from dynamic_prompt.tui.actions import TIMELINE_ACTIONS, bindings
from dynamic_prompt.tui.render import safe, when
from dynamic_prompt.tui.render import title as plain_title

MAX_CELL = 200
"""Characters of an entry's detail shown in its cell (another program's entry may be huge)."""


def entry_detail(entry: ChangeEntry) -> str:
    """What an entry says: its instruction (and note), source, or the raw text of a bad entry."""
    if entry.raw is not None:
        detail = f"(unreadable) {entry.raw[:80]}"
        return f"{detail} {entry.instruction}" if entry.instruction else detail
    note = entry.note
    source = entry.metadata.get("source") if entry.metadata else None
    detail = entry.instruction or (f"source: {source}" if source else "")
    label = entry.metadata.get("label") if entry.metadata and entry.action in ("modify", "edit", "config") else None
    if isinstance(label, str) and label:
        detail = f"on {label}: {detail}"  # an edit on a label: production did not change
    if note:
        detail = f"{detail}  — {note}" if detail else f"— {note}"
    return detail[:MAX_CELL]


def entry_matches(entry: ChangeEntry, query: str) -> bool:
    """Case-insensitive match of ``query`` against time-free fields of ``entry``."""
    if not query:
        return True
    haystack = " ".join(
        [entry.action, entry.user_id, entry_detail(entry), f"v{entry.version}" if entry.version else ""]
    ).casefold()
    return all(word in haystack for word in query.casefold().split())


class ChangeTable(DataTable[Text]):
    """The changelog's rows. Home is the changelog's (back to the newest entry), not the table's
    (the leftmost column, which a row table has no use for)."""

    def action_scroll_home(self) -> None:
        """Let the changelog's own Home binding run."""
        raise SkipAction()


def _key(entry: ChangeEntry) -> tuple[object, ...]:
    return (entry.version, entry.timestamp, entry.action, entry.raw)


class Timeline(Vertical):
    """The changelog table and its filter; posts what a person picks."""

    DEFAULT_CSS = """
    Timeline { height: 1fr; }
    Timeline > Input { display: none; height: 3; }
    Timeline.-searching > Input { display: block; }
    Timeline > DataTable { height: 1fr; }
    """

    BINDINGS = [*bindings(TIMELINE_ACTIONS)]

    class Picked(Message):
        """Show the change this entry made."""

        def __init__(self, entry: ChangeEntry) -> None:
            super().__init__()
            self.entry = entry

    class Compare(Message):
        """Diff version ``entry`` against the active text, or against ``marked`` when set."""

        def __init__(self, entry: ChangeEntry, marked: ChangeEntry | None = None) -> None:
            super().__init__()
            self.entry = entry
            self.marked = marked

    class RevertChange(Message):
        """Revert only the change this entry made."""

        def __init__(self, entry: ChangeEntry) -> None:
            super().__init__()
            self.entry = entry

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.entries: list[ChangeEntry] = []
        self.shown: list[ChangeEntry] = []
        self.query_text = ""
        self.unseen = 0
        """New entries that arrived while the person looked at an older one."""
        self.marked: ChangeEntry | None = None
        self.labels: dict[int, list[str]] = {}
        """Version -> the labels that point at it (shown on the newest entry of that version)."""
        self.base_title = "Changelog"
        self._kept_row = 0

    def compose(self) -> ComposeResult:
        """The filter box (hidden until filtering) and the table."""
        yield Input(placeholder="filter the changelog (action, user, instruction)", id="timeline-filter")
        table = ChangeTable(cursor_type="row", id="timeline-table")
        yield table

    @property
    def table(self) -> DataTable[Text]:
        """The entries' table."""
        return self.query_one("#timeline-table", ChangeTable)

    def on_mount(self) -> None:
        """The columns."""
        for label, key in (("time", "time"), ("ver", "ver"), ("user", "user"), ("action", "action"),
                           ("+/-", "delta"), ("labels", "labels"), ("instruction", "detail")):
            self.table.add_column(label, key=key)
        self._title()

    @property
    def following(self) -> bool:
        """True while the cursor is on the newest entry (new entries keep it there)."""
        return self.table.cursor_row <= 0

    def set_entries(self, entries: Sequence[ChangeEntry]) -> None:
        """Replace the entries (newest first) and redraw, following or keeping the person's place."""
        keep = self.selected
        following = self.following or keep is None
        old = {_key(e) for e in self.entries}
        new_count = sum(1 for e in entries if _key(e) not in old) if self.entries else 0
        self.entries = list(entries)
        if following:
            self.unseen = 0
        else:
            self.unseen += new_count
        self._redraw(None if following else keep)

    def set_labels(self, labels: LabelSet) -> None:
        """Where the prompt's labels point now; redrawn only when that changed."""
        by_version: dict[int, list[str]] = {}
        for label, version in labels.all().items():
            by_version.setdefault(version, []).append(label)
        if by_version != self.labels:
            self.labels = by_version
            self._redraw(self.selected)

    def tick(self) -> None:
        """Redraw the times (they are relative to now)."""
        self._redraw(self.selected)

    @property
    def selected(self) -> ChangeEntry | None:
        """The highlighted entry, if any."""
        row = self.table.cursor_row
        return self.shown[row] if 0 <= row < len(self.shown) else None

    def _redraw(self, keep: ChangeEntry | None) -> None:
        table = self.table
        scroll = table.scroll_offset.y
        self._kept_row = table.cursor_row
        table.clear()
        self.shown = [e for e in self.entries if entry_matches(e, self.query_text)]
        now = self.clock()
        marked = _key(self.marked) if self.marked is not None else None
        labelled: set[int] = set()
        for entry in self.shown:
            names: list[str] = []
            if entry.version is not None and entry.version not in labelled:
                names = self.labels.get(entry.version, [])
                labelled.add(entry.version)
            delta = ""
            if entry.added is not None or entry.removed is not None:
                delta = f"+{entry.added or 0}/-{entry.removed or 0}"
            version = Text(f"v{entry.version}" if entry.version else "-", justify="right")
            if marked is not None and _key(entry) == marked:
                version = Text(f"◆v{entry.version}", style="bold magenta", justify="right")
            table.add_row(
                Text(when(entry.timestamp, now), style="dim"),
                version,
                Text(safe(entry.user_id or "-")[:40]),
                Text(safe(entry.action.upper())[:20], style="bold"),
                Text(delta, style="green" if entry.added else ""),
                Text(safe(" ".join(names))[:40], style="bold cyan"),
                Text(safe(entry_detail(entry))),
            )
        keys = [_key(e) for e in self.shown]
        if keep is not None and _key(keep) in keys:
            # The entry the person looks at stays under the cursor, where it was on screen.
            row = keys.index(_key(keep))
            table.move_cursor(row=row, animate=False)
            table.scroll_to(y=max(0, scroll + row - self._kept_row), animate=False)
        else:
            table.move_cursor(row=0, animate=False)
        self._title()

    def _title(self) -> None:
        parts = [self.base_title]
        if self.unseen:
            parts.append(f"{self.unseen} new: home shows them")
        if self.marked is not None:
            parts.append(f"v{self.marked.version} marked: c compares")
        if self.query_text:
            parts.append(f"filter: {self.query_text[:30]}")
        self.border_title = plain_title("  ·  ".join(parts))

    # -- keys -------------------------------------------------------------------------

    def action_newest(self) -> None:
        """Back to the newest entry; new entries are followed again."""
        self.unseen = 0
        self.table.move_cursor(row=0, animate=False)
        self.table.scroll_home(animate=False)
        self._title()

    def action_filter(self) -> None:
        """Show the filter box and focus it."""
        self.add_class("-searching")
        self.query_one("#timeline-filter", Input).focus()

    start_search = action_filter

    def action_end_search(self) -> None:
        """Hide and clear the filter, and the mark."""
        box = self.query_one("#timeline-filter", Input)
        box.value = ""
        self.remove_class("-searching")
        self.marked = None
        self._redraw(self.selected)
        self.table.focus()

    def action_show_change(self) -> None:
        """Show the change the highlighted entry made."""
        if self.selected is not None:
            self.post_message(self.Picked(self.selected))

    def action_compare(self) -> None:
        """Compare the highlighted version with the active text, or with the marked version."""
        if self.selected is not None:
            marked = self.marked if self.marked is not None and _key(self.marked) != _key(self.selected) else None
            self.post_message(self.Compare(self.selected, marked))

    def action_mark(self) -> None:
        """Mark (or unmark) the highlighted version for a comparison."""
        entry = self.selected
        if entry is None:
            return
        self.marked = None if self.marked is not None and _key(self.marked) == _key(entry) else entry
        self._redraw(entry)

    def action_revert_change(self) -> None:
        """Ask to revert only the highlighted entry's change."""
        if self.selected is not None:
            self.post_message(self.RevertChange(self.selected))

    @on(Input.Changed, "#timeline-filter")
    def _filter(self, event: Input.Changed) -> None:
        event.stop()
        self.query_text = event.value
        self._redraw(self.selected)

    @on(Input.Submitted, "#timeline-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    @on(DataTable.RowHighlighted, "#timeline-table")
    def _moved(self, event: DataTable.RowHighlighted) -> None:
        # The table as it is now, not the event's row: a redraw's clear() posts a highlight of
        # row 0 that arrives after the cursor went back to the entry the person reads.
        if self.table.cursor_row == 0 and self.unseen:
            self.unseen = 0  # back at the newest: following again
            self._title()

    @on(DataTable.RowSelected, "#timeline-table")
    def _picked(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_show_change()
