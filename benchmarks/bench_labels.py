"""Labels, rollouts and experiments: what they cost an agent's read, and how fast a move spreads.

Side by side on a private server, in one run:

1. ns per read from memory, the same 10 KB prompt and client: production with no
   label in use (today's read), another label (a reader bound to it with
   ``client.at("staging")``, and ``get_active(name, label="staging")``), production while
   a rollout includes this agent, and an experiment's variant per caller key. The
   rollout's and the experiment's extra cost per read is the difference. Each call goes
   through a lambda (about 40 ns of every figure), the same for every row.
2. Spread: five agent processes read production; a rollout to 40%, its abort, a
   rollout then ``promote``, and a rollback are each written 20 times. For each write,
   the time from its acknowledgement until the last agent that should change serves
   the new version (``CLOCK_MONOTONIC`` is shared by processes); p50 / p99.
3. The fleet view: five announcing agents, a rollout to 40% and its abort, ten times
   each; the time until ``store.fleet()`` shows the new split.

Run alone: ``python benchmarks/bench_labels.py`` (or via ``benchmarks/run.py``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench_agents import p99, prompt  # noqa: E402
from tests.support.servers import TestServer  # noqa: E402

from dynamic_prompt.core import labels as lab  # noqa: E402
from dynamic_prompt.core.config import Settings  # noqa: E402
from dynamic_prompt.live.client import PromptClient  # noqa: E402
from dynamic_prompt.server import ServerTarget  # noqa: E402
from dynamic_prompt.store import PromptStore  # noqa: E402

NAME = "bench"
ROUNDS = 20
AGENTS = 5
READS = 1_000_000


def _wait_memory(client: PromptClient, **kwargs: Any) -> None:
    deadline = time.monotonic() + 10
    while client.read(NAME, **kwargs).source != "memory":
        if time.monotonic() > deadline:
            raise RuntimeError("the client never served from memory (feed not live?)")
        time.sleep(0.005)


def _per_read_ns(call: Any, n: int = READS, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter_ns() - start) / n)
    return best


async def _store_do(url: str, work: Any) -> Any:
    store = PromptStore.connect(ServerTarget(url, "bench"), Settings(redis_url=url, user="bench"))
    try:
        return await work(store)
    finally:
        await store.aclose()


def _seed(url: str) -> None:
    async def work(store: PromptStore) -> None:
        await store.clear(NAME)
        await store.load(NAME, prompt("v1"), kind="text")
        await store.set_label(NAME, "staging", "production")
        await store.modify(NAME, "change tone to sarcastic", label="staging")

    asyncio.run(_store_do(url, work))


def _inside_agent() -> str:
    """An agent id a 100% rollout includes by construction, and one a 40% line includes."""
    return next(f"agent-{i}" for i in range(1000) if lab.Rollout(2, 40.0).includes(NAME, f"agent-{i}"))


def bench_reads(url: str) -> list[tuple[str, str, str]]:
    _seed(url)
    agent = _inside_agent()
    with PromptClient(url, announce=False, agent_id=agent) as client:
        client.get_active(NAME)
        _wait_memory(client)
        plain = _per_read_ns(lambda: client.get_active(NAME))
        client.get_active(NAME, label="staging")
        _wait_memory(client, label="staging")
        labelled = _per_read_ns(lambda: client.get_active(NAME, label="staging"))
        staging = client.at("staging")
        staging.get_active(NAME)
        bound = _per_read_ns(lambda: staging.get_active(NAME))
        asyncio.run(_store_do(url, lambda s: s.rollout(NAME, 40, "staging")))
        deadline = time.monotonic() + 10
        while client.read(NAME).served != "rollout 40%" or client.read(NAME).source != "memory":
            if time.monotonic() > deadline:
                raise RuntimeError("the rollout never reached the client")
            time.sleep(0.005)
        rolled = _per_read_ns(lambda: client.get_active(NAME))
        asyncio.run(_store_do(url, lambda s: s.abort_rollout(NAME)))
        asyncio.run(_store_do(url, lambda s: s.experiment(NAME, ["a=production:50", "b=staging:50"])))
        deadline = time.monotonic() + 10
        while not client.read(NAME, key="u").served.startswith("experiment") \
                or client.read(NAME, key="u").source != "memory":
            if time.monotonic() > deadline:
                raise RuntimeError("the experiment never reached the client")
            time.sleep(0.005)
        keyed = _per_read_ns(lambda: client.get_active(NAME, key="user-12345"))
        asyncio.run(_store_do(url, lambda s: s.stop_experiment(NAME)))
    what = "per read from memory, 10 KB prompt"
    return [
        (what, "production, no label in use (today's read)", f"{plain:,.0f} ns"),
        (what, "client.at('staging').get_active (a reader bound to the label)", f"{bound:,.0f} ns "
                                                                              f"({bound / plain:.2f}x)"),
        (what, "get_active(name, label='staging')", f"{labelled:,.0f} ns ({labelled / plain:.2f}x)"),
        (what, "production in a rollout that includes this agent", f"{rolled:,.0f} ns "
                                                                   f"(+{max(0.0, rolled - plain):,.0f} ns)"),
        (what, "experiment variant for key=user_id", f"{keyed:,.0f} ns (+{max(0.0, keyed - plain):,.0f} ns)"),
    ]


def _reader(url: str, agent_id: str, conn: Connection, announce: bool = False) -> None:
    """In another process: report each new version this agent serves of production, and when."""
    with PromptClient(url, agent_id=agent_id, announce=announce) as client:
        last = client.read(NAME).version
        _wait_memory(client)
        conn.send(("ready", last, 0))
        while True:
            version = client.read(NAME).version
            if version != last:
                conn.send(("seen", version, time.monotonic_ns()))
                last = version
            time.sleep(20e-6)  # an agent does I/O between reads


def bench_spread(url: str) -> list[tuple[str, str, str]]:
    _seed(url)
    line = lab.Rollout(2, 40.0)
    inside = [f"agent-{i}" for i in range(200) if line.includes(NAME, f"agent-{i}")][:2]
    outside = [f"agent-{i}" for i in range(200) if not line.includes(NAME, f"agent-{i}")][:AGENTS - 2]
    ids = inside + outside
    ctx = multiprocessing.get_context("spawn")
    pipes, procs = [], []
    for agent_id in ids:
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(target=_reader, args=(url, agent_id, theirs), daemon=True)
        proc.start()
        pipes.append(ours)
        procs.append(proc)
    for ours in pipes:
        if not ours.poll(30) or ours.recv()[0] != "ready":
            raise RuntimeError("an agent process did not start")
    lags: dict[str, list[float]] = {"rollout 40%": [], "abort": [], "promote": [], "rollback": []}
    missed = 0

    def wait(expect: dict[int, int], acked: int) -> float | None:
        nonlocal missed
        pending = dict(expect)
        worst = 0
        deadline = time.monotonic() + 2.0
        while pending and time.monotonic() < deadline:
            for i in list(pending):
                while pipes[i].poll(0):
                    _, version, seen = pipes[i].recv()
                    if version == pending.get(i):
                        worst = max(worst, seen - acked)
                        del pending[i]
            time.sleep(0.0001)
        missed += len(pending)
        return worst / 1e6 if not pending else None

    async def rounds() -> None:
        store = PromptStore.connect(ServerTarget(url, "bench"), Settings(redis_url=url, user="bench"))
        try:
            for _ in range(ROUNDS):
                steps = [
                    ("rollout 40%", lambda: store.rollout(NAME, 40, "staging"), {i: 2 for i in range(len(inside))}),
                    ("abort", lambda: store.abort_rollout(NAME), {i: 1 for i in range(len(inside))}),
                    ("promote", None, {i: 2 for i in range(len(inside), len(ids))}),
                    ("rollback", lambda: store.promote(NAME, "v1"), {i: 1 for i in range(len(ids))}),
                ]
                for label, step, expect in steps:
                    if step is None:  # promote after a fresh rollout (its agents are on v2 already)
                        await store.rollout(NAME, 40, "staging")
                        await asyncio.to_thread(wait, {i: 2 for i in range(len(inside))}, time.monotonic_ns())
                        step = lambda: store.promote(NAME)  # noqa: E731
                    await step()
                    acked = time.monotonic_ns()
                    lag = await asyncio.to_thread(wait, expect, acked)
                    if lag is not None:
                        lags[label].append(lag)
                    await asyncio.sleep(0.002)
        finally:
            await store.aclose()

    try:
        asyncio.run(rounds())
    finally:
        for proc in procs:
            proc.kill()
    rows = []
    for label, values in lags.items():
        values.sort()
        rows.append((f"spread to {AGENTS} agent processes: {label}", f"write -> last agent, p50 / p99 of {len(values)}",
                     f"{statistics.median(values):.2f} ms / {p99(values):.2f} ms" if values else "no samples"))
    rows.append((f"spread to {AGENTS} agent processes", "agents that did not change within 2 s", str(missed)))
    return rows


def bench_fleet_split(url: str) -> list[tuple[str, str, str]]:
    """Five announcing agents: a rollout to 40% (or its abort) -> ``store.fleet()`` shows the new split."""
    _seed(url)
    line = lab.Rollout(2, 40.0)
    ids = ([f"agent-{i}" for i in range(200) if line.includes(NAME, f"agent-{i}")][:2]
           + [f"agent-{i}" for i in range(200) if not line.includes(NAME, f"agent-{i}")][:AGENTS - 2])
    ctx = multiprocessing.get_context("spawn")
    pipes, procs = [], []
    for agent_id in ids:
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(target=_reader, args=(url, agent_id, theirs, True), daemon=True)
        proc.start()
        pipes.append(ours)
        procs.append(proc)
    for ours in pipes:
        if not ours.poll(30) or ours.recv()[0] != "ready":
            raise RuntimeError("an agent process did not start")
    from dynamic_prompt.store.fleet import split

    lags: list[float] = []

    async def rounds() -> None:
        store = PromptStore.connect(ServerTarget(url, "bench"), Settings(redis_url=url, user="bench"))
        try:
            async def until(want: dict[int, int], since: float) -> None:
                while time.monotonic() - since < 5:
                    found = (await store.fleet([NAME])).get(NAME, [])
                    if split([a for a in found if a.agent_id in ids]) == want:
                        lags.append((time.monotonic() - since) * 1000)
                        return
                    await asyncio.sleep(0.005)

            await until({1: AGENTS}, time.monotonic())
            lags.clear()
            for _ in range(10):
                await store.rollout(NAME, 40, "staging")
                await until({2: 2, 1: AGENTS - 2}, time.monotonic())
                await store.abort_rollout(NAME)
                await until({1: AGENTS}, time.monotonic())
        finally:
            await store.aclose()

    try:
        asyncio.run(rounds())
    finally:
        for proc in procs:
            proc.kill()
    lags.sort()
    return [(f"fleet view, {AGENTS} announcing agents", f"rollout or abort -> store.fleet() shows the split, "
             f"p50 / max of {len(lags)}", f"{statistics.median(lags):.0f} ms / {lags[-1]:.0f} ms" if lags
             else "never")]


def run() -> list[tuple[str, str, str]]:
    server = TestServer().start()
    try:
        return bench_reads(server.url) + bench_spread(server.url) + bench_fleet_split(server.url)
    finally:
        server.cleanup()


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
