"""The diff pane: unified or side-by-side rows with word-level changes marked."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from dynamic_prompt.core.diff import DiffLine
from dynamic_prompt.tui.diffrows import DiffRows
from dynamic_prompt.tui.render import (
    diff_line_parts,
    diff_line_text,
    safe,
    side_cell,
    side_parts,
    wrap_offsets,
    wrap_rows,
)
from dynamic_prompt.tui.render import title as plain_title
from dynamic_prompt.tui.view import DiffMode
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

    def show_ready(self, title: str, rows: DiffRows, *, preview: bool) -> None:
        """Show a computed diff under ``title``; the subtitle counts its lines and says its layout."""
        self.show(rows, note="The instruction changes nothing." if preview else "No differences.")
        self.border_title = plain_title(title)
        mode = "side by side" if rows.mode is DiffMode.SPLIT else "unified"
        self.border_subtitle = f"+{rows.added} -{rows.removed}  ·  {mode}" + ("  ·  wrapped" if self.wrap else "")

    def show(self, rows: DiffRows | None, note: str = "No changes.") -> None:
        """Display ``rows`` (``None`` or empty: show ``note`` instead)."""
        self.rows = rows
        self.note = note
        self.number_width = len(str(rows.max_number)) if rows else 1
        count = len(rows.rows) if rows and rows.rows else 1
        self.gutter_width = 0
        width = 0
        if rows and rows.mode is DiffMode.UNIFIED:
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
        half = self._half()
        text = side_cell(left, half, self.number_width, styles, left=True)
        text.append("│", styles["gutter"])
        text.append_text(side_cell(right, half, self.number_width, styles, left=False))
        return text

    def _half(self) -> int:
        return max((self.scrollable_content_region.width - 1) // 2, 10)

    # -- soft wrap: a row's text continues under itself, the numbers and sign stay put ----

    def line_plain(self, index: int) -> str:
        """The row's plain text (unified: numbers, sign and text)."""
        if not self.rows or not self.rows.rows:
            return self.note
        kind, value = self.rows.rows[index]
        if kind == "hunk":
            return safe(str(value))
        if isinstance(value, DiffLine):
            return " " * (2 * self.number_width + 4) + safe(value.text)
        return ""

    def row_count(self, index: int, width: int) -> int:
        """Rows of the diff row; side by side, the taller of its two cells."""
        value = self.rows.rows[index][1] if self.rows and self.rows.rows else None
        if isinstance(value, tuple):  # as _side_rows cuts them: the text beside its number
            text_width = max(self._half() - self.number_width - 1, 1)
            return max(len(wrap_offsets(safe(side.text), text_width)) if side is not None else 1
                       for side in value)
        if isinstance(value, DiffLine):  # as _hang cuts it: the text beside the numbers and sign
            return len(wrap_offsets(safe(value.text), max(width - 2 * self.number_width - 4, 1)))
        return super().row_count(index, width)

    def line_rows(self, index: int, width: int) -> list[Text]:
        """The diff row wrapped: its text continues under itself, the numbers and sign stay put."""
        if not self.rows or not self.rows.rows or self.rows.rows[index][0] == "hunk":
            return super().line_rows(index, width)
        value = self.rows.rows[index][1]
        styles = self._styles()
        if isinstance(value, DiffLine):
            prefix, content = diff_line_parts(value, self.number_width, styles)
            return _hang(prefix, content, width)
        assert isinstance(value, tuple)
        half = self._half()
        cells = [self._side_rows(side, half, styles, left) for side, left in ((value[0], True), (value[1], False))]
        height = max(len(c) for c in cells)
        out = []
        for k in range(height):
            row = Text(end="")
            for n, cell in enumerate(cells):
                if n:
                    row.append("│", styles["gutter"])
                row.append_text(cell[k] if k < len(cell) else Text(" " * half, cell[-1].style, end=""))
            out.append(row)
        return out

    def _side_rows(self, line: DiffLine | None, half: int, styles: dict[str, Style], left: bool) -> list[Text]:
        prefix, content, fill = side_parts(line, self.number_width, styles, left=left)
        rows = _hang(prefix, content, half)
        for row in rows:
            row.truncate(half, pad=True)
            if fill.bgcolor:
                row.stylize_before(fill)
        return rows


def _hang(prefix: Text, content: Text, width: int) -> list[Text]:
    """``prefix`` then ``content`` wrapped to what is left of ``width``, later rows indented under it."""
    room = max(width - prefix.cell_len, 1)
    rows = wrap_rows(content, room)
    indent = Text(" " * prefix.cell_len, end="")
    out = []
    for k, row in enumerate(rows):
        line = (prefix if k == 0 else indent).copy()
        line.append_text(row)
        out.append(line)
    return out
