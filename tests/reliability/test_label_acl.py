"""Who may promote: the README's ACL recipe, built on real servers with real users.

The two users come from the README itself (between its ``acl-recipe`` markers), so
the recipe a team copies is the one tested. The tuner edits and moves every label but
production; each of its attempts on production (promote, rollout, experiment, a
modify without ``--label``) is one clear line and leaves every key byte for byte as it
was. The release user promotes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.redis7 import private_server, server_kinds
from tests.support.servers import TestServer

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"release": "rel-pw-8812", "tuner": "tun-pw-8812"}
TEXT = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n"


def recipe() -> list[str]:
    """The ACL lines of the README's recipe, with this test's passwords."""
    readme = (ROOT / "README.md").read_text("utf-8")
    block = re.search(r"<!-- acl-recipe:start -->\s*```\n(.*?)```\s*<!-- acl-recipe:end -->", readme, re.S)
    assert block is not None, "the README lost its ACL recipe"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    return [line.replace("RELEASE-PASSWORD", PASSWORDS["release"]).replace("TUNER-PASSWORD", PASSWORDS["tuner"])
            for line in lines]


@pytest.fixture(scope="module", params=server_kinds())
def acl_server(request: pytest.FixtureRequest) -> Iterator[TestServer]:
    server = private_server(request.param, recipe())
    yield server
    server.cleanup()


def url(server: TestServer, user: str) -> str:
    return f"redis://{user}:{PASSWORDS[user]}@127.0.0.1:{server.port}/0"


def dprompt(server: TestServer, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    # The URL (with its password) goes in the environment, never on the command line.
    return subprocess.run([sys.executable, "-m", "dynamic_prompt.cli", *args], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, REDIS_URL=url(server, user), DPROMPT_USER=user))


def snapshot(client: redis.Redis) -> dict[bytes, bytes | None]:
    return {key: client.dump(key) for key in client.keys("prompt*")}


@pytest.fixture
def admin(acl_server: TestServer) -> Iterator[redis.Redis]:
    client = redis.Redis(port=acl_server.port)
    client.flushdb()
    yield client
    client.close()


def test_the_recipe_lets_the_tuner_move_labels_and_only_the_release_user_move_production(
        acl_server: TestServer, admin: redis.Redis) -> None:
    assert dprompt(acl_server, "release", "load", "--text", TEXT).returncode == 0
    tuned = dprompt(acl_server, "tuner", "label", "set", "default", "staging", "production")
    assert tuned.returncode == 0, tuned.stderr
    edit = dprompt(acl_server, "tuner", "modify", "--label", "staging", "change tone to sarcastic")
    assert edit.returncode == 0, edit.stderr
    assert admin.get("prompt:active") == TEXT.encode()  # production untouched
    configured = dprompt(acl_server, "tuner", "config", "--label", "staging", "--set", "model=gpt-5")
    assert configured.returncode == 0, configured.stderr
    assert dprompt(acl_server, "tuner", "label", "set", "default", "canary", "staging").returncode == 0

    before = snapshot(admin)
    refusals = {
        "promote": ("promote", "default", "staging"),
        "label set production": ("label", "set", "default", "production", "staging"),
        "rollout": ("rollout", "default", "--to", "staging", "--percent", "10"),
        "experiment": ("experiment", "default", "--variant", "a=production:50", "--variant", "b=staging:50"),
        "modify production": ("modify", "add rule: never use emojis"),
        "config of production": ("config", "--set", "model=gpt-5"),
        "clear": ("clear", "--yes"),
        "rename": ("rename", "default", "elsewhere"),
        "abort": ("abort", "default"),
    }
    for what, args in refusals.items():
        done = dprompt(acl_server, "tuner", *args)
        assert done.returncode == 1, f"{what}: {done.stdout} {done.stderr}"
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{what}: {done.stderr}"
        assert "Traceback" not in done.stderr
        assert snapshot(admin) == before, f"{what} changed a key"
    promote = dprompt(acl_server, "tuner", "promote", "default", "staging")
    assert "may not move production" in promote.stderr

    released = dprompt(acl_server, "release", "promote", "default", "staging")
    assert released.returncode == 0, released.stderr
    # The gem's Storage#get_active is a GET of prompt:active: exactly what production serves.
    assert b"Sarcastic" in admin.get("prompt:active")
    assert admin.hget("prompt:meta", "config") == b'{"model":"gpt-5"}'  # staging's config came along
    rolled = dprompt(acl_server, "release", "rollout", "default", "--to", "v1", "--percent", "25")
    assert rolled.returncode == 0, rolled.stderr
    assert admin.exists("prompt:release")


def test_the_tuner_reads_everything_it_may_not_write(acl_server: TestServer, admin: redis.Redis) -> None:
    assert dprompt(acl_server, "release", "load", "--name", "support", "--text", TEXT).returncode == 0
    for args in (("get", "--name", "support"), ("label", "list", "support"), ("history", "--name", "support"),
                 ("list",)):
        done = dprompt(acl_server, "tuner", *args)
        assert done.returncode == 0, f"{args}: {done.stderr}"
    assert "production" in dprompt(acl_server, "tuner", "label", "list", "support").stdout
