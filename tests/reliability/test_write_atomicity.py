"""Writes are all or nothing: no error after a write that happened, and "revert" wins
against a stream of modifies.

Each case runs the real CLI (in-process, through its console entry point) or real
writer processes against a private server, and checks what is in Redis afterwards.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
import redis

from dynamic_prompt.core.config import Settings
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from tests.reliability.clirun import error_line, ok, run_cli
from tests.reliability.conftest import ServerFactory, admin

BASE = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n2. Say colour.\n"


def _limited_user(make_server: ServerFactory) -> tuple[str, redis.Redis]:
    """A server with a user who may touch prompt keys only (as a team's ACL might say)."""
    server = make_server()
    root = admin(server)
    root.execute_command("ACL", "SETUSER", "tuner", "on", ">tuner-pw", "~prompt:*", "&*", "+@all")
    return f"redis://tuner:tuner-pw@127.0.0.1:{server.port}/0", root


def _versions(root: redis.Redis, name: str) -> int:
    key = "prompt:meta" if name == "default" else f"prompt:{{{name}}}:meta"
    return int(root.hget(key, "version") or 0)


def test_an_index_the_user_may_not_write_is_a_warning_after_a_write_that_happened(
    make_server: ServerFactory,
) -> None:
    url, root = _limited_user(make_server)
    loaded = ok(run_cli("load", "--text", BASE, url=url))
    assert "dprompt:index" in loaded.stderr and "warning" in loaded.stderr.lower()
    assert _versions(root, "default") == 1
    changed = ok(run_cli("modify", 'replace "colour" with "color"', url=url))
    assert "dprompt:index" in changed.stderr  # each process that could not index says so
    assert _versions(root, "default") == 2
    assert root.get("prompt:active") == BASE.replace("colour", "color").encode()
    entries = root.lrange("prompt:changelog", 0, -1)
    assert len(entries) == 2  # one load, one modify: nothing applied twice


def test_an_index_of_the_wrong_type_is_a_warning_and_named(make_server: ServerFactory) -> None:
    server = make_server()
    root = admin(server)
    root.set("dprompt:index", "another program's string")
    run = ok(run_cli("load", "--name", "support", "--text", BASE, url=server.url))
    assert "dprompt:index" in run.stderr
    assert _versions(root, "support") == 1
    line = error_line(run_cli("list", url=server.url))
    assert "dprompt:index" in line and "string" in line


def test_a_fleet_key_of_the_wrong_type_is_named(make_server: ServerFactory) -> None:
    server = make_server()
    root = admin(server)
    ok(run_cli("load", "--text", BASE, url=server.url))
    root.set("dprompt:agents:default", "junk")
    line = error_line(run_cli("fleet", url=server.url))
    assert "dprompt:agents:default" in line


def test_a_lease_without_expiry_does_not_block_a_prompt(make_server: ServerFactory) -> None:
    server = make_server()
    root = admin(server)
    ok(run_cli("load", "--name", "p", "--text", BASE, url=server.url))
    root.set("prompt:{p}:lock", "left by someone, forever")  # no PX: never expires
    ok(run_cli("modify", "--name", "p", "change tone to warm", url=server.url))
    assert b"Tone: Warm" in root.get("prompt:{p}:active")


# -- revert and restore against a stream of modifies -----------------------------------------


def _modifier(args: tuple[str, float]) -> int:
    """A writer process: modify the prompt as fast as it can until ``until``."""
    url, until = args

    async def run() -> int:
        store = PromptStore.connect(ServerTarget(url, "test"), Settings(user="bot", version_retention=100_000))
        done = 0
        try:
            while time.time() < until:
                for old, new in (("Calm", "Busy"), ("Busy", "Calm")):
                    try:
                        await store.modify("default", f'replace "Tone: {old}" with "Tone: {new}"')
                        done += 1
                    except Exception:  # noqa: BLE001 - the other writers won: try the other way round
                        pass
        finally:
            await store.aclose()
        return done

    return asyncio.run(run())


def _reverter(args: tuple[str, float]) -> tuple[list[tuple[int, str]], list[str]]:
    """Wait until ``start``, then 15 reverts and restores as a person would press them:
    the versions they wrote with the text each had to write, and any failure."""
    url, start = args

    async def run() -> tuple[list[tuple[int, str]], list[str]]:
        store = PromptStore.connect(ServerTarget(url, "test"), Settings(user="person", version_retention=100_000))
        wins: list[tuple[int, str]] = []
        failures: list[str] = []
        try:
            while time.time() < start:
                await asyncio.sleep(0.01)
            for i in range(15):
                try:
                    if i % 2:
                        older = (await store.versions("default"))[5]
                        want = await store.version_text("default", older)
                        result = await store.restore("default", older)
                    else:
                        want = BASE
                        result = await store.revert("default")
                    wins.append((result.version, want))
                except Exception as exc:  # noqa: BLE001 - counted: this is what the test is about
                    failures.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.02)
        finally:
            await store.aclose()
        return wins, failures

    return asyncio.run(run())


@pytest.mark.parametrize("writers", [8, 12])
def test_revert_and_restore_win_against_a_stream_of_modifies(make_server: ServerFactory, writers: int) -> None:
    server = make_server()
    ok(run_cli("load", "--text", BASE, url=server.url))
    start = time.time() + 1.5
    until = start + 6.0
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(writers + 1, mp_context=context) as pool:
        bots = [pool.submit(_modifier, (server.url, until)) for _ in range(writers)]
        person = pool.submit(_reverter, (server.url, start))
        wins, failures = person.result(timeout=120)
        modifies = sum(b.result(timeout=120) for b in bots)
    assert failures == [], failures
    assert len(wins) == 15
    assert modifies > 0  # the stream was real
    root = admin(server)
    for version, want in wins:
        # Each press wrote its own version holding exactly the text it meant (or found the
        # prompt already there, at a version that holds that text).
        assert root.hget("prompt:versions", str(version)) == want.encode()
