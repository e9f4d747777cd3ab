"""Deaf feeds and hung servers, seen from an agent in another process.

Two families of side-by-side figures, on a private Valkey 8 and, where
``/usr/bin/redis-server`` exists, a private Redis 7, in one run:

1. Time to notice: from a write (or flush) acknowledged in this process to the
   agent (a ``PromptClient`` with the agents' default feed options, in another
   process) serving the new state; p50 / max over several rounds. Cases:
   keyspace notifications cleared by another program then a SET (found at the
   feed's next ping, ``ping_interval`` = 0.5 s); FLUSHDB (a tracking
   invalidation with a null key); DEL (a keyspace event); with CONFIG refused,
   an outside SET (tracking invalidations), beside a plain SET in
   notifications mode and an outside SET with CONFIG *and* CLIENT refused
   (found by the poll, ``poll_interval`` = 0.5 s).
2. Reads while the server cannot answer: the agent reads every millisecond
   while the link is partitioned (a frozen proxy) or the server is hung
   (SIGSTOP) for a few seconds; the longest read, the p99, the share of wall
   time spent inside ``read()``, whether every read was served (stale), and
   the time from the end of the outage to the first fresh read. With the
   default ``read_budget`` (50 ms) and, for comparison, with a budget so large
   that a read waits for the server as reads did before bounded reads.

``CLOCK_MONOTONIC`` is shared by processes, so times taken in the agent and
here compare directly. Run alone: ``python benchmarks/bench_feeds.py``.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import statistics
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import redis  # noqa: E402

from dynamic_prompt.live.client import PromptClient  # noqa: E402
from tests.support.proxy import FreezableProxy  # noqa: E402
from tests.support.redis7 import private_server, server_kinds  # noqa: E402
from tests.support.servers import TestServer  # noqa: E402

NAME = "bench"
KEY = "prompt:{bench}:active"
ROUNDS = 12
SLOW_ROUNDS = 6
"""Rounds for the cases that wait for a ping or a poll (about half a second each)."""
OUTAGE = 10.0
"""Seconds the server is partitioned or hung while the agent reads."""
NO_BUDGET = 60.0
"""A read_budget no outage here outlasts: reads wait for the server, as before bounded reads."""
GONE = "<none>"

Row = tuple[str, str, str]


# -- the agent process ------------------------------------------------------------------


def _wait_memory(client: PromptClient, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while client.read(NAME).source != "memory":
        if time.monotonic() > deadline:
            raise RuntimeError("the agent never served from memory (feed not live?)")
        time.sleep(0.005)


def _watcher(url: str, conn: Connection) -> None:  # pragma: no cover - runs in a child
    """Read in a loop (20 us apart); report every new state with when it was first served."""
    with PromptClient(url, announce=False) as client:
        last = client.get_active(NAME)
        _wait_memory(client)
        conn.send(("ready", client.feed_mode))
        while not conn.poll():
            text = client.get_active(NAME)
            if text != last:
                last = text
                conn.send((text if text is not None else GONE, time.monotonic_ns()))
            time.sleep(20e-6)


def _reader(url: str, budget: float, conn: Connection) -> None:  # pragma: no cover - runs in a child
    """Read every millisecond until told to stop; send back (start ns, duration ns, stale) per read."""
    with PromptClient(url, announce=False, read_budget=budget) as client:
        client.get_active(NAME)
        _wait_memory(client)
        conn.send("ready")
        reads: list[tuple[int, int, bool]] = []
        while not conn.poll():
            start = time.monotonic_ns()
            result = client.read(NAME)
            reads.append((start, time.monotonic_ns() - start, result.stale))
            time.sleep(0.001)
        conn.send(reads)


def _spawn(target: Callable[..., None], *args: Any) -> tuple[Any, Connection]:
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=target, args=(*args, theirs), daemon=True)
    proc.start()
    return proc, ours


def _ready(conn: Connection) -> Any:
    if not conn.poll(60):
        raise RuntimeError("the agent process did not start")
    return conn.recv()


# -- time to notice ---------------------------------------------------------------------


def _await_state(conn: Connection, expected: str, acked: int, timeout: float = 10.0) -> float | None:
    """Milliseconds from ``acked`` until the agent served ``expected``; None if it never did."""
    deadline = time.monotonic() + timeout
    while conn.poll(max(0.0, deadline - time.monotonic())):
        text, seen = conn.recv()
        if text == expected:
            return max(0, int(seen) - acked) / 1e6
    return None


def _measure(url: str, admin: redis.Redis, rounds: int,
             action: Callable[[redis.Redis, int], str]) -> tuple[list[float], int, str]:
    """(lags in ms, rounds never seen, the agent's feed mode) for ``action`` repeated."""
    proc, conn = _spawn(_watcher, url)
    _, mode = _ready(conn)
    lags: list[float] = []
    missed = 0
    for i in range(rounds):
        admin.set(KEY, f"setup {i}")
        if _await_state(conn, f"setup {i}", time.monotonic_ns()) is None:
            missed += 1
            continue
        time.sleep(random.uniform(0.0, 0.5))  # no phase lock with the feed's pings
        expected = action(admin, i)
        lag = _await_state(conn, expected, time.monotonic_ns())
        if lag is None:
            missed += 1
        else:
            lags.append(lag)
    conn.send("stop")
    proc.join(10)
    return lags, missed, str(mode)


def _flags_cleared(admin: redis.Redis, i: int) -> str:
    admin.config_set("notify-keyspace-events", "")
    admin.set(KEY, f"after clear {i}")
    return f"after clear {i}"


def _flushdb(admin: redis.Redis, i: int) -> str:
    admin.flushdb()
    return GONE


def _delete(admin: redis.Redis, i: int) -> str:
    admin.delete(KEY)
    return GONE


def _outside_set(admin: redis.Redis, i: int) -> str:
    admin.set(KEY, f"outside {i}")
    return f"outside {i}"


def _lag_rows(kind: str, case: str, lags: list[float], missed: int, mode: str) -> list[Row]:
    label = f"time to notice ({kind}): {case}"
    if not lags:
        return [(label, f"agent feed: {mode}", f"never seen in {missed} rounds")]
    return [(label, f"p50 / max over {len(lags)} rounds (agent feed: {mode})",
             f"{statistics.median(lags):.1f} ms / {max(lags):.1f} ms"
             + (f", {missed} never seen" if missed else ""))]


def bench_notice(kind: str) -> list[Row]:
    rows: list[Row] = []
    cases: list[tuple[list[str], str, int, Callable[[redis.Redis, int], str]]] = [
        ([], "plain SET (notifications, for reference)", ROUNDS, _outside_set),
        ([], "flags cleared by another client, then SET", SLOW_ROUNDS, _flags_cleared),
        ([], "FLUSHDB", ROUNDS, _flushdb),
        ([], "DEL", ROUNDS, _delete),
        (['rename-command CONFIG ""'], "CONFIG refused, outside SET (tracking)", ROUNDS, _outside_set),
        (['rename-command CONFIG ""', 'rename-command CLIENT ""'],
         "CONFIG and CLIENT refused, outside SET (poll)", SLOW_ROUNDS, _outside_set),
    ]
    for extra, case, rounds, action in cases:
        server = private_server(kind, extra)
        try:
            admin = redis.Redis.from_url(server.url)
            rows += _lag_rows(kind, case, *_measure(server.url, admin, rounds, action))
            admin.close()
        finally:
            server.cleanup()
    return rows


# -- reads while the server cannot answer ----------------------------------------------


def _outage(server: TestServer, how: str, budget: float) -> tuple[list[tuple[int, int, bool]], int, int]:
    """The agent's reads, and when the outage began and ended (monotonic ns)."""
    proxy = FreezableProxy(server.port).start() if how == "partition" else None
    url = proxy.url if proxy is not None else server.url
    assert server.proc is not None
    pid = server.proc.pid
    proc, conn = _spawn(_reader, url, budget)
    try:
        _ready(conn)
        time.sleep(0.5)
        began = time.monotonic_ns()
        if proxy is not None:
            proxy.freeze()
        else:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(OUTAGE)
        if proxy is not None:
            proxy.thaw()
        else:
            os.kill(pid, signal.SIGCONT)
        ended = time.monotonic_ns()
        time.sleep(6.0)  # long enough for the slowest recovery (a 4 s read, then a re-read)
        conn.send("stop")
        if not conn.poll(30):
            raise RuntimeError("the reader did not report")
        reads = conn.recv()
    finally:
        if proxy is None:
            os.kill(pid, signal.SIGCONT)
        proc.join(10)
        if proxy is not None:
            proxy.close()
    return reads, began, ended


def _outage_rows(kind: str, how: str, budget: float, server: TestServer) -> list[Row]:
    reads, began, ended = _outage(server, how, budget)
    during = [(s, d, st) for s, d, st in reads if began <= s < ended]
    label = (f"reads during a {OUTAGE:.0f} s {'partition (frozen proxy)' if how == 'partition' else 'hung server (SIGSTOP)'}"
             f" ({kind}, read_budget {'%g ms' % (budget * 1e3) if budget < NO_BUDGET else 'unbounded, as before'})")
    if not during:
        return [(label, "reads", "none during the outage")]
    durations = sorted(d / 1e6 for _, d, _ in during)
    p99 = durations[min(len(durations) - 1, round(0.99 * (len(durations) - 1)))]
    inside = sum(d for _, d, _ in during) / (ended - began)
    stale = sum(1 for *_, st in during if st)
    # The rest came from memory before the feed's watchdog noticed (ping_timeout, 2 s).
    fresh_after = next(((s + d - ended) / 1e6 for s, d, st in reads if s >= ended and not st), None)
    return [
        (label, "longest read / p99", f"{durations[-1]:,.1f} ms / {p99:,.1f} ms"),
        (label, "share of wall time inside read()", f"{inside:.0%} ({len(during)} reads: {stale} stale, {len(during) - stale} fresh)"),
        (label, "end of outage -> first fresh read",
         f"{fresh_after:,.0f} ms" if fresh_after is not None else "not within 6 s"),
    ]


def bench_outages(kind: str) -> list[Row]:
    rows: list[Row] = []
    plans = [("partition", 0.05), ("sigstop", 0.05)]
    if kind == "valkey":
        plans.append(("partition", NO_BUDGET))
    for how, budget in plans:
        server = private_server(kind)
        try:
            redis.Redis.from_url(server.url).set(KEY, "the prompt")
            rows += _outage_rows(kind, how, budget, server)
        finally:
            server.cleanup()
    return rows


def run() -> list[Row]:
    rows: list[Row] = []
    for kind in server_kinds():
        rows += bench_notice(kind)
    for kind in server_kinds():
        rows += bench_outages(kind)
    return rows


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
