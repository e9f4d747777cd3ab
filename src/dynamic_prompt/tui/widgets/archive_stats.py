"""Counts over the archived changelog: changes per day as a sparkline, then a few plain lines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from dynamic_prompt.archive.records import Stats
from dynamic_prompt.tui.render import safe

SHOWN_COUNTS = 6
"""Authors, actions and prompts named per line (the rest are counted)."""

CHART_DAYS = 30
"""The shortest span the chart shows, ending today: a few days of history show as recent, not as a wall."""


def chart_days(per_day: Sequence[tuple[str, int]], today: str,
               at_least: int = CHART_DAYS) -> list[tuple[str, int]]:
    """``per_day`` (local days, oldest first, gaps filled) run on to ``today`` and back to
    ``at_least`` days, the added days at 0."""
    if not per_day:
        return []
    counts = dict(per_day)
    last = max(dt.date.fromisoformat(per_day[-1][0]), dt.date.fromisoformat(today))
    first = min(dt.date.fromisoformat(per_day[0][0]), last - dt.timedelta(days=at_least - 1))
    days = [(first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    return [(day, counts.get(day, 0)) for day in days]


def counts_line(label: str, counts: Sequence[tuple[str, int]]) -> str:
    """``per author: alice 6, bob 4 and 2 more`` (names made inert)."""
    shown = ", ".join(f"{safe(name)[:30]} {count}" for name, count in counts[:SHOWN_COUNTS])
    more = f" and {len(counts) - SHOWN_COUNTS} more" if len(counts) > SHOWN_COUNTS else ""
    return f"{label}: {shown or '-'}{more}"


def days_line(per_day: Sequence[tuple[str, int]]) -> str:
    """What the sparkline spans: its first and last day, and the busiest one."""
    if not per_day:
        return "no dated changes"
    top_day, top = max(per_day, key=lambda dc: (dc[1], dc[0]))
    span = per_day[0][0] if len(per_day) == 1 else f"{per_day[0][0]} … {per_day[-1][0]}"
    days = "one day" if len(per_day) == 1 else f"{len(per_day)} days"
    return f"{span} ({days}) · busiest day {top_day}: {top}"


def stats_lines(stats: Stats, *, prompts: bool) -> list[str]:
    """The plain lines below the sparkline (``prompts``: name the most edited ones too)."""
    lines = [
        f"{stats.changes} change{'s' if stats.changes != 1 else ''}, {stats.versions} version"
        f"{'s' if stats.versions != 1 else ''} archived"
        + (f", {stats.prompts} prompt{'s' if stats.prompts != 1 else ''}" if prompts else ""),
        f"reverts and undos: {stats.reverts} of {stats.changes} ({stats.revert_share:.0%})",
        counts_line("per author", stats.per_author),
        counts_line("by action", stats.per_action),
    ]
    if prompts:
        lines.append(counts_line("most edited", stats.most_edited))
    return lines


class StatsPanel(Vertical):
    """One heading, the changes per day, and the counts; :meth:`show` fills it."""

    DEFAULT_CSS = """
    StatsPanel { height: auto; margin-bottom: 1; }
    StatsPanel > .stats-heading { text-style: bold; }
    StatsPanel > Sparkline { height: 2; }
    StatsPanel > .stats-days { color: $text-muted; }
    """

    def __init__(self, heading: str, *, prompts: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.heading = heading
        self.prompts = prompts
        self.stats: Stats | None = None
        self.days: list[tuple[str, int]] = []
        """The chart's days (local time) and their counts."""

    def compose(self) -> ComposeResult:
        """Heading, sparkline, its span, the counts."""
        yield Static(Text(safe(self.heading)), classes="stats-heading")
        yield Sparkline([], id=f"{self.id}-per-day" if self.id else None)
        yield Static(Text("Reading the archive…"), classes="stats-days")
        yield Static(Text(""), classes="stats-lines")

    def show(self, stats: Stats, today: str) -> None:
        """Draw ``stats``; the chart runs on to ``today`` (a local date, as the archive's days are)."""
        self.stats = stats
        self.days = chart_days(stats.per_day, today)
        spark = self.query_one(Sparkline)
        spark.data = [float(count) for _, count in self.days]
        spark.display = bool(self.days)
        self.query_one(".stats-days", Static).update(Text(days_line(self.days)))
        lines = stats_lines(stats, prompts=self.prompts)
        self.query_one(".stats-lines", Static).update(Text("\n".join(lines)))

    @property
    def plain(self) -> str:
        """What the panel says, as plain text (for a test, or a copy)."""
        if self.stats is None:
            return ""
        return "\n".join([self.heading, days_line(self.days),
                          *stats_lines(self.stats, prompts=self.prompts)])
