"""ACL users that may not write, and keys of the wrong type: refused whole, nothing half-applied.

A Lua script is atomic against other clients, but not transactional: a command
refused half-way through (an ACL rule, a key of the wrong type) leaves the
commands before it applied. These tests prove every write is refused *before*
its first effect, by comparing DUMP snapshots of every key.
"""

from __future__ import annotations

import pytest

from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import CorruptDataError, PermissionDeniedError
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from tests.reliability.clirun import error_line, ok, run_cli
from tests.reliability.conftest import ServerFactory, admin, dump_all
from tests.support.checks import no_secret, one_line, plant, role_type, wrong_type_line

TEXT = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n"

USERS = [
    "user reader on >rpw-7731 ~* &* +@read +ping +eval +evalsha -@write",
    "user noeval on >npw-7731 ~* &* +@read +ping -@write",
    "user nohset on >hpw-7731 ~* &* +@all -hset",
    "user nopub on >ppw-7731 ~* resetchannels +@all",
    "user nolog on >lpw-7731 ~* &* +@all -lpush",
]
PASSWORDS = {"reader": "rpw-7731", "noeval": "npw-7731", "nohset": "hpw-7731",
             "nopub": "ppw-7731", "nolog": "lpw-7731"}


def url_for(port: int, user: str) -> str:
    return f"redis://{user}:{PASSWORDS[user]}@127.0.0.1:{port}/0"


@pytest.fixture
def acl_server(make_server: ServerFactory):  # type: ignore[no-untyped-def]
    server = make_server(USERS)
    ok(run_cli("load", "--text", TEXT, "--name", "t", url=server.url))
    ok(run_cli("modify", "-n", "t", "add rule: Be brief.", url=server.url))
    ok(run_cli("load", "--text", TEXT, url=server.url))  # the gem's keys too
    return server


WRITES = [
    ["modify", "-n", "t", "change tone to dry"],
    ["load", "--text", "other text", "-n", "t", "--force"],
    ["load", "--text", "brand new", "-n", "fresh"],
    ["revert", "-n", "t"],
    ["restore", "1", "-n", "t"],
    ["undo", "-n", "t"],
    ["clear", "--yes", "-n", "t"],
    ["modify", "change tone to dry"],
]


@pytest.mark.parametrize("user", ["reader", "noeval"])
def test_read_only_user_reads_and_every_write_is_one_line_and_changes_nothing(
    acl_server, user: str  # type: ignore[no-untyped-def]
) -> None:
    url = url_for(acl_server.port, user)
    r = admin(acl_server)
    before = dump_all(r)
    assert ok(run_cli("get", "-n", "t", url=url)).stdout.startswith("# Agent")
    assert "MODIFY" in ok(run_cli("history", "-n", "t", url=url)).stdout
    assert '"name": "t"' in ok(run_cli("list", "--json", url=url)).stdout
    for args in WRITES:
        line = error_line(run_cli(*args, url=url))
        assert "not allow" in line, (args, line)
        assert PASSWORDS[user] not in line
    assert dump_all(r) == before


def test_read_only_user_reads_a_prompt_changed_outside_without_writing(acl_server) -> None:  # type: ignore[no-untyped-def]
    r = admin(acl_server)
    r.set("prompt:{t}:active", "Changed by redis-cli.\n")
    before = dump_all(r)
    for user in ("reader", "noeval"):
        got = ok(run_cli("get", "-n", "t", url=url_for(acl_server.port, user))).stdout
        assert got == "Changed by redis-cli.\n"
    assert dump_all(r) == before  # the reader did not (could not) record the outside write
    # A writer records it, once.
    ok(run_cli("history", "-n", "t", url=acl_server.url))
    assert ok(run_cli("get", "--json", "-n", "t", url=acl_server.url)).stdout.count('"version": 3') == 1


@pytest.mark.parametrize("user", ["reader", "nohset", "nopub", "nolog"])
async def test_store_refuses_partial_permission_users_before_any_effect(acl_server, user: str) -> None:  # type: ignore[no-untyped-def]
    r = admin(acl_server)
    before = dump_all(r)
    store = PromptStore.connect(ServerTarget(url_for(acl_server.port, user), "test"), Settings(user=user))
    try:
        state = await store.state("t")
        assert state.version == 2
        attempts = [
            lambda: store.modify("t", "change tone to dry"),
            lambda: store.set_active("t", "edited\n", expected_version=2),
            lambda: store.revert("t"),
            lambda: store.restore("t", 1),
            lambda: store.load("t", "forced", kind="text", force=True),
            lambda: store.load("n2", "new prompt", kind="text"),
        ]
        if user in ("reader", "nopub"):  # the others may DEL and PUBLISH: clear is theirs to run
            attempts.append(lambda: store.clear("t"))
        for attempt in attempts:
            with pytest.raises(PermissionDeniedError) as info:
                await attempt()
            no_secret(one_line(info.value), secrets=(PASSWORDS[user],))
            assert dump_all(r) == before, (user, attempt)
    finally:
        await store.aclose()


WRONG = [
    ("prompt:{t}:backup", "list"),
    ("prompt:{t}:meta", "string"),
    ("prompt:{t}:versions", "string"),
    ("prompt:{t}:versions", "list"),
    ("prompt:{t}:changelog", "hash"),
    ("prompt:{t}:changelog", "string"),
    ("prompt:{t}:lock", "hash"),
]


@pytest.mark.parametrize(("key", "kind"), WRONG)
async def test_wrong_type_key_refuses_every_write_before_any_effect(
    acl_server, key: str, kind: str  # type: ignore[no-untyped-def]
) -> None:
    r = admin(acl_server)
    plant(r, key, kind)
    before = dump_all(r)
    store = PromptStore.connect(ServerTarget(acl_server.url, "test"), Settings(user="admin"))
    try:
        attempts = [
            lambda: store.modify("t", "change tone to dry"),
            lambda: store.set_active("t", "edited\n", expected_version=2),
            lambda: store.revert("t"),
            lambda: store.load("t", "forced", kind="text", force=True),
        ]
        for attempt in attempts:
            with pytest.raises(CorruptDataError) as info:
                await attempt()
            assert one_line(info.value) == wrong_type_line(key, kind, role_type(key))
            assert dump_all(r) == before, (key, kind, attempt)
    finally:
        await store.aclose()
    line = error_line(run_cli("modify", "-n", "t", "change tone to dry", url=acl_server.url))
    assert line == "error: " + wrong_type_line(key, kind, role_type(key))
    assert dump_all(r) == before


def test_active_key_of_the_wrong_type(acl_server) -> None:  # type: ignore[no-untyped-def]
    r = admin(acl_server)
    plant(r, "prompt:{t}:active", "list")
    before = dump_all(r)
    refused = "error: " + wrong_type_line("prompt:{t}:active", "list", "string")
    for args in (["get", "-n", "t"], ["modify", "-n", "t", "change tone to dry"], ["info", "-n", "t"],
                 ["diff", "-n", "t"]):
        assert error_line(run_cli(*args, url=acl_server.url)) == refused, args
    # history reads only the changelog, list only the names: both still work, and say nothing.
    for args in (["history", "-n", "t"], ["list"]):
        assert ok(run_cli(*args, url=acl_server.url)).stderr == "", args
    assert dump_all(r) == before
