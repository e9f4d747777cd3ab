"""The store's history tools on a real server: revert one change, notes, compare, rename, duplicate."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import pytest
import redis

from dynamic_prompt.core import keys
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import (
    ConflictError,
    InvalidNameError,
    InvalidTextError,
    PromptExistsError,
    PromptNotFoundError,
    RevertConflictError,
    VersionNotFoundError,
)
from dynamic_prompt.core.models import EventKind
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from tests.support.feedwatch import FeedWatcher
from tests.support.servers import TestServer

PROMPT = """# Assistant

Tone: Friendly
Default: 3-4 sentences

## Rules
1. Answer the question asked.
2. Never use emojis.
"""
SARCASTIC = PROMPT.replace("Tone: Friendly", "Tone: Sarcastic")


def entries(r: redis.Redis, name: str = "default") -> list[dict[str, Any]]:
    return [json.loads(item) for item in r.lrange(keys.keys_for(name).changelog, 0, -1)]


async def three_versions(store: PromptStore) -> None:
    await store.load("default", PROMPT, kind="text")  # v1
    await store.modify("default", "change tone to sarcastic")  # v2
    await store.modify("default", "add rule: Cite sources")  # v3


# -- revert one change ------------------------------------------------------------------------


async def test_revert_change_undoes_one_change_and_keeps_the_later_ones(
    store: PromptStore, redis_sync: redis.Redis
) -> None:
    await three_versions(store)
    result = await store.revert_change("default", 2, user="alice", note="the tone test is over")
    assert result.changed and result.version == 4
    assert redis_sync.get("prompt:active") == PROMPT + "3. Cite sources\n"
    assert result.previous == SARCASTIC + "3. Cite sources\n"
    entry = entries(redis_sync)[0]
    assert {k: entry[k] for k in ("action", "user_id", "instruction", "metadata", "version", "note")} == {
        "action": "revert-change", "user_id": "alice", "instruction": "revert the change of v2",
        "metadata": {"reverted_version": 2}, "version": 4, "note": "the tone test is over",
    }  # fmt: skip
    assert redis_sync.get("prompt:backup") == PROMPT  # the original is kept


async def test_revert_change_dry_run_writes_nothing(store: PromptStore, redis_sync: redis.Redis) -> None:
    await three_versions(store)
    preview = await store.revert_change("default", 2, dry_run=True)
    assert not preview.changed and preview.version == 3
    assert preview.text == PROMPT + "3. Cite sources\n"
    assert redis_sync.hget("prompt:meta", "version") == "3" and redis_sync.llen("prompt:changelog") == 3


async def test_a_conflicting_later_change_raises_with_its_regions_and_writes_nothing(
    store: PromptStore, redis_sync: redis.Redis
) -> None:
    await three_versions(store)
    await store.modify("default", "change tone to dry")  # v4 rewrites v2's line
    before = redis_sync.get("prompt:active")
    with pytest.raises(RevertConflictError) as caught:
        await store.revert_change("default", 2)
    err = caught.value
    assert isinstance(err, ConflictError)
    assert (err.reverted_version, err.current_version) == (2, 4)
    (region,) = err.regions
    assert (region.old_start, region.old_lines) == (3, ("Tone: Sarcastic",))
    assert (region.new_start, region.new_lines) == (3, ("Tone: Dry",))
    assert region.before_lines == ("Tone: Friendly",)
    assert str(err) == (
        "Cannot revert the change of v2 of 'default': a later change touched the same lines "
        "(v2 line 3 'Tone: Sarcastic' is now line 3 'Tone: Dry'); nothing was written."
    )
    assert redis_sync.get("prompt:active") == before
    assert redis_sync.hget("prompt:meta", "version") == "4" and redis_sync.llen("prompt:changelog") == 4


async def test_revert_change_of_a_pruned_or_missing_version_says_why_in_one_line(
    redis_sync: redis.Redis, settings: Settings, target: ServerTarget
) -> None:
    store = PromptStore.connect(target, replace(settings, version_retention=2))
    try:
        await three_versions(store)  # keeps v2 and v3 only
        with pytest.raises(VersionNotFoundError) as gone:
            await store.revert_change("default", 1)
        assert str(gone.value) == "Prompt 'default' has no version 1 (kept: 2-3)."
        with pytest.raises(VersionNotFoundError) as pruned:
            await store.revert_change("default", 2)
        assert str(pruned.value) == (
            "Prompt 'default' no longer keeps version 1 (kept: 2-3), the text before the change of v2, "
            "so that change cannot be reverted."
        )
        with pytest.raises(VersionNotFoundError, match="has no version 9"):
            await store.revert_change("default", 9)
        assert redis_sync.llen("prompt:changelog") == 3
    finally:
        await store.aclose()


async def test_revert_change_of_the_first_version_says_why_in_one_line(
    store: PromptStore, redis_sync: redis.Redis
) -> None:
    await three_versions(store)
    with pytest.raises(VersionNotFoundError) as caught:
        await store.revert_change("default", 1)
    assert str(caught.value) == (
        "Version 1 is the first version of 'default': there is no text before it to revert its "
        "change to (revert goes back to the original)."
    )
    assert redis_sync.llen("prompt:changelog") == 3


async def test_revert_change_that_is_already_undone_changes_nothing(
    store: PromptStore, redis_sync: redis.Redis
) -> None:
    await three_versions(store)
    await store.modify("default", "change tone to friendly")  # v4 undoes v2 by hand
    result = await store.revert_change("default", 2)
    assert not result.changed and result.version == 4
    assert result.message == "The change of v2 is not in the current text any more; nothing to revert."
    assert redis_sync.llen("prompt:changelog") == 4


async def test_revert_change_tries_again_against_a_version_written_meanwhile(
    store: PromptStore, redis_sync: redis.Redis, target: ServerTarget, settings: Settings
) -> None:
    """A derived write: another writer landing between its read and its commit makes it re-read."""
    await three_versions(store)
    other = PromptStore.connect(target, settings)
    real_require = store._reads.require
    calls = 0

    async def require_then_race(name: str) -> Any:
        nonlocal calls
        state = await real_require(name)
        calls += 1
        if calls == 1:  # someone writes after our first read
            await other.modify("default", "add rule: Be brief")
        return state

    store._reads.require = require_then_race  # type: ignore[method-assign]
    try:
        result = await store.revert_change("default", 2)
    finally:
        await other.aclose()
    assert calls == 2 and store.retries == 1
    assert result.version == 5
    assert redis_sync.get("prompt:active") == PROMPT + "3. Cite sources\n4. Be brief\n"


# -- notes ------------------------------------------------------------------------------------


async def test_every_write_path_records_its_note(store: PromptStore, redis_sync: redis.Redis) -> None:
    await store.load("default", PROMPT, kind="text", note="first draft")
    await store.modify("default", "change tone to dry", note="  too chirpy  ")
    state = await store.state("default")
    await store.set_active("default", PROMPT + "extra\n", expected_version=state.version, note="by hand")
    await store.revert("default", note="back to base")
    await store.restore("default", 2, note="dry again")
    await store.undo("default", note="oops")
    await store.revert_change("default", 3, note="dry after all")  # v6 is PROMPT: v3 made it friendly
    await store.duplicate("default", "copy", note="for the A/B test")
    notes = [(e["action"], e.get("note")) for e in reversed(entries(redis_sync))]
    assert notes == [
        ("load", "first draft"), ("modify", "too chirpy"), ("edit", "by hand"), ("revert", "back to base"),
        ("restore", "dry again"), ("undo", "oops"), ("revert-change", "dry after all"),
    ]  # fmt: skip
    assert entries(redis_sync, "copy")[0]["note"] == "for the A/B test"
    history = await store.history("default", 10)
    assert [e.note for e in history[:2]] == ["dry after all", "oops"]
    assert history[0].to_dict()["note"] == "dry after all"


async def test_no_note_means_no_note_field(store: PromptStore, redis_sync: redis.Redis) -> None:
    await store.load("default", PROMPT, kind="text")
    await store.modify("default", "change tone to dry", note="   ")
    assert [("note" in e) for e in entries(redis_sync)] == [False, False]


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("two\nlines", "contains a line break or control characters"),
        ("tab\there", "contains a line break or control characters"),
        ("bidi \u202e trick", "contains a line break or control characters"),
        ("x" * 501, "The note is 501 characters long; the limit is 500"),
        ("bad \udcff bytes", "is not valid text"),
    ],
)
async def test_a_bad_note_is_one_line_and_writes_nothing(
    store: PromptStore, redis_sync: redis.Redis, note: str, message: str
) -> None:
    with pytest.raises(InvalidTextError, match=message):
        await store.load("fresh", PROMPT, kind="text", note=note)
    assert redis_sync.exists("prompt:{fresh}:active") == 0
    await three_versions(store)
    snapshot = (redis_sync.get("prompt:active"), redis_sync.llen("prompt:changelog"))
    state = await store.state("default")
    writes = [
        lambda: store.modify("default", "change tone to dry", note=note),
        lambda: store.set_active("default", "new\n", expected_version=state.version, note=note),
        lambda: store.revert("default", note=note),
        lambda: store.restore("default", 1, note=note),
        lambda: store.undo("default", note=note),
        lambda: store.revert_change("default", 2, note=note),
        lambda: store.load("default", "x\n", kind="text", force=True, note=note),
        lambda: store.duplicate("default", "copy", note=note),
        lambda: store.rename("default", "moved", note=note),
    ]
    for write in writes:
        with pytest.raises(InvalidTextError) as caught:
            await write()
        assert "\n" not in str(caught.value)
    assert (redis_sync.get("prompt:active"), redis_sync.llen("prompt:changelog")) == snapshot
    assert redis_sync.exists("prompt:{copy}:active", "prompt:{moved}:active") == 0


async def test_a_note_is_not_a_string_is_refused(store: PromptStore) -> None:
    with pytest.raises(InvalidTextError, match="The note must be text, not int"):
        await store.load("x", PROMPT, kind="text", note=5)  # type: ignore[arg-type]


# -- compare two versions ---------------------------------------------------------------------


async def test_versions_diff_gives_both_texts(store: PromptStore) -> None:
    await three_versions(store)
    assert await store.versions_diff("default", 1, 3) == (PROMPT, SARCASTIC + "3. Cite sources\n")
    assert await store.versions_diff("default", 3, 1) == (SARCASTIC + "3. Cite sources\n", PROMPT)
    with pytest.raises(VersionNotFoundError, match=r"has no version 7 \(kept: 1-3\)"):
        await store.versions_diff("default", 1, 7)


# -- rename and duplicate -----------------------------------------------------------------------


async def test_rename_keeps_the_whole_history(store: PromptStore, redis_sync: redis.Redis) -> None:
    await store.load("a", PROMPT, kind="text")
    await store.modify("a", "change tone to dry")
    redis_sync.set("prompt:{a}:active", "Written by redis-cli.\n")  # an outside write: adopted first
    old = keys.keys_for("a")
    versions_before = redis_sync.hgetall(old.versions)
    result = await store.rename("a", "b", user="alice", note="clearer name")
    assert result.changed and result.name == "b" and result.version == 3
    assert result.text == "Written by redis-cli.\n"
    new = keys.keys_for("b")
    assert redis_sync.exists(*old.all()) == 0
    assert redis_sync.get(new.active) == "Written by redis-cli.\n"
    assert redis_sync.get(new.backup) == PROMPT
    assert redis_sync.hgetall(new.versions) == {**versions_before, "3": "Written by redis-cli.\n"}
    assert redis_sync.hget(new.meta, "version") == "3"
    logged = entries(redis_sync, "b")
    assert [e["action"] for e in logged] == ["rename", "external", "modify", "load"]
    assert {k: logged[0][k] for k in ("user_id", "instruction", "version", "metadata", "note")} == {
        "user_id": "alice", "instruction": "renamed from 'a'", "version": 3,
        "metadata": {"renamed_from": "a"}, "note": "clearer name",
    }  # fmt: skip
    assert redis_sync.smembers(keys.INDEX_KEY) == {"b"}
    assert [p.name for p in await store.list()] == ["b"]
    # The history keeps working under the new name.
    assert (await store.restore("b", 1)).version == 4


async def test_rename_moves_the_gems_default_keys_both_ways(store: PromptStore, redis_sync: redis.Redis) -> None:
    await store.load("default", PROMPT, kind="text")
    await store.modify("default", "change tone to dry")
    await store.rename("default", "support")
    assert redis_sync.exists("prompt:active", "prompt:backup", "prompt:changelog", "prompt:meta",
                             "prompt:versions") == 0
    assert redis_sync.hlen("prompt:{support}:versions") == 2
    await store.rename("support", "default")
    assert redis_sync.get("prompt:backup") == PROMPT
    assert [e["action"] for e in entries(redis_sync)] == ["rename", "rename", "modify", "load"]


async def test_rename_refuses_an_existing_target_and_writes_nothing(
    store: PromptStore, redis_sync: redis.Redis
) -> None:
    await store.load("a", PROMPT, kind="text")
    await store.load("b", "Other.\n", kind="text")
    with pytest.raises(PromptExistsError) as caught:
        await store.rename("a", "b")
    assert str(caught.value) == "Prompt 'b' already exists; rename refuses to replace it (nothing was changed)."
    assert redis_sync.get("prompt:{a}:active") == PROMPT and redis_sync.get("prompt:{b}:active") == "Other.\n"
    # Leftover keys of a cleared-by-hand prompt count too: their history would mix with ours.
    redis_sync.delete("prompt:{b}:active", "prompt:{b}:backup", "prompt:{b}:meta", "prompt:{b}:versions")
    with pytest.raises(PromptExistsError, match="'b' already has keys"):
        await store.rename("a", "b")
    assert redis_sync.llen("prompt:{a}:changelog") == 1 and redis_sync.llen("prompt:{b}:changelog") == 1


async def test_rename_refusals(store: PromptStore, redis_sync: redis.Redis) -> None:
    with pytest.raises(PromptNotFoundError, match="There is no prompt named 'ghost'"):
        await store.rename("ghost", "b")
    await store.load("a", PROMPT, kind="text")
    with pytest.raises(InvalidNameError):
        await store.rename("a", "bad name")
    with pytest.raises(InvalidNameError, match="already named 'a'"):
        await store.rename("a", "a")
    assert redis_sync.exists("prompt:{b}:active") == 0 and redis_sync.get("prompt:{a}:active") == PROMPT


async def test_rename_waits_for_a_writers_lease_then_refuses_busy(
    store: PromptStore, redis_sync: redis.Redis
) -> None:
    await store.load("a", PROMPT, kind="text")
    redis_sync.set("prompt:{a}:lock", "someone-else", px=60_000)
    with pytest.raises(ConflictError, match="busy"):
        await store.rename("a", "b")
    assert redis_sync.get("prompt:{a}:active") == PROMPT and redis_sync.exists("prompt:{b}:active") == 0


async def test_duplicate_starts_a_new_prompt_from_the_active_text(
    store: PromptStore, redis_sync: redis.Redis
) -> None:
    await store.load("a", PROMPT, kind="text")
    await store.modify("a", "change tone to sarcastic")
    result = await store.duplicate("a", "b", user="bob")
    assert result.changed and result.version == 1
    assert redis_sync.get("prompt:{b}:active") == SARCASTIC == redis_sync.get("prompt:{b}:backup")
    (entry,) = entries(redis_sync, "b")
    assert {k: entry[k] for k in ("action", "user_id", "instruction", "metadata", "version")} == {
        "action": "duplicate", "user_id": "bob", "instruction": "duplicate of 'a' v2",
        "metadata": {"source": "prompt:a@v2", "duplicated_from": "a", "from_version": 2}, "version": 1,
    }  # fmt: skip
    assert redis_sync.llen("prompt:{a}:changelog") == 2  # the source is untouched
    with pytest.raises(PromptExistsError, match="'b' already exists"):
        await store.duplicate("a", "b")
    with pytest.raises(PromptNotFoundError):
        await store.duplicate("ghost", "c")
    assert redis_sync.exists("prompt:{c}:active") == 0


async def test_a_rename_reaches_watchers_as_the_old_name_gone_and_the_new_one_changed() -> None:
    server = TestServer().start()  # the feed sets notify-keyspace-events: a private server
    try:
        target = ServerTarget(server.url, "test")
        store = PromptStore.connect(target, Settings(user="tester"))
        try:
            await store.load("a", PROMPT, kind="text")
            async with FeedWatcher(target) as rec:
                await rec.wait_resync(5)
                since = time.monotonic()
                await store.rename("a", "b")
                await rec.wait_for(lambda e: e.kind == EventKind.DELETED and e.name == "a", 5, since)
                await rec.wait_change("b", 5, since)
        finally:
            await store.aclose()
    finally:
        server.cleanup()
