"""N concurrent writer processes on one prompt: 10,000 writes, versions == writes, retry rate.

20 processes x 500 writes each, the seeded mix of tests/support/writers.py
(modify 50 %, manual edit with an expected version 25 %, revert 10 %,
restore 15 %); a write refused as a conflict is re-read and tried again (as a
person would), so every attempt ends as a write (or a no-op). Afterwards the whole version chain is verified; a failed check
raises, so a lost update can never show up as a figure.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

from tests.support.servers import TestServer  # noqa: E402
from tests.support.writers import BASE, burst, verify  # noqa: E402

PROCESSES = 20
WRITES_EACH = 500


def _seed(url: str, name: str) -> None:
    import asyncio

    from dynamic_prompt.core.config import Settings
    from dynamic_prompt.server import ServerTarget
    from dynamic_prompt.store import PromptStore

    async def go() -> None:
        store = PromptStore.connect(ServerTarget(url, "bench"), Settings(user="seed"))
        await store.load(name, BASE, kind="text", force=True)
        await store.aclose()

    asyncio.run(go())


def run() -> list[tuple[str, str, str]]:
    server = TestServer().start()
    try:
        name = "bench-race"
        _seed(server.url, name)
        retention = PROCESSES * WRITES_EACH + 10
        start_at = time.time() + 1.0
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(PROCESSES, mp_context=context) as pool:
            futures = [pool.submit(burst, (server.url, name, i, WRITES_EACH, start_at, retention, True))
                       for i in range(PROCESSES)]
            results = [f.result() for f in futures]
        elapsed = time.time() - start_at
        counts = verify(redis.Redis.from_url(server.url), name, results)
        attempts = PROCESSES * WRITES_EACH
        label = f"{PROCESSES} processes x {WRITES_EACH} writes"
        return [
            (label, "writes done / no-ops / versions (chain verified)",
             f"{counts['writes']:,} / {counts['noops']:,} / {counts['versions']:,}"),
            (label, "conflict retries per write (modify re-applies + reported conflicts re-read)",
             f"{(counts['retries'] + counts['rereads']) / max(1, counts['writes']):.2f} "
             f"({counts['retries']:,} + {counts['rereads']:,} over {counts['writes']:,})"),
            (label, "modify retries per modify",
             f"{counts['retries'] / max(1, counts['modifies']):.2f} "
             f"({counts['retries']:,} over {counts['modifies']:,})"),
            (label, "wall time / writes per second",
             f"{elapsed:.1f} s / {counts['writes'] / elapsed:,.0f}"),
        ]
    finally:
        server.cleanup()


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
