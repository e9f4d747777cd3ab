"""Modify end to end (parse, apply, atomic write), 10 KB and 1 MB prompts.

Side by side in one run: a server that keeps nothing on disk (loopback TCP), and the
embedded default as users get it (a unix socket, the append-only file fsynced on
every write, in a data dir on this machine's disk), so the row pair is the cost of
"every acknowledged write is on disk".
"""

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
    import tempfile

    from dynamic_prompt.server import embedded

    server = TestServer().start()
    # Under the project, not /tmp: a tmpfs would make fsync free and the row meaningless.
    data_dir = Path(tempfile.mkdtemp(prefix=".bench-embedded-", dir=Path(__file__).resolve().parent))
    try:
        rows = []
        embedded_url = embedded.ensure_running(data_dir).url
        servers = (("no persistence", server.url), ("embedded, fsync every write", embedded_url))
        for label, size, n in (("10 KB", 10_000, 400), ("1 MB", 1_000_000, 40)):
            for kind, url in servers:
                p50, p99 = asyncio.run(_bench(url, size, n))
                rows.append((f"modify end to end, {label} prompt, {kind}", "p50 / p99",
                             f"{p50 * 1000:.2f} ms / {p99 * 1000:.2f} ms"))
        return rows
    finally:
        server.cleanup()
        embedded.stop(data_dir)
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
