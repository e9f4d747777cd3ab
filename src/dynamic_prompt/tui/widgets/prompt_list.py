"""The prompt list: every prompt in the server, with its version and last change."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from dynamic_prompt.core.models import PromptSummary
from dynamic_prompt.tui.actions import PROMPT_LIST_ACTIONS, bindings
from dynamic_prompt.tui.render import age, safe


class PromptList(DataTable[Text]):
    """A table of prompts; Enter or a click posts :class:`PromptList.Picked`.

    The screen gives it the whole listing (:meth:`set_prompts`) after a resync and
    single rows (:meth:`set_row`) after a change: a write to one prompt redraws one row.
    """

    DEFAULT_CSS = """
    PromptList { height: 1fr; }
    """

    BINDINGS = [*bindings(PROMPT_LIST_ACTIONS)]

    class Picked(Message):
        """A person picked prompt ``name``."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class Manage(Message):
        """Duplicate, rename or delete prompt ``name`` (``what``: the action's id)."""

        def __init__(self, name: str, what: str) -> None:
            super().__init__()
            self.name = name
            self.what = what

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, show_row_labels=False)
        self.clock = clock
        self.names: list[str] = []
        """The rows, top to bottom."""
        self.summaries: dict[str, PromptSummary] = {}
        """The stored prompts' rows, by name."""
        self.current = ""

    @property
    def stored(self) -> int:
        """How many prompts the server holds (the current one may be a placeholder row)."""
        return len(self.summaries)

    def on_mount(self) -> None:
        """The columns."""
        self.add_column("prompt", key="name")
        self.add_column("ver", key="version")
        self.add_column("changed", key="changed")
        self.add_column("labels", key="labels")

    def _cells(self, name: str) -> tuple[Text, Text, Text, Text]:
        summary = self.summaries.get(name) or PromptSummary(name, 0, 0, 0.0, "", "(none)")
        current = name == self.current
        label = Text(("● " if current else "  ") + safe(name), style="bold" if current else "")
        version = Text(f"v{summary.version}" if summary.version else "-", justify="right")
        when = f"{age(self.clock() - summary.updated_at)} ago" if summary.updated_at else ""
        changed = Text(f"{when} {safe(summary.action or '')}".strip(), style="dim")
        marks = " ".join([*summary.labels, *([summary.release] if summary.release else [])])
        return label, version, changed, Text(safe(marks)[:30], style="cyan")

    def set_prompts(self, summaries: Sequence[PromptSummary], current: str) -> None:
        """Replace the rows, keeping the cursor on the highlighted (or current) prompt."""
        keep = self.names[self.cursor_row] if 0 <= self.cursor_row < len(self.names) else current
        self.current = current
        self.summaries = {s.name: s for s in summaries}
        names = [s.name for s in summaries]
        if current and current not in self.summaries:
            names.insert(0, current)
        self.clear()
        self.names = names
        for name in names:
            self.add_row(*self._cells(name), key=name)
        if keep in self.names:
            self.move_cursor(row=self.names.index(keep), animate=False)

    def set_row(self, name: str, summary: PromptSummary | None, current: str) -> None:
        """Update one prompt's row (``None``: it has no text now), adding or dropping it."""
        if summary is None:
            self.summaries.pop(name, None)
        else:
            self.summaries[name] = summary
        self.current = current
        if name not in self.names:
            if summary is None:
                return
            self.names.append(name)
            self.add_row(*self._cells(name), key=name)
            return
        if summary is None and name != current:
            self.names.remove(name)
            try:
                self.remove_row(name)
            except RowDoesNotExist:  # pragma: no cover - names and rows move together
                pass
            return
        self._redraw_row(name)

    def tick(self) -> None:
        """Redraw the relative times ("2m ago") of every row; nothing is read."""
        for name in self.names:
            self.update_cell(name, "changed", self._cells(name)[2], update_width=True)

    @property
    def highlighted(self) -> str | None:
        """The prompt under the cursor."""
        return self.names[self.cursor_row] if 0 <= self.cursor_row < len(self.names) else None

    def _manage(self, what: str) -> None:
        if self.highlighted is not None and self.highlighted in self.summaries:
            self.post_message(self.Manage(self.highlighted, what))

    def action_duplicate(self) -> None:
        """Copy the highlighted prompt to a new name."""
        self._manage("duplicate")

    def action_rename(self) -> None:
        """Rename the highlighted prompt."""
        self._manage("rename")

    def action_delete(self) -> None:
        """Delete the highlighted prompt (the screen asks first)."""
        self._manage("delete")

    def mark_current(self, name: str) -> None:
        """Move the ``●`` to prompt ``name``."""
        previous, self.current = self.current, name
        for row in {previous, name}:
            if row in self.names:
                self._redraw_row(row)

    def _redraw_row(self, name: str) -> None:
        for key, cell in zip(("name", "version", "changed", "labels"), self._cells(name)):
            self.update_cell(name, key, cell, update_width=True)

    @on(DataTable.RowSelected)
    def _picked(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Picked(str(event.row_key.value)))
