"""The archive's screens: search every version and changelog entry, and the counts.

Both read the archive file the dashboard keeps (see
:mod:`dynamic_prompt.tui.parts.archiving`) through their own :class:`ArchiveReader`,
whose thread workers post what they found; the screens hand it to their widgets.
The search screen closes with the hit chosen, and the dashboard shows that version
in its diff pane.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Static

from dynamic_prompt.archive.db import Archive
from dynamic_prompt.archive.records import SearchHit
from dynamic_prompt.tui.parts.archiving import SEARCH_LIMIT, ArchiveProblem, ArchiveReader, Counted, Found
from dynamic_prompt.tui.render import safe
from dynamic_prompt.tui.render import title as plain_title
from dynamic_prompt.tui.widgets.archive_stats import StatsPanel
from dynamic_prompt.tui.widgets.search_results import SearchResults

SEARCH_DELAY = 0.3
"""Seconds of quiet typing before the archive is searched."""

ARCHIVE_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 95%; height: 90%; border: thick $accent; background: $surface; padding: 0 1;
    border-title-style: bold;
}}
{name} .hint {{ color: $text-muted; height: auto; }}
"""


class SearchScreen(ModalScreen[SearchHit | None]):
    """Search the archive; dismisses with the hit chosen (Enter on a row), or None (Esc)."""

    DEFAULT_CSS = ARCHIVE_CSS.format(name="SearchScreen") + """
    SearchScreen SearchResults { height: 1fr; }
    SearchScreen #search-status { height: 1; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close", id="search.close"),
        Binding("down", "results", "Results", show=False, id="search.results"),
    ]

    def __init__(self, archive: Archive, server: str, clock: Callable[[], float], *, label: str = "") -> None:
        super().__init__()
        self.archive = archive
        self.server = server
        """The archive's name for the server (whose rows are searched)."""
        self.clock = clock
        self.label = label or server
        """What the title calls the server (the status bar's name for it)."""
        self._timer: Timer | None = None
        self._focus_results = False

    def compose(self) -> ComposeResult:
        """Query box, results, one status line, the keys."""
        with Vertical(id="archive-box"):
            yield Input(placeholder="words to find (all must match; word* matches a prefix)",
                        id="search-query")
            yield SearchResults(self.clock, id="search-results")
            yield Static(Text(""), id="search-status")
            yield Static(Text("Enter: search · ↓: the results · Enter on a hit: diff its version against the "
                              "active text (of its prompt) · Esc: close"), classes="hint")
        yield ArchiveReader(self.archive, self.server)

    @property
    def query_input(self) -> Input:
        """The query box."""
        return self.query_one("#search-query", Input)

    @property
    def results(self) -> SearchResults:
        """The results table."""
        return self.query_one(SearchResults)

    def say(self, line: str, *, error: bool = False) -> None:
        """One status line below the results."""
        self.query_one("#search-status", Static).update(Text(line, style="bold red" if error else ""))

    def on_mount(self) -> None:
        """The title; the query box has the focus."""
        self.query_one("#archive-box").border_title = plain_title(f"Search the archive · {self.label}")
        self.query_input.focus()

    @on(Input.Changed, "#search-query")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        if event.value.strip():
            self._timer = self.set_timer(SEARCH_DELAY, lambda: self._search(event.value))
        else:
            self.results.show([])
            self.say("")

    @on(Input.Submitted, "#search-query")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        if not event.value.strip():
            self.say("Type a word to search for.", error=True)
            return
        self._focus_results = True
        self._search(event.value)

    def _search(self, query: str) -> None:
        self.say("Searching…")
        self.query_one(ArchiveReader).search(query)

    @on(Found)
    def _found(self, message: Found) -> None:
        if message.query != self.query_input.value:
            return  # typed on since: a newer search is on its way
        self.results.show(message.hits)
        count = len(message.hits)
        if not count:
            self.say(f"Nothing in the archive matches {safe(message.query)[:60]!r}.")
        else:
            most = f" (the best {SEARCH_LIMIT})" if count >= SEARCH_LIMIT else ""
            self.say(f"{count} match{'es' if count != 1 else ''}{most}, best first.")
            if self._focus_results:
                self.results.focus()
        self._focus_results = False

    @on(ArchiveProblem)
    def _problem(self, message: ArchiveProblem) -> None:
        if message.query == self.query_input.value:
            self.results.show([])
            self.say(message.message, error=True)
        self._focus_results = False

    @on(SearchResults.Chosen)
    def _chosen(self, message: SearchResults.Chosen) -> None:
        self.dismiss(message.hit)

    def action_results(self) -> None:
        """Down from the query box goes to the results."""
        if self.query_input.has_focus and self.results.row_count:
            self.results.focus()

    def action_close(self) -> None:
        """Close without choosing."""
        self.dismiss(None)


class StatsScreen(ModalScreen[None]):
    """The archive's counts for the shown prompt and for every prompt of the server."""

    DEFAULT_CSS = ARCHIVE_CSS.format(name="StatsScreen") + """
    StatsScreen VerticalScroll { height: 1fr; }
    """
    BINDINGS = [Binding("escape,q", "close", "Close", id="stats.close")]

    def __init__(self, archive: Archive, server: str, name: str, clock: Callable[[], float], *,
                 label: str = "") -> None:
        super().__init__()
        self.archive = archive
        self.server = server
        self.prompt_name = name
        self.clock = clock
        self.label = label or server

    def compose(self) -> ComposeResult:
        """The two panels."""
        with Vertical(id="archive-box"):
            with VerticalScroll(id="stats-scroll"):
                yield StatsPanel(f"{self.prompt_name}: changes per day", id="stats-prompt")
                yield StatsPanel("All prompts of this server: changes per day", prompts=True,
                                 id="stats-overall")
            yield Static(Text("What the archive kept (while a dashboard or `dprompt archive` ran); "
                              "`dprompt stats --json` lists it all."), classes="hint")
        yield ArchiveReader(self.archive, self.server)

    def on_mount(self) -> None:
        """The title; read the counts."""
        box = self.query_one("#archive-box")
        box.border_title = plain_title(f"Archive stats · {self.label} · Esc closes")
        self.query_one("#stats-scroll", VerticalScroll).focus()
        self.query_one(ArchiveReader).count(self.prompt_name)

    @on(Counted)
    def _counted(self, message: Counted) -> None:
        today = time.strftime("%Y-%m-%d", time.localtime(self.clock()))
        self.query_one("#stats-prompt", StatsPanel).show(message.prompt, today)
        self.query_one("#stats-overall", StatsPanel).show(message.overall, today)

    @on(ArchiveProblem)
    def _problem(self, message: ArchiveProblem) -> None:
        self.notify(message.message, severity="error", markup=False)

    def action_close(self) -> None:
        """Close."""
        self.dismiss(None)
