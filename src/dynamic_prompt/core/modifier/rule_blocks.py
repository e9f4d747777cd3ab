"""Reading a prompt's rules blocks: ``## Rules`` sections, ``▛///▞ CORE RULES`` blocks, ``RULES:`` lines.

A 4 MB prompt can hold a million one-letter rules, so the lines of a block are
matched with one ``findall`` per run of lines (in C) rather than one regex
call per line, and blocks are found with a bisect rather than by comparing
every candidate line with every block. Past :data:`MAX_RULES` list lines the
rule edits refuse the prompt (:class:`TooManyRulesError`): building that many
rules alone would cost more than a second.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import NamedTuple

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.modifier.sections import Outline, norm, width

PLAIN_RULES = re.compile(
    r"[ \t]*(?:\*\*|__)?(?:[A-Za-z][\w-]*[ \t]+){0,3}rules?(?:\*\*|__)?[ \t]*:[ \t]*(?:\*\*|__)?[ \t]*",
    re.IGNORECASE,
)
_RULES_TITLE = re.compile(r"\brules?\b", re.IGNORECASE)
ITEM = re.compile(r"([ \t]*)(?:(\d{1,9})([.)])|([-*+•]))([ \t]+)(\S.*)")
# ITEM's groups for every line of a text, one row per line ("" groups when it is not an item).
_ITEM_ROWS = re.compile(r"^(?:" + ITEM.pattern + r")?.*$", re.MULTILINE)
_ITEM_START = re.compile(r"^[ \t]*(?:\d{1,9}[.)]|[-*+•])[ \t]+\S", re.MULTILINE)
MAX_RULES = 200_000
"""Rule edits refuse prompts whose rules blocks hold more list lines than this
(a million one-letter rules fit in 4 MB; 200,000 cost about half a second)."""


class RuleItem(NamedTuple):
    """One rule: its line, the lines after it that belong to it, and its marker.

    A named tuple rather than a dataclass: a 4 MB prompt can hold a million
    rules, and a tuple is built three times faster.
    """

    start: int
    end: int
    indent: str
    number: int | None
    marker: str
    gap: str
    text: str

    def label(self, position: int) -> str:
        """``3.`` for a numbered rule, else its 1-based position."""
        return f"{self.number}." if self.number is not None else f"{position}."


@dataclass(frozen=True, slots=True)
class RulesBlock:
    """A rules section: heading line, body range ``[start, end)`` and its rules."""

    header: int
    kind: str
    title: str
    start: int
    end: int
    items: tuple[RuleItem, ...]


class TooManyRulesError(InstructionError):
    """The prompt's rules blocks have more than :data:`MAX_RULES` list lines."""


def read(out: Outline) -> list[RulesBlock]:
    """Every rules block of ``out``, in order.

    Blocks never overlap: a ``... rules:`` line inside a section's body or
    inside the list of an earlier ``RULES:`` line belongs to that block (it
    would otherwise list the same rules twice, and each nested line would
    rescan the rest of the list).

    Raises:
        TooManyRulesError: the blocks hold more than :data:`MAX_RULES` list lines.
    """
    return _Reader(out).blocks()


class _Reader:
    """One reading of one outline's rules blocks (counting list lines as it goes)."""

    def __init__(self, out: Outline) -> None:
        self.out = out
        self.lines = out.doc.raw_lines()
        self.rule_lines = 0

    def blocks(self) -> list[RulesBlock]:
        out, doc = self.out, self.out.doc
        blocks: list[RulesBlock] = []
        for h in out.headings:
            if _RULES_TITLE.search(h.title):
                start, end = out.body(h)
                blocks.append(RulesBlock(h.index, h.kind, h.title, start, end, self._items(start, end)))
        # Section bodies are disjoint and in order, so one bisect finds the one a line is in.
        starts = [b.start for b in blocks]
        plain: list[RulesBlock] = []
        plain_until = -1
        for i in out.lines_with("rule"):
            if i < plain_until:
                continue
            k = bisect_right(starts, i) - 1
            if (k >= 0 and i < blocks[k].end) or not PLAIN_RULES.fullmatch(doc.content(i)):
                continue
            end = self._plain_end(i + 1)
            plain.append(RulesBlock(i, "plain", norm(doc.content(i)), i + 1, end, self._items(i + 1, end)))
            plain_until = end
        blocks.extend(plain)
        blocks.sort(key=lambda b: b.header)
        return blocks

    def _plain_end(self, start: int) -> int:
        """Where the list under a plain ``RULES:`` line ends.

        Lines of template tags only are passed over like blank lines: an ``{% if %}`` around
        some rules keeps them in the list, as they are in the same prompt without it.
        """
        doc = self.out.doc
        tag_lines = self.out.tags.lines
        limit = self.out.boundary_after(start - 1)[0]
        base: int | None = None
        last = start
        i = start
        while i < limit:
            line = doc.content(i)
            if not line.strip() or i in tag_lines:
                i += 1
                continue
            m = ITEM.match(line)
            w = width(line[: len(line) - len(line.lstrip())])
            if base is None:
                if not m:
                    break
                base = w
            elif not m and w <= base:
                break
            i += 1
            last = i
        return last

    def _item_rows(self, start: int, end: int) -> list[tuple[int, tuple[str, ...]]]:
        """``(line, ITEM groups)`` of each rule-like line in ``[start, end)`` outside code and tags.

        A ``- Never joke.`` inside a multi-line ``{# comment #}`` is no rule.
        """
        lines = self.lines
        tag_lines = self.out.tags.lines
        found: list[tuple[int, tuple[str, ...]]] = []
        for a, b in self.out.outside_code(start, end):
            chunk = "\n".join(lines[a:b])
            counted = self.rule_lines + (b - a) > MAX_RULES
            if counted:
                # Count first (in C), so a million-rule prompt is refused before any row is built.
                self._count(len(_ITEM_START.findall(chunk)))
            rows = _ITEM_ROWS.findall(chunk)
            if len(rows) != b - a:  # cannot happen (one row per line); stay correct anyway
                rows = [m.groups("") if (m := ITEM.match(line)) else ("",) * 6 for line in lines[a:b]]
            before = len(found)
            if tag_lines:
                found.extend((a + j, row) for j, row in enumerate(rows) if row[4] and a + j not in tag_lines)
            else:
                found.extend((a + j, row) for j, row in enumerate(rows) if row[4])
            if not counted:
                self._count(len(found) - before)
        return found

    def _count(self, n: int) -> None:
        self.rule_lines += n
        if self.rule_lines > MAX_RULES:
            raise TooManyRulesError(
                f"The prompt has over {MAX_RULES:,} rule lines, more than rule edits handle; "
                "use replace or remove line containing instead."
            )

    def _items(self, start: int, end: int) -> tuple[RuleItem, ...]:
        # Raw lines: a trailing \r only reaches the rule's text, which is rstripped.
        found = self._item_rows(start, end)
        if not found:
            return ()
        widths = [width(row[0]) if "\t" in row[0] else len(row[0]) for _, row in found]
        base = min(widths)
        tops = [(i, row) for (i, row), w in zip(found, widths) if w == base]
        numbered = tops[0][1][1] != ""
        # Only items of the first item's kind are rules: a numbered rules list
        # followed by a bulleted example list keeps the examples out.
        tops = [(i, row) for i, row in tops if (row[1] != "") == numbered]
        items = []
        for k, (i, (indent, number, mark, bullet, gap, text)) in enumerate(tops):
            limit = tops[k + 1][0] if k + 1 < len(tops) else end
            items.append(
                RuleItem(
                    i,
                    self._extent(i, limit, base) if limit > i + 1 else i + 1,
                    indent,
                    int(number) if numbered else None,
                    mark if numbered else bullet,
                    gap,
                    text.rstrip(),
                )
            )
        return tuple(items)

    def _extent(self, start: int, limit: int, base: int) -> int:
        """The end of a rule: the lines after it indented deeper belong to it."""
        lines = self.lines
        end = start + 1
        for i in range(start + 1, limit):
            line = lines[i]
            stripped = line.lstrip()
            if not stripped:
                continue
            if width(line[: len(line) - len(stripped)]) <= base:
                break
            end = i + 1
        return end
