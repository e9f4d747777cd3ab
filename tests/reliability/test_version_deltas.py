"""History that grows with the edits: kept versions as deltas, every one still readable.

Each version used to keep its full text, so a one-line edit of a 100 KB prompt added
about 99 KB. Now a kept version is a delta against the next, with full snapshots;
restore, diff and every read give the same texts as before.
"""

from __future__ import annotations

import pytest
import redis

from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import CorruptDataError
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from tests.support.checks import one_line


def _prompt(size: int) -> str:
    lines, total, i = ["# Agent\n\nTone: Calm\n\n## Background\n"], 0, 0
    while total < size:
        line = f"Fact {i}: the service handles request type {i} with care.\n"
        lines.append(line)
        total += len(line)
        i += 1
    return "".join(lines) + "\n## Rules\n1. Be kind.\n"


async def _grow(store: PromptStore, name: str, text: str, edits: int) -> dict[int, str]:
    await store.load(name, text, kind="text")
    texts = {1: text}
    for i in range(edits):
        result = await store.modify(name, f"add rule: answer request type {i} within a day")
        texts[result.version] = result.text
    return texts


async def test_one_line_edits_of_a_big_prompt_cost_kilobytes_and_every_version_reads_back(
        store: PromptStore, redis_sync: redis.Redis) -> None:
    text = _prompt(100_000)
    texts = await _grow(store, "big", text, 70)
    raw = redis.Redis(connection_pool=redis_sync.connection_pool)
    used = raw.memory_usage("prompt:{big}:versions", samples=0) or 0
    # Full copies were 71 x 100 KB; now v1, the snapshot v64 and the newest are whole.
    assert used < 4 * len(text)
    fields = set(redis_sync.hkeys("prompt:{big}:versions"))
    assert {"1", "64", "71", "d2", "d63", "d70"} <= fields and "2" not in fields
    assert await store.versions("big") == sorted(texts, reverse=True)
    for version, want in texts.items():
        assert await store.version_text("big", version) == want, version
    assert await store.version_texts("big", [2, 71, 99]) == [texts[2], texts[71], None]
    # Restore and diff of a delta-kept version behave as before.
    restored = await store.restore("big", 5)
    assert restored.text == texts[5] and (await store.get_active("big")) == texts[5]
    old, new = await store.diff("big", against=3)
    assert old == texts[3] and new == texts[5]


async def test_small_prompts_keep_whole_versions(store: PromptStore, redis_sync: redis.Redis) -> None:
    await _grow(store, "small", "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n", 5)
    assert sorted(redis_sync.hkeys("prompt:{small}:versions"), key=int) == ["1", "2", "3", "4", "5", "6"]


async def test_retention_prunes_deltas_and_leaves_every_kept_version_readable(target: ServerTarget,
                                                                          redis_sync: redis.Redis) -> None:
    store = PromptStore.connect(target, Settings(user="t", version_retention=10, changelog_cap=100))
    try:
        texts = await _grow(store, "pruned", _prompt(20_000), 80)
        kept = await store.versions("pruned")
        assert kept == list(range(81, 71, -1))
        assert len(redis_sync.hkeys("prompt:{pruned}:versions")) == 10
        for version in kept:
            assert await store.version_text("pruned", version) == texts[version]
    finally:
        await store.aclose()


async def test_a_delta_another_program_changed_is_one_clear_line(store: PromptStore,
                                                                redis_sync: redis.Redis) -> None:
    await _grow(store, "tampered", _prompt(20_000), 3)
    redis_sync.hset("prompt:{tampered}:versions", "d2", '{"b": 3, "n": 1, "h": "0", "o": []}')
    with pytest.raises(CorruptDataError) as caught:
        await store.version_text("tampered", 2)
    assert "another program" in one_line(str(caught.value))
    assert (await store.version_text("tampered", 3)).startswith("# Agent")
