"""The embedded server when its port is taken or its data dir unusable; the dashboard on hostile
text and through a link that stops forwarding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from dynamic_prompt.store import PromptStore
from tests.reliability.clirun import error_line, ok, run_cli
from tests.reliability.conftest import ServerFactory
from tests.support.proxy import FreezableProxy
from tests.support.waiting import eventually

TEXT = "# Agent\n\nTone: Calm\n"


def _stop(env: dict[str, str]) -> None:
    run_cli("server", "stop", env=env)


def test_a_server_killed_without_cleanup_is_replaced_at_the_same_address(tmp_path: Path) -> None:
    """kill -9 leaves the socket file, the pid file and server.json behind: the next dprompt
    starts a new server at the same socket and says where; nothing of the old state misleads it."""
    import os
    import signal

    env = {"DPROMPT_DATA_DIR": str(tmp_path / "data")}
    try:
        run = ok(run_cli("load", "--text", TEXT, env=env))
        socket_url = run.stderr.split("Started the embedded server at ", 1)[1].split()[0]
        assert socket_url.startswith("unix://") and socket_url.endswith("valkey.sock?db=0")
        server_dir = tmp_path / "data" / "server"
        pid = json.loads((server_dir / "server.json").read_text())["pid"]
        os.kill(pid, signal.SIGKILL)
        # The owner lock goes with the process; wait until the kernel has let go of it.
        eventually(lambda: not _alive(pid), timeout=10)
        assert (server_dir / "valkey.sock").exists()  # left behind
        again = ok(run_cli("get", env=env))
        assert again.stdout == TEXT  # the append-only file had it
        assert f"Started the embedded server at {socket_url}" in again.stderr
    finally:
        _stop(env)


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.parametrize("where", ["under-a-file", "under-proc"])
def test_unusable_data_dir_is_one_line(tmp_path: Path, where: str) -> None:
    if where == "under-a-file":
        blocker = tmp_path / "file"
        blocker.write_text("x")
        data = blocker / "sub"
    else:
        data = Path("/proc/self/dprompt-data")  # not creatable, not even by root
    env = {"DPROMPT_DATA_DIR": str(data)}
    for args in (["get"], ["load", "--text", TEXT], ["server", "start"], ["list"]):
        line = error_line(run_cli(*args, env=env))
        assert "not writable" in line and str(data) in line


HOSTILE = [
    "Escape \x1b[31mred\x1b[0m clear \x1b[2J title \x1b]0;pwned\x07 clip \x1b]52;c;aGk=\x07\n",
    "Markup [bold red]not bold[/] [link=http://x]no link[/link] [@click=app.quit]q[/]\n",
    "C1 \x9b31m bidi \u202egnp.exe\u202c zero\u200bwidth bare\rCR bell\x07 del\x7f\n",
]


async def test_dashboard_renders_hostile_texts_inert(server_url: str, redis_sync: redis.Redis,
                                                     store: PromptStore) -> None:
    pytest.importorskip("textual")
    from dynamic_prompt.tui.app import DashboardApp
    from tests.tui.helpers import settle, text_of, wait_for

    for i, text in enumerate(HOSTILE):
        await store.load(f"h{i}", text, kind="text")
    redis_sync.lpush("prompt:{h0}:changelog",
                     '{"timestamp": 1e308, "action": "\\u001b[2J[red]x[/]", "user_id": "\\u202eme"}',
                     "not json \x1b[31m")
    from dynamic_prompt.core.config import Settings
    from dynamic_prompt.server import ServerTarget

    app = DashboardApp(ServerTarget(server_url, "test"), Settings(user="t"), "h0",
                       server_label="test server", remember_theme=False)
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(pilot)
        for i in range(len(HOSTILE)):
            screen = app.dashboard
            await wait_for(pilot, lambda: f"h{i}" in screen.prompt_list.names)
            screen.focus_prompt(f"h{i}")
            await wait_for(pilot, lambda: f"h{i}" in app.export_screenshot())
            await settle(pilot)
            shown = "\n".join(text_of(w) for w in app.screen.query("*") if w.display and w.size.height)
            svg = app.export_screenshot()
            for ch in ("\x1b", "\x07", "\x9b", "\u202e", "\r"):
                assert ch not in shown and ch not in svg, (i, repr(ch))
        assert app.is_running  # no crash on any of them
        view = app.dashboard.prompt_view
        last = "\n".join(view.line_text(n).plain for n in range(view.line_count))
        assert "<U+202E>" in last and "␇" in last and "<U+009B>" in last  # visible stand-ins
        app.dashboard.focus_prompt("h1")
        await wait_for(pilot, lambda: "[bold red]not bold[/]" in "\n".join(
            view.line_text(n).plain for n in range(view.line_count)))  # markup shown literally


async def test_dashboard_through_a_link_that_stops_forwarding(make_server: ServerFactory) -> None:
    """A link that goes silent (no reset, no error): the watchdog notices, the dashboard keeps
    answering keys and showing the last text, and after the link heals it shows what changed."""
    pytest.importorskip("textual")
    from dynamic_prompt.core.config import Settings
    from dynamic_prompt.server import ServerTarget
    from dynamic_prompt.tui.app import DashboardApp
    from dynamic_prompt.tui.screens.confirm import HelpScreen
    from tests.tui.helpers import settle, text_of, wait_for

    server = make_server()
    proxy = FreezableProxy(server.port).start()
    direct = redis.Redis.from_url(server.url)
    try:
        direct.set("prompt:active", TEXT)
        target = ServerTarget(proxy.url, "proxy")
        app = DashboardApp(target, Settings(user="t"), server_label="through a proxy", remember_theme=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            screen = app.dashboard
            await wait_for(pilot, lambda: screen.status.mode == "notifications")
            proxy.freeze()
            # Default watchdog: a ping every second, dead after 3 s without a pong.
            await wait_for(pilot, lambda: screen.status.mode == "disconnected", timeout=10)
            assert "disconnected" in text_of(screen.status)
            assert screen.prompt_view.text == TEXT  # the last text stays on screen
            await pilot.press("f1")  # the app still answers keys while the link is dead
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            await pilot.press("escape")
            direct.set("prompt:active", "Changed while the link was silent\n")
            proxy.thaw()
            await wait_for(pilot, lambda: screen.status.mode == "notifications", timeout=20)
            await wait_for(pilot, lambda: screen.prompt_view.text == "Changed while the link was silent\n",
                           timeout=10)
            assert app.is_running
    finally:
        direct.close()
        proxy.close()
