"""The archive search's results: one row per matching version text or changelog entry."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import DataTable

from dynamic_prompt.archive.records import SearchHit
from dynamic_prompt.tui.render import safe, when

MAX_SNIPPET = 300
"""Characters of a snippet shown in its cell."""

_MARKED = re.compile(r"\[([^\[\]]*)\]")


LEAD = 20
"""Characters kept (at most) before the first matched word, so a narrow column still shows the match."""


def snippet_text(snippet: str) -> Text:
    """The matching part, made inert, with the words the archive marked ``[like this]`` in bold."""
    plain = safe(snippet)
    first = plain.find("[")
    if first > LEAD + 2:
        space = plain.find(" ", first - LEAD, first)
        plain = "… " + plain[space + 1 if space >= 0 else first:]
    plain = plain[:MAX_SNIPPET]
    text = Text(end="")
    at = 0
    for match in _MARKED.finditer(plain):
        text.append(plain[at:match.start()])
        text.append(match.group(1), style="bold reverse")
        at = match.end()
    text.append(plain[at:])
    return text


def hit_cells(hit: SearchHit, now: float) -> tuple[Text, ...]:
    """A hit's cells: what matched (a text, or the change's action), prompt, version, time, author,
    snippet."""
    kind = Text("text", style="cyan") if hit.kind == "version" else Text(safe(hit.action or "change")[:20],
                                                                        style="bold")
    version = Text(f"v{hit.version}" if hit.version is not None else "-", justify="right")
    return (kind, Text(safe(hit.name)[:40]), version, Text(when(hit.timestamp, now), style="dim"),
            Text(safe(hit.user_id or "-")[:30]), snippet_text(hit.snippet))


class SearchResults(DataTable[Text]):
    """The hits, best first; Enter (or a click) on one posts :class:`Chosen`."""

    class Chosen(Message):
        """The person chose ``hit``."""

        def __init__(self, hit: SearchHit) -> None:
            super().__init__()
            self.hit = hit

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        self.clock = clock
        self.hits: list[SearchHit] = []

    def on_mount(self) -> None:
        """The columns."""
        for label in ("match", "prompt", "ver", "time", "by", "what matched"):
            self.add_column(label, key=label)

    def show(self, hits: Sequence[SearchHit]) -> None:
        """Replace the rows with ``hits``."""
        self.hits = list(hits)
        self.clear()
        now = self.clock()
        for n, hit in enumerate(self.hits):
            self.add_row(*hit_cells(hit, now), key=str(n))

    @property
    def selected(self) -> SearchHit | None:
        """The highlighted hit, if any."""
        row = self.cursor_row
        return self.hits[row] if 0 <= row < len(self.hits) else None

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if (hit := self.selected) is not None:
            self.post_message(self.Chosen(hit))
