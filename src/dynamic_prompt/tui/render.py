"""Turning prompt text and diffs into Rich ``Text`` (never markup strings).

Everything read from Redis goes through :func:`safe` first: control, escape
and bidi characters become visible stand-ins (:func:`dynamic_prompt.core.inert.inert`)
and the result is only ever placed into ``Text`` objects, so Rich markup in a
prompt (``[bold red]x[/]``) shows literally.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from pygments.lexers.markup import MarkdownLexer
from pygments.token import _TokenType
from rich.cells import chop_cells
from rich.style import Style
from rich.syntax import PygmentsSyntaxTheme
from rich.text import Text
from textual.content import Content

from dynamic_prompt.core.diff import DiffLine, Span
from dynamic_prompt.core.inert import inert

TAB_SIZE = 4


def safe(text: str) -> str:
    """``text`` made inert for a terminal, tabs expanded."""
    return inert(text).expandtabs(TAB_SIZE)


def title(text: str) -> Content:
    """A border title or subtitle that shows ``text`` as it is: inert, and never read as markup.

    A border title given a ``str`` is Textual markup: a ``[/]`` in an instruction, a
    file name or a release summary would end the app (MarkupError) or style the title.
    """
    return Content(safe(text))


def split_lines(text: str) -> list[str]:
    """Display lines of ``text``: split on ``\\n`` only (as the diff does), CR of CRLF dropped.

    A final newline ends the last line rather than starting an empty one.
    """
    if not text:
        return []
    lines = inert(text).split("\n")
    if lines[-1] == "":
        lines.pop()
    for i, line in enumerate(lines):
        if line.endswith("\r"):
            line = lines[i] = line[:-1]
        if "\t" in line:
            lines[i] = line.expandtabs(TAB_SIZE)
    return lines


# -- highlighting ---------------------------------------------------------------------


@lru_cache(maxsize=4)
def _theme(dark: bool) -> PygmentsSyntaxTheme:
    return PygmentsSyntaxTheme("monokai" if dark else "friendly")


@lru_cache(maxsize=512)
def _token_style(token: _TokenType, dark: bool) -> Style:
    style = _theme(dark).get_style_for_token(token)
    # The pane's own background shows through: keep only the foreground attributes.
    return Style(color=style.color, bold=style.bold, italic=style.italic, underline=style.underline)


_LEXER = MarkdownLexer(stripnl=False, ensurenl=True)


def highlight(lines: Sequence[str], *, dark: bool = True) -> list[Text]:
    """Markdown-highlight display ``lines`` (already made safe), one ``Text`` per line."""
    if not lines:
        return []
    out: list[Text] = []
    current = Text(no_wrap=True, end="")
    for token, value in _LEXER.get_tokens("\n".join(lines) + "\n"):
        style = _token_style(token, dark)
        parts = value.split("\n")
        for i, part in enumerate(parts):
            if i:
                out.append(current)
                current = Text(no_wrap=True, end="")
            if part:
                current.append(part, style)
    if current.plain:
        out.append(current)
    while len(out) < len(lines):  # the lexer never loses lines, but be safe
        out.append(Text(lines[len(out)], no_wrap=True, end=""))
    return out[: len(lines)]


# -- diff lines -----------------------------------------------------------------------


def spans_text(spans: Sequence[Span], base: Style, changed: Style) -> Text:
    """One diff line's text with its changed words marked."""
    text = Text(no_wrap=True, end="")
    for span in spans:
        text.append(safe(span.text), changed if span.changed else base)
    return text


def diff_line_parts(line: DiffLine, number_width: int, styles: dict[str, Style]) -> tuple[Text, Text]:
    """A unified-diff row as (old and new line numbers and the sign, the text with word marks)."""
    sign = {"equal": " ", "delete": "-", "insert": "+"}[line.tag]
    old_no = "" if line.old_no is None else str(line.old_no)
    new_no = "" if line.new_no is None else str(line.new_no)
    prefix = Text(no_wrap=True, end="")
    prefix.append(f"{old_no:>{number_width}} {new_no:>{number_width}} ", styles["gutter"])
    base = styles.get(line.tag, Style())
    prefix.append(f"{sign} ", base)
    return prefix, spans_text(line.spans, base, styles.get(line.tag + "-word", base))


def diff_line_text(line: DiffLine, number_width: int, styles: dict[str, Style]) -> Text:
    """A unified-diff row: old and new line numbers, the sign, the text with word marks."""
    prefix, content = diff_line_parts(line, number_width, styles)
    prefix.append_text(content)
    return prefix


def side_parts(
    line: DiffLine | None, number_width: int, styles: dict[str, Style], *, left: bool
) -> tuple[Text, Text, Style]:
    """One half of a side-by-side row: (line number, text with word marks, the cell's background)."""
    if line is None:
        return Text(" " * (number_width + 1), end=""), Text("", end=""), styles["empty"]
    number = line.old_no if left else line.new_no
    prefix = Text(f"{'' if number is None else number:>{number_width}} ", styles["gutter"], end="")
    base = styles.get(line.tag, Style())
    content = spans_text(line.spans, base, styles.get(line.tag + "-word", base))
    fill = Style(bgcolor=base.bgcolor) if line.tag != "equal" and base.bgcolor else Style()
    return prefix, content, fill


def side_cell(
    line: DiffLine | None, width: int, number_width: int, styles: dict[str, Style], *, left: bool
) -> Text:
    """One half of a side-by-side row (``left``: the old side), cut or padded to ``width`` cells."""
    if line is None:
        return Text(" " * width, styles["empty"], end="")
    prefix, content, fill = side_parts(line, number_width, styles, left=left)
    prefix.append_text(content)
    prefix.truncate(width, overflow="ellipsis", pad=True)
    if fill.bgcolor:
        prefix.stylize_before(fill)
    return prefix


# -- soft wrap ------------------------------------------------------------------------

WORD_BREAK_SLACK = 0.5
"""A row may end up to this share of the width early, at a space, rather than cut a word
(the narrow columns of a side-by-side diff need that much; each row still advances by at
least half the width, so wrapping stays linear)."""


def wrap_offsets(plain: str, width: int) -> list[int]:
    """Where each row of ``plain`` starts when it is soft-wrapped to ``width`` cells.

    Rows break after a space when one falls in the second half of the row, else
    exactly at the width (a long word or URL is cut). An empty line is one row.
    Linear in the line: one ``rfind`` per row, in C for ASCII text.
    """
    width = max(width, 1)
    if not plain:
        return [0]
    if not plain.isascii():
        starts, at = [0], 0
        for part in chop_cells(plain, width)[:-1]:
            at += len(part)
            starts.append(at)
        return starts
    starts = [0]
    at, n = 0, len(plain)
    slack = max(1, int(width * WORD_BREAK_SLACK))
    while n - at > width:
        # A space just past the row's end breaks there too (the row is then exactly full).
        cut = plain.rfind(" ", at + width - slack - 1, at + width + 1)
        at = cut + 1 if cut > at else at + width
        starts.append(at)
    return starts


def wrap_rows(text: Text, width: int) -> list[Text]:
    """``text`` cut into the rows :func:`wrap_offsets` says, styles kept."""
    starts = wrap_offsets(text.plain, width)
    if len(starts) == 1:
        return [text]
    return list(text.divide(starts[1:]))


# -- numbers and times ----------------------------------------------------------------


def human_size(n: int) -> str:
    """Bytes as ``812 B`` / ``10.2 KB`` / ``1.0 MB``."""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def age(seconds: float) -> str:
    """A short relative age: ``0s``, ``12s``, ``5m``, ``3h``, ``2d``."""
    if seconds < 0:
        return "0s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def when(timestamp: float, now: float | None = None) -> str:
    """A changelog time: ``HH:MM:SS`` today, ``MM-DD HH:MM`` before, ``-`` when unknown."""
    if not timestamp > 0:  # also NaN
        return "-"
    now = time.time() if now is None else now
    try:
        moment = datetime.fromtimestamp(timestamp)
    except (OverflowError, OSError, ValueError):  # e.g. 1e308 written by another program
        return "-"
    if moment.date() == datetime.fromtimestamp(now).date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M")
