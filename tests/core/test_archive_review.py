"""A review of the archive: cases the first tests did not reach, each on real servers.

Other programs' changelog entries with timestamps no date has (NaN, 1e20), a user whose
ACL refuses some of recovery's commands, the archive file deleted under a running
archiver, a deletion heard together with a read of everything, and `--from-server`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from dynamic_prompt.archive.db import Archive, ArchiveError, parse_since
from dynamic_prompt.archive.follower import Archiver
from dynamic_prompt.archive.records import ArchivedPrompt, ArchivedVersion, sha
from dynamic_prompt.archive.recovery import recover
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.keys import PromptKeys
from dynamic_prompt.core.models import EventKind, PromptEvent
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from tests.reliability.clirun import ok, run_cli
from tests.support.redis7 import private_server, server_kinds
from tests.support.servers import TestServer
from tests.support.waiting import eventually_async

TEXT = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n"
OTHER = "# Helper\n\nTone: Dry \U0001f600\n\n## Rules\n1. Be short, café.\n"


def _keys(store: PromptStore, name: str) -> PromptKeys:
    assert store.target is not None
    return store.target.kind.layout.keys_for(name)


# -- timestamps no date has ---------------------------------------------------------------------


async def test_an_entry_stamped_nan_is_archived_and_so_is_the_version_it_names(
        store: PromptStore, redis_sync: redis.Redis, tmp_path: Path) -> None:
    await store.load("p", TEXT, kind="text")
    k = _keys(store, "p")
    # Python's json.dumps writes NaN and Infinity as they are: another program's entries may hold them.
    redis_sync.hset(k.versions, "2", OTHER)
    redis_sync.lpush(k.changelog, json.dumps({"timestamp": float("nan"), "action": "modify",
                                              "instruction": "made by a script", "version": 2}))
    redis_sync.lpush(k.changelog, json.dumps({"timestamp": float("inf"), "action": "note"}))
    archive = Archive(tmp_path / "archive.sqlite3")
    archiver = Archiver(store, archive)

    done = await archiver.sync("p")
    assert done.failed == ()
    assert archive.changes(archiver.server, "p") == redis_sync.lrange(k.changelog, 0, -1)
    kept = archive.version(archiver.server, "p", 2)
    assert kept is not None and kept.text == OTHER
    assert [h.version for h in archive.search("script")] == [2]


async def test_stats_and_search_take_timestamps_past_the_year_9999(
        store: PromptStore, redis_sync: redis.Redis, server_url: str, tmp_path: Path) -> None:
    await store.load("p", TEXT, kind="text")
    k = _keys(store, "p")
    redis_sync.lpush(k.changelog, json.dumps({"timestamp": 1e20, "action": "modify", "instruction": "zebra one"}),
                     json.dumps({"timestamp": 1_730_000_000_000, "action": "modify",  # milliseconds
                                 "instruction": "zebra two"}))
    path = tmp_path / "archive.sqlite3"
    with Archive(path) as archive:
        await Archiver(store, archive).catch_up()

    stats = ok(run_cli("stats", "--archive", str(path), url=server_url))
    assert stats.stdout.startswith("3 changes to 1 prompts")
    data = json.loads(ok(run_cli("stats", "--archive", str(path), "--json", url=server_url)).stdout)
    assert sum(data["per_day"].values()) == 1  # the load; the other two have no date
    found = ok(run_cli("search", "zebra", "--archive", str(path), url=server_url))
    assert sorted(line.split(": ", 1)[1] for line in found.stdout.splitlines()) == ["[zebra] one", "[zebra] two"]


async def test_stats_shows_another_programs_action_inert(
        store: PromptStore, redis_sync: redis.Redis, server_url: str, tmp_path: Path) -> None:
    await store.load("p", TEXT, kind="text")
    # An OSC 52 sequence: shown raw, it would write the terminal's clipboard.
    redis_sync.lpush(_keys(store, "p").changelog,
                     json.dumps({"timestamp": 1730000000, "action": "\x1b]52;c;cm0gLXJmIH4=\x07x"}))
    path = tmp_path / "archive.sqlite3"
    with Archive(path) as archive:
        await Archiver(store, archive).catch_up()

    shown = ok(run_cli("stats", "--archive", str(path), url=server_url)).stdout
    assert "\x1b" not in shown and "\x07" not in shown
    assert "␛]52;c;cm0gLXJmIH4=␇x 1" in shown


def test_since_at_the_ends_of_the_calendar_is_one_line() -> None:
    saved = os.environ.get("TZ")
    try:
        for zone in ("UTC", "America/Los_Angeles", "Asia/Tokyo"):
            os.environ["TZ"] = zone
            time.tzset()
            for value in ("0001-01-01", "9999-12-31T23:59:59"):
                if zone == "UTC" and value.startswith("9999"):
                    assert parse_since(value) == 253402300799.0  # in range here
                    continue
                with pytest.raises(ArchiveError) as info:
                    parse_since(value)
                assert value in str(info.value) and "\n" not in str(info.value)
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


# -- recovery by a user whose ACL refuses a command ------------------------------------------------


@pytest.fixture(params=server_kinds())
def own_server(request: pytest.FixtureRequest) -> Iterator[TestServer]:
    """A private server of each kind (ACL users are per server: the shared ones stay as they are)."""
    server = private_server(request.param)
    yield server
    server.cleanup()


async def test_recover_by_a_user_refused_rpush_writes_nothing(
        own_server: TestServer, tmp_path: Path) -> None:
    root = redis.Redis.from_url(own_server.url)
    settings = Settings(user="tester")
    store = PromptStore.connect(ServerTarget(own_server.url, "test"), settings)
    archive = Archive(tmp_path / "archive.sqlite3")
    try:
        await store.load("q", TEXT, kind="text")
        await store.set_label("q", "staging", "production")
        await store.load("q", OTHER, kind="text", force=True)  # v2, staging stays on v1
        k = _keys(store, "q")
        before = (root.get(k.active), root.get(k.backup), root.lrange(k.changelog, 0, -1),
                  json.loads(root.get(k.labels) or b"{}"))
        archiver = Archiver(store, archive)
        await archiver.catch_up()
        root.flushdb()

        # Recovery appends the changelog with RPUSH: a user refused only that must be refused first.
        root.execute_command("ACL", "SETUSER", "no-rpush", "on", ">pw", "~*", "&*", "+@all", "-rpush")
        limited = PromptStore.connect(ServerTarget(own_server.url.replace("://", "://no-rpush:pw@"), "test"),
                                      settings)
        try:
            [outcome] = await recover(limited, archive, server=archiver.server)
        finally:
            await limited.aclose()
        assert outcome.status == "failed" and "rpush" in outcome.message.lower()
        assert root.dbsize() == 0, root.keys("*")  # refused before the first write

        [outcome] = await recover(store, archive)  # a user who may: all of it comes back
        assert (outcome.status, outcome.labels) == ("recovered", ("staging",))
        assert (root.get(k.active), root.get(k.backup), root.lrange(k.changelog, 0, -1)[1:],
                json.loads(root.get(k.labels) or b"{}")) == before
    finally:
        archive.close()
        await store.aclose()
        root.close()


# -- the archive file deleted while an archiver runs ----------------------------------------------------


def _held(path: Path, server: str) -> dict[str, dict[int, set[str]]]:
    """What another process finds at ``path`` now (``{}`` while no file is there)."""
    if not path.exists():
        return {}
    with Archive(path) as fresh:
        return {name: fresh.known_versions(server, name) for name in fresh.names(server)}


async def test_an_archive_deleted_while_the_archiver_runs_is_made_again_with_all_redis_holds(
        store: PromptStore, tmp_path: Path) -> None:
    await store.load("p", TEXT, kind="text")
    await store.load("q", OTHER, kind="text")
    path = tmp_path / "archive.sqlite3"
    archive = Archive(path)
    archiver = Archiver(store, archive, sweep_every=300.0)
    passes: list[str | None] = []
    archiver.on_synced = lambda name, done: passes.append(name)
    stop = asyncio.Event()
    task = asyncio.create_task(archiver.run(stop))
    try:
        await eventually_async(lambda: None in passes, timeout=10)
        assert set(_held(path, archiver.server)) == {"p", "q"}

        path.unlink()  # a cleanup, or someone's rm: SQLite would go on writing into the deleted file
        changed = await store.modify("p", "add rule: be brief")
        want = {"p": {1: {sha(TEXT)}, 2: {sha(changed.text)}}, "q": {1: {sha(OTHER)}}}
        await eventually_async(lambda: _held(path, archiver.server) == want, timeout=10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        archive.close()
    assert task.exception() is None


# -- a deletion heard together with a read of everything -------------------------------------------------


class _DeafToP(Archiver):
    """An archiver that hears of ``p`` only what the test tells it (through :meth:`Archiver.heard`)."""

    def heard(self, event: PromptEvent) -> None:
        if event.name != "p":
            super().heard(event)


async def test_a_deletion_heard_with_a_resync_still_marks_the_prompt_gone(
        store: PromptStore, redis_sync: redis.Redis, tmp_path: Path) -> None:
    await store.load("p", TEXT, kind="text")
    await store.load("q", OTHER, kind="text")
    archive = Archive(tmp_path / "archive.sqlite3")
    archiver = _DeafToP(store, archive, sweep_every=300.0)
    passes: list[str | None] = []
    archiver.on_synced = lambda name, done: passes.append(name)
    stop = asyncio.Event()
    task = asyncio.create_task(archiver.run(stop))
    try:
        await eventually_async(lambda: None in passes, timeout=10)
        assert await store.clear("p")
        # The feed heard the deletion, then reconnected (or a sweep came due) before the loop woke.
        Archiver.heard(archiver, PromptEvent("p", EventKind.DELETED))
        Archiver.heard(archiver, PromptEvent(None, EventKind.RESYNC))
        await eventually_async(lambda: _gone_at(archive, archiver.server, "p"), timeout=10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    redis_sync.flushdb()
    outcomes = {o.name: o.status for o in await recover(store, archive)}
    assert outcomes == {"p": "deleted", "q": "recovered"}


def _gone_at(archive: Archive, server: str, name: str) -> float | None:
    prompt = archive.prompt(server, name)
    return prompt.gone_at if prompt is not None else None


# -- --from-server --------------------------------------------------------------------------------------


def test_recover_from_a_server_named_with_its_password_and_a_miss_names_the_servers_held(
        redis_sync: redis.Redis, server_url: str, tmp_path: Path) -> None:
    old = "redis://ops:***@old-host:6379/0"  # what the archive calls redis://ops:s3cret@old-host:6379/0
    path = tmp_path / "archive.sqlite3"
    with Archive(path) as archive:
        archive.add(old, [ArchivedVersion("moved", 4, TEXT)],
                    prompt=ArchivedPrompt("moved", TEXT, {}, "", 4, 1730000000.0))

    missed = ok(run_cli("recover", "--archive", str(path), url=server_url))
    assert old in missed.stdout and "s3cret" not in missed.stdout
    assert redis_sync.dbsize() == 0
    done = ok(run_cli("recover", "--archive", str(path), "--from-server", "redis://ops:s3cret@old-host:6379/0",
                      url=server_url))
    assert "moved" in done.stdout and "recovered at v4" in done.stdout
    assert redis_sync.get("prompt:{moved}:active") == TEXT
    assert ServerTarget("redis://ops:s3cret@old-host:6379/0", "test").display == old


async def test_recovery_brings_back_the_originals_own_config(
        store: PromptStore, redis_sync: redis.Redis, tmp_path: Path) -> None:
    await store.load("p", "Hello\n", kind="text")
    await store.set_config("p", {"model": "gpt-5", "temperature": 0.2})
    await store.duplicate("p", "q")  # q's original is p's text with p's config
    await store.modify("q", "add rule: be brief")
    await store.set_config("q", {"model": "small"})
    before = redis_sync.hget("prompt:{q}:meta", "backup_config")
    assert before is not None and "gpt-5" in before
    archive = Archive(tmp_path / "a.sqlite3")
    await Archiver(store, archive).catch_up()
    redis_sync.flushdb()
    outcomes = await recover(store, archive)
    assert {o.name: o.status for o in outcomes} == {"p": "recovered", "q": "recovered"}
    assert redis_sync.hget("prompt:{q}:meta", "backup_config") == before
    await store.revert("q")  # back to the original: its text and its config
    state = await store.state("q")
    assert state.active == "Hello\n" and dict(state.config) == {"model": "gpt-5", "temperature": 0.2}
    archive.close()
