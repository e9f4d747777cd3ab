"""Modify end to end (parse, apply, atomic write) on loopback, 10 KB and 1 MB prompts."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dynamic_prompt.core.config import Settings  # noqa: E402
from dynamic_prompt.server import ServerTarget  # noqa: E402
from dynamic_prompt.store import PromptStore  # noqa: E402
from tests.support.servers import TestServer  # noqa: E402


def make_prompt(size: int) -> str:
    """A sectioned prompt of about ``size`` bytes (filler lines + a rules block)."""
    head = "# Agent\n\nTone: Calm\nDefault: 3-4 sentences\n\n## Background\n"
    filler = []
    i = 0
    while sum(len(x) for x in filler) + len(head) < size - 200:
        filler.append(f"Background fact {i}: the service handles request type {i} carefully.\n")
        i += 1
    return head + "".join(filler) + "\n## Rules\n1. Be kind.\n2. Be brief.\n"


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def _bench(url: str, size: int, n: int) -> tuple[float, float]:
    store = PromptStore.connect(ServerTarget(url, "bench"), Settings(version_retention=50))
    await store.load("bench", make_prompt(size), kind="text", force=True)
    times = []
    for i in range(n):
        instruction = "change tone to sarcastic" if i % 2 == 0 else "change tone to calm"
        start = time.perf_counter()
        await store.modify("bench", instruction)
        times.append(time.perf_counter() - start)
    await store.clear("bench")
    await store.aclose()
    return statistics.median(times), _pct(times, 99)


def run() -> list[tuple[str, str, str]]:
    server = TestServer().start()
    try:
        rows = []
        for label, size, n in (("10 KB", 10_000, 400), ("1 MB", 1_000_000, 40)):
            p50, p99 = asyncio.run(_bench(server.url, size, n))
            rows.append((f"modify end to end, {label} prompt", "p50 / p99",
                         f"{p50 * 1000:.2f} ms / {p99 * 1000:.2f} ms"))
        return rows
    finally:
        server.cleanup()


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
