"""The archive's promise, end to end, with real processes on a server that keeps nothing on disk.

Three writer processes make 50+ changes to three prompts while ``dprompt archive`` runs; the
archiver is killed (SIGKILL) half-way and started again, so some changes are made while no
archiver runs; then the server is shut down without saving and started again, empty.
``dprompt recover`` must bring every prompt back at its last version and number, with its
original, its labels and its changelog, an agent's client must pick it up live, and
``dprompt search`` must find an instruction made while the archiver was down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from dynamic_prompt.archive.db import Archive
from tests.support.servers import TestServer

NAMES = ("alpha", "beta", "gamma")
DOWN_WORDS = "written while the archiver was down"

WRITER = r"""
import asyncio, sys
from dynamic_prompt.core.config import load_settings
from dynamic_prompt.server import resolve
from dynamic_prompt.store import PromptStore

async def main(url, user, phase, count):
    settings = load_settings(url)
    store = PromptStore.connect(resolve(settings), settings, timeout=10.0)
    try:
        for i in range(count):
            name = ("alpha", "beta", "gamma")[i % 3]
            words = "written while the archiver was down" if phase == "down" else f"{phase} step"
            await store.modify(name, f"add rule: {user} {words} {i}", user=user)
    finally:
        await store.aclose()

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
"""


def dprompt(url: str, archive: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "dynamic_prompt.cli", "--redis-url", url, *args],
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, DPROMPT_ARCHIVE=str(archive), DPROMPT_USER="ops"))
    assert done.returncode == 0, done.stderr
    return done.stdout


def writers(url: str, phase: str, count: int) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, user, phase, str(count)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for user in ("ann", "bob", "cy")]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode(errors="replace")


def start_archiver(url: str, archive: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "dynamic_prompt.cli", "--redis-url", url, "archive", "--quiet",
                             "--archive", str(archive)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def changelogs(client: redis.Redis) -> dict[str, list[str]]:
    return {n: [e.decode() for e in client.lrange(f"prompt:{{{n}}}:changelog", 0, -1)] for n in NAMES}


def wait_archived(archive: Path, server: str, want: dict[str, list[str]], timeout: float = 30.0) -> None:
    """Until the archive holds every entry Redis holds (bounded)."""
    deadline = time.monotonic() + timeout
    missing: dict[str, int] = {}
    while time.monotonic() < deadline:
        with Archive(archive) as db:
            missing = {n: len(set(entries) - set(db.changes(server, n))) for n, entries in want.items()}
        if not any(missing.values()):
            return
        time.sleep(0.1)
    raise AssertionError(f"the archive misses entries: {missing}")


@pytest.fixture
def volatile() -> Iterator[TestServer]:
    server = TestServer().start()  # no persistence: a restart forgets everything
    yield server
    server.cleanup()


def test_recover_after_a_restart_without_persistence_brings_back_every_prompt_with_its_history(
        volatile: TestServer, tmp_path: Path) -> None:
    url, archive = volatile.url, tmp_path / "archive.sqlite3"
    client = redis.Redis.from_url(url)
    server_id = url  # what the archive calls it: the URL without a password
    for name in NAMES:
        dprompt(url, archive, "load", "--name", name, "--text", f"# {name}\nTone: Calm\n")
    dprompt(url, archive, "label", "set", "alpha", "staging", "production")

    first = start_archiver(url, archive)
    try:
        writers(url, "before", 6)  # 18 changes
        wait_archived(archive, server_id, changelogs(client))
    finally:
        first.send_signal(signal.SIGKILL)  # killed, not stopped: nothing said goodbye
        first.wait(timeout=10)

    writers(url, "down", 4)  # 12 changes nobody archives as they happen
    with Archive(archive) as db:
        assert db.search("archiver down", server=server_id) == []  # the test can fail: not there yet

    second = start_archiver(url, archive)
    try:
        writers(url, "after", 7)  # 21 changes: 54 with the loads and the label
        want = changelogs(client)
        assert sum(len(v) for v in want.values()) >= 50
        wait_archived(archive, server_id, want)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=10)
    assert second.returncode == 0

    expected = {n: (client.get(f"prompt:{{{n}}}:active"), client.hget(f"prompt:{{{n}}}:meta", "version"),
                    client.get(f"prompt:{{{n}}}:backup")) for n in NAMES}
    staging = client.get("prompt:{alpha}:labels")

    client.shutdown(nosave=True)
    client.close()
    volatile.proc.wait(timeout=10)  # type: ignore[union-attr]
    volatile.start()
    client = redis.Redis.from_url(url)
    assert client.dbsize() == 0  # Redis lost everything

    from dynamic_prompt import PromptClient

    agent = PromptClient(url, agent_id="agent-after-restart")
    try:
        assert agent.get_active("alpha") is None
        dry = json.loads(dprompt(url, archive, "recover", "--dry-run", "--json"))
        assert {d["name"]: d["status"] for d in dry} == {n: "would recover" for n in NAMES}
        assert client.keys("prompt:*") == []  # a dry run writes nothing (the agent announces itself in dprompt:*)

        out = json.loads(dprompt(url, archive, "recover", "--json"))
        assert {d["name"]: (d["status"], d["version"]) for d in out} == {
            n: ("recovered", int(expected[n][1])) for n in NAMES}
        for name in NAMES:
            text, version, original = expected[name]
            assert client.get(f"prompt:{{{name}}}:active") == text
            assert client.hget(f"prompt:{{{name}}}:meta", "version") == version
            assert client.get(f"prompt:{{{name}}}:backup") == original
            log = [e.decode() for e in client.lrange(f"prompt:{{{name}}}:changelog", 0, -1)]
            assert json.loads(log[0])["action"] == "recover"
            assert log[1:] == want[name]  # the whole history, newest first, as it was
        assert json.loads(client.get("prompt:{alpha}:labels") or b"{}") == json.loads(staging or b"{}")
        # The agent, started while Redis was empty, serves the recovered text without a restart.
        deadline = time.monotonic() + 5
        while agent.get_active("alpha") != expected["alpha"][0].decode() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert agent.get_active("alpha") == expected["alpha"][0].decode()
    finally:
        agent.close()

    found = dprompt(url, archive, "search", "archiver was down", "--json")
    hits = json.loads(found)
    assert any(h["kind"] == "change" and DOWN_WORDS in h["snippet"].replace("[", "").replace("]", "")
               for h in hits)
    assert {h["user_id"] for h in hits if h["kind"] == "change"} == {"ann", "bob", "cy"}
    # Recovering again changes nothing: every prompt is there.
    again = json.loads(dprompt(url, archive, "recover", "--json"))
    assert {d["status"] for d in again} == {"exists"}
    client.close()
