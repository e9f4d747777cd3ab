"""Template tags in a prompt's source, so that instructions edit the text around them and never cut one.

A prompt holding ``{{``, ``{%`` or ``{#`` is a jinja2 template (:mod:`dynamic_prompt.core.templates`),
and instructions edit its source, never its render. The engine reads the tags found here so that:

* a line holding nothing but tags (``{% if vip %}``, ``{% endfor %}``, ``{% include "x" %}``, the
  lines of a multi-line ``{# ... #}``) is no rule, field, heading or text: structure is read as
  if the line were not there, so a rule inside an ``{% if %}`` is found as before, and a rule
  inside a comment is not a rule;
* a line edit never takes, rewrites or splits part of a tag: a tag is only ever edited whole;
* a line added to a list or section whose last line is inside an ``{% if %}`` / ``{% for %}``
  opened after the list's heading goes after that block's end tag (see :meth:`TemplateTags.level_of`).

The tags are found the way jinja2's lexer finds them (a string inside a tag may hold its closing
delimiter; ``{% raw %}`` runs to ``{% endraw %}``) without importing jinja2, which loads only for
:func:`refuse_broken`. A text whose tags do not all close is no template jinja2 can read: it is
read as plain text, as before templates existed.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.modifier.doc import Lines

# The same test as core.templates.is_template, written here so a plain prompt never loads jinja2.
SYNTAX = re.compile(r"\{[{%#]")
# What follows a tag's opener, up to and including its closer. Each alternative starts with a
# different character, so a tag is matched in one pass with no backtracking.
_REST = {
    "{": re.compile(r"""(?:[^'"}]|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\}(?!\}))*\}\}""", re.DOTALL),
    "%": re.compile(r"""(?:[^'"%]|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|%(?!\}))*%\}""", re.DOTALL),
}
_BLOCK_NAME = re.compile(r"\{%[-+]?\s*(\w+)")
_END_RAW = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")
# Block tags that need an end tag; {% set x %} (no "=") does too.
_OPENERS = frozenset({"if", "for", "macro", "call", "filter", "block", "with", "autoescape", "trans"})


def find_spans(text: str) -> list[tuple[int, int]] | None:
    """The ``[start, end)`` of every tag of ``text``, in order; None when a tag does not close."""
    spans: list[tuple[int, int]] = []
    at = 0
    while (m := SYNTAX.search(text, at)) is not None:
        start = m.start()
        kind = text[start + 1]
        if kind == "#":
            close = text.find("#}", start + 2)
            end = close + 2 if close >= 0 else -1
        else:
            rest = _REST[kind].match(text, start + 2)
            end = rest.end() if rest else -1
            name = _BLOCK_NAME.match(text, start) if kind == "%" else None
            if end >= 0 and name and name.group(1) == "raw":
                raw_end = _END_RAW.search(text, end)  # {% raw %}...{% endraw %} is one opaque piece
                end = raw_end.end() if raw_end else -1
        if end < 0:
            return None
        spans.append((start, end))
        at = end
    return spans


def _depth_change(tag: str) -> int:
    """+1 for a tag that opens a block, -1 for an end tag, 0 for any other tag."""
    m = _BLOCK_NAME.match(tag)
    if m is None:
        return 0
    name = m.group(1)
    if name.startswith("end"):
        return -1
    return 1 if name in _OPENERS or (name == "set" and "=" not in tag) else 0


class TemplateTags:
    """Where the tags of one version of a prompt are, by line (empty for a plain prompt)."""

    __slots__ = (
        "_block_changes", "_block_lines", "_ends", "_line_ends", "_line_starts", "lines", "multi", "spans",
    )

    def __init__(self, doc: Lines) -> None:
        self.spans: list[tuple[int, int]] = []
        """The ``[start, end)`` of each tag in the text, in order."""
        self.lines: frozenset[int] = frozenset()
        """The lines that hold nothing but tags (and blanks)."""
        self.multi: list[tuple[int, int]] = []
        """The first and last line of each tag that spans lines, in order."""
        self._ends: list[int] = []
        self._line_starts: list[int] = []
        self._line_ends: list[int] = []
        # Each block tag that opens (+1) or ends (-1) a block, by the line it ends on.
        self._block_lines: list[int] = []
        self._block_changes: list[int] = []
        text = doc.text()
        spans = find_spans(text) if SYNTAX.search(text) else None
        if spans:
            self._index(doc, text, spans)

    def __bool__(self) -> bool:
        return bool(self.spans)

    def _index(self, doc: Lines, text: str, spans: list[tuple[int, int]]) -> None:
        raw = doc.raw_lines()
        starts = list(accumulate((len(line) + 1 for line in raw[:-1]), initial=0))
        ends = [start + len(line) for start, line in zip(starts, raw)]
        covered: dict[int, list[tuple[int, int]]] = {}
        for s, e in spans:
            first, last = bisect_right(starts, s) - 1, bisect_right(starts, e - 1) - 1
            if first != last:
                self.multi.append((first, last))
            for i in range(first, last + 1):
                covered.setdefault(i, []).append((max(s, starts[i]), min(e, ends[i])))
            change = _depth_change(text[s:e]) if text.startswith("{%", s) else 0
            if change:
                self._block_lines.append(last)  # a block opens or closes where its tag ends
                self._block_changes.append(change)
        only_tags = set()
        for i, parts in covered.items():
            at = starts[i]
            outside = []
            for a, b in parts:
                outside.append(text[at:a])
                at = b
            outside.append(text[at : ends[i]])
            if not "".join(outside).strip():
                only_tags.add(i)
        self.spans = spans
        self.lines = frozenset(only_tags)
        self._ends = [e for _, e in spans]
        self._line_starts = starts
        self._line_ends = ends

    # -- line edits ---------------------------------------------------------------------

    def cut_by_delete(self, start: int, stop: int) -> tuple[int, int] | None:
        """The lines of a tag that deleting lines ``[start, stop)`` would take only part of."""
        for first, last in self.multi:
            if first >= stop:
                break
            if last >= start and not (start <= first and last < stop):
                return first, last
        return None

    def cut_by_rewrite(self, index: int, column: int) -> bool:
        """True when rewriting line ``index`` from ``column`` to its end would take only part of a tag."""
        if not self.spans:
            return False
        a, b = self._line_starts[index] + column, self._line_ends[index]
        return any(s < a or e > b for s, e in self.overlapping(a, b))

    def past_tags(self, index: int) -> int:
        """``index`` (a line to insert before) moved past any tag it would land inside."""
        for first, last in self.multi:
            if first >= index:
                break
            if index <= last:
                index = last + 1
        return index

    def level_of(self, anchor: int, index: int, doc: Lines) -> int:
        """Where a line meant to go before line ``index`` goes so it is at the level of line ``anchor``.

        ``anchor`` is the line a list or section starts with (its heading; -1 for the prompt's
        top level); ``index`` is right after its last line. When that last line is inside a
        block opened after the anchor (a rule inside ``{% if strict %}``, a loop's
        ``- {{ t }}``), the new line goes after the end tag of that block, provided only blank
        lines and tags come before it: the new rule then applies always and once, as it would
        in the same prompt without the block. Otherwise, and when the block's end is not found
        there, ``index`` stands. Either way the line never lands inside a tag.
        """
        lines, changes = self._block_lines, self._block_changes
        depth = 0
        k = bisect_right(lines, anchor)
        while k < len(lines) and lines[k] < index:
            # An end tag of a block opened before the anchor: the list went out of it.
            depth = max(0, depth + changes[k])
            k += 1
        i = index
        while depth > 0 and i < len(doc) and (i in self.lines or not doc.content(i).strip()):
            while k < len(lines) and lines[k] == i:
                depth += changes[k]
                k += 1
            i += 1
        return self.past_tags(i if depth <= 0 else index)

    # -- text edits ---------------------------------------------------------------------

    def overlapping(self, a: int, b: int) -> list[tuple[int, int]]:
        """The tags that overlap characters ``[a, b)``."""
        k = bisect_right(self._ends, a)
        found = []
        while k < len(self.spans) and self.spans[k][0] < b:
            found.append(self.spans[k])
            k += 1
        return found

    def replaceable(self, index: int, line: str, old: str) -> list[int]:
        """Where in ``line`` (line ``index``) copies of ``old`` that may be replaced start.

        A copy may be replaced when it touches no tag or holds every tag it touches whole:
        ``replace "{{ name }}" with "{{ user }}"`` edits the tag as typed, but ``replace "if"``
        never rewrites ``{% if vip %}``. Copies are taken left to right, as ``str.replace`` does.
        """
        base = self._line_starts[index] if self.spans else 0
        ok: list[int] = []
        at = line.find(old)
        while at >= 0:
            a, b = base + at, base + at + len(old)
            if all(a <= s and e <= b for s, e in self.overlapping(a, b)):
                ok.append(at)
                at = line.find(old, at + len(old))
            else:
                at = line.find(old, at + 1)
        return ok


def replace_at(line: str, old: str, new: str, positions: list[int]) -> str:
    """``line`` with the copies of ``old`` that start at ``positions`` replaced by ``new``."""
    parts = []
    at = 0
    for p in positions:
        parts.append(line[at:p])
        parts.append(new)
        at = p + len(old)
    parts.append(line[at:])
    return "".join(parts)


def refuse_broken(before: str, after: str, *, typed: bool) -> None:
    """Refuse an edit that leaves a template jinja2 cannot parse where ``before`` was one it could.

    A prompt that did not parse before is left to its author (an edit may be what fixes it).
    A plain prompt counts as one that parses: an instruction that types a broken tag into it
    (``add rule: use {{ name``) is refused too, as it would leave a prompt no render can read.
    ``typed``: the instruction's own text holds template syntax (the refusal then says how to
    write ``{{`` as text).

    Raises:
        InstructionError: ``after`` does not parse and ``before`` did.
    """
    if SYNTAX.search(after) is None:
        return
    before_spans = find_spans(before) if SYNTAX.search(before) else []
    if before_spans is None:
        return  # a tag of the old text never closed: it was no template jinja2 could read
    after_spans = find_spans(after)
    if after_spans is not None and len(after_spans) == len(before_spans) and all(
        before[a:b] == after[c:d] for (a, b), (c, d) in zip(before_spans, after_spans)
    ):
        # The same tags in the same order, only the text between them changed: jinja2 reads
        # the same template (and parsing a big one costs a second), so it parses as before.
        return
    problem = _syntax_error(after)
    if problem is None or (before_spans and _syntax_error(before) is not None):
        return
    hint = " To write {{ as text, type {{ '{{' }}." if typed else ""
    raise InstructionError(f"That would break the template, so nothing was changed: {problem}.{hint}")


def _syntax_error(text: str) -> str | None:
    """Why jinja2's parser refuses ``text`` (``line 3: Unexpected end of template...``), or None.

    The parser alone, in a sandboxed environment read the way the project's renders read
    (:mod:`dynamic_prompt.core.templates`: default delimiters, no line statements). Only the
    parse can be broken by an edit (a tag cut, a block left open); compiling, which also
    checks filter names, is left to the render: on a template of thousands of blocks it takes
    minutes where the parse takes a second.
    """
    # Imported here: jinja2 loads only for a prompt that is (or becomes) a template.
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    try:
        SandboxedEnvironment(keep_trailing_newline=True).parse(text)
    except jinja2.TemplateSyntaxError as exc:
        return f"line {exc.lineno}: {' '.join(str(exc.message or exc).split()).rstrip('.')}"
    return None
