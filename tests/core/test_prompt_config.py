"""A version's config through the store, on real servers, checked in Redis itself.

A config (model, temperature, tools) is a JSON object kept with each version's text:
set as a new version with the same text, carried by every edit, brought back by
restore, undo and revert, moved with production by promote, shown in diffs and counted
in the changelog's +/-.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import redis

from dynamic_prompt import PromptClient
from dynamic_prompt.core import prompt_config as pc
from dynamic_prompt.core.errors import ConflictError
from dynamic_prompt.core.keys import keys_for
from dynamic_prompt.store import PromptStore

TEXT = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n"
GPT4 = {"model": "gpt-4", "temperature": 0.2}


async def _loaded(store: PromptStore, name: str = "cfg") -> None:
    await store.clear(name)
    await store.load(name, TEXT, kind="text")


# -- the pure part --------------------------------------------------------------------------

def test_encoding_is_canonical_and_an_empty_config_is_nothing() -> None:
    assert pc.encode({"b": 1, "a": [1, "ü"]}) == '{"a":[1,"ü"],"b":1}'
    assert pc.encode({}) == ""
    assert pc.read(pc.encode(GPT4)) == GPT4


@pytest.mark.parametrize("bad, says", [
    ("[1, 2]", "JSON object"),
    ("{\"a\": ", "not JSON"),
    ("{\"a\": NaN}", "NaN"),
    ('{"a":' * 20 + "1" + "}" * 20, "deeper"),
    (json.dumps({"k": "x" * (pc.MAX_CONFIG_BYTES + 1)}), "bytes"),
])
def test_a_bad_config_is_one_line_naming_what_is_wrong(bad: str, says: str) -> None:
    with pytest.raises(pc.PromptConfigError) as caught:
        pc.parse(bad)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_assignments_read_values_as_json_when_they_are_json() -> None:
    got = pc.updated({"seed": 1}, ["model=gpt-5", "temperature=0.3", "tools=[\"search\"]", "stream=true"], ["seed"])
    assert got == {"model": "gpt-5", "temperature": 0.3, "tools": ["search"], "stream": True}
    with pytest.raises(pc.PromptConfigError, match="no key 'x'"):
        pc.updated({}, (), ["x"])
    with pytest.raises(pc.PromptConfigError, match="KEY=VALUE"):
        pc.updated({}, ["model"])


JUNK_CONFIGS = (b"\xff\xfe", "[1]", "not json", '{"a":' * 500 + "1" + "}" * 500, '{"a": "\\ud800"}',
                '{"a": NaN}', json.dumps({"k": "x" * (pc.MAX_CONFIG_BYTES + 10)}), '{"a":' * 17 + "1" + "}" * 17)
"""What other programs may leave where a config goes: each parses as JSON or not, and none is kept."""


def test_other_programs_junk_reads_as_no_config() -> None:
    for junk in JUNK_CONFIGS:
        assert pc.read(junk) == {}, junk[:40]
    with pytest.raises(pc.PromptConfigError, match="surrogate"):
        pc.parse('{"a": "\\ud800"}')


def test_a_read_config_is_a_frozen_dict_that_pickles_copies_and_serialises() -> None:
    import copy
    import pickle

    got = pc.read('{"model": "x", "tools": ["a", {"b": 1}]}')
    assert got == {"model": "x", "tools": ["a", {"b": 1}]}  # lists compare as lists
    assert json.loads(json.dumps(got)) == got
    assert pickle.loads(pickle.dumps(got)) == got and copy.deepcopy(got) == got
    for change in (lambda: got.__setitem__("model", "y"), lambda: got["tools"].append("c"),
                   lambda: got["tools"][1].update(b=2), lambda: got.pop("model")):
        with pytest.raises(TypeError, match="read-only"):
            change()
    assert got == {"model": "x", "tools": ["a", {"b": 1}]}


def test_a_config_change_is_described_and_shown_below_the_text() -> None:
    assert pc.describe(GPT4, {"model": "gpt-5", "tools": []}) == "model \"gpt-4\" -> \"gpt-5\", -temperature, +tools"
    shown = pc.with_config("line\n", GPT4)
    assert shown == "line\n" + pc.CONFIG_RULE + "\n{\n  \"model\": \"gpt-4\",\n  \"temperature\": 0.2\n}\n"
    assert pc.with_config("line", {}) == "line"
    # Compared, both sides take the same shape: a text without a final newline is not a change.
    assert pc.compared("line", {}, "line", {"a": 1}) == ("line\n" + pc.CONFIG_RULE + "\n{}\n",
                                                        "line\n" + pc.CONFIG_RULE + "\n{\n  \"a\": 1\n}\n")
    assert pc.compared("a", {}, "b", {}) == ("a", "b")


# -- through the store -------------------------------------------------------------------------

async def test_setting_a_config_makes_a_version_with_the_same_text(store: PromptStore, redis_sync: redis.Redis) -> None:
    await _loaded(store)
    done = await store.set_config("cfg", GPT4, user="ana")
    assert done.changed and done.version == 2 and done.text == TEXT
    k = keys_for("cfg")
    assert redis_sync.get(k.active) == TEXT
    assert json.loads(redis_sync.hget(k.versions, "c2")) == GPT4
    assert json.loads(redis_sync.hget(k.meta, "config")) == GPT4
    assert redis_sync.hget(k.versions, "c1") is None  # version 1 had none
    state = await store.state("cfg")
    assert state.config == GPT4
    entry = (await store.history("cfg", 1))[0]
    assert entry.action == "config" and entry.user_id == "ana"
    assert entry.instruction == "config: +model, +temperature"
    assert (entry.added, entry.removed) == (4, 1)  # "{}" became the four lines of pretty JSON
    again = await store.set_config("cfg", dict(GPT4))
    assert not again.changed and again.version == 2 and "already" in again.message
    assert await store.versions("cfg") == [2, 1]


async def test_every_edit_carries_the_config_and_restore_undo_revert_bring_theirs_back(
        store: PromptStore, redis_sync: redis.Redis) -> None:
    await _loaded(store)
    await store.set_config("cfg", GPT4)                                   # v2
    modified = await store.modify("cfg", "change tone to sarcastic")      # v3
    assert (await store.version_config("cfg", modified.version)) == GPT4
    await store.set_config("cfg", {"model": "gpt-5"})                     # v4
    restored = await store.restore("cfg", 3)                              # v5: v3's text and config
    assert (await store.state("cfg")).config == GPT4 and restored.version == 5
    undone = await store.undo("cfg")                                      # v6: back to v4
    assert (await store.state("cfg")).config == {"model": "gpt-5"} and undone.changed
    reverted = await store.revert("cfg")                                  # v7: the original, with none
    state = await store.state("cfg")
    assert reverted.changed and state.active == TEXT and state.config == {}
    assert redis_sync.hget(keys_for("cfg").meta, "config") is None


async def test_restore_of_a_version_differing_only_in_config_writes(store: PromptStore) -> None:
    await _loaded(store)
    await store.set_config("cfg", GPT4)
    done = await store.restore("cfg", 1, expected_version=2)
    assert done.changed and (await store.state("cfg")).config == {}


async def test_an_outside_write_keeps_the_config(store: PromptStore, redis_sync: redis.Redis) -> None:
    await _loaded(store)
    await store.set_config("cfg", GPT4)
    redis_sync.set(keys_for("cfg").active, TEXT + "Written by redis-cli.\n")
    state = await store.state("cfg")
    assert state.version == 3 and state.config == GPT4
    assert await store.version_config("cfg", 3) == GPT4


async def test_a_label_edit_keeps_the_labels_config_and_promote_moves_production_with_it(
        store: PromptStore, redis_sync: redis.Redis) -> None:
    await _loaded(store)
    await store.set_label("cfg", "staging", "production")
    staged = await store.set_config("cfg", GPT4, label="staging")           # v2, only staging
    assert staged.changed and (await store.state("cfg")).config == {}
    edited = await store.modify("cfg", "change tone to dry", label="staging")  # v3 carries it
    assert await store.version_config("cfg", edited.version) == GPT4
    assert (await store.history("cfg", 2))[1].instruction == "config: +model, +temperature"
    await store.promote("cfg", "staging")
    k = keys_for("cfg")
    assert json.loads(redis_sync.hget(k.meta, "config")) == GPT4
    await store.rollback("cfg")
    assert redis_sync.hget(k.meta, "config") is None and (await store.state("cfg")).config == {}


async def test_a_diff_of_two_versions_shows_the_config(store: PromptStore) -> None:
    await _loaded(store)
    await store.set_config("cfg", GPT4)
    old, new = await store.versions_diff("cfg", 1, 2)
    assert (old, new) == pc.compared(TEXT, {}, TEXT, GPT4)
    assert old.startswith(TEXT) and new == pc.with_config(TEXT, GPT4)
    assert await store.diff("cfg") == (old, new)
    assert await store.versions_diff("cfg", 1, 1) == (TEXT, TEXT)  # no config either side: the texts alone


async def test_a_bad_config_or_a_stale_one_writes_nothing(store: PromptStore, redis_sync: redis.Redis) -> None:
    await _loaded(store)
    k = keys_for("cfg")
    before = redis_sync.hgetall(k.meta)
    with pytest.raises(pc.PromptConfigError):
        await store.set_config("cfg", {"t": float("inf")})
    with pytest.raises(pc.PromptConfigError):
        await store.set_config("cfg", {"x": object()})  # type: ignore[dict-item]
    await store.modify("cfg", "add rule: never use emojis")
    with pytest.raises(ConflictError):
        await store.set_config("cfg", GPT4, expected_version=1)
    assert redis_sync.hget(k.meta, "config") is None
    assert int(redis_sync.hget(k.meta, "version")) == int(before["version"]) + 1


async def test_a_pruned_version_takes_its_config_along(store: PromptStore, redis_sync: redis.Redis) -> None:
    store.settings = replace(store.settings, version_retention=2)
    await _loaded(store)
    await store.set_config("cfg", GPT4)                     # v2
    await store.set_config("cfg", {"model": "gpt-5"})       # v3
    await store.set_config("cfg", {"model": "gpt-6"})       # v4: v2 pruned
    k = keys_for("cfg")
    assert redis_sync.hget(k.versions, "c2") is None and redis_sync.hexists(k.versions, "2") is False
    assert json.loads(redis_sync.hget(k.versions, "c4")) == {"model": "gpt-6"}


# -- the agents' client --------------------------------------------------------------------------

async def test_the_client_returns_the_config_with_the_text_and_hears_a_change_by_push(
        store: PromptStore, server_url: str, redis_sync: redis.Redis) -> None:
    from tests.support.waiting import eventually

    await _loaded(store)
    await store.set_config("cfg", GPT4)
    await store.set_label("cfg", "staging", "production")
    await store.set_config("cfg", {"model": "gpt-5"}, label="staging")
    client = PromptClient(server_url, announce=False, feed_options={"ping_interval": 0.2, "ping_timeout": 1.0, "poll_interval": 60})
    try:
        read = client.read("cfg")
        assert (read.text, dict(read.config), read.version) == (TEXT, GPT4, 2)
        assert dict(client.read("cfg", label="staging").config) == {"model": "gpt-5"}
        with pytest.raises(TypeError):
            read.config["model"] = "changed"  # type: ignore[index]  # shared by every reader: read-only
        eventually(lambda: client.read("cfg").source == "memory")
        await store.set_config("cfg", {"model": "gpt-4o"})
        eventually(lambda: dict(client.read("cfg").config) == {"model": "gpt-4o"}, timeout=5)
        assert client.stats().feed_mode == "notifications"  # heard by push: the poll is a minute away
        assert client.read("cfg").text == TEXT
    finally:
        client.close()


async def test_the_async_client_returns_the_config_too(store: PromptStore, server_url: str) -> None:
    from dynamic_prompt import AsyncPromptClient

    await _loaded(store)
    await store.set_config("cfg", GPT4)
    async with AsyncPromptClient(server_url, announce=False) as client:
        read = await client.read("cfg")
        assert dict(read.config) == GPT4 and read.text == TEXT


def test_a_config_instruction_sets_and_unsets_and_anything_else_is_not_one() -> None:
    assert pc.instruction("config model=gpt-5 temperature=0.2", {"seed": 1}) == {
        "seed": 1, "model": "gpt-5", "temperature": 0.2}
    assert pc.instruction("set config: unset seed -stream \"greeting=Hello there\"",
                          {"seed": 1, "stream": True}) == {"greeting": "Hello there"}
    assert pc.instruction('config {"model": "x"}', {"seed": 1}) == {"model": "x"}
    assert pc.instruction("add rule: keep config files small", {}) is None
    assert pc.instruction("configure tone", {}) is None
    # Edits of a field the text itself calls "Config" stay instructions for the text.
    assert pc.instruction("set config to terse", {}) is None
    assert pc.instruction("Config: terse", {}) is None
    for bad, says in (("config", "Say what to set"), ("config unset", "which key"),
                      ("config model=x top", "KEY=VALUE"), ("config \"open=", "does not read"),
                      ("config unset nope", "no key 'nope'")):
        with pytest.raises(pc.PromptConfigError, match=says):
            pc.instruction(bad, {})


async def test_a_duplicate_takes_the_config_along_and_its_original_keeps_it(store: PromptStore) -> None:
    await _loaded(store)
    await store.set_config("cfg", GPT4)
    await store.clear("cfg-copy")
    await store.duplicate("cfg", "cfg-copy")
    assert (await store.state("cfg-copy")).config == GPT4
    await store.set_config("cfg-copy", {})
    await store.revert("cfg-copy")  # the copy's original is the duplicated text with its config
    assert (await store.state("cfg-copy")).config == GPT4


async def test_junk_left_where_a_config_goes_never_stops_a_read_a_restore_or_a_duplicate(
        store: PromptStore, redis_sync: redis.Redis) -> None:
    k = keys_for("cfg")
    for junk in JUNK_CONFIGS:
        await _loaded(store)
        await store.modify("cfg", "add rule: never use emojis")        # v2
        redis_sync.hset(k.versions, "c1", junk)
        redis_sync.hset(k.meta, "config", junk)
        assert (await store.state("cfg")).config == {}
        assert (await store.version_config("cfg", 1)) == {}
        done = await store.restore("cfg", 1)                              # v3: v1's text, no config
        assert done.changed and redis_sync.hget(k.meta, "config") is None
        await store.clear("cfg-copy")
        redis_sync.hset(k.meta, "config", junk)
        assert (await store.duplicate("cfg", "cfg-copy")).changed
        assert await store.versions_diff("cfg", 1, 2)


def test_a_read_of_the_client_pickles_and_serialises(server_url: str, redis_sync: redis.Redis) -> None:
    import dataclasses
    import pickle

    redis_sync.set("prompt:{cfgp}:active", "Hi.\n")
    redis_sync.hset("prompt:{cfgp}:meta", mapping={"version": "1", "config": '{"tools": ["a"]}'})
    with PromptClient(server_url, announce=False) as client:
        read = client.read("cfgp")
        assert read.config == {"tools": ["a"]}
        assert pickle.loads(pickle.dumps(read)) == read
        assert json.dumps(dataclasses.asdict(read)["config"]) == '{"tools": ["a"]}'
        with pytest.raises(TypeError):
            read.config["tools"].append("b")
        assert client.read("cfgp").config == {"tools": ["a"]}


async def test_a_leftover_config_never_becomes_a_new_versions(store: PromptStore, redis_sync: redis.Redis) -> None:
    await _loaded(store)
    k = keys_for("cfg")
    redis_sync.hset(k.versions, mapping={"c2": '{"stale": true}', "c3": '{"stale": true}'})
    await store.modify("cfg", "add rule: never use emojis")                 # v2
    assert redis_sync.hget(k.versions, "c2") is None and await store.version_config("cfg", 2) == {}
    await store.set_label("cfg", "staging", "production")
    edited = await store.modify("cfg", "change tone to dry", label="staging")  # v3
    assert edited.version == 3 and redis_sync.hget(k.versions, "c3") is None
    # The active text deleted by another program, meta left behind: a load starts without config.
    await store.set_config("cfg", GPT4)
    redis_sync.delete(k.active)
    await store.load("cfg", TEXT, kind="text", force=True)
    assert (await store.state("cfg")).config == {}


async def test_reverting_a_config_change_takes_the_config_back_and_a_later_setting_is_a_conflict(
        store: PromptStore, redis_sync: redis.Redis) -> None:
    await _loaded(store)
    await store.set_config("cfg", GPT4)                                  # v2
    await store.modify("cfg", "add rule: never use emojis")              # v3 keeps it
    done = await store.revert_change("cfg", 2)                           # v4: the config goes, the rule stays
    state = await store.state("cfg")
    assert done.changed and state.config == {} and "never use emojis" in (state.active or "")
    again = await store.revert_change("cfg", 2)
    assert not again.changed
    await store.set_config("cfg", {"model": "a"})                        # v5
    await store.set_config("cfg", {"model": "b", "seed": 1})             # v6
    with pytest.raises(pc.PromptConfigError, match="'model', which a later change set again"):
        await store.revert_change("cfg", 5)
    assert (await store.state("cfg")).version == 6
    kept = await store.revert_change("cfg", 6, dry_run=True)
    assert kept.message == "dry run: nothing written"
    assert (await store.revert_change("cfg", 6)).changed
    assert (await store.state("cfg")).config == {"model": "a"}
