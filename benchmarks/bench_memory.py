"""Redis memory per prompt and per version, measured with ``MEMORY USAGE`` on a private server.

For a 10 KB, a 100 KB and a 1 MB prompt: the memory of all its keys right after
``load`` (active text, original, version 1's copy, metadata, changelog), then after
200 one-line modifies (the default retention), so the cost of one more version
(its delta, its share of the full snapshots kept every 64 versions, one changelog
entry) is the difference divided by 200. Each figure is set beside the text's own
size, which is what every version cost when each kept a full copy. For the 1 MB
prompt, also the time to read the oldest kept version (the longest delta chain)
beside reading the newest (a full text).

Run alone with ``python3 benchmarks/bench_memory.py``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402
from tests.support.servers import TestServer  # noqa: E402

from dynamic_prompt.core.config import Settings  # noqa: E402
from dynamic_prompt.core.keys import keys_for  # noqa: E402
from dynamic_prompt.server import ServerTarget  # noqa: E402
from dynamic_prompt.store import PromptStore  # noqa: E402

MODIFIES = 200


def make_prompt(size: int) -> str:
    """A sectioned prompt of about ``size`` bytes with a rules block to modify."""
    head = "# Agent\n\nTone: Calm\n\n## Background\n"
    lines = [head]
    total, i = len(head), 0
    while total < size - 40:
        line = f"Fact {i}: the service handles request type {i} with care.\n"
        lines.append(line)
        total += len(line)
        i += 1
    return "".join(lines) + "\n## Rules\n1. Be kind.\n"


def _usage(client: redis.Redis, name: str) -> int:
    """Bytes of every key of prompt ``name`` (SAMPLES 0: every element counted)."""
    total = 0
    for key in keys_for(name).all():
        used = client.memory_usage(key, samples=0)
        total += used or 0
    return total


async def _grow(url: str, name: str, text: str) -> None:
    store = PromptStore.connect(ServerTarget(url, "bench"), Settings(version_retention=MODIFIES))
    try:
        await store.load(name, text, kind="text", force=True)
    finally:
        await store.aclose()


async def _modify(url: str, name: str) -> None:
    store = PromptStore.connect(ServerTarget(url, "bench"), Settings(version_retention=MODIFIES))
    try:
        for i in range(MODIFIES):
            await store.modify(name, f"add rule: answer request type {i} within a day")
    finally:
        await store.aclose()


def _kb(n: float) -> str:
    return f"{n / 1024:,.1f} KiB"


async def _read_times(url: str, name: str) -> tuple[float, float]:
    """Median seconds to read the oldest kept version and the newest one."""
    import statistics
    import time

    store = PromptStore.connect(ServerTarget(url, "bench"), Settings())
    try:
        kept = await store.versions(name)
        out = []
        for number in (kept[-1], kept[0]):
            times = []
            for _ in range(7):
                start = time.perf_counter()
                await store.version_text(name, number)
                times.append(time.perf_counter() - start)
            out.append(statistics.median(times))
        return out[0], out[1]
    finally:
        await store.aclose()


def run() -> list[tuple[str, str, str]]:
    """The rows: (benchmark, measurement, value)."""
    server = TestServer().start()
    client = redis.Redis.from_url(server.url)
    try:
        rows: list[tuple[str, str, str]] = []
        for label, size, name in (("10 KB", 10_000, "mem-10k"), ("100 KB", 100_000, "mem-100k"),
                                  ("1 MB", 1_000_000, "mem-1m")):
            text = make_prompt(size)
            asyncio.run(_grow(server.url, name, text))
            loaded = _usage(client, name)
            asyncio.run(_modify(server.url, name))
            grown = _usage(client, name)
            per_version = (grown - loaded) / MODIFIES
            raw = len(text.encode())
            bench = f"Redis memory, {label} prompt"
            rows.append((bench, "all keys after load (text, original, v1, meta, log)",
                         f"{_kb(loaded)} = {loaded / raw:.1f}x the text"))
            rows.append((bench, f"each further version, one-line edits (mean of {MODIFIES})",
                         f"{_kb(per_version)} = {per_version / raw:.3f}x the text (full copies: {_kb(raw)})"))
            if size >= 1_000_000:
                oldest, newest = asyncio.run(_read_times(server.url, name))
                rows.append((bench, "read the oldest kept version vs the newest",
                             f"{oldest * 1000:.1f} ms vs {newest * 1000:.1f} ms"))
        return rows
    finally:
        client.close()
        server.cleanup()


if __name__ == "__main__":
    for bench, measurement, value in run():
        print(f"{bench:<28} {measurement:<52} {value}")
