"""The fleet pane: per prompt, the agents reading it, the version each serves, who is behind or gone.

The screen's worker reads :func:`dynamic_prompt.store.fleet.fleet_many_async` and
sets :attr:`FleetView.agents`; this widget only draws. Every cell is a Rich
``Text`` built from :func:`~dynamic_prompt.tui.render.safe` pieces, so an
agent id or host name holding markup or escape sequences shows literally.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.coordinate import Coordinate
from textual.reactive import reactive
from textual.widgets import DataTable

from dynamic_prompt.store.fleet import AgentInfo, split
from dynamic_prompt.tui.render import age, safe
from dynamic_prompt.tui.render import title as plain_title

STATE_STYLES = {"gone": "dim red", "behind": "bold yellow", "stale": "yellow", "current": "green"}


def state_text(agent: AgentInfo) -> Text:
    """One word for the agent's state (:attr:`AgentInfo.state`), styled."""
    return Text(agent.state, style=STATE_STYLES[agent.state])


def summary(agents: Sequence[AgentInfo], release: str = "") -> str:
    """The pane's title: how many agents, how many behind or gone, the split by version while a
    rollout (or anything else) has them on more than one, and the release."""
    live = [a for a in agents if not a.gone]
    behind = sum(1 for a in live if a.behind)
    gone = len(agents) - len(live)
    parts = [f"{len(live)} agent{'s' if len(live) != 1 else ''}"]
    by_version = split(live)
    if len(by_version) > 1:
        parts.append(" / ".join(f"{count} on v{version}" for version, count in by_version.items()))
    if behind:
        parts.append(f"{behind} behind")
    if gone:
        parts.append(f"{gone} gone")
    return "Fleet: " + ", ".join(parts) + (f"  ·  {safe(release)}" if release else "")


def served(agent: AgentInfo) -> str:
    """Why the agent serves its text: a rollout, an experiment's serves per variant, a label ("" for production)."""
    why = agent.served or (f"label {agent.label}" if agent.label != "production" else "")
    if agent.variants:
        why += " " + " ".join(f"{k}:{v:,}" for k, v in sorted(agent.variants.items()))
    return why.strip()


class FleetView(DataTable[Text]):
    """A table of agents by prompt; hidden until the person asks for it."""

    DEFAULT_CSS = """
    FleetView:focus { border: round $accent; }
    """

    agents: reactive[tuple[AgentInfo, ...]] = reactive(tuple, always_update=False)
    """Every agent of every listed prompt, as the last read found them."""
    release: reactive[str] = reactive("")
    """The shown prompt's rollout or experiment, in a few words ("" for none)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, show_row_labels=False)

    def on_mount(self) -> None:
        """The columns."""
        for label, key in (("prompt", "prompt"), ("agent", "agent"), ("version", "version"),
                           ("state", "state"), ("serves", "served"), ("reads/s", "rate"), ("seen", "seen"),
                           ("feed", "mode")):
            self.add_column(label, key=key)
        self.border_title = plain_title(summary(()))

    def watch_agents(self, agents: tuple[AgentInfo, ...]) -> None:
        """Redraw the rows, keeping the cursor on the same agent when it is still there."""
        keep = None
        if 0 <= self.cursor_row < self.row_count:
            keep = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value
        self.clear()
        for agent in sorted(agents, key=lambda a: (a.prompt, a.gone, a.agent_id)):
            key = f"{agent.prompt}\x00{agent.agent_id}"
            where = f"{agent.host} pid {agent.pid}" if agent.host else ""
            label = Text(safe(agent.agent_id), style="dim" if agent.gone else "")
            if where and where not in agent.agent_id:
                label.append(f"  {safe(where)}", style="dim")
            self.add_row(
                Text(safe(agent.prompt), style="bold"),
                label,
                Text(f"v{agent.version}" if agent.version else "-", justify="right"),
                state_text(agent),
                Text(safe(served(agent)), style="cyan"),
                Text("-" if agent.rate_now is None else f"{agent.rate_now:,.1f}", justify="right"),
                Text(f"{age(agent.age)} ago", style="dim"),
                Text(safe(agent.mode), style="dim"),
                key=key,
            )
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep), animate=False)
        self.border_title = plain_title(summary(agents, self.release))

    def watch_release(self, release: str) -> None:
        """The title follows the rollout or experiment."""
        self.border_title = plain_title(summary(self.agents, release))
