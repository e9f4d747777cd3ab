"""The prompt list: every prompt in the server, with its version and last change."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import DataTable

from dynamic_prompt.core.models import PromptSummary
from dynamic_prompt.tui.render import age, safe


class PromptList(DataTable[Text]):
    """A table of prompts; Enter or a click posts :class:`PromptList.Picked`."""

    DEFAULT_CSS = """
    PromptList { height: 1fr; }
    """

    class Picked(Message):
        """A person picked prompt ``name``."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, show_row_labels=False)
        self.clock = clock
        self.names: list[str] = []
        self.current = ""

    def on_mount(self) -> None:
        """The columns."""
        self.add_column("prompt", key="name")
        self.add_column("ver", key="version")
        self.add_column("changed", key="changed")

    def set_prompts(self, summaries: Sequence[PromptSummary], current: str) -> None:
        """Replace the rows, keeping the cursor on the highlighted (or current) prompt."""
        keep = self.names[self.cursor_row] if 0 <= self.cursor_row < len(self.names) else current
        self.current = current
        rows = list(summaries)
        if current and current not in {s.name for s in rows}:
            rows.insert(0, PromptSummary(current, 0, 0, 0.0, "", "(none)"))
        now = self.clock()
        self.clear()
        self.names = [s.name for s in rows]
        for s in rows:
            mark = "● " if s.name == current else "  "
            name = Text(mark + safe(s.name), style="bold" if s.name == current else "")
            version = Text(f"v{s.version}" if s.version else "-", justify="right")
            when = f"{age(now - s.updated_at)} ago" if s.updated_at else ""
            action = safe(s.action or "")
            changed = Text(f"{when} {action}".strip(), style="dim")
            self.add_row(name, version, changed, key=s.name)
        if keep in self.names:
            self.move_cursor(row=self.names.index(keep), animate=False)

    @on(DataTable.RowSelected)
    def _picked(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Picked(str(event.row_key.value)))
