"""Scale: the listing, the fleet and the dashboard on a server with 1,000,000 other keys.

One private valkey-server is filled with 1,000,000 unrelated keys (``DEBUG
POPULATE``), then with 10 prompts, then with 10,000. At each size, side by side in
this one run:

- ``store.list()`` (the index: one SMEMBERS and one pipelined read of the rows)
  against the keyspace scan the listing used to run (now the rate-limited
  reconciliation, ``reconcile(force=True)``);
- ``store.fleet()`` for every prompt (each with one announced agent);
- ``dprompt list`` and ``dprompt fleet`` as whole processes (Python start included);
- the dashboard's first paint of the prompt and the time until its listing holds
  every prompt;
- server commands per outside write with the dashboard open (``INFO commandstats``).

Targets (issue 12): list and fleet <= 300 ms for 10,000 prompts, first paint
<= 500 ms and the full list within 1 s.

Run alone with ``python3 benchmarks/bench_scale.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
from tests.support.servers import TestServer

from dynamic_prompt.core.config import Settings
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from dynamic_prompt.store.fleet import ANNOUNCE_SCRIPT

OTHER_KEYS = 1_000_000
SIZES = (10, 10_000)
TEXT = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n2. Be brief.\n"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.2f} ms"


async def _best(call: object, runs: int = 5) -> float:
    """The median of ``runs`` timings of ``await call()``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def _fill(url: str, admin: redis.Redis, start: int, stop: int) -> None:
    """Prompts ``p{start}..p{stop-1}`` loaded through the store, each with one announced agent."""
    store = PromptStore.connect(ServerTarget(url, "bench"), Settings(user="bench"))
    try:
        names = [f"p{i}" for i in range(start, stop)]
        for at in range(0, len(names), 20):
            await asyncio.gather(*(store.load(n, TEXT, kind="text") for n in names[at:at + 20]))
    finally:
        await store.aclose()
    pipe = admin.pipeline(transaction=False)
    for name in names:
        pipe.eval(ANNOUNCE_SCRIPT, 1, f"dprompt:agents:{name}", f"agent-{name}", json.dumps(
            {"agent_id": f"agent-{name}", "version": 1, "hash": "", "interval": 3600}), "300")
    pipe.sadd("dprompt:fleet", *names)
    pipe.execute()


def _cli(url: str, *args: str) -> float:
    env = {**os.environ, "DPROMPT_DATA_DIR": "/tmp/dprompt-bench-scale", "DPROMPT_CONFIG": "/nonexistent"}
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dynamic_prompt.cli", "--redis-url", url, *args], check=True,
                       capture_output=True, env=env, timeout=120)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def _dashboard(url: str, admin: redis.Redis, prompts: int) -> tuple[float, float, int, int]:
    """First paint, full listing, and (commands, scans) for 20 outside writes."""
    from dynamic_prompt.tui.app import DashboardApp

    start = time.perf_counter()
    app = DashboardApp(ServerTarget(url, "bench"), Settings(user="bench"), name="p0", remember_theme=False)
    painted = listed = 0.0
    async with app.run_test(size=(200, 60)) as pilot:
        screen = app.dashboard
        view = screen.prompt_view
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (listed and painted):
            if not painted and view.text == TEXT and view.painted == view.generation:
                painted = time.perf_counter() - start
            if not listed and len(screen.prompt_list.names) >= prompts:
                listed = time.perf_counter() - start
            await asyncio.sleep(0.005)
        await pilot.pause(1.0)
        admin.config_resetstat()
        for i in range(20):
            admin.set(f"prompt:{{p{1 + i % max(1, prompts - 1)}}}:active", f"outside {i}\n")
        await pilot.pause(1.5)
        stats = {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in admin.info("commandstats").items()}
    commands = sum(v for k, v in stats.items() if k not in ("set", "config|resetstat", "info"))
    return painted, listed, commands, stats.get("scan", 0)


def run() -> list[tuple[str, str, str]]:
    """The rows: (benchmark, measurement, value)."""
    server = TestServer(["enable-debug-command yes"]).start()
    admin = redis.Redis.from_url(server.url)
    rows: list[tuple[str, str, str]] = []
    try:
        admin.execute_command("DEBUG", "POPULATE", OTHER_KEYS, "other")
        filled = 0
        for prompts in SIZES:
            asyncio.run(_fill(server.url, admin, filled, prompts))
            filled = prompts
            bench = f"scale, {prompts:,} prompts + 1M other keys"

            async def measure() -> tuple[float, float, float]:
                store = PromptStore.connect(ServerTarget(server.url, "bench"), Settings())
                try:
                    listing = await _best(store.list)
                    fleet = await _best(store.fleet)
                    scan = await _best(lambda: store.reconcile(force=True), runs=2)
                    return listing, fleet, scan
                finally:
                    await store.aclose()

            listing, fleet, scan = asyncio.run(measure())
            rows.append((bench, "store.list() from the index", _ms(listing)))
            rows.append((bench, "the keyspace scan the listing used to run", f"{_ms(scan)} = {scan / listing:,.0f}x"))
            rows.append((bench, "store.fleet() (one agent per prompt)", _ms(fleet)))
            rows.append((bench, "`dprompt list` process, Python start included", _ms(_cli(server.url, "list"))))
            rows.append((bench, "`dprompt fleet` process, Python start included", _ms(_cli(server.url, "fleet"))))
            painted, listed, commands, scans = asyncio.run(_dashboard(server.url, admin, prompts))
            rows.append((bench, "dashboard: first paint of the prompt", _ms(painted)))
            rows.append((bench, "dashboard: listing holds every prompt", _ms(listed)))
            rows.append((bench, "dashboard open: server commands per outside write",
                         f"{commands / 20:.1f} ({scans} SCAN)"))
        return rows
    finally:
        admin.close()
        server.cleanup()


if __name__ == "__main__":
    for bench, measurement, value in run():
        print(f"{bench:<40} {measurement:<52} {value}")
