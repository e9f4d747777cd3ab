"""A shared fragment in forty prompts, changed once: agents rendering four of them serve the new form.

The agent process renders four different dependents in a loop from memory; the change
reaches it by push (its feed is keyspace notifications, never the poll), and every
dependent's render carries the new fragment.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
OLD = "Never share a customer's card number.\n"
NEW = "Never share a customer's card number, address or password.\n"

AGENT = r"""
import json, sys, time
from dynamic_prompt import PromptClient
with PromptClient(sys.argv[1], announce=False, feed_options={"ping_interval": 0.2, "ping_timeout": 1.0}) as c:
    names = sys.argv[2:]
    last = None
    while True:
        state = {"mode": str(c.feed_mode), "texts": {n: c.render(n, user="Ada") for n in names}}
        if state != last:
            print(json.dumps(state), flush=True)
            last = state
        time.sleep(0.0005)
"""


def _cli(url: str, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "dynamic_prompt.cli", "--redis-url", url, *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_fragment_change_reaches_every_dependent_render_by_push(server_url: str, redis_sync: redis.Redis) -> None:
    _cli(server_url, "load", "--name", "safety", "--force", "--text", OLD)
    dependents = [f"agent-{i:02d}" for i in range(40)]
    for name in dependents:
        _cli(server_url, "load", "--name", name, "--force", "--text",
             f"You are {name}, helping {{{{ user }}}}.\n{{% include \"safety\" %}}")
    watched = dependents[::10]  # four different dependents
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}")
    proc = subprocess.Popen([sys.executable, "-c", AGENT, server_url, *watched], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[dict] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(json.loads(line))

    threading.Thread(target=pump, daemon=True).start()
    try:
        first = lines.get(timeout=30)
        assert all(text.endswith(OLD) for text in first["texts"].values())
        # Wait for the feed to be live, so the change can only arrive by push.
        state = first
        while state["mode"] != "notifications":
            state = lines.get(timeout=15)
        _cli(server_url, "load", "--name", "safety", "--force", "--text", NEW)
        deadline = time.monotonic() + 15
        while True:
            state = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if all(text.endswith(NEW) for text in state["texts"].values()):
                break
        assert state["mode"] == "notifications"
        assert set(state["texts"]) == set(watched)
        assert all(text == f"You are {n}, helping Ada.\n{NEW}" for n, text in state["texts"].items())
    finally:
        proc.kill()
        proc.wait(10)


async def test_the_async_client_renders_includes_from_memory_and_hears_a_fragment_change(
        server_url: str, redis_sync: redis.Redis) -> None:
    import asyncio

    from dynamic_prompt import AsyncPromptClient
    from dynamic_prompt.core.templates import TemplateError

    _cli(server_url, "load", "--name", "frag", "--force", "--text", "Never share {{ user }}'s card.\n")
    _cli(server_url, "load", "--name", "dep", "--force", "--text", "Hi {{ user }}.\n{% include \"frag\" %}")
    _cli(server_url, "label", "set", "frag", "pinned", "production")
    _cli(server_url, "load", "--name", "pin", "--force", "--text", "{% include \"frag@pinned\" %}")
    async with AsyncPromptClient(server_url, announce=False) as client:
        assert await client.render("dep", user="Ada") == "Hi Ada.\nNever share Ada's card.\n"
        with pytest.raises(TemplateError, match="Missing variable 'user'"):
            await client.render("dep")
        redis_sync.set("prompt:{frag}:active", "Never read back {{ user }}'s card.\n")
        deadline = time.monotonic() + 5
        while "read back" not in await client.render("dep", user="Ada"):
            assert time.monotonic() < deadline, "the fragment change never reached the render"
            await asyncio.sleep(0.005)
        assert await client.render("pin", user="Bo") == "Never share Bo's card.\n"  # the label still points at v1


def test_the_client_compiles_a_changed_part_when_the_change_arrives(server_url: str, redis_sync: redis.Redis) -> None:
    from dynamic_prompt import PromptClient

    _cli(server_url, "load", "--name", "wfrag", "--force", "--text", "v1 {{ user }}\n")
    _cli(server_url, "load", "--name", "wdep", "--force", "--text", "Hi.\n{% include \"wfrag\" %}")
    with PromptClient(server_url, announce=False) as client:
        assert client.render("wdep", user="Ada") == "Hi.\nv1 Ada\n"
        deadline = time.monotonic() + 5
        while client.read("wfrag").source != "memory":
            assert time.monotonic() < deadline
            time.sleep(0.005)
        redis_sync.set("prompt:{wfrag}:active", "v2 {{ user }}\n")
        renderer = client._renderer
        assert renderer is not None
        # No render is called: the feed's thread alone prepares the new part.
        while not any(text == "v2 {{ user }}\n" for text, _ in renderer._code):
            assert time.monotonic() < deadline, "the changed part was not compiled ahead"
            time.sleep(0.005)
        assert client.render("wdep", user="Ada") == "Hi.\nv2 Ada\n"
