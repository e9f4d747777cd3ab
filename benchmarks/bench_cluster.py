"""Agents' staleness on a Redis Cluster beside one server, with and without CONFIG.

A plain ``SET`` of a prompt's active key (what redis-cli or the gem does) in this
process -> a ``PromptClient`` in another process returns the new text; p50 / p99
over 200 writes from the moment the write was acknowledged (the measurement of
``bench_agents.measure_staleness``). Side by side in one
run: one valkey-server, a 6-node valkey cluster (3 primaries + 3 replicas, the
write sent to the key's primary), and the same two with ``CONFIG`` renamed away
(as managed services do), where the agents hear writes by client tracking in
broadcast mode instead of keyspace notifications; and the same on Redis 7 where
its ``redis-server`` is installed. Target: p99 <= 2 ms without CONFIG.

Run alone with ``python3 benchmarks/bench_cluster.py``.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import redis  # noqa: E402
from bench_agents import KEY, measure_staleness, p99  # noqa: E402
from tests.support.cluster import start_cluster  # noqa: E402
from tests.support.redis7 import REDIS7, private_server, server_kinds  # noqa: E402

NO_CONFIG = ['rename-command CONFIG ""']
PAUSE = 20e-6
"""The reader sleeps this long between reads, as an agent doing I/O does (as in bench_agents)."""


def _row(label: str, mode: str, lags: list[float], missed: int) -> tuple[str, str, str]:
    value = f"p50 {statistics.median(lags):.2f} ms, p99 {p99(lags):.2f} ms, {missed} missed" if lags else "no samples"
    return ("staleness: redis-cli SET -> agent in another process", f"{label} ({mode})", value)


def _one_server(kind: str, extra: list[str]) -> tuple[str, list[float], int]:
    server = private_server(kind, extra)
    try:
        writer = redis.Redis.from_url(server.url)
        try:
            return measure_staleness(server.url, writer, PAUSE)
        finally:
            writer.close()
    finally:
        server.cleanup()


def _cluster(kind: str, extra: list[str]) -> tuple[str, list[float], int]:
    cluster = start_cluster(kind, extra)
    try:
        primary = cluster.primary_for(KEY)
        writer = redis.Redis(host="127.0.0.1", port=cluster.nodes[primary].port)
        try:
            return measure_staleness(cluster.url, writer, PAUSE)
        finally:
            writer.close()
    finally:
        cluster.cleanup()


def run() -> list[tuple[str, str, str]]:
    """The rows: (benchmark, measurement, value)."""
    rows = []
    for kind in server_kinds():
        name = "Redis 7" if kind == REDIS7 else "Valkey 8"
        cases: list[tuple[str, Callable[[str, list[str]], tuple[str, list[float], int]], list[str]]] = [
            (f"{name}, one server", _one_server, []),
            (f"{name}, 3+3 cluster", _cluster, []),
            (f"{name}, one server, CONFIG refused", _one_server, NO_CONFIG),
            (f"{name}, 3+3 cluster, CONFIG refused", _cluster, NO_CONFIG),
        ]
        for label, start, extra in cases:
            rows.append(_row(label, *start(kind, extra)))
    return rows


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
