"""The store on a real server: versions, changelog, atomic writes, outside writes."""

from __future__ import annotations

import json

import pytest
import redis

from dynamic_prompt.core import keys
from dynamic_prompt.core.errors import (
    ConflictError,
    CorruptDataError,
    InstructionError,
    InvalidNameError,
    InvalidTextError,
    PromptExistsError,
    PromptNotFoundError,
    VersionNotFoundError,
)
from dynamic_prompt.store import PromptStore
from tests.support.checks import BAD_NAMES, GOOD_NAMES, bad_name_reason, one_line, plant, wrong_type_line

PROMPT = """# Assistant

Tone: Friendly
Default: 3-4 sentences

## Rules
1. Answer the question asked.
2. Never use emojis.
3. Cite sources for facts.
"""


async def test_load_sets_active_backup_version_and_gem_changelog(store: PromptStore, redis_sync: redis.Redis) -> None:
    result = await store.load("default", PROMPT, kind="text")
    assert result.changed and result.version == 1
    assert redis_sync.get("prompt:active") == PROMPT
    assert redis_sync.get("prompt:backup") == PROMPT
    entry = json.loads(redis_sync.lindex("prompt:changelog", 0))
    # The gem's fields, readable by the gem.
    assert entry["action"] == "load"
    assert isinstance(entry["timestamp"], int)
    assert entry["user_id"] == "tester"
    assert entry["metadata"] == {"source": "text"}
    assert entry["version"] == 1


async def test_named_prompt_keys_share_one_hash_tag(store: PromptStore, redis_sync: redis.Redis) -> None:
    await store.load("support", PROMPT, kind="text")
    found = sorted(redis_sync.keys("prompt:*"))
    assert found == sorted(keys.keys_for("support").all())
    assert redis_sync.sismember(keys.INDEX_KEY, "support")


async def test_load_refuses_to_replace_without_force(store: PromptStore, redis_sync: redis.Redis) -> None:
    await store.load("a", PROMPT, kind="text")
    with pytest.raises(PromptExistsError, match="already exists"):
        await store.load("a", "other text", kind="text")
    assert redis_sync.get("prompt:{a}:active") == PROMPT
    result = await store.load("a", "other text", kind="text", force=True)
    assert result.version == 2
    # The replaced text is still restorable.
    assert await store.version_text("a", 1) == PROMPT


async def test_modify_records_version_instruction_and_counts(store: PromptStore, redis_sync: redis.Redis) -> None:
    await store.load("default", PROMPT, kind="text")
    result = await store.modify("default", "change tone to sarcastic; add rule: Never lie", user="alice")
    assert result.version == 2
    assert result.previous == PROMPT  # the base of this change's diff
    text = redis_sync.get("prompt:active")
    assert "Tone: Sarcastic" in text and "Never lie" in text
    assert redis_sync.get("prompt:backup") == PROMPT
    entries = await store.history("default")
    assert entries[0].action == "modify"
    assert entries[0].user_id == "alice"
    assert entries[0].instruction == "change tone to sarcastic; add rule: Never lie"
    assert entries[0].version == 2
    assert entries[0].added == 2 and entries[0].removed == 1
    assert await store.version_text("default", 2) == text


async def test_bad_instruction_changes_nothing(store: PromptStore, redis_sync: redis.Redis) -> None:
    await store.load("default", PROMPT, kind="text")
    before = redis_sync.dump("prompt:active"), redis_sync.llen("prompt:changelog")
    for bad in ["make it pop", "remove rule about quantum chromodynamics", "", "   "]:
        with pytest.raises(InstructionError):
            await store.modify("default", bad)
    assert (redis_sync.dump("prompt:active"), redis_sync.llen("prompt:changelog")) == before


async def test_dry_run_writes_nothing(store: PromptStore, redis_sync: redis.Redis) -> None:
    await store.load("default", PROMPT, kind="text")
    result = await store.modify("default", "change tone to dry", dry_run=True)
    assert "Tone: Dry" in result.text and not result.changed
    assert result.previous == PROMPT
    assert redis_sync.get("prompt:active") == PROMPT


async def test_revert_restore_undo_make_new_versions(store: PromptStore, redis_sync: redis.Redis) -> None:
    await store.load("p", PROMPT, kind="text")
    await store.modify("p", "change tone to sarcastic")
    await store.modify("p", "add rule: be brief")
    v3 = redis_sync.get("prompt:{p}:active")
    undone = await store.undo("p")
    assert undone.version == 4 and undone.text == await store.version_text("p", 2)
    restored = await store.restore("p", 3)
    assert restored.version == 5 and redis_sync.get("prompt:{p}:active") == v3
    reverted = await store.revert("p")
    assert reverted.version == 6 and redis_sync.get("prompt:{p}:active") == PROMPT
    again = await store.revert("p")
    assert not again.changed and again.version == 6
    actions = [e.action for e in await store.history("p", 10)]
    assert actions == ["revert", "restore", "undo", "modify", "modify", "load"]
    with pytest.raises(VersionNotFoundError, match="no version 99"):
        await store.restore("p", 99)


async def test_set_active_checks_expected_version(store: PromptStore, redis_sync: redis.Redis) -> None:
    await store.load("p", PROMPT, kind="text")
    await store.modify("p", "change tone to calm")
    with pytest.raises(ConflictError) as info:
        await store.set_active("p", "my edit", expected_version=1)
    assert info.value.current_version == 2
    assert "Tone: Calm" in redis_sync.get("prompt:{p}:active")
    result = await store.set_active("p", "my edit", expected_version=2)
    assert result.version == 3 and redis_sync.get("prompt:{p}:active") == "my edit"


async def test_outside_write_becomes_one_version(store: PromptStore, redis_sync: redis.Redis) -> None:
    await store.load("default", PROMPT, kind="text")
    redis_sync.set("prompt:active", "written by redis-cli")
    assert await store.get_active("default") == "written by redis-cli"
    first = await store.state("default")
    second = await store.state("default")
    assert first.version == second.version == 2
    entries = await store.history("default")
    assert [e.action for e in entries] == ["external", "load"]
    assert await store.version_text("default", 2) == "written by redis-cli"
    # A modify after an outside write starts from the outside text.
    with pytest.raises(InstructionError):
        await store.modify("default", "remove rule about emojis")


async def test_gem_only_prompt_is_adopted(store: PromptStore, redis_sync: redis.Redis) -> None:
    # What the Ruby gem leaves behind: the three keys, no meta.
    redis_sync.set("prompt:active", PROMPT)
    redis_sync.set("prompt:backup", PROMPT)
    redis_sync.lpush("prompt:changelog", json.dumps(
        {"timestamp": 1730000000, "action": "load", "metadata": {"source": "assistant.md"}}))
    names = [p.name for p in await store.list()]
    assert names == ["default"]
    state = await store.state("default")
    assert state.version == 1 and state.active == PROMPT
    await store.modify("default", "add rule: never use emojis twice")
    history = await store.history("default")
    assert [e.action for e in history] == ["modify", "external", "load"]
    assert history[-1].metadata == {"source": "assistant.md"}


async def test_malformed_changelog_entries_are_kept_readable(store: PromptStore, redis_sync: redis.Redis) -> None:
    await store.load("default", PROMPT, kind="text")
    redis_sync.lpush("prompt:changelog", "not json at all", "[1, 2]", '{"action": 5, "timestamp": "x"}')
    entries = await store.history("default", 10)
    assert [e.action for e in entries[:3]] == ["5", "unreadable", "unreadable"]
    assert entries[3].action == "load"


async def test_wrong_type_key_gives_clear_error(store: PromptStore, redis_sync: redis.Redis) -> None:
    plant(redis_sync, "prompt:{bad}:active", "list")
    refused = wrong_type_line("prompt:{bad}:active", "list", "string")
    with pytest.raises(CorruptDataError) as info:
        await store.state("bad")
    assert one_line(info.value) == refused
    with pytest.raises(CorruptDataError) as info:
        await store.load("bad", PROMPT, kind="text", force=True)
    assert one_line(info.value) == refused
    assert redis_sync.lrange("prompt:{bad}:active", 0, -1) == ["planted", "by another program"]


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
async def test_bad_names_are_refused(store: PromptStore, redis_sync: redis.Redis, name: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        await store.load(name, PROMPT, kind="text")
    assert bad_name_reason(name) in one_line(info.value)
    assert redis_sync.dbsize() == 0


@pytest.mark.parametrize("name", GOOD_NAMES)
async def test_names_at_the_edges_are_accepted(store: PromptStore, name: str) -> None:
    await store.load(name, PROMPT, kind="text")
    assert await store.get_active(name) == PROMPT


@pytest.mark.parametrize("text", ["", "   \n\t", "a\x00b"])
async def test_bad_text_is_refused(store: PromptStore, redis_sync: redis.Redis, text: str) -> None:
    with pytest.raises(InvalidTextError):
        await store.load("p", text, kind="text")
    assert redis_sync.dbsize() == 0


async def test_size_limit(store: PromptStore, redis_sync: redis.Redis) -> None:
    from dataclasses import replace

    store.settings = replace(store.settings, max_bytes=1000)
    with pytest.raises(InvalidTextError, match="1,000 bytes limit"):
        await store.load("p", "x" * 1001, kind="text")
    assert redis_sync.dbsize() == 0


async def test_missing_prompt(store: PromptStore) -> None:
    with pytest.raises(PromptNotFoundError):
        await store.modify("nothing", "change tone to calm")
    assert await store.get_active("nothing") is None


async def test_retention_and_changelog_cap(store: PromptStore, redis_sync: redis.Redis) -> None:
    from dataclasses import replace

    store.settings = replace(store.settings, version_retention=3, changelog_cap=4)
    await store.load("p", PROMPT, kind="text")
    for i in range(6):
        await store.modify("p", f"add rule: rule number {i}")
    assert await store.versions("p") == [7, 6, 5]
    assert redis_sync.llen("prompt:{p}:changelog") == 4
    with pytest.raises(VersionNotFoundError, match="kept: 5-7"):
        await store.version_text("p", 2)


async def test_clear_removes_everything(store: PromptStore, redis_sync: redis.Redis) -> None:
    await store.load("p", PROMPT, kind="text")
    assert await store.clear("p")
    assert redis_sync.dbsize() == 0
    assert await store.list() == []


async def test_list_reports_versions(store: PromptStore) -> None:
    await store.load("default", PROMPT, kind="text")
    await store.load("beta", PROMPT, kind="text")
    await store.modify("beta", "change tone to calm")
    listed = {p.name: p.version for p in await store.list()}
    assert listed == {"default": 1, "beta": 2}


async def test_metadata(store: PromptStore) -> None:
    await store.load("p", PROMPT, kind="text")
    meta = await store.metadata("p")
    assert meta["version"] == 1 and meta["size_bytes"] == len(PROMPT.encode())
    assert meta["tokens_estimate"] > 0 and meta["modified_from_original"] is False
