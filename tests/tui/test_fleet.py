"""The fleet pane: agents per prompt, their versions, who is behind or gone; live."""

from __future__ import annotations

import json

import redis
from textual.app import App, ComposeResult

from dynamic_prompt.live.client import PromptClient
from dynamic_prompt.store import PromptStore
from dynamic_prompt.store.fleet import ANNOUNCE_SCRIPT, AgentInfo
from dynamic_prompt.tui.widgets.fleet import FleetView
from tests.tui.conftest import AppFactory
from tests.tui.helpers import SAMPLE, settle, text_of, wait_for

SIZE = (140, 45)


def agent(agent_id: str, *, version: int = 3, behind: bool = False, gone: bool = False,
          stale: bool = False, prompt: str = "default") -> AgentInfo:
    return AgentInfo(agent_id=agent_id, prompt=prompt, host="web-1", pid=42, version=version,
                     content_hash="h", reads_per_s=12.5, last_seen=0.0, interval=5.0,
                     mode="notifications", stale=stale, behind=behind, gone=gone, age=2.0)


class FleetApp(App[None]):
    def compose(self) -> ComposeResult:
        yield FleetView(id="fleet")

    def on_mount(self) -> None:
        self.query_one(FleetView).display = True


async def test_rows_show_version_and_state_and_data_stays_literal() -> None:
    app = FleetApp()
    async with app.run_test(size=(120, 14)) as pilot:
        view = app.query_one(FleetView)
        view.agents = (
            agent("a-current"),
            agent("b-behind", version=2, behind=True),
            agent("c-gone", gone=True),
            agent("[bold red]x[/]\x1b[31m", stale=True, prompt="support"),
        )
        await pilot.pause()
        shown = text_of(view)
        lines = {line.split()[1]: line for line in shown.splitlines()[1:] if line.split()}
        assert "v3" in lines["a-current"] and "current" in lines["a-current"]
        assert "v2" in lines["b-behind"] and "behind" in lines["b-behind"]
        assert "gone" in lines["c-gone"]
        # A gone agent reads nothing now: no rate, not the last one it announced.
        assert "12.5" not in lines["c-gone"] and " - " in lines["c-gone"]
        assert "[bold red]x[/]" in shown and "\x1b" not in shown  # markup and escapes shown, not run
        assert "stale" in shown and "12.5" in shown
        assert view.border_title == "Fleet: 3 agents, 2 on v3 / 1 on v2, 1 behind, 1 gone"
        view.agents = ()
        await pilot.pause()
        assert view.row_count == 0 and view.border_title == "Fleet: 0 agents"


async def test_dashboard_shows_agents_live(store: PromptStore, make_app: AppFactory, server_url: str) -> None:
    await store.load("default", SAMPLE, kind="text")
    client = PromptClient(server_url, agent_id="agent-7", announce_interval=0.5)
    client.get_active()
    app = make_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            view = app.dashboard.query_one("#fleet", FleetView)
            assert not view.display  # hidden until asked for
            await pilot.press("f2")
            await wait_for(pilot, lambda: view.display)
            await wait_for(pilot, lambda: "agent-7" in text_of(view))
            assert "current" in text_of(view) and "v1" in text_of(view)
            # Another agent still serving an old text appears, marked behind.
            r = redis.Redis.from_url(server_url)
            r.register_script(ANNOUNCE_SCRIPT)(
                keys=["dprompt:agents:default"],
                args=["old-agent", json.dumps({"agent_id": "old-agent", "version": 0, "hash": "0" * 40,
                                               "interval": 5}), "300"],
            )
            await wait_for(pilot, lambda: "old-agent" in text_of(view))
            assert "behind" in text_of(view) and "1 behind" in str(view.border_title)
            # A change reaches the agent, which says so at once: it serves v2.
            await store.modify("default", "change tone to sarcastic")
            await wait_for(pilot, lambda: any("agent-7" in line and "v2" in line for line in text_of(view).splitlines()))
            # An agent that exits cleanly leaves the view.
            await pilot.pause()
            client.close()
            await wait_for(pilot, lambda: "agent-7" not in text_of(view))
            await pilot.press("f2")
            assert not view.display
            r.close()
    finally:
        client.close()
