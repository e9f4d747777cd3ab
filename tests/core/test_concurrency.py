"""Concurrent writers never lose an update: a lost race re-reads and re-applies."""

from __future__ import annotations

import asyncio

import redis

from dynamic_prompt.core.config import Settings
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore

BASE = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n"


async def test_20_writers_x_50_modifies(redis_sync: redis.Redis, settings: Settings, target: ServerTarget) -> None:
    from dataclasses import replace

    settings = replace(settings, version_retention=2000, changelog_cap=2000)
    seed = PromptStore.connect(target, settings)
    await seed.load("race", BASE, kind="text")
    writers = [PromptStore.connect(target, settings) for _ in range(20)]

    async def run(i: int, s: PromptStore) -> None:
        for j in range(50):
            await s.modify("race", f"add rule: writer {i} change {j}", user=f"w{i}")

    await asyncio.gather(*(run(i, s) for i, s in enumerate(writers)))
    final = redis_sync.get("prompt:{race}:active")
    for i in range(20):
        for j in range(50):
            assert f"writer {i} change {j}" in final, (i, j)
    assert int(redis_sync.hget("prompt:{race}:meta", "version")) == 1001
    assert redis_sync.llen("prompt:{race}:changelog") == 1001
    assert redis_sync.hlen("prompt:{race}:versions") == 1001
    versions = [e.version for e in await seed.history("race", 2000)]
    assert versions == list(range(1001, 0, -1))
    for s in [seed, *writers]:
        await s.aclose()
