"""A scrolling view that renders only the lines on screen (Textual's line API), wrapped or not.

Subclasses say how many lines there are and how to build one line's ``Text``;
this class turns visible lines into strips on demand and caches them, so a
20,000-line prompt costs what its visible 40 lines cost.

With :attr:`LazyLines.wrap` on, a long line continues on the next rows instead of
scrolling sideways. Which rows each line takes is worked out from the lines' plain
text alone (:meth:`LazyLines.line_plain`, :func:`~dynamic_prompt.tui.render.wrap_offsets`),
once per text and width, so scrolling stays as cheap as without wrapping.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from dynamic_prompt.tui.render import wrap_offsets, wrap_rows

CACHE_LINES = 4000
"""Rendered lines kept; dropped all at once when exceeded (cheap and simple)."""


class LazyLines(ScrollView, can_focus=True):
    """A line-API view over ``line_count`` lines, each built by :meth:`line_text`.

    A fixed ``gutter_width`` (line numbers) stays put while the text scrolls
    sideways; :meth:`gutter_text` builds it.
    """

    DEFAULT_CSS = """
    LazyLines {
        background: $surface;
        overflow: auto auto;
        scrollbar-gutter: stable;
    }
    """
    # The gutter is kept for the vertical scrollbar even when none is needed: wrapped text
    # whose rows fit only without it would otherwise settle with or without it, depending
    # on which came first (the text or the layout), and the panes would jump.

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.line_count = 0
        self.gutter_width = 0
        self.content_width = 0
        self.wrap = False
        """Soft wrap: long lines continue on the next rows (no sideways scrolling)."""
        self._strips: dict[int, tuple[list[Strip], list[Strip]]] = {}
        self._row_starts: list[int] = []
        self._wrapped_for = -1
        self.generation = 0
        """Bumped by :meth:`set_lines`; ``painted`` catches up when the new lines reach the screen."""
        self.painted = 0

    # -- for subclasses ---------------------------------------------------------------

    def line_text(self, index: int) -> Text:
        """The text of line ``index`` (0-based), without the gutter."""
        raise NotImplementedError

    def line_plain(self, index: int) -> str:
        """Line ``index`` as plain text, for working out its wrapped rows (override when cheap)."""
        return self.line_text(index).plain

    def line_rows(self, index: int, width: int) -> list[Text]:
        """Line ``index`` cut into rows of ``width`` cells (soft wrap); one row each by default."""
        return wrap_rows(self.line_text(index), width)

    def row_count(self, index: int, width: int) -> int:
        """How many rows line ``index`` takes wrapped to ``width`` (must agree with :meth:`line_rows`)."""
        return len(wrap_offsets(self.line_plain(index), width))

    def gutter_text(self, index: int) -> Text:
        """The gutter of line ``index`` (``gutter_width`` cells)."""
        return Text("")

    def set_lines(self, count: int, content_width: int) -> None:
        """Start over with ``count`` lines whose widest is ``content_width`` cells."""
        self.line_count = count
        self.content_width = content_width
        self.generation += 1
        self._strips.clear()
        self._wrapped_for = -1
        self._layout()
        self.refresh()

    def set_wrap(self, wrap: bool) -> None:
        """Turn soft wrap on or off (keeping the top line in view)."""
        if wrap == self.wrap:
            return
        top = self.top_line()
        self.wrap = wrap
        # Wrapped, nothing is wider than the pane: no horizontal scrollbar, which would also
        # make Textual's vertical one depend on the order in which sizes arrived.
        self.styles.overflow_x = "hidden" if wrap else "auto"
        self._strips.clear()
        self._wrapped_for = -1
        self._layout()
        self.scroll_to_line(top, animate=False)
        self.refresh()

    def invalidate(self, lines: set[int] | None = None) -> None:
        """Forget rendered strips (``lines``: 0-based; ``None``: all) and repaint."""
        if lines is None:
            self._strips.clear()
        else:
            for index in lines:
                self._strips.pop(index, None)
        self.refresh()

    # -- geometry -----------------------------------------------------------------------

    @property
    def text_width(self) -> int:
        """Cells for the text (the width without the gutter), as wrapping uses them."""
        return max(self.scrollable_content_region.width - self.gutter_width, 1)

    def _layout(self) -> None:
        """Virtual size (and, wrapped, where each line's rows start) for the current width."""
        if not self.wrap:
            self._row_starts = []
            self.virtual_size = Size(self.content_width + self.gutter_width, self.line_count)
        else:
            width = self.text_width
            counts = (self.row_count(i, width) for i in range(self.line_count))
            self._row_starts = [0, *accumulate(counts)]
            self._wrapped_for = width
            self.virtual_size = Size(width + self.gutter_width, self._row_starts[-1])
        # Textual re-decides scrollbars only when the widget's size changes; a virtual size set
        # from on_resize would otherwise keep a scrollbar the text no longer needs (as TextArea does).
        self._refresh_scrollbars()

    def on_resize(self) -> None:
        """Wrapped rows follow the pane's width."""
        if self.wrap and self.text_width != self._wrapped_for:
            top = self.top_line()
            self._strips.clear()
            self._layout()
            self.scroll_to_line(top, animate=False)

    def row_of(self, index: int) -> int:
        """The first visual row of line ``index``."""
        if not self.wrap or not self._row_starts:
            return index
        return self._row_starts[min(max(index, 0), self.line_count)]

    def line_at_row(self, row: int) -> tuple[int, int]:
        """(line, row within it) shown at visual row ``row``."""
        if not self.wrap or not self._row_starts:
            return row, 0
        index = bisect_right(self._row_starts, row) - 1
        return index, row - self._row_starts[index]

    def top_line(self) -> int:
        """The line at the top of the view."""
        return self.line_at_row(self.scroll_offset.y)[0]

    def scroll_to_line(self, index: int, *, animate: bool = False, center: bool = False) -> None:
        """Scroll so that line ``index`` is in view (at the top, or in the middle)."""
        row = self.row_of(index)
        if center:
            row = max(0, row - self.scrollable_content_region.height // 2)
        self.scroll_to(y=row, animate=animate)

    # -- rendering --------------------------------------------------------------------

    def _render_strips(self, index: int) -> tuple[list[Strip], list[Strip]]:
        cached = self._strips.get(index)
        if cached is not None:
            return cached
        if len(self._strips) > CACHE_LINES:
            self._strips.clear()
        console = self.app.console
        gutter = self.gutter_text(index)
        rows = self.line_rows(index, self.text_width) if self.wrap else [self.line_text(index)]
        blank = Text(" " * gutter.cell_len, end="")
        gutters = [gutter, *([blank] * (len(rows) - 1))]
        pair = (
            [Strip(g.render(console), g.cell_len) for g in gutters],
            [Strip(r.render(console), r.cell_len) for r in rows],
        )
        self._strips[index] = pair
        return pair

    def render_line(self, y: int) -> Strip:
        """One screen line: the fixed gutter, then the text (scrolled sideways, or wrapped)."""
        self.painted = self.generation
        scroll_x, scroll_y = self.scroll_offset
        if self.wrap and self._wrapped_for != self.text_width:
            self._layout()
        index, sub = self.line_at_row(scroll_y + y)
        width = self.size.width
        style: Style = self.rich_style
        if index >= self.line_count or index < 0:
            return Strip.blank(width, style)
        gutters, texts = self._render_strips(index)
        if sub >= len(texts):
            return Strip.blank(width, style)
        gw = min(self.gutter_width, width)
        left = gutters[sub].crop_extend(0, gw, style)
        x = 0 if self.wrap else scroll_x
        right = texts[sub].crop_extend(x, x + width - gw, style)
        return Strip.join([left, right]).apply_style(style).apply_offsets(x, scroll_y + y)

    def notify_style_update(self) -> None:
        """A theme change restyles every line."""
        super().notify_style_update()
        self._strips.clear()
