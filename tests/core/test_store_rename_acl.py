"""Rename, duplicate and revert_change refused whole: ACL users and wrong-type keys change nothing.

A Lua script is atomic but not transactional: a command refused half-way leaves the
ones before it applied. The rename script renames five keys and first records an
outside write; these tests prove every refusal comes before its first effect, by
comparing DUMP snapshots of every key (a private server: the tests add ACL users).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import CorruptDataError, PermissionDeniedError
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from tests.support.servers import TestServer

TEXT = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n"
USERS = [
    "user norename on >rnpw-5512 ~* &* +@all -rename",
    "user reader on >rdpw-5512 ~* &* +@read +ping +eval +evalsha -@write",
]
PASSWORDS = {"norename": "rnpw-5512", "reader": "rdpw-5512"}


@pytest.fixture(scope="module")
def acl_server() -> Iterator[TestServer]:
    server = TestServer(USERS).start()
    yield server
    server.cleanup()


def dump_all(client: redis.Redis) -> dict[bytes, bytes]:
    return {key: client.dump(key) for key in client.keys("*")}


async def prepared(server: TestServer) -> redis.Redis:
    r = redis.Redis.from_url(server.url)
    r.flushdb()
    store = PromptStore.connect(ServerTarget(server.url, "test"), Settings(user="admin"))
    try:
        await store.load("t", TEXT, kind="text")
        await store.modify("t", "change tone to dry")
    finally:
        await store.aclose()
    # An outside write, which any write that ran would record first as a version.
    r.set("prompt:{t}:active", (r.get("prompt:{t}:active") or b"") + b"Outside write.\n")
    return r


@pytest.mark.parametrize("user", ["norename", "reader"])
async def test_rename_refused_by_acl_changes_nothing(acl_server: TestServer, user: str) -> None:
    r = await prepared(acl_server)
    before = dump_all(r)
    url = f"redis://{user}:{PASSWORDS[user]}@127.0.0.1:{acl_server.port}/0"
    store = PromptStore.connect(ServerTarget(url, "test"), Settings(user=user))
    try:
        with pytest.raises(PermissionDeniedError) as caught:
            await store.rename("t", "u")
        assert "\n" not in str(caught.value) and PASSWORDS[user] not in str(caught.value)
        assert dump_all(r) == before
        if user == "reader":
            for attempt in (lambda: store.revert_change("t", 2), lambda: store.duplicate("t", "copy")):
                with pytest.raises(PermissionDeniedError):
                    await attempt()
                assert dump_all(r) == before
    finally:
        await store.aclose()
        r.close()


@pytest.mark.parametrize(("key", "kind"), [("prompt:{t}:changelog", "hash"), ("prompt:{t}:meta", "string")])
async def test_rename_with_a_wrong_type_key_changes_nothing(acl_server: TestServer, key: str, kind: str) -> None:
    r = await prepared(acl_server)
    r.delete(key)
    if kind == "hash":
        r.hset(key, "planted", "yes")
    else:
        r.set(key, "planted")
    before = dump_all(r)
    store = PromptStore.connect(ServerTarget(acl_server.url, "test"), Settings(user="admin"))
    try:
        with pytest.raises(CorruptDataError) as caught:
            await store.rename("t", "u")
        assert key in str(caught.value) and "\n" not in str(caught.value)
        assert dump_all(r) == before
    finally:
        await store.aclose()
        r.close()
