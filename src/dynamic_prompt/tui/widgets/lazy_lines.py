"""A scrolling view that renders only the lines on screen (Textual's line API).

Subclasses say how many lines there are and how to build one line's ``Text``;
this class turns visible lines into strips on demand and caches them, so a
20,000-line prompt costs what its visible 40 lines cost.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

CACHE_LINES = 4000
"""Rendered strips kept; dropped all at once when exceeded (cheap and simple)."""


class LazyLines(ScrollView, can_focus=True):
    """A line-API view over ``line_count`` lines, each built by :meth:`line_text`.

    A fixed ``gutter_width`` (line numbers) stays put while the text scrolls
    sideways; :meth:`gutter_text` builds it.
    """

    DEFAULT_CSS = """
    LazyLines {
        background: $surface;
        overflow: auto auto;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.line_count = 0
        self.gutter_width = 0
        self._strips: dict[int, tuple[Strip, Strip]] = {}
        self.generation = 0
        """Bumped by :meth:`set_lines`; ``painted`` catches up when the new lines reach the screen."""
        self.painted = 0

    # -- for subclasses ---------------------------------------------------------------

    def line_text(self, index: int) -> Text:
        """The text of line ``index`` (0-based), without the gutter."""
        raise NotImplementedError

    def gutter_text(self, index: int) -> Text:
        """The gutter of line ``index`` (``gutter_width`` cells)."""
        return Text("")

    def set_lines(self, count: int, content_width: int) -> None:
        """Start over with ``count`` lines whose widest is ``content_width`` cells."""
        self.line_count = count
        self.generation += 1
        self._strips.clear()
        self.virtual_size = Size(content_width + self.gutter_width, count)
        self.refresh()

    def invalidate(self, lines: set[int] | None = None) -> None:
        """Forget rendered strips (``lines``: 0-based; ``None``: all) and repaint."""
        if lines is None:
            self._strips.clear()
        else:
            for index in lines:
                self._strips.pop(index, None)
        self.refresh()

    # -- rendering --------------------------------------------------------------------

    def _render_strips(self, index: int) -> tuple[Strip, Strip]:
        cached = self._strips.get(index)
        if cached is not None:
            return cached
        if len(self._strips) > CACHE_LINES:
            self._strips.clear()
        console = self.app.console
        gutter = self.gutter_text(index)
        text = self.line_text(index)
        pair = (
            Strip(gutter.render(console), gutter.cell_len),
            Strip(text.render(console), text.cell_len),
        )
        self._strips[index] = pair
        return pair

    def render_line(self, y: int) -> Strip:
        """One screen line: the fixed gutter, then the text scrolled sideways."""
        self.painted = self.generation
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        style: Style = self.rich_style
        if index >= self.line_count:
            return Strip.blank(width, style)
        gutter, text = self._render_strips(index)
        gw = min(self.gutter_width, width)
        left = gutter.crop_extend(0, gw, style)
        right = text.crop_extend(scroll_x, scroll_x + width - gw, style)
        return Strip.join([left, right]).apply_style(style).apply_offsets(scroll_x, index)

    def notify_style_update(self) -> None:
        """A theme change restyles every line."""
        super().notify_style_update()
        self._strips.clear()

