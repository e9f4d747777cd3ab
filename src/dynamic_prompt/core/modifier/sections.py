"""Finding structure in a prompt: headings, code fences, fields, rules blocks.

Prompts come in three shapes and this module reads all of them:

* Markdown: ``## Rules`` sections, ``Tone: friendly`` lines, bullet lists;
* the seeds' block style: ``▛///▞ CORE RULES`` headings whose block ends with
  a ``:: ∎`` line;
* plain text: a ``RULES:`` line followed by numbered or bulleted rules.

Lines inside fenced code blocks are never structure: a prompt that shows an
example ``Tone: formal`` inside a code block must not have it edited. Nor are
the lines of a template that hold nothing but template tags (``{% if vip %}``,
the lines of a multi-line ``{# ... #}``, see :mod:`.template_tags`): structure
is read as if they were not there.

Speed matters (a 1 MB prompt must be edited in a few milliseconds), so the
outline is built from one pass that only looks closely at lines whose first
character can start a heading, fence or block end, and word lookups use
``str.find`` on the whole text instead of a regex per line. The rules blocks
themselves are read by :mod:`.rule_blocks`.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING

from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.template_tags import TemplateTags

if TYPE_CHECKING:
    from dynamic_prompt.core.modifier.rule_blocks import RulesBlock

# Characters that decorate block-style headings; stripped to get the title.
_GLYPHS = "▛▜▙▟▞▚▖▗▘▝▂▁▃▄▅▆▇█⟦⟧⎊〔〕/:#*_=~ \t∎"
_STRUCT_START = frozenset("#`~▛/:")
# Every pattern below ends in a greedy ``.*`` or a bounded repetition, so a
# 1 MB line costs one linear scan, never backtracking.
_STRUCT = re.compile(
    r"[ \t]*(?:(?P<fence>`{3,}|~{3,})(?P<info>.*)"
    r"|(?P<md>#{1,6})(?:[ \t]+(?P<mdtitle>.*))?$"
    r"|(?P<llmd>▛|///▙)(?P<lltitle>.*)"
    r"|(?P<end>::[ \t]*∎).*)"
)
FIELD = re.compile(
    r"(?P<pre>[ \t]*(?:[-*+][ \t]+)?(?:\*\*|__)?)"
    r"(?P<name>[A-Za-z][\w &'-]{0,39}?)"
    r"(?P<mid>(?:\*\*|__)?::?(?:\*\*|__)?)"
    r"(?P<val>[ \t]+.*|[ \t]*)$"
)


def width(indent: str) -> int:
    """The visual width of leading whitespace (tabs count 4)."""
    return len(indent.expandtabs(4))


def norm(text: str) -> str:
    """Lower case, single spaces, no markup around: for comparing names and titles."""
    return " ".join(text.strip(_GLYPHS).split()).lower()


@dataclass(frozen=True, slots=True)
class Heading:
    """A Markdown (``md``) or block-style (``llmd``) heading at line ``index``."""

    index: int
    kind: str
    level: int
    title: str


@dataclass(frozen=True, slots=True)
class Field:
    """A ``Name: value`` line; ``value_at`` is where the value starts in the line."""

    index: int
    name: str
    value: str
    value_at: int
    prefix: str


class Outline:
    """The structure of one version of a prompt (rebuilt after each edit)."""

    def __init__(self, doc: Lines) -> None:
        self.doc = doc
        self.tags = TemplateTags(doc)
        self.headings: list[Heading] = []
        self.terminators: list[int] = []
        self._code_starts: list[int] = []
        self._code_ends: list[int] = []
        self._low: str | None = None
        self._scan()
        self._heading_at = [h.index for h in self.headings]

    # -- the one structural pass ------------------------------------------------

    def _scan(self) -> None:
        doc = self.doc
        found: list[tuple[int, re.Match[str]]] = []
        tag_lines = self.tags.lines
        for i, line in enumerate(doc.raw_lines()):
            c = line[:1]
            if c == " " or c == "\t":
                c = line.lstrip(" \t")[:1]
            # A "## Old" or "```" inside a multi-line {# comment #} is no heading or fence.
            if c in _STRUCT_START and c and i not in tag_lines:
                m = _STRUCT.match(doc.content(i))
                if m:
                    found.append((i, m))
        closers = self._closers(found)
        inside_until = -1
        for pos, (i, m) in enumerate(found):
            if i <= inside_until:
                continue
            fence = m.group("fence")
            if fence:
                close = _find_closer(closers[fence[0]], pos, len(fence))
                if close is not None:
                    inside_until = found[close][0]
                    self._code_starts.append(i)
                    self._code_ends.append(inside_until)
                # An unclosed fence is not code: the rest of the prompt still counts.
                continue
            if m.group("md"):
                title = m.group("mdtitle") or ""
                self.headings.append(Heading(i, "md", len(m.group("md")), norm(title)))
            elif m.group("llmd"):
                self.headings.append(Heading(i, "llmd", 2, norm(m.group("lltitle"))))
            elif m.group("end"):
                self.terminators.append(i)

    @staticmethod
    def _closers(found: list[tuple[int, re.Match[str]]]) -> dict[str, _Closers]:
        out = {"`": _Closers(), "~": _Closers()}
        for pos, (_, m) in enumerate(found):
            fence = m.group("fence")
            if fence and not m.group("info").strip():
                out[fence[0]].add(pos, len(fence))
        for c in out.values():
            c.finish()
        return out

    # -- queries -------------------------------------------------------------

    def in_code(self, index: int) -> bool:
        """True when line ``index`` is inside (or is a fence of) a code block."""
        k = bisect_right(self._code_starts, index) - 1
        return k >= 0 and index <= self._code_ends[k]

    def boundary_after(self, index: int) -> tuple[int, bool]:
        """The next heading or ``:: ∎`` line after ``index``: (line, is_terminator)."""
        h = bisect_right(self._heading_at, index)
        t = bisect_right(self.terminators, index)
        nh = self._heading_at[h] if h < len(self._heading_at) else len(self.doc)
        nt = self.terminators[t] if t < len(self.terminators) else len(self.doc)
        return (nt, True) if nt < nh else (nh, False)

    def body(self, heading: Heading) -> tuple[int, int]:
        """The lines ``[start, end)`` under a heading, up to the next heading or ``:: ∎``."""
        return heading.index + 1, self.boundary_after(heading.index)[0]

    def last_content(self, start: int, end: int) -> int | None:
        """The last non-blank line in ``[start, end)`` that is not template tags only, or None.

        A section's closing ``{% endif %}`` is not where its content ends: a line added
        after the content goes inside the block the content is in (see :mod:`.template_tags`).
        """
        for i in range(end - 1, start - 1, -1):
            if self.doc.content(i).strip() and i not in self.tags.lines:
                return i
        return None

    def find_heading(self, words: tuple[str, ...]) -> Heading | None:
        """The first heading whose title contains one of ``words`` as a word."""
        pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b")
        for h in self.headings:
            if pattern.search(h.title):
                return h
        return None

    def uses_blocks(self) -> bool:
        """True when the prompt uses the ``▛///▞`` block style for its sections."""
        return any(h.kind == "llmd" for h in self.headings)

    def is_heading(self, index: int) -> bool:
        """True when line ``index`` is a heading."""
        k = bisect_left(self._heading_at, index)
        return k < len(self._heading_at) and self._heading_at[k] == index

    def is_terminator(self, index: int) -> bool:
        """True when line ``index`` is a ``:: ∎`` block end."""
        k = bisect_left(self.terminators, index)
        return k < len(self.terminators) and self.terminators[k] == index

    def is_tag_line(self, index: int) -> bool:
        """True when line ``index`` holds nothing but template tags (see :mod:`.template_tags`)."""
        return index in self.tags.lines

    def lines_with(self, word: str, *, code: bool = False) -> list[int]:
        """Indices of the lines containing ``word`` (lower case).

        Code and lines of template tags only are left out unless ``code``.
        """
        found = self._lines_with(word, code=code)
        if code or not self.tags.lines:
            return found
        return [i for i in found if i not in self.tags.lines]

    def _lines_with(self, word: str, *, code: bool) -> list[int]:
        text = self.doc.text()
        if self._low is None:
            self._low = text.lower()
        low = self._low
        out: list[int] = []
        if len(low) != len(text):
            # Lower-casing changed offsets (rare characters): check line by line.
            for i, line in enumerate(self.doc.raw_lines()):
                if word in line.lower() and (code or not self.in_code(i)):
                    out.append(i)
            return out
        index = 0
        prev = 0
        pos = low.find(word)
        while pos != -1:
            # Count new lines since the last hit: one linear pass over the text.
            index += text.count("\n", prev, pos)
            nl = text.find("\n", pos)
            if code or not self.in_code(index):
                out.append(index)
            if nl == -1:
                break
            index += 1
            prev = nl + 1
            pos = low.find(word, prev)
        return out

    def fields(self, word: str | None = None) -> list[Field]:
        """``Name: value`` lines outside code (only those containing ``word`` if given)."""
        # lines_with() already leaves code out; the full scan has to check (field_at leaves tags out).
        indices = self.lines_with(word) if word else [i for i in range(len(self.doc)) if not self.in_code(i)]
        found = (self.field_at(i) for i in indices)
        return [f for f in found if f is not None]

    def field_at(self, index: int) -> Field | None:
        """The field on line ``index``, or None when it is not a ``Name: value`` line.

        A line of template tags only is none (``Tone: x`` inside a ``{# comment #}``).
        """
        if index in self.tags.lines:
            return None
        line = self.doc.content(index)
        m = FIELD.match(line)
        if not m:
            return None
        name = m.group("name").strip()
        if len(name.split()) > 4:
            return None
        val = m.group("val")
        value = val.strip()
        value_at = m.end() - len(val.lstrip(" \t")) if value else m.end()
        return Field(index, name, value, value_at, m.group("pre"))

    def outside_code(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """The runs ``[a, b)`` of lines in ``[start, end)`` that are not code."""
        starts, ends = self._code_starts, self._code_ends
        k = bisect_left(ends, start)
        at = start
        while k < len(starts) and starts[k] < end:
            if starts[k] > at:
                yield at, starts[k]
            at = max(at, ends[k] + 1)
            k += 1
        if at < end:
            yield at, end

    # -- rules -------------------------------------------------------------------

    def rules_blocks(self) -> list[RulesBlock]:
        """Every rules block, in order (see :func:`.rule_blocks.read`)."""
        from dynamic_prompt.core.modifier import rule_blocks  # it builds on this module

        return rule_blocks.read(self)


class _Closers:
    """The bare closing fences of one kind, for finding a fence's closer fast."""

    __slots__ = ("lengths", "positions", "suffix_max")

    def __init__(self) -> None:
        self.positions: list[int] = []
        self.lengths: list[int] = []
        self.suffix_max: list[int] = []

    def add(self, pos: int, length: int) -> None:
        self.positions.append(pos)
        self.lengths.append(length)

    def finish(self) -> None:
        self.suffix_max = list(accumulate(reversed(self.lengths), max))[::-1]


def _find_closer(closers: _Closers, pos: int, length: int) -> int | None:
    """The first closer after ``pos`` at least ``length`` long (linear overall)."""
    k = bisect_left(closers.positions, pos + 1)
    if k >= len(closers.positions) or closers.suffix_max[k] < length:
        return None
    while closers.lengths[k] < length:
        k += 1
    return closers.positions[k]
