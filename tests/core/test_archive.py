"""The archive on real servers: the archiver copies Redis into SQLite, recovery puts it back.

Every test reads what Redis holds with a plain client and compares it with what the
archive kept (or, for recovery, what the archive put back), row for row and byte for byte.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import stat
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis

from dynamic_prompt.archive.db import Archive, ArchiveError, fts_query, parse_since
from dynamic_prompt.archive.follower import Archiver, server_id
from dynamic_prompt.archive.records import ArchivedVersion, sha
from dynamic_prompt.archive.recovery import recover
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.keys import PromptKeys
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from tests.support.waiting import eventually_async

TEXT = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n"
OTHER = "# Helper\n\nTone: Dry\n\n## Rules\n1. Be short.\n"
ALPHA = "# Alpha\n\nThe assistant speaks Portuguese politely and warmly.\n\n## Rules\n1. Be kind.\n"
BETA = "# Beta\n\nThe assistant replies tersely in English.\n\n## Rules\n1. Be kind.\n"


def _keys(store: PromptStore, name: str) -> PromptKeys:
    assert store.target is not None
    return store.target.kind.layout.keys_for(name)


async def _held_versions(store: PromptStore, name: str) -> dict[int, str]:
    """Every kept version's text, as Redis holds it now."""
    numbers = await store.versions(name)
    texts = await store.version_texts(name, numbers)
    assert all(t is not None for t in texts)
    return {n: t for n, t in zip(numbers, texts) if t is not None}


def _dump_all(server_url: str) -> dict[bytes, bytes | None]:
    """Every key of the database, serialized (DUMP): a byte-for-byte picture of it."""
    raw = redis.Redis.from_url(server_url)
    try:
        return {key: raw.dump(key) for key in raw.scan_iter(count=1000)}
    finally:
        raw.close()


async def _loaded_with_history(store: PromptStore, name: str, text: str = TEXT) -> None:
    await store.load(name, text, kind="text")
    await store.modify(name, "add rule: be brief")
    await store.modify(name, "add rule: cite sources")


# -- 1. no duplicates ------------------------------------------------------------------------------


async def test_two_archivers_on_one_file_and_a_second_pass_never_duplicate_a_row(
        store: PromptStore, tmp_path: Path) -> None:
    await _loaded_with_history(store, "p")
    server = server_id(store)
    single = Archive(tmp_path / "single.sqlite3")
    once = await Archiver(store, single).sync("p")
    assert (once.versions, once.changes) == (3, 3)  # v1..v3, and load + two modifies
    one_archiver = single.counts(server)

    path = tmp_path / "shared.sqlite3"
    first, second = Archive(path), Archive(path)
    a, b = Archiver(store, first), Archiver(store, second)
    both = await asyncio.gather(a.sync("p"), b.sync("p"))
    # Together they added each row once, whichever got there first.
    assert sum(s.versions for s in both) == one_archiver[0]
    assert sum(s.changes for s in both) == one_archiver[1]
    again_a, again_b = await a.sync("p"), await b.sync("p")
    assert (again_a.versions, again_a.changes) == (0, 0)
    assert (again_b.versions, again_b.changes) == (0, 0)
    assert first.counts(server) == second.counts(server) == one_archiver

    repeat = await Archiver(store, single).sync("p")
    assert (repeat.versions, repeat.changes) == (0, 0)
    assert single.counts(server) == one_archiver


# -- 2. catch-up ------------------------------------------------------------------------------------


async def test_catch_up_archives_every_kept_version_and_entry_made_before_the_archiver_ran(
        store: PromptStore, redis_sync: redis.Redis, tmp_path: Path) -> None:
    await _loaded_with_history(store, "a")
    await store.load("b", OTHER, kind="text")
    await store.modify("b", "change tone to warm", user="ana")
    await store.load("default", TEXT, kind="text")  # the gem's keys
    held = {name: await _held_versions(store, name) for name in ("a", "b", "default")}
    logs = {name: redis_sync.lrange(_keys(store, name).changelog, 0, -1) for name in held}

    archive = Archive(tmp_path / "archive.sqlite3")
    done = await Archiver(store, archive).catch_up()
    server = server_id(store)

    assert done.failed == ()
    assert done.versions == sum(len(v) for v in held.values()) == 6
    assert done.changes == sum(len(v) for v in logs.values()) == 6
    assert archive.names(server) == ["a", "b", "default"]
    for name, versions in held.items():
        assert archive.known_versions(server, name) == {n: {sha(t)} for n, t in versions.items()}
        for number, text in versions.items():
            kept = archive.version(server, name, number)
            assert kept is not None and kept.text == text
        assert archive.changes(server, name) == logs[name]
        prompt = archive.prompt(server, name)
        assert prompt is not None
        assert prompt.original == redis_sync.get(_keys(store, name).backup)
        assert prompt.last_version == int(redis_sync.hget(_keys(store, name).meta, "version"))  # type: ignore[arg-type]
        assert prompt.gone_at is None
    assert archive.counts(server) == (6, 6)


# -- 3. the bound -------------------------------------------------------------------------------------


async def test_only_what_redis_still_holds_when_the_archiver_starts_is_archived(
        redis_sync: redis.Redis, settings: Settings, target: ServerTarget, tmp_path: Path) -> None:
    small = PromptStore.connect(target, replace(settings, changelog_cap=5, version_retention=3))
    try:
        await small.load("p", TEXT, kind="text")
        for i in range(7):
            await small.modify("p", f"add rule: rule number {i}")
        k = _keys(small, "p")
        held_log = redis_sync.lrange(k.changelog, 0, -1)
        # Eight changes were made; the server keeps five entries and three versions.
        assert len(held_log) == 5
        assert await small.versions("p") == [8, 7, 6]

        archive = Archive(tmp_path / "archive.sqlite3")
        archiver = Archiver(small, archive)
        server = archiver.server
        done = await archiver.catch_up()
        assert (done.versions, done.changes) == (3, 5)
        assert archive.counts(server) == (3, 5)
        assert archive.changes(server, "p") == held_log
        assert sorted(json.loads(e)["version"] for e in archive.changes(server, "p")) == [4, 5, 6, 7, 8]
        assert sorted(archive.known_versions(server, "p")) == [6, 7, 8]
        for lost in range(1, 6):
            assert archive.version(server, "p", lost) is None

        # While it runs, each change is archived although Redis still keeps only five.
        for i in range(2):
            await small.modify("p", f"add rule: later rule {i}")
            step = await archiver.sync("p")
            assert (step.versions, step.changes) == (1, 1)
        assert redis_sync.llen(k.changelog) == 5
        assert archive.counts(server) == (5, 7)
    finally:
        await small.aclose()


# -- 4. equal entries ------------------------------------------------------------------------------------


async def test_two_identical_gem_entries_are_two_rows_and_stay_two(
        store: PromptStore, redis_sync: redis.Redis, tmp_path: Path) -> None:
    k = _keys(store, "default")
    load = json.dumps({"timestamp": 1730000000, "action": "load", "metadata": {"source": "a.md"}})
    same = json.dumps({"timestamp": 1730000001, "action": "modify", "instruction": "add rule: be brief",
                       "user_id": "gem"})
    redis_sync.set(k.active, TEXT)
    redis_sync.set(k.backup, TEXT)
    redis_sync.lpush(k.changelog, load)
    redis_sync.lpush(k.changelog, same, same)  # another program, twice in one second

    archive = Archive(tmp_path / "archive.sqlite3")
    archiver = Archiver(store, archive)
    server = archiver.server
    await archiver.sync("default")
    assert archive.changes(server, "default").count(same) == 2
    assert archive.changes(server, "default") == redis_sync.lrange(k.changelog, 0, -1)

    again = await archiver.sync("default")
    assert again.changes == 0
    assert archive.changes(server, "default").count(same) == 2

    redis_sync.lpush(k.changelog, same)  # a third one, later
    third = await archiver.sync("default")
    assert third.changes == 1
    assert archive.changes(server, "default").count(same) == 3


# -- 5. a second lineage --------------------------------------------------------------------------------------


async def test_a_prompt_made_again_after_a_flush_keeps_both_texts_under_version_1(
        store: PromptStore, redis_sync: redis.Redis, tmp_path: Path) -> None:
    await store.load("p", TEXT, kind="text")
    archive = Archive(tmp_path / "archive.sqlite3")
    archiver = Archiver(store, archive)
    server = archiver.server
    await archiver.sync("p")

    redis_sync.flushdb()
    await store.load("p", OTHER, kind="text")
    done = await archiver.sync("p")

    assert done.versions == 1
    assert archive.known_versions(server, "p") == {1: {sha(TEXT), sha(OTHER)}}
    latest = archive.latest(server, "p")
    assert latest is not None and (latest.number, latest.text) == (1, OTHER)
    v1 = archive.version(server, "p", 1)
    assert v1 is not None and v1.text == OTHER


async def test_a_shorter_second_lineage_is_what_latest_and_recovery_give_back(
        store: PromptStore, redis_sync: redis.Redis, tmp_path: Path) -> None:
    await _loaded_with_history(store, "p")  # v1..v3 of the first lineage
    archive = Archive(tmp_path / "archive.sqlite3")
    archiver = Archiver(store, archive)
    server = archiver.server
    await archiver.sync("p")

    redis_sync.flushdb()
    await store.load("p", OTHER, kind="text")  # made again: v1, another text
    await archiver.sync("p")
    assert archive.known_versions(server, "p")[1] == {sha(TEXT), sha(OTHER)}
    latest = archive.latest(server, "p")
    assert latest is not None and (latest.number, latest.text) == (1, OTHER)

    redis_sync.flushdb()  # lost again: what Redis held last comes back
    [outcome] = await recover(store, archive)
    assert (outcome.name, outcome.status, outcome.version) == ("p", "recovered", 1)
    k = _keys(store, "p")
    assert redis_sync.get(k.active) == OTHER
    assert redis_sync.hget(k.meta, "version") == "1"


# -- 6. recovery -----------------------------------------------------------------------------------------


async def test_recover_puts_back_text_number_original_labels_changelog_and_config(
        store: PromptStore, redis_sync: redis.Redis, tmp_path: Path) -> None:
    config = {"model": "m1", "temperature": 0.2}
    await store.load("p", TEXT, kind="text")                      # v1
    await store.set_label("p", "staging", "production")           # staging -> v1
    await store.modify("p", "add rule: be brief", user="ana")     # v2
    await store.set_config("p", config)                           # v3, same text
    await store.load("q", OTHER, kind="text")
    names = ("p", "q")
    before: dict[str, tuple[Any, ...]] = {}
    for name in names:
        k = _keys(store, name)
        before[name] = (redis_sync.get(k.active), redis_sync.get(k.backup), redis_sync.hget(k.meta, "version"),
                        redis_sync.lrange(k.changelog, 0, -1), redis_sync.get(k.labels))
    assert before["p"][2] == "3" and json.loads(before["p"][4] or "{}") == {"staging": 1}
    archive = Archive(tmp_path / "archive.sqlite3")
    await Archiver(store, archive).catch_up()

    redis_sync.flushdb()
    dry = await recover(store, archive, dry_run=True)
    assert redis_sync.dbsize() == 0
    assert [(o.name, o.status) for o in dry] == [("p", "would recover"), ("q", "would recover")]
    assert (dry[0].version, dry[0].labels, dry[0].entries) == (3, ("staging",), len(before["p"][3]) + 1)
    assert dry[0].size == len((before["p"][0] or "").encode())

    done = await recover(store, archive)
    assert [(o.name, o.status, o.version) for o in done] == [("p", "recovered", 3), ("q", "recovered", 1)]
    for name in names:
        k = _keys(store, name)
        active, backup, version, log, _ = before[name]
        assert redis_sync.get(k.active) == active
        assert redis_sync.get(k.backup) == backup
        assert redis_sync.hget(k.meta, "version") == version
        now_log = redis_sync.lrange(k.changelog, 0, -1)
        head = json.loads(now_log[0])
        assert (head["action"], head["version"], head["user_id"]) == ("recover", int(version or 0), "tester")
        assert now_log[1:] == log
    assert json.loads(redis_sync.get(_keys(store, "p").labels) or "{}") == {"staging": 1}
    assert await store.label_text("p", "staging") == (1, TEXT)
    assert (await store.state("p")).config == config
    assert await store.version_config("p", 3) == config
    assert await store.versions("p") == [3, 1]  # production's and the labelled one
    # Writes go on from the recovered number.
    assert (await store.modify("p", "add rule: cite sources")).version == 4


async def test_recover_puts_back_production_not_a_newer_version_a_label_made(
        store: PromptStore, redis_sync: redis.Redis, tmp_path: Path) -> None:
    await store.load("p", TEXT, kind="text")                                  # v1, production
    await store.set_label("p", "staging", "production")
    staged = await store.modify("p", "add rule: be brief", label="staging")   # v2, staging only
    assert staged.version == 2
    k = _keys(store, "p")
    assert redis_sync.hget(k.meta, "version") == "1"
    archive = Archive(tmp_path / "archive.sqlite3")
    await Archiver(store, archive).catch_up()

    redis_sync.flushdb()
    [outcome] = await recover(store, archive)
    assert (outcome.status, outcome.version, outcome.labels) == ("recovered", 1, ("staging",))
    assert redis_sync.get(k.active) == TEXT  # what agents read is what they read before the loss
    assert redis_sync.hget(k.meta, "version") == "1"
    assert await store.label_text("p", "staging") == (2, staged.text)


# -- 7. never overwrites ------------------------------------------------------------------------------------


async def test_recover_leaves_a_prompt_redis_holds_byte_for_byte_unchanged(
        store: PromptStore, redis_sync: redis.Redis, server_url: str, tmp_path: Path) -> None:
    await _loaded_with_history(store, "p")
    archive = Archive(tmp_path / "archive.sqlite3")
    await Archiver(store, archive).catch_up()

    redis_sync.flushdb()
    await store.load("p", OTHER, kind="text")
    await store.set_label("p", "staging", "production")
    picture = _dump_all(server_url)
    assert _keys(store, "p").active.encode() in picture

    for dry_run in (True, False):
        [outcome] = await recover(store, archive, dry_run=dry_run)
        assert (outcome.name, outcome.status) == ("p", "exists")
        assert _dump_all(server_url) == picture
    assert redis_sync.get(_keys(store, "p").active) == OTHER


async def test_recover_leaves_the_gems_own_keys_written_after_a_loss_exactly_as_they_are(
        store: PromptStore, redis_sync: redis.Redis, server_url: str, tmp_path: Path) -> None:
    await store.load("default", TEXT, kind="text")
    await store.modify("default", "add rule: be brief")
    archive = Archive(tmp_path / "archive.sqlite3")
    await Archiver(store, archive).catch_up()

    redis_sync.flushdb()
    # An agent on the Ruby gem loads its prompt again: its three keys, nothing else.
    k = _keys(store, "default")
    redis_sync.set(k.active, OTHER)
    redis_sync.set(k.backup, OTHER)
    redis_sync.lpush(k.changelog, json.dumps({"timestamp": int(time.time()), "action": "load"}))
    picture = _dump_all(server_url)

    for dry_run in (True, False):
        [outcome] = await recover(store, archive, dry_run=dry_run)
        assert (outcome.name, outcome.status) == ("default", "exists")
        assert _dump_all(server_url) == picture


async def test_recover_refuses_a_prompt_of_which_only_a_labels_key_is_left(
        store: PromptStore, redis_sync: redis.Redis, server_url: str, tmp_path: Path) -> None:
    await store.load("p", TEXT, kind="text")
    archive = Archive(tmp_path / "archive.sqlite3")
    await Archiver(store, archive).catch_up()

    redis_sync.flushdb()
    redis_sync.set(_keys(store, "p").labels, json.dumps({"staging": 7}))
    picture = _dump_all(server_url)
    [outcome] = await recover(store, archive)
    assert (outcome.name, outcome.status) == ("p", "exists")
    assert _dump_all(server_url) == picture


# -- 8. deleted on purpose ------------------------------------------------------------------------------------


async def test_a_prompt_cleared_while_the_archiver_follows_is_left_out_of_recovery_unless_named(
        store: PromptStore, redis_sync: redis.Redis, tmp_path: Path) -> None:
    await store.load("p", TEXT, kind="text")
    await store.load("q", OTHER, kind="text")
    archive = Archive(tmp_path / "archive.sqlite3")
    archiver = Archiver(store, archive, sweep_every=300.0)
    server = archiver.server
    stop = asyncio.Event()
    task = asyncio.create_task(archiver.run(stop))
    try:
        await eventually_async(lambda: archive.prompt(server, "p") is not None, timeout=10)
        # A change archived without a sweep: the change feed is live.
        changed = await store.modify("p", "add rule: be brief")
        await eventually_async(lambda: changed.version in archive.known_versions(server, "p"), timeout=10)
        assert archive.prompt(server, "p") is not None and _gone_at(archive, server, "p") is None

        assert await store.clear("p")
        gone = await eventually_async(lambda: _gone_at(archive, server, "p"), timeout=10)
        assert gone is not None and gone <= time.time()
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert task.done() and task.exception() is None
    assert archive.prompt(server, "q") is not None and _gone_at(archive, server, "q") is None

    redis_sync.flushdb()
    outcomes = {o.name: o for o in await recover(store, archive)}
    assert {n: o.status for n, o in outcomes.items()} == {"p": "deleted", "q": "recovered"}
    assert "--name p" in outcomes["p"].message
    assert redis_sync.exists(*_keys(store, "p").all()) == 0

    [named] = await recover(store, archive, names=["p"])
    assert (named.status, named.version) == ("recovered", 2)
    assert redis_sync.get(_keys(store, "p").active) == changed.text


def _gone_at(archive: Archive, server: str, name: str) -> float | None:
    prompt = archive.prompt(server, name)
    return prompt.gone_at if prompt is not None else None


# -- 9. search ------------------------------------------------------------------------------------------------


async def test_search_ands_words_takes_prefixes_and_filters_by_name(store: PromptStore, tmp_path: Path) -> None:
    await store.load("alpha", ALPHA, kind="text")
    await store.modify("alpha", "add rule: cite sources")   # v2
    await store.load("beta", BETA, kind="text")
    archive = Archive(tmp_path / "archive.sqlite3")
    await Archiver(store, archive).catch_up()

    def found(query: str, **kw: object) -> set[tuple[str, str, int | None]]:
        return {(h.kind, h.name, h.version) for h in archive.search(query, **kw)}  # type: ignore[arg-type]

    both_alpha = {("version", "alpha", 1), ("version", "alpha", 2)}
    assert found("portuguese politely") == both_alpha
    assert found("portuguese english") == set()  # every word must match
    assert found("portu*") == both_alpha
    assert found("portu") == set()
    assert found("sources") == {("version", "alpha", 2), ("change", "alpha", 2)}
    assert found("assistant") == both_alpha | {("version", "beta", 1)}
    assert found("assistant", name="beta") == {("version", "beta", 1)}
    assert found("portuguese", name="beta") == set()

    for hit in archive.search("portuguese politely"):
        assert "[Portuguese]" in hit.snippet and "[politely]" in hit.snippet and "\n" not in hit.snippet
    [change] = [h for h in archive.search("sources") if h.kind == "change"]
    assert "[sources]" in change.snippet and change.action == "modify" and change.user_id == "tester"


async def test_search_takes_whatever_a_person_types_and_a_query_without_a_word_is_one_line(
        store: PromptStore, tmp_path: Path) -> None:
    await store.load("alpha", ALPHA, kind="text")
    await store.load("beta", BETA, kind="text")
    archive = Archive(tmp_path / "archive.sqlite3")
    await Archiver(store, archive).catch_up()
    alpha = {("version", "alpha", 1)}

    def found(query: str) -> set[tuple[str, str, int | None]]:
        return {(h.kind, h.name, h.version) for h in archive.search(query)}

    # FTS5's syntax is not passed through: punctuation is dropped, operators are words.
    for typed in ('"portuguese', 'portuguese"', "portuguese:", "(portuguese", "portuguese)", "'portuguese'",
                  "^portuguese", "-portuguese", "+portuguese", "{portuguese}", "portu*)",
                  '"portuguese" AND politely', "portuguese AND", "AND: portuguese and"):
        assert found(typed) == alpha, typed
    for typed in ("NEAR(portuguese politely)", "text:portuguese", "portuguese NOT politely", "portuguese OR", "gamma:english"):
        assert found(typed) == set(), typed
    assert found("English OR") == set()  # "or" is a word BETA does not hold
    assert fts_query('a "b" c* d:e') == '"a" "b" "c"* "d" "e"'

    for empty in ("", "   ", "*", '"', '""', "()", ": - ^", "**", "_"):
        with pytest.raises(ArchiveError) as info:
            archive.search(empty)
        assert "\n" not in str(info.value) and "word" in str(info.value)


def test_search_since_keeps_what_was_written_since_then(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive.sqlite3")
    old, now = 1_600_000_000.0, time.time()
    entries = [json.dumps({"timestamp": int(now), "action": "modify", "instruction": "mention zebras again",
                           "user_id": "ana", "version": 3}),
               json.dumps({"timestamp": int(old), "action": "modify", "instruction": "mention zebras",
                           "user_id": "bob", "version": 2})]
    added = archive.add("redis://x", [ArchivedVersion("z", 2, "zebras of old", updated_at=old),
                                      ArchivedVersion("z", 3, "zebras of now", updated_at=now)],
                        entries, name="z")
    assert added == (2, 2)

    def found(**kw: object) -> set[tuple[str, int | None]]:
        return {(h.kind, h.version) for h in archive.search("zebras", **kw)}  # type: ignore[arg-type]

    assert found() == {("version", 2), ("version", 3), ("change", 2), ("change", 3)}
    assert found(since=parse_since("7d")) == {("version", 3), ("change", 3)}
    assert found(since=parse_since("2021-01-01")) == {("version", 3), ("change", 3)}
    assert found(since=parse_since("2020-01-01")) == found()
    assert found(server="redis://elsewhere") == set()
    assert parse_since("90m", now=10_000.0) == 10_000.0 - 5400
    assert parse_since("2w", now=2_000_000.0) == 2_000_000.0 - 14 * 86400
    assert parse_since("2026-11-30") == dt.datetime(2026, 11, 30).astimezone().timestamp()
    with pytest.raises(ArchiveError) as info:
        parse_since("last tuesday")
    assert "\n" not in str(info.value) and "last tuesday" in str(info.value)


# -- 10. stats ------------------------------------------------------------------------------------------------


async def test_stats_count_actions_authors_take_backs_and_days(
        store: PromptStore, redis_sync: redis.Redis, tmp_path: Path) -> None:
    await store.load("st", TEXT, kind="text", user="ana")
    await store.modify("st", "add rule: cite sources", user="ana")
    await store.modify("st", "add rule: be brief", user="bob")
    await store.revert("st", user="cy")
    await store.undo("st", user="cy")
    await store.load("other", OTHER, kind="text", user="dan")
    archive = Archive(tmp_path / "archive.sqlite3")
    archiver = Archiver(store, archive)
    await archiver.catch_up()

    stats = archive.stats(server=archiver.server, name="st")
    assert stats.changes == 5
    assert dict(stats.per_action) == {"load": 1, "modify": 2, "revert": 1, "undo": 1}
    assert stats.per_author == [("ana", 2), ("cy", 2), ("bob", 1)]
    assert stats.reverts == 2
    assert stats.revert_share == pytest.approx(2 / 5)
    assert stats.versions == len(await store.versions("st")) == 5
    assert stats.prompts == 1
    stamps = [json.loads(e)["timestamp"] for e in redis_sync.lrange(_keys(store, "st").changelog, 0, -1)]
    days = Counter(dt.datetime.fromtimestamp(s, dt.timezone.utc).date().isoformat() for s in stamps)
    assert stats.per_day == sorted(days.items())
    assert dt.datetime.now(dt.timezone.utc).date().isoformat() in dict(stats.per_day)

    everything = archive.stats(server=archiver.server)
    assert everything.changes == 6 and everything.prompts == 2
    assert everything.most_edited == [("st", 5), ("other", 1)]
    assert dict(everything.per_author)["dan"] == 1
    assert everything.revert_share == pytest.approx(2 / 6)
    assert archive.stats(server="redis://elsewhere").changes == 0


# -- 11. the file ------------------------------------------------------------------------------------------------


def test_a_file_that_is_not_sqlite_is_refused_in_one_line_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    junk = random.Random(7).randbytes(8192)
    path.write_bytes(junk)
    with pytest.raises(ArchiveError) as info:
        Archive(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert path.read_bytes() == junk
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.sqlite3"]


def test_a_directory_is_refused_as_an_archive(tmp_path: Path) -> None:
    folder = tmp_path / "archive.sqlite3"
    folder.mkdir()
    with pytest.raises(ArchiveError) as info:
        Archive(folder)
    assert "\n" not in str(info.value) and "not a file" in str(info.value)
    assert list(folder.iterdir()) == []


def test_the_archive_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "deeper" / "archive.sqlite3"
    archive = Archive(path)
    archive.add("redis://x", [ArchivedVersion("p", 1, TEXT)])
    for suffix in ("", "-wal", "-shm"):
        made = Path(f"{path}{suffix}")
        if made.exists():
            assert stat.S_IMODE(made.stat().st_mode) == 0o600, made
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    archive.close()
    os.chmod(path, 0o644)
    with Archive(path) as reopened:  # an existing file is made private again
        assert reopened.counts() == (1, 0)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- 12. hostile entries ------------------------------------------------------------------------------------------


async def test_a_huge_or_unreadable_changelog_entry_is_archived_and_sync_goes_on(
        store: PromptStore, redis_sync: redis.Redis, tmp_path: Path) -> None:
    await store.load("p", TEXT, kind="text")
    k = _keys(store, "p")
    huge = json.dumps({"timestamp": 1730000000, "action": "modify", "instruction": "x" * 200_000})
    assert len(huge) > 64 * 1024
    redis_sync.lpush(k.changelog, huge, "not json {")
    archive = Archive(tmp_path / "archive.sqlite3")
    archiver = Archiver(store, archive)
    server = archiver.server

    done = await archiver.sync("p")
    assert (done.versions, done.changes, done.failed) == (1, 3, ())
    kept = archive.changes(server, "p")
    assert len(kept) == 3
    assert "not json {" in kept
    [cut] = [e for e in kept if e.startswith('{"timestamp": 1730000000')]
    assert len(cut) == 64 * 1024 and huge.startswith(cut)
    assert dict(archive.stats(server=server, name="p").per_action) == {"load": 1, "unreadable": 2}
    assert [(h.kind, h.action) for h in archive.search("unreadable")] == [("change", "unreadable")] * 2

    again = await archiver.sync("p")
    assert (again.versions, again.changes) == (0, 0)
    await store.modify("p", "add rule: be brief")
    after = await archiver.sync("p")
    assert (after.versions, after.changes) == (1, 1)
    assert archive.counts(server) == (2, 4)
