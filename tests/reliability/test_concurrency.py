"""Many writers in separate processes on one prompt: no update lost, the chain exact.

Each writer is its own OS process with its own connections (the agents and
people of a real deployment), mixing modify (retried on a lost race), manual
edit with an expected version (a conflict is reported, never written), revert
and restore. :func:`tests.support.writers.verify` checks the result version by
version.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
import redis

from dynamic_prompt.core.config import Settings
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from tests.support.writers import BASE, BurstResult, burst, verify


def run_writers(url: str, name: str, processes: int, writes: int) -> tuple[list[BurstResult], float]:
    """Load the prompt, run ``processes`` writer processes, return their results and the time."""
    import asyncio

    async def seed() -> None:
        store = PromptStore.connect(ServerTarget(url, "test"), Settings(user="seed"))
        await store.load(name, BASE, kind="text", force=True)
        await store.aclose()

    asyncio.run(seed())
    retention = processes * writes + 10
    start_at = time.time() + 1.0  # every process is up before the first write
    context = multiprocessing.get_context("fork")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        results = list(pool.map(burst, [(url, name, i, writes, start_at, retention)
                                        for i in range(processes)]))
    return results, time.perf_counter() - t0


def test_20_processes_x_50_mixed_writes_lose_nothing(server_url: str, redis_sync: redis.Redis) -> None:
    results, elapsed = run_writers(server_url, "race", 20, 50)
    counts = verify(redis.Redis.from_url(server_url), "race", results)
    attempts = 20 * 50
    assert counts["writes"] + counts["conflicts"] + counts["noops"] == attempts
    # Contention was real: manual edits did collide and were reported, modifies did retry.
    assert counts["conflicts"] > 0 and counts["retries"] > 0
    print(f"\n20x50 processes: {counts} in {elapsed:.1f} s")


def test_conflicted_manual_edit_is_reported_with_the_current_version(server_url: str,
                                                                   redis_sync: redis.Redis) -> None:
    results, _ = run_writers(server_url, "edits", 4, 25)
    counts = verify(redis.Redis.from_url(server_url), "edits", results)
    for res in results:
        for c in res.conflicts:
            assert c["current"] != c["expected"]
    assert counts["versions"] == counts["writes"] + 1


@pytest.mark.slow
def test_20_processes_x_150_mixed_writes_lose_nothing(server_url: str, redis_sync: redis.Redis) -> None:
    results, elapsed = run_writers(server_url, "race-long", 20, 150)
    counts = verify(redis.Redis.from_url(server_url), "race-long", results)
    assert counts["writes"] + counts["conflicts"] + counts["noops"] == 20 * 150
    print(f"\n20x150 processes: {counts} in {elapsed:.1f} s")
