"""What one Enter costs the server: the dashboard's instruction flow, measured on a real server.

``CONFIG RESETSTAT`` once the typed instruction has been previewed, Enter, wait until
the dashboard shows the new version and has settled, then ``INFO commandstats`` says
what ran, and a ``MONITOR`` link says which script each ``EVALSHA`` was.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from typing import Any

import pytest
import redis

from dynamic_prompt.core.config import Settings
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import scripts
from tests.support.servers import TestServer
from tests.tui.helpers import settle, wait_for

pytest.importorskip("textual")

TEXT = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind\n2. Be brief\n"
SCRIPT_NAMES = {hashlib.sha1(body.encode()).hexdigest(): name for name, body in (
    ("state", scripts.STATE), ("commit", scripts.COMMIT), ("history", scripts.HISTORY),
    ("take_lease", scripts.TAKE_LEASE), ("release", scripts.RELEASE), ("clear", scripts.CLEAR),
)}


class Monitor:
    """Every command the server runs while it listens (a MONITOR link in a thread)."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.commands: list[list[Any]] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.client.monitor() as monitor:
            self._ready.set()
            for command in monitor.listen():
                if self._stop.is_set():
                    return
                if command.get("client_type") == "lua":
                    continue  # run by one of our scripts: part of that script's one call
                self.commands.append(str(command["command"]).split())

    def __enter__(self) -> Monitor:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.client.ping()  # one more command, so the listener wakes and sees the stop
        self._thread.join(5)
        self.client.close()

    def counts(self, ignore: str | None = None) -> Counter[str]:
        """Commands by name; EVALSHA by which of our scripts it ran. Commands naming a key
        that contains ``ignore`` (the test's own barrier) are left out."""
        out: Counter[str] = Counter()
        for i, parts in enumerate(self.commands):
            name = parts[0].upper() if parts else ""
            if ignore is not None and any(ignore in part for part in parts[1:]):
                continue
            following = self.commands[i + 1] if i + 1 < len(self.commands) else []
            if name == "EVALSHA" and following[:1] == ["SCRIPT"]:
                continue  # NOSCRIPT: redis-py loads the script and sends the EVALSHA again
            if name in ("EVALSHA", "EVAL") and len(parts) > 1:
                out[f"{name}:{SCRIPT_NAMES.get(parts[1].strip(chr(34)), 'other')}"] += 1
            elif name not in ("MONITOR", "PING", "CONFIG", "INFO", "SCRIPT", "HELLO", "CLIENT"):
                out[name] += 1
        return out


async def test_one_enter_costs_one_state_read_one_commit_one_refresh() -> None:
    from dynamic_prompt.tui.app import DashboardApp

    server = TestServer().start()
    try:
        admin = redis.Redis.from_url(server.url, decode_responses=True)
        admin.set("prompt:active", TEXT)
        # The archiver reads after every change too (as a `dprompt archive` beside it would): off here.
        app = DashboardApp(ServerTarget(server.url, "test"), Settings(user="t"), remember_theme=False,
                           archive=False)
        async with app.run_test(size=(140, 45)) as pilot:
            screen = app.dashboard
            await wait_for(pilot, lambda: screen.state is not None and screen.state.exists)
            await settle(pilot)
            screen.instruction_bar.input.focus()
            await pilot.press(*"change tone to warm")
            await wait_for(pilot, lambda: "Preview" in str(screen.diff_view.border_title))
            await settle(pilot)
            admin.config_resetstat()
            with Monitor(server.url) as monitor:
                await pilot.press("enter")
                await wait_for(pilot, lambda: screen.state is not None and screen.state.version == 2)
                await settle(pilot)
                # A barrier, not a sleep: the feed brings changes in order, and the refresher
                # reads another prompt's row after the shown prompt, so once this write's row
                # is on screen every read the Enter caused (the echo of its own commit
                # included, however late it came) has run, and shows in the counts.
                admin.set("prompt:{barrier}:active", "after the Enter\n")
                await wait_for(pilot, lambda: "barrier" in screen.prompt_list.names)
                await settle(pilot)
            stats = {name.removeprefix("cmdstat_"): int(v["calls"])
                     for name, v in admin.info("commandstats").items()}
            counts = monitor.counts(ignore="{barrier}")
            assert monitor.counts()["SET"] == 1  # the barrier itself is seen, and left out above
            print(f"\ncommandstats after one Enter: {stats}\nby script: {dict(counts)}")
            assert counts["EVALSHA:commit"] == 1
            assert counts["EVALSHA:state"] == 1
            assert counts["EVALSHA:history"] == 1
            assert stats.get("scan", 0) == 0
            assert counts["SMEMBERS"] == 0
    finally:
        server.cleanup()
