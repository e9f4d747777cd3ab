"""The changelog timeline: newest first, with a filter box (search the changelog)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input

from dynamic_prompt.core.models import ChangeEntry
from dynamic_prompt.tui.render import safe, when


def entry_detail(entry: ChangeEntry) -> str:
    """What an entry says: its instruction, source, or the raw text of a bad entry."""
    if entry.raw is not None:
        return f"(unreadable) {entry.raw[:80]}"
    if entry.instruction:
        return entry.instruction
    source = entry.metadata.get("source") if entry.metadata else None
    return f"source: {source}" if source else ""


def entry_matches(entry: ChangeEntry, query: str) -> bool:
    """Case-insensitive match of ``query`` against time-free fields of ``entry``."""
    if not query:
        return True
    haystack = " ".join(
        [entry.action, entry.user_id, entry_detail(entry), f"v{entry.version}" if entry.version else ""]
    ).casefold()
    return all(word in haystack for word in query.casefold().split())


class Timeline(Vertical):
    """The changelog table and its filter; posts :class:`Timeline.Picked`."""

    DEFAULT_CSS = """
    Timeline { height: 1fr; }
    Timeline > Input { display: none; height: 3; }
    Timeline.-searching > Input { display: block; }
    Timeline > DataTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("c", "compare", "Diff vs active", id="timeline.compare"),
        Binding("escape", "end_search", "Close filter", show=False, id="timeline.end_search"),
    ]

    class Picked(Message):
        """An entry was chosen: show the change it made."""

        def __init__(self, entry: ChangeEntry) -> None:
            super().__init__()
            self.entry = entry

    class Compare(Message):
        """Diff the active text against this entry's version."""

        def __init__(self, entry: ChangeEntry) -> None:
            super().__init__()
            self.entry = entry

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.entries: list[ChangeEntry] = []
        self.shown: list[ChangeEntry] = []
        self.query_text = ""

    def compose(self) -> ComposeResult:
        """The filter box (hidden until searching) and the table."""
        yield Input(placeholder="filter the changelog (action, user, instruction)", id="timeline-filter")
        table: DataTable[Text] = DataTable(cursor_type="row", id="timeline-table")
        yield table

    @property
    def table(self) -> DataTable[Text]:
        """The entries' table."""
        return self.query_one("#timeline-table", DataTable)

    def on_mount(self) -> None:
        """The columns."""
        for label, key in (("time", "time"), ("ver", "ver"), ("user", "user"), ("action", "action"),
                           ("+/-", "delta"), ("instruction", "detail")):
            self.table.add_column(label, key=key)

    def set_entries(self, entries: Sequence[ChangeEntry]) -> None:
        """Replace the entries (newest first) and redraw the filtered rows."""
        self.entries = list(entries)
        self._redraw()

    @property
    def selected(self) -> ChangeEntry | None:
        """The highlighted entry, if any."""
        row = self.table.cursor_row
        return self.shown[row] if 0 <= row < len(self.shown) else None

    def _redraw(self) -> None:
        table = self.table
        keep = self.selected
        table.clear()
        self.shown = [e for e in self.entries if entry_matches(e, self.query_text)]
        now = self.clock()
        for entry in self.shown:
            delta = ""
            if entry.added is not None or entry.removed is not None:
                delta = f"+{entry.added or 0}/-{entry.removed or 0}"
            table.add_row(
                Text(when(entry.timestamp, now), style="dim"),
                Text(f"v{entry.version}" if entry.version else "-", justify="right"),
                Text(safe(entry.user_id or "-")),
                Text(safe(entry.action.upper()), style="bold"),
                Text(delta, style="green" if entry.added else ""),
                Text(safe(entry_detail(entry))),
            )
        if keep is not None and keep in self.shown:
            table.move_cursor(row=self.shown.index(keep), animate=False)

    def start_search(self) -> None:
        """Show the filter box and focus it."""
        self.add_class("-searching")
        self.query_one("#timeline-filter", Input).focus()

    def action_end_search(self) -> None:
        """Hide and clear the filter."""
        box = self.query_one("#timeline-filter", Input)
        box.value = ""
        self.remove_class("-searching")
        self.table.focus()

    def action_compare(self) -> None:
        """Ask for a diff of the active text against the highlighted entry's version."""
        if self.selected is not None:
            self.post_message(self.Compare(self.selected))

    @on(Input.Changed, "#timeline-filter")
    def _filter(self, event: Input.Changed) -> None:
        event.stop()
        self.query_text = event.value
        self._redraw()

    @on(Input.Submitted, "#timeline-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    @on(DataTable.RowSelected, "#timeline-table")
    def _picked(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.selected is not None:
            self.post_message(self.Picked(self.selected))
