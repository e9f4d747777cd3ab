"""Agents' staleness on a Redis Cluster beside one server, with and without CONFIG.

A plain ``SET`` of a prompt's active key (what redis-cli or the gem does) in this
process -> a ``PromptClient`` in another process returns the new text; p50 / p99
over 200 writes from the moment the write was acknowledged. Side by side in one
run: one valkey-server, a 6-node valkey cluster (3 primaries + 3 replicas, the
write sent to the key's primary), and the same two with ``CONFIG`` renamed away
(as managed services do), where the agents hear writes by client tracking in
broadcast mode instead of keyspace notifications; and the same on Redis 7 where
its ``redis-server`` is installed. Target: p99 <= 2 ms without CONFIG.

Run alone with ``python3 benchmarks/bench_cluster.py``.
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from tests.support.cluster import start_cluster  # noqa: E402
from tests.support.redis7 import REDIS7, private_server, server_kinds  # noqa: E402

from dynamic_prompt.live.client import PromptClient  # noqa: E402

NAME = "bench"
KEY = "prompt:{bench}:active"
WRITES = 200
NO_CONFIG = ['rename-command CONFIG ""']


def _text(tag: str) -> str:
    return f"{tag}\n" + "Tone: Calm\n" * 200


def _reader(url: str, conn: Connection) -> None:  # pragma: no cover - runs in a child
    with PromptClient(url, announce=False) as client:
        last = client.get_active(NAME)
        deadline = time.monotonic() + 15
        while client.feed_mode not in ("notifications", "tracking") and time.monotonic() < deadline:
            time.sleep(0.01)
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
            time.sleep(20e-6)  # an agent does I/O between reads


def _staleness(url: str, writer: redis.Redis) -> tuple[str, list[float]]:
    writer.set(KEY, _text("start"))
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=_reader, args=(url, theirs), daemon=True)
    proc.start()
    if not ours.poll(60):
        raise RuntimeError("the reader did not start")
    _, mode = ours.recv()
    lags = []
    for i in range(WRITES):
        writer.set(KEY, _text(f"w{i}"))
        acked = time.monotonic_ns()
        while ours.poll(2.0):
            tag, seen = ours.recv()
            if tag == f"w{i}":
                lags.append(max(0, seen - acked) / 1e6)
                break
        time.sleep(0.002)
    writer.set(KEY, _text("stop"))
    proc.join(10)
    return mode, sorted(lags)


def _row(label: str, mode: str, lags: list[float]) -> tuple[str, str, str]:
    if not lags:
        return ("staleness on a cluster", label, "no samples")
    p99 = lags[min(len(lags) - 1, round(0.99 * (len(lags) - 1)))]
    return ("staleness: redis-cli SET -> agent in another process", f"{label} ({mode})",
            f"p50 {statistics.median(lags):.2f} ms, p99 {p99:.2f} ms, {WRITES - len(lags)} missed")


def _one_server(kind: str, extra: list[str]) -> tuple[str, list[float]]:
    server = private_server(kind, extra)
    try:
        writer = redis.Redis.from_url(server.url)
        try:
            return _staleness(server.url, writer)
        finally:
            writer.close()
    finally:
        server.cleanup()


def _cluster(kind: str, extra: list[str]) -> tuple[str, list[float]]:
    cluster = start_cluster(kind, extra)
    try:
        primary = cluster.primary_for(KEY)
        writer = redis.Redis(host="127.0.0.1", port=cluster.nodes[primary].port)
        try:
            return _staleness(cluster.url, writer)
        finally:
            writer.close()
    finally:
        cluster.cleanup()


def run() -> list[tuple[str, str, str]]:
    """The rows: (benchmark, measurement, value)."""
    rows = []
    for kind in server_kinds():
        name = "Redis 7" if kind == REDIS7 else "Valkey 8"
        cases: list[tuple[str, Callable[[str, list[str]], tuple[str, list[float]]], list[str]]] = [
            (f"{name}, one server", _one_server, []),
            (f"{name}, 3+3 cluster", _cluster, []),
            (f"{name}, one server, CONFIG refused", _one_server, NO_CONFIG),
            (f"{name}, 3+3 cluster, CONFIG refused", _cluster, NO_CONFIG),
        ]
        for label, start, extra in cases:
            mode, lags = start(kind, extra)
            rows.append(_row(label, mode, lags))
    return rows


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
