"""Agents' reads: the near cache vs a plain GET, staleness across processes, load on Redis.

Three side-by-side measurements on a private server (loopback), in one run:

1. ns per read of the same 10 KB prompt: ``PromptClient.get_active`` (memory)
   vs redis-py ``GET`` (one round trip), and the ratio.
2. Staleness: a plain ``SET`` in this process -> the client in another process
   returns the new text; p50 / p99 over 200 writes, measured from the moment
   the write was acknowledged (``CLOCK_MONOTONIC`` is shared by processes).
   Twice: a reader that yields between reads (as an agent waiting on its LLM
   does), and one spinning on reads, where the GIL switch interval shows.
3. Load: 8 agent processes read in a tight loop for ~2 s; Redis commands per
   second (``INFO stats`` ``total_commands_processed`` delta) with and without
   the client, and the reads per second the agents achieved.

Run alone: ``python benchmarks/bench_agents.py`` (or via ``benchmarks/run.py``).
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import redis  # noqa: E402
from tests.support.servers import TestServer  # noqa: E402

from dynamic_prompt.live.client import PromptClient  # noqa: E402

NAME = "bench"
KEY = "prompt:{bench}:active"
SIZE = 10_000
WRITES = 200
AGENTS = 8
LOAD_SECONDS = 2.0


def prompt(tag: str) -> str:
    """A 10 KB prompt whose first line says which write it is."""
    head = f"{tag}\n# Support agent\nTone: Calm\n"
    return head + ("Background line for the benchmark prompt.\n" * SIZE)[: SIZE - len(head)]


def _wait_memory(client: PromptClient, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while client.read(NAME).source != "memory":
        if time.monotonic() > deadline:
            raise RuntimeError("the client never served from memory (feed not live?)")
        time.sleep(0.005)


def _per_read_ns(fn: Any, arg: str, n: int, repeat: int = 3) -> float:
    """Best of ``repeat`` runs of ``n`` calls, in ns per call (loop overhead included)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(n):
            fn(arg)
        best = min(best, (time.perf_counter_ns() - start) / n)
    return best


def bench_reads(url: str) -> list[tuple[str, str, str]]:
    plain = redis.Redis.from_url(url)
    plain.set(KEY, prompt("v0"))
    with PromptClient(url, announce=False) as client:
        client.get_active(NAME)
        _wait_memory(client)
        cached = _per_read_ns(client.get_active, NAME, 1_000_000)
    for _ in range(500):
        plain.get(KEY)  # warm the connection
    get = _per_read_ns(plain.get, KEY, 20_000)
    plain.close()
    return [
        ("agent read, 10 KB prompt", "PromptClient.get_active (memory)", f"{cached:,.0f} ns/read"),
        ("agent read, 10 KB prompt", "redis-py GET (loopback)", f"{get:,.0f} ns/read"),
        ("agent read, 10 KB prompt", "ratio (GET / client)", f"{get / cached:,.0f}x faster"),
    ]


def _stale_reader(url: str, conn: Connection, pause: float | None) -> None:
    """In another process: read in a loop; report each new text's tag and when it was seen.

    ``pause`` is slept between reads (an agent doing I/O between reads); ``None``
    spins, holding the GIL the client's feed thread needs. Says ``("ready", feed mode)``
    once it serves from memory.
    """
    with PromptClient(url, announce=False) as client:
        last = client.get_active(NAME)
        _wait_memory(client)
        conn.send(("ready", client.feed_mode))
        while True:
            text = client.get_active(NAME) or ""
            if text != last:
                seen = time.monotonic_ns()
                last = text
                tag = text.split("\n", 1)[0]
                conn.send((tag, seen))
                if tag == "stop":
                    return
            if pause is not None:
                time.sleep(pause)


def measure_staleness(url: str, writer: redis.Redis, pause: float | None) -> tuple[str, list[float], int]:
    """``writer`` SETs the prompt WRITES times; a client in another process (on ``url``)
    reports when it sees each text. The reader's feed mode, the lags (ms, sorted) measured
    from the write's acknowledgement (``CLOCK_MONOTONIC`` is shared by processes), and how
    many writes it did not see within 2 s."""
    writer.set(KEY, prompt("start"))
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=_stale_reader, args=(url, theirs, pause), daemon=True)
    proc.start()
    if not ours.poll(30):
        raise RuntimeError("the reader process did not start")
    ready, mode = ours.recv()
    if ready != "ready":
        raise RuntimeError("the reader process did not start")
    lags: list[float] = []
    missed = 0
    for i in range(WRITES):
        writer.set(KEY, prompt(f"w{i}"))
        acked = time.monotonic_ns()
        deadline = time.monotonic() + 2.0
        while True:
            if not ours.poll(max(0.0, deadline - time.monotonic())):
                missed += 1
                break
            tag, seen = ours.recv()
            if tag == f"w{i}":
                lags.append(max(0, seen - acked) / 1e6)
                break
        time.sleep(0.002)  # writes a few ms apart, as people and tools make them
    writer.set(KEY, prompt("stop"))
    proc.join(10)
    return mode, sorted(lags), missed


def p99(lags: list[float]) -> float:
    """The 99th percentile of sorted ``lags`` (nan for none)."""
    return lags[min(len(lags) - 1, round(0.99 * (len(lags) - 1)))] if lags else float("nan")


def bench_staleness(url: str, pause: float | None, label: str) -> list[tuple[str, str, str]]:
    plain = redis.Redis.from_url(url)
    try:
        _, lags, missed = measure_staleness(url, plain, pause)
    finally:
        plain.close()
    return [
        (f"staleness: SET -> client in another process ({label})", f"p50 / p99 over {len(lags)} writes",
         f"{statistics.median(lags):.2f} ms / {p99(lags):.2f} ms" if lags else "no samples"),
        (f"staleness: SET -> client in another process ({label})", "writes not seen within 2 s", str(missed)),
    ]


def _load_agent(url: str, use_client: bool, start: Event, stop: Event, conn: Connection) -> None:
    """One agent process: read the prompt as fast as it can until told to stop."""
    reads = 0
    if use_client:
        client = PromptClient(url, announce_interval=5.0)
        client.get_active(NAME)
        _wait_memory(client)
        read = client.get_active
        arg = NAME
    else:
        plain = redis.Redis.from_url(url)
        read = plain.get
        arg = KEY
    conn.send("ready")
    start.wait()
    while not stop.is_set():
        for _ in range(100):
            read(arg)
        reads += 100
    conn.send(reads)
    if use_client:
        client.close()
    else:
        plain.close()


def bench_load(url: str, use_client: bool) -> tuple[float, float]:
    """(Redis commands per second, agents' reads per second) while 8 agents read."""
    ctx = multiprocessing.get_context("spawn")
    start, stop = ctx.Event(), ctx.Event()
    pipes, procs = [], []
    for _ in range(AGENTS):
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(target=_load_agent, args=(url, use_client, start, stop, theirs), daemon=True)
        proc.start()
        pipes.append(ours)
        procs.append(proc)
    for p in pipes:
        if not p.poll(60) or p.recv() != "ready":
            raise RuntimeError("an agent process did not start")
    info = redis.Redis.from_url(url)
    before = int(info.info("stats")["total_commands_processed"])
    began = time.monotonic()
    start.set()
    time.sleep(LOAD_SECONDS)
    after = int(info.info("stats")["total_commands_processed"])
    elapsed = time.monotonic() - began
    stop.set()
    reads = sum(p.recv() for p in pipes if p.poll(30))
    for proc in procs:
        proc.join(10)
    info.close()
    # The INFO call itself counts once; the agents' read time ends a little after `after`.
    return (after - before - 1) / elapsed, reads / elapsed


def run() -> list[tuple[str, str, str]]:
    server = TestServer().start()
    try:
        rows = bench_reads(server.url)
        # An agent does I/O between reads (its LLM call); 20 us stands in for that.
        rows += bench_staleness(server.url, 20e-6, "reader yields 20 us between reads")
        # A thread spinning on reads holds the GIL: the feed thread waits up to
        # sys.getswitchinterval() (5 ms) per hand-off. The worst case, shown as such.
        rows += bench_staleness(server.url, None, "reader spins, CPU-bound")
        without_cmds, without_reads = bench_load(server.url, use_client=False)
        with_cmds, with_reads = bench_load(server.url, use_client=True)
        label = f"{AGENTS} agent processes reading for {LOAD_SECONDS:.0f} s"
        rows += [
            (label, "Redis commands/s: plain GET per read", f"{without_cmds:,.0f}"),
            (label, "Redis commands/s: through PromptClient", f"{with_cmds:,.1f}"),
            (label, "agents' reads/s: plain GET vs PromptClient",
             f"{without_reads:,.0f} vs {with_reads:,.0f}"),
        ]
        return rows
    finally:
        server.cleanup()


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
