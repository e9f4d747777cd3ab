"""The active prompt: markdown highlighting, line numbers, lines changed from the backup.

Highlighting is lazy and never blocks a frame: visible lines are lexed one by
one (cached by their text, so a one-line change costs one line), and a small
prompt is then lexed whole in a thread so code fences and the like are read in
context. A big prompt stays line by line, and the subtitle says so.
"""

from __future__ import annotations

import asyncio

from rich.style import Style
from rich.text import Text
from textual import work
from textual.timer import Timer

from dynamic_prompt.core.models import PromptState
from dynamic_prompt.tui.render import highlight, split_lines, wrap_rows
from dynamic_prompt.tui.render import title as plain_title
from dynamic_prompt.tui.widgets.lazy_lines import LazyLines

LEX_DELAY = 0.08
"""Seconds of quiet before a small text is lexed whole (after the new text has painted)."""

WHOLE_MAX_LINES = 3000
"""Up to this many lines the whole text is highlighted in one pass."""

WHOLE_MAX_CHARS = 200_000
LINE_CACHE = 20_000
"""Highlighted lines kept by their text."""
FLASH_SECONDS = 1.5


class PromptView(LazyLines):
    """Shows one prompt's text; :meth:`show` replaces it."""

    COMPONENT_CLASSES = {
        "prompt-view--gutter",
        "prompt-view--changed",
        "prompt-view--marker",
        "prompt-view--flash",
        "prompt-view--match",
        "prompt-view--current-match",
    }

    DEFAULT_CSS = """
    PromptView > .prompt-view--gutter { color: $text-muted; }
    PromptView > .prompt-view--marker { color: $success; }
    PromptView > .prompt-view--changed { background: $success 12%; }
    PromptView > .prompt-view--flash { background: $warning 40%; }
    PromptView > .prompt-view--match { background: $accent 35%; }
    PromptView > .prompt-view--current-match { background: $accent; color: $text; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.text = ""
        """The raw text shown (as read from Redis)."""
        self.version = 0
        self.lines: list[str] = []
        self.changed: frozenset[int] = frozenset()
        self.flash: frozenset[int] = frozenset()
        self.lazy = False
        self._lexed: list[Text] | None = None
        self._line_cache: dict[str, Text] = {}
        self._flash_timer: Timer | None = None
        self._lex_timer: Timer | None = None
        self.search_query = ""
        """What the search looks for (case-insensitive); "" when not searching."""
        self.matches: list[tuple[int, int, int]] = []
        """(line, start, end) of every match of :attr:`search_query`, in order."""
        self.current = -1
        """Index into :attr:`matches` of the one the search is at."""

    def show_state(self, state: PromptState, changed: frozenset[int], flash: frozenset[int]) -> None:
        """Show ``state``'s text, titled with its name and version, and what the lines are."""
        self.show(state.active or "", state.version, changed, flash)
        self.border_title = plain_title(f"{state.name}  v{state.version}" if state.exists else state.name)
        if not state.exists:
            self.border_subtitle = "no text yet: ctrl+l loads a file, ctrl+n creates a prompt"
            return
        parts = [f"{len(self.lines)} lines"]
        if changed:
            parts.append(f"{len(changed)} changed from the original")
        if self.lazy:
            parts.append("large: highlighted line by line")
        self.border_subtitle = ", ".join(parts)

    def show(
        self,
        text: str,
        version: int,
        changed: frozenset[int] = frozenset(),
        flash: frozenset[int] = frozenset(),
    ) -> None:
        """Display ``text``; ``changed``/``flash`` are 1-based line numbers to mark."""
        same = text == self.text
        self.version = version
        self.changed = changed
        if not same:
            self.text = text
            self.lines = split_lines(text)
            self._lexed = None
            self.lazy = len(self.lines) > WHOLE_MAX_LINES or len(text) > WHOLE_MAX_CHARS
        self.flash = flash
        if flash:
            if self._flash_timer is not None:
                self._flash_timer.stop()
            self._flash_timer = self.set_timer(FLASH_SECONDS, self._end_flash)
        self.gutter_width = len(str(max(len(self.lines), 1))) + 2
        width = max(map(len, self.lines), default=0)
        if not same and self.search_query:
            self._find(self.search_query, keep=True)
        self.set_lines(len(self.lines), width)
        if not same and not self.lazy and self.lines:
            # Lex in context once the text has been quiet a moment: the new text paints
            # first (line by line), and a burst of writes is lexed once, not per write.
            if self._lex_timer is not None:
                self._lex_timer.stop()
            generation = self.generation
            self._lex_timer = self.set_timer(
                LEX_DELAY, lambda: self._highlight_in_context(generation)
            )

    def line_plain(self, index: int) -> str:
        """The display line (its wrapped rows are worked out from it)."""
        return self.lines[index]

    # -- search -------------------------------------------------------------------------

    def search(self, query: str) -> int:
        """Mark every match of ``query`` (case-insensitive) and go to the first; how many there are."""
        self._find(query, keep=False)
        if self.matches:
            self.goto_match(0)
        self.invalidate()
        return len(self.matches)

    def _find(self, query: str, *, keep: bool) -> None:
        self.search_query = query
        old = self.matches[self.current] if keep and 0 <= self.current < len(self.matches) else None
        self.matches = []
        needle = query.casefold()
        if needle:
            for number, line in enumerate(self.lines):
                low = line.casefold()
                if len(low) != len(line):  # casefolding changed lengths (e.g. "ß"): match as written
                    low, needle_here = line, query
                else:
                    needle_here = needle
                at = low.find(needle_here)
                while at >= 0:
                    self.matches.append((number, at, at + len(needle_here)))
                    at = low.find(needle_here, at + max(len(needle_here), 1))
        if old is not None and old in self.matches:
            self.current = self.matches.index(old)
        else:
            self.current = 0 if self.matches and keep else -1

    def goto_match(self, step: int) -> tuple[int, int]:
        """Move ``step`` matches on (0: stay; negative: back), wrapping around; (position, count)."""
        if not self.matches:
            return 0, 0
        self.current = (max(self.current, 0) + step) % len(self.matches)
        line = self.matches[self.current][0]
        self.scroll_to_line(line, center=True)
        self.invalidate()
        return self.current + 1, len(self.matches)

    def end_search(self) -> None:
        """Stop marking matches."""
        self.search_query, self.matches, self.current = "", [], -1
        self.invalidate()

    def _end_flash(self) -> None:
        self.flash = frozenset()
        self.invalidate()

    def on_unmount(self) -> None:
        """Forget the caches with the widget."""
        self._line_cache.clear()
        self._lexed = None

    def _dark(self) -> bool:
        try:
            return bool(self.app.current_theme.dark)
        except Exception:  # noqa: BLE001 - no theme yet (tests building widgets alone)
            return True

    def _highlighted(self, index: int) -> Text:
        context = self._lexed
        if context is not None:
            return context[index]
        # Line by line until the whole text is lexed in context (or always, for a big
        # text): cached by line, so a one-line change costs one line.
        line = self.lines[index]
        cached = self._line_cache.get(line)
        if cached is None:
            if len(self._line_cache) > LINE_CACHE:
                self._line_cache.clear()
            cached = self._line_cache[line] = highlight([line], dark=self._dark())[0]
        return cached

    @work(exclusive=True, group="highlight", exit_on_error=False)
    async def _highlight_in_context(self, generation: int) -> None:
        """Lex the whole (small) text at once, off the event loop, then repaint with it."""
        lines, dark = self.lines, self._dark()
        result = await asyncio.to_thread(highlight, lines, dark=dark)
        if generation == self.generation and lines is self.lines:
            self._lexed = result
            self.invalidate()

    def notify_style_update(self) -> None:
        """Re-highlight with the new theme's colours."""
        super().notify_style_update()
        if hasattr(self, "_line_cache"):
            self._line_cache.clear()
            if self._lexed is not None and self.is_mounted:
                self._lexed = None
                self._highlight_in_context(self.generation)

    def gutter_text(self, index: int) -> Text:
        """Line number and the changed-line marker."""
        number = index + 1
        width = self.gutter_width - 2
        text = Text(f"{number:>{width}} ", self.get_component_rich_style("prompt-view--gutter"),
                    no_wrap=True, end="")
        if number in self.changed:
            text.append("▌", self.get_component_rich_style("prompt-view--marker"))
        else:
            text.append(" ")
        return text

    def line_text(self, index: int) -> Text:
        """The highlighted line, tinted (to the pane's edge) when it differs from the backup."""
        text = self._marked(index)
        if self._tint(index) is not None:
            fill = max(self.virtual_size.width - self.gutter_width, self.size.width) - text.cell_len
            if fill > 0:
                text.append(" " * fill, self._tint(index))
        return text

    def line_rows(self, index: int, width: int) -> list[Text]:
        """Wrapped rows, each tinted to the pane's edge (the padding must not wrap)."""
        rows = wrap_rows(self._marked(index), width)
        tint = self._tint(index)
        if tint is not None:
            for row in rows:
                if row.cell_len < width:
                    row.append(" " * (width - row.cell_len), tint)
        return rows

    def _tint(self, index: int) -> Style | None:
        number = index + 1
        if number in self.flash:
            return self._background("prompt-view--flash")
        if number in self.changed:
            return self._background("prompt-view--changed")
        return None

    def _marked(self, index: int) -> Text:
        """The highlighted line with its tint and the search's matches (no padding)."""
        text = self._highlighted(index).copy()
        tint = self._tint(index)
        if tint is not None:
            text.stylize_before(tint)
        if self.matches:
            current = self.matches[self.current] if 0 <= self.current < len(self.matches) else None
            for match in self._matches_on(index):
                style = "prompt-view--current-match" if match == current else "prompt-view--match"
                text.stylize(self.get_component_rich_style(style), match[1], match[2])
        return text

    def _matches_on(self, index: int) -> list[tuple[int, int, int]]:
        from bisect import bisect_left

        k = bisect_left(self.matches, (index, -1, -1))
        out = []
        while k < len(self.matches) and self.matches[k][0] == index:
            out.append(self.matches[k])
            k += 1
        return out

    def _background(self, component: str) -> Style:
        style = self.get_component_rich_style(component)
        return Style(bgcolor=style.bgcolor)

