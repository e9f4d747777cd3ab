"""The diff pane: unified or side-by-side rows with word-level changes marked."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from dynamic_prompt.core.diff import DiffLine
from dynamic_prompt.tui.diffrows import DiffRows
from dynamic_prompt.tui.render import diff_line_text, safe, side_cell
from dynamic_prompt.tui.widgets.lazy_lines import LazyLines


class DiffView(LazyLines):
    """Draws a :class:`DiffRows`; :meth:`show` replaces it."""

    COMPONENT_CLASSES = {
        "diff-view--gutter",
        "diff-view--hunk",
        "diff-view--insert",
        "diff-view--delete",
        "diff-view--insert-word",
        "diff-view--delete-word",
        "diff-view--empty",
        "diff-view--note",
    }

    DEFAULT_CSS = """
    DiffView > .diff-view--gutter { color: $text-muted; }
    DiffView > .diff-view--hunk { color: $accent; text-style: bold; }
    DiffView > .diff-view--insert { background: $success 15%; }
    DiffView > .diff-view--delete { background: $error 15%; }
    DiffView > .diff-view--insert-word { background: $success 45%; text-style: bold; }
    DiffView > .diff-view--delete-word { background: $error 45%; text-style: bold strike; }
    DiffView > .diff-view--empty { background: $panel; }
    DiffView > .diff-view--note { color: $text-muted; text-style: italic; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: DiffRows | None = None
        self.note = "No changes."

    def show(self, rows: DiffRows | None, note: str = "No changes.") -> None:
        """Display ``rows`` (``None`` or empty: show ``note`` instead)."""
        self.rows = rows
        self.note = note
        self.number_width = len(str(rows.max_number)) if rows else 1
        count = len(rows.rows) if rows and rows.rows else 1
        self.gutter_width = 0
        width = 0
        if rows and rows.mode == "unified":
            width = 2 * self.number_width + 4 + max(
                (len(r[1].text) for r in rows.rows if isinstance(r[1], DiffLine)), default=0
            )
        self.set_lines(count, width)

    def on_resize(self) -> None:
        """Side-by-side cells follow the pane's width."""
        self.invalidate()

    def _styles(self) -> dict[str, Style]:
        get = self.get_component_rich_style
        return {
            "gutter": get("diff-view--gutter"),
            "insert": get("diff-view--insert"),
            "delete": get("diff-view--delete"),
            "insert-word": get("diff-view--insert-word"),
            "delete-word": get("diff-view--delete-word"),
            "empty": get("diff-view--empty"),
            "equal": Style(),
        }

    def line_text(self, index: int) -> Text:
        """One row of the diff."""
        if not self.rows or not self.rows.rows:
            return Text(self.note, self.get_component_rich_style("diff-view--note"), end="")
        kind, value = self.rows.rows[index]
        if kind == "hunk":
            return Text(safe(str(value)), self.get_component_rich_style("diff-view--hunk"), end="")
        styles = self._styles()
        if isinstance(value, DiffLine):
            return diff_line_text(value, self.number_width, styles)
        assert isinstance(value, tuple)
        left, right = value
        half = max((self.size.width - 1) // 2, 10)
        text = side_cell(left, half, self.number_width, styles, left=True)
        text.append("│", styles["gutter"])
        text.append_text(side_cell(right, half, self.number_width, styles, left=False))
        return text
