"""Labels, promote, rollback, rollouts and experiments through the store, on real servers.

Each test starts from the behaviour the issue asked for (a label is a movable pointer,
production is the active text the gem reads, a labelled version is never pruned, every
move is in the changelog) and checks it in Redis itself, not only through the store.
"""

from __future__ import annotations

import json

import pytest
import redis

from dynamic_prompt.core import labels as lab
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import ConflictError, VersionNotFoundError
from dynamic_prompt.core.keys import keys_for
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore

TEXT = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n"


async def _loaded(store: PromptStore, name: str = "lab") -> None:
    await store.clear(name)
    await store.load(name, TEXT, kind="text")


async def test_a_label_set_points_at_a_version_and_the_move_is_logged(store: PromptStore, redis_sync: redis.Redis) -> None:
    await _loaded(store)
    moved = await store.set_label("lab", "staging", "production", user="ana")
    assert (moved.label, moved.version, moved.previous, moved.changed) == ("staging", 1, 0, True)
    assert json.loads(redis_sync.get(keys_for("lab").labels)) == {"staging": 1}
    entry = (await store.history("lab", 1))[0]
    assert (entry.action, entry.user_id, entry.version) == ("label", "ana", 1)
    assert entry.metadata["label"] == "staging" and entry.metadata["from"] == 0 and entry.metadata["to"] == 1
    again = await store.set_label("lab", "staging", "v1")
    assert not again.changed and "already" in again.message


async def test_an_edit_on_a_label_makes_a_version_only_that_label_and_latest_point_at(
        store: PromptStore, redis_sync: redis.Redis) -> None:
    await _loaded(store)
    await store.set_label("lab", "staging", "production")
    done = await store.modify("lab", "change tone to sarcastic", label="staging")
    assert done.changed and done.version == 2
    k = keys_for("lab")
    assert redis_sync.get(k.active) == TEXT  # production untouched: the gem still reads v1
    assert redis_sync.hget(k.meta, "version") == "1"
    state = await store.labels("lab")
    assert state.labels.all() == {"production": 1, "latest": 2, "staging": 2}
    assert "Sarcastic" in (await store.label_text("lab", "staging"))[1]
    # A write on production now takes the next number after the label's version.
    after = await store.modify("lab", "add rule: never use emojis")
    assert after.version == 3
    assert (await store.labels("lab")).labels.latest == 3
    assert "Sarcastic" not in redis_sync.get(k.active)


async def test_promote_points_production_at_the_labels_version_and_rollback_moves_it_back(
        store: PromptStore, redis_sync: redis.Redis) -> None:
    await _loaded(store)
    await store.set_label("lab", "staging", "production")
    await store.modify("lab", "change tone to sarcastic", label="staging")
    promoted = await store.promote("lab", "staging", user="rel")
    assert (promoted.version, promoted.previous) == (2, 1)
    k = keys_for("lab")
    assert "Sarcastic" in redis_sync.get(k.active)  # what the gem's get_active sees
    assert redis_sync.hget(k.meta, "version") == "2"
    assert (await store.history("lab", 1))[0].action == "promote"
    back = await store.rollback("lab", user="rel")
    assert (back.version, back.previous) == (1, 2)
    assert redis_sync.get(k.active) == TEXT
    # No version was made by either move; the next write still gets a new number.
    assert await store.versions("lab") == [2, 1]
    assert (await store.modify("lab", "add rule: be brief")).version == 3


async def test_a_promote_seen_by_a_person_is_a_conflict_if_production_moved(store: PromptStore) -> None:
    await _loaded(store)
    await store.set_label("lab", "staging", "production")
    await store.modify("lab", "change tone to sarcastic", label="staging")
    await store.modify("lab", "add rule: be brief")  # production moves to v3 meanwhile
    with pytest.raises(ConflictError):
        await store.promote("lab", "staging", expected=1)
    assert (await store.labels("lab")).labels.production == 3


async def test_a_labelled_version_is_never_pruned(server_url: str, target: ServerTarget) -> None:
    settings = Settings(redis_url=server_url, version_retention=3)
    store = PromptStore.connect(target, settings)
    try:
        await _loaded(store, "keep")
        await store.set_label("keep", "golden", "v1")
        for i in range(8):
            await store.modify("keep", f"add rule: rule number {i}")
        kept = await store.versions("keep")
        assert 1 in kept and kept[:3] == [9, 8, 7] and 2 not in kept
        assert (await store.label_text("keep", "golden"))[1] == TEXT
        # Back to the golden version: production may point far below the retention window.
        await store.promote("keep", "golden")
        for i in range(3):
            await store.modify("keep", f"add rule: later rule {i}")
        assert 1 in await store.versions("keep")
    finally:
        await store.clear("keep")
        await store.aclose()


async def test_labelling_a_version_kept_as_a_delta_keeps_it_whole(store: PromptStore, redis_sync: redis.Redis) -> None:
    big = "\n".join(f"line {i}: the assistant keeps this rule in mind" for i in range(200)) + "\n"
    await store.clear("big")
    await store.load("big", big, kind="text")
    await store.modify("big", "add rule: be brief")
    await store.modify("big", "add rule: be kind")
    k = keys_for("big")
    assert redis_sync.hexists(k.versions, "d2")  # compacted by the write after it
    text2 = await store.version_text("big", 2)
    await store.set_label("big", "old", "v2")
    assert redis_sync.hget(k.versions, "2") == text2 and not redis_sync.hexists(k.versions, "d2")
    await store.modify("big", "add rule: be quick")  # v3 becomes a delta; v2 (labelled) stays whole
    assert redis_sync.hexists(k.versions, "d3") and redis_sync.hexists(k.versions, "2")
    assert (await store.version_text("big", 3)).count("\n") == text2.count("\n") + 1
    await store.set_label("big", "cur", "production")  # v4, whole as the newest
    await store.modify("big", "add rule: be calm")  # would make v4 a delta, but it is labelled
    assert redis_sync.hexists(k.versions, "4") and not redis_sync.hexists(k.versions, "d4")
    await store.clear("big")


async def test_bad_labels_and_versions_are_one_line_and_write_nothing(store: PromptStore, redis_sync: redis.Redis) -> None:
    await _loaded(store)
    before = {key: redis_sync.dump(key) for key in redis_sync.keys("prompt:{lab}:*")}
    for call in (
        store.set_label("lab", "Staging!", "production"),
        store.set_label("lab", "latest", "v1"),
        store.remove_label("lab", "production"),
        store.remove_label("lab", "nope"),
        store.promote("lab", "nope"),
        store.modify("lab", "add rule: x", label="nope"),
        store.rollout("lab", 150, "v1"),
        store.experiment("lab", ["a=production:50"]),
    ):
        with pytest.raises(lab.LabelError) as info:
            await call
        assert "\n" not in str(info.value)
    with pytest.raises(VersionNotFoundError):
        await store.set_label("lab", "staging", "v99")
    assert {key: redis_sync.dump(key) for key in redis_sync.keys("prompt:{lab}:*")} == before


async def test_a_rollout_and_its_end(store: PromptStore, redis_sync: redis.Redis) -> None:
    await _loaded(store)
    await store.set_label("lab", "canary", "production")
    await store.modify("lab", "change tone to sarcastic", label="canary")
    state = await store.rollout("lab", 40, "canary", user="rel")
    assert state.release.rollout is not None
    assert (state.release.rollout.version, state.release.rollout.percent, state.release.rollout.base) == (2, 40.0, 1)
    raised = await store.rollout("lab", "60%")
    assert raised.release.rollout is not None and raised.release.rollout.percent == 60.0
    stored = json.loads(redis_sync.get(keys_for("lab").release))
    assert stored["pins"] == [2] and stored["rollout"]["percent"] == 60.0
    ended = await store.abort_rollout("lab")
    assert ended.release.rollout is None and not redis_sync.exists(keys_for("lab").release)
    await store.rollout("lab", 10, "canary")
    done = await store.promote("lab")  # the rollout's version becomes production, the rollout ends
    assert done.version == 2 and not redis_sync.exists(keys_for("lab").release)
    actions = [e.action for e in await store.history("lab", 6)]
    assert actions[:5] == ["promote", "rollout", "abort", "rollout", "rollout"]


async def test_an_experiment_names_its_variants_and_stops(store: PromptStore, redis_sync: redis.Redis) -> None:
    await _loaded(store)
    await store.set_label("lab", "exp-b", "production")
    await store.modify("lab", "change tone to sarcastic", label="exp-b")
    state = await store.experiment("lab", ["a=production:50", "b=exp-b:50"])
    assert state.release.experiment is not None
    assert [(v.name, v.target, v.weight) for v in state.release.experiment.variants] == [
        ("a", "production", 50), ("b", "exp-b", 50)]
    with pytest.raises(lab.LabelError):
        await store.rollout("lab", 10, "exp-b")
    with pytest.raises(lab.LabelError) as info:
        await store.remove_label("lab", "exp-b")  # the experiment serves it
    assert "stop it first" in str(info.value)
    assert json.loads(redis_sync.get(keys_for("lab").labels))["exp-b"] == 2
    stopped = await store.stop_experiment("lab")
    assert stopped.release.experiment is None and not redis_sync.exists(keys_for("lab").release)


async def test_rename_and_clear_take_labels_and_release_along(store: PromptStore, redis_sync: redis.Redis) -> None:
    await _loaded(store, "ren")
    await store.clear("ren2")
    await store.set_label("ren", "staging", "production")
    await store.rename("ren", "ren2")
    assert json.loads(redis_sync.get(keys_for("ren2").labels)) == {"staging": 1}
    assert not redis_sync.exists(keys_for("ren").labels)
    await store.clear("ren2")
    assert not redis_sync.exists(keys_for("ren2").labels)


async def test_a_reader_bound_to_a_label_serves_it_and_follows_its_moves(
        store: PromptStore, server_url: str) -> None:
    import asyncio

    from dynamic_prompt.live.client import PromptClient

    await _loaded(store)
    await store.set_label("lab", "staging", "production")
    with PromptClient(server_url, announce=False) as client:
        staging = client.at("staging")
        assert staging.get_active("lab") == TEXT
        assert staging.read("lab").label == "staging"
        assert client.at("nope").get_active("lab") is None  # an unknown label reads as nothing
        await store.modify("lab", "change tone to sarcastic", label="staging")
        for _ in range(500):
            if "Sarcastic" in (staging.get_active("lab") or ""):
                break
            await asyncio.sleep(0.01)
        assert "Sarcastic" in (staging.get_active("lab") or "")
        assert staging.read("lab").version == 2 and client.get_active("lab") == TEXT
        assert client.reads("lab@staging") >= 3


async def test_a_snapshot_reads_every_prompt_at_a_label_in_one_batch(store: PromptStore, server_url: str) -> None:
    import asyncio

    from dynamic_prompt.live.client import AsyncPromptClient, PromptClient

    for name in ("snap-a", "snap-b", "snap-c"):
        await _loaded(store, name)
    await store.set_label("snap-a", "staging", "production")
    await store.modify("snap-a", "change tone to sarcastic", label="staging")
    await store.set_label("snap-b", "staging", "production")
    with PromptClient(server_url, announce=False) as client:
        at_staging = client.snapshot(label="staging", names=["snap-a", "snap-b", "snap-c"])
        assert set(at_staging) == {"snap-a", "snap-b"}  # snap-c has no staging label
        assert "Sarcastic" in (at_staging["snap-a"].text or "") and at_staging["snap-a"].version == 2
        assert at_staging["snap-b"].text == TEXT and at_staging["snap-b"].label == "staging"
        everything = client.snapshot()
        assert {"snap-a", "snap-b", "snap-c"} <= set(everything)
        assert everything["snap-a"].text == TEXT  # production
        # Kept in memory once the feed is live: then reads are hits, with no round trip.
        for _ in range(500):
            if client.feed_mode == "notifications":
                break
            await asyncio.sleep(0.01)
        client.snapshot(label="staging", names=["snap-a"])
        misses = client.stats().misses
        assert client.read("snap-a", label="staging").source == "memory"
        assert client.stats().misses == misses
    async with AsyncPromptClient(server_url, announce=False) as aclient:
        got = await aclient.snapshot(label="staging", names=["snap-a", "snap-c"])
        assert set(got) == {"snap-a"} and "Sarcastic" in (got["snap-a"].text or "")
        assert "Sarcastic" in (await aclient.get_active("snap-a", label="staging") or "")
        assert await aclient.get_active("snap-a") == TEXT


async def test_other_programs_labels_and_release_keys_never_stop_production(
        store: PromptStore, redis_sync: redis.Redis, server_url: str) -> None:
    from dynamic_prompt.live.client import PromptClient

    k = keys_for("lab")
    for garbage in ("hash", '{"staging": "\u00b2", "latest": 2.5, "x": 1e400, "7": [1]}', '{"latest": 1e15}'):
        await _loaded(store)
        if garbage == "hash":
            redis_sync.hset(k.labels, "staging", "1")
            redis_sync.hset(k.release, "rollout", "x")
        else:
            redis_sync.set(k.labels, garbage)
            redis_sync.set(k.release, '{"rollout": {"version": 1, "percent": 1' + "0" * 400 + '}}')
        state = await store.state("lab")
        assert state.active == TEXT
        done = await store.modify("lab", "change tone to sarcastic")
        assert done.version == 2 and "Sarcastic" in (await store.get_active("lab") or "")
        assert redis_sync.hexists(k.versions, "2") and redis_sync.hget(k.meta, "version") == "2"
        with PromptClient(server_url, announce=False) as client:
            assert "Sarcastic" in (client.get_active("lab") or "")
            assert client.read("lab").served == ""
        labels = await store.labels("lab")
        assert labels.labels.production == 2 and not labels.release.active
        if garbage != "hash":
            # A label move rewrites the key with what this tool writes there, dropping the rest.
            await store.set_label("lab", "staging", "v1")
            assert json.loads(redis_sync.get(k.labels)) == {"staging": 1}


async def test_an_experiment_keeps_every_version_it_names_whole(store: PromptStore, redis_sync: redis.Redis) -> None:
    big = "\n".join(f"line {i}: the assistant keeps this rule in mind" for i in range(200)) + "\n"
    await store.clear("exp")
    await store.load("exp", big, kind="text")
    for rule in ("be brief", "be kind", "be calm"):
        await store.modify("exp", f"add rule: {rule}")  # v2, v3 become deltas
    k = keys_for("exp")
    assert redis_sync.hexists(k.versions, "d2") and redis_sync.hexists(k.versions, "d3")
    texts = [await store.version_text("exp", v) for v in (2, 3)]
    await store.experiment("exp", ["a=v2:50", "b=v3:50"])
    assert [redis_sync.hget(k.versions, v) for v in ("2", "3")] == texts
    assert not redis_sync.hexists(k.versions, "d2") and not redis_sync.hexists(k.versions, "d3")
    await store.clear("exp")


async def test_compaction_never_makes_productions_version_a_delta(store: PromptStore, redis_sync: redis.Redis) -> None:
    from dynamic_prompt.core import delta
    from dynamic_prompt.store import scripts

    big = "\n".join(f"line {i}: the assistant keeps this rule in mind" for i in range(200)) + "\n"
    await store.clear("cmp")
    await store.load("cmp", big, kind="text")
    await store.modify("cmp", "add rule: be brief")  # v2
    await store.modify("cmp", "add rule: be kind")   # v3; v2 is a delta now
    await store.promote("cmp", "v1")                  # production at v1 (kept whole as the original)
    await store.modify("cmp", "add rule: be calm")   # v4
    await store.promote("cmp", "v4")
    k = keys_for("cmp")
    v3, v4 = await store.version_text("cmp", 3), await store.version_text("cmp", 4)
    await store.promote("cmp", "v3")  # production is v3 now; a compaction racing this must not touch it
    patch = "x"
    replaced = redis_sync.eval(scripts.COMPACT, 4, k.versions, k.labels, k.release, k.meta,
                               3, delta.sha1(v3), 4, delta.sha1(v4), patch)
    assert replaced == 0 and redis_sync.hget(k.versions, "3") == v3
    await store.clear("cmp")


async def test_a_rollback_looks_past_edits_on_other_labels(store: PromptStore) -> None:
    await _loaded(store)
    await store.set_label("lab", "staging", "production")
    await store.modify("lab", "change tone to sarcastic", label="staging")
    await store.promote("lab", "staging")
    await store.modify("lab", "add rule: be brief", label="staging")  # the tuner goes on
    await store.set_label("lab", "canary", "staging")
    back = await store.rollback("lab")
    assert (back.previous, back.version) == (2, 1)


async def test_a_label_on_productions_version_keeps_its_text_after_an_outside_write(
        store: PromptStore, server_url: str, redis_sync: redis.Redis) -> None:
    # redis-cli (or the gem) writes production's text; until a dprompt records it as a version,
    # meta still says v1. A label on v1 means v1's kept text, not what was written over it.
    from dynamic_prompt.live.client import PromptClient

    await _loaded(store)
    await store.set_label("lab", "stable", "production")
    await store.experiment("lab", ["a=production:50", "b=v1:50"])
    redis_sync.set(keys_for("lab").active, "Written by redis-cli.\n")
    with PromptClient(server_url, announce=False) as client:
        assert client.get_active("lab", label="stable") == TEXT
        # (Without a key, get_active serves this agent's own variant: either one.)
        assert client.get_active("lab", label="latest") == "Written by redis-cli.\n"
        served = {client.read("lab", key=f"user-{i}").served: client.get_active("lab", key=f"user-{i}")
                  for i in range(40)}
        assert served == {"experiment a": "Written by redis-cli.\n", "experiment b": TEXT}
