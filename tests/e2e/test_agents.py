"""Agents in real processes: writes by dprompt, redis-cli and the gem reach them; the fleet sees them."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from dynamic_prompt.store.fleet import fleet
from tests.support.servers import cli_path
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]

AGENT = r"""
import sys, time
from dynamic_prompt import PromptClient
with PromptClient(sys.argv[1], agent_id="e2e-agent", announce_interval=0.3,
                  feed_options={"ping_interval": 0.2, "ping_timeout": 1.0}) as client:
    last = object()
    while True:
        text = client.get_active()
        if text != last:
            print(repr(text), flush=True)
            last = text
        time.sleep(0.001)
"""


class Agent:
    """An agent process printing every new text it reads; lines are collected in a thread."""

    def __init__(self, url: str) -> None:
        env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}")
        self.proc = subprocess.Popen([sys.executable, "-c", AGENT, url], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str | None, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                err = self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
                raise AssertionError(f"the agent never read {text!r} {err}") from None
            if line == repr(text):
                return

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def agent(server_url: str, redis_sync: redis.Redis) -> Iterator[Agent]:
    a = Agent(server_url)
    yield a
    a.stop()


def dprompt(url: str, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "dynamic_prompt.cli", "--redis-url", url, *args],
                   check=True, capture_output=True, text=True, timeout=60,
                   env=dict(os.environ, DPROMPT_USER="e2e"))


def test_every_kind_of_writer_reaches_a_running_agent(agent: Agent, server_url: str, redis_sync: redis.Redis) -> None:
    agent.wait_for(None)  # no prompt yet
    dprompt(server_url, "load", "--text", "# Agent\nTone: Calm\n")
    agent.wait_for("# Agent\nTone: Calm\n")
    dprompt(server_url, "modify", "change tone to sarcastic")
    agent.wait_for("# Agent\nTone: Sarcastic\n")
    # redis-cli, as an operator would type it.
    host, port = redis_sync.connection_pool.connection_kwargs["host"], redis_sync.connection_pool.connection_kwargs["port"]
    db = str(redis_sync.connection_pool.connection_kwargs.get("db", 0))
    subprocess.run([cli_path(), "-h", str(host), "-p", str(port), "-n", db, "SET", "prompt:active", "from redis-cli"],
                   check=True, capture_output=True, timeout=30)
    agent.wait_for("from redis-cli")
    # A program writing the Ruby gem's keys: the text, then a changelog entry.
    gem = (
        "import json, sys, time, redis\n"
        "r = redis.Redis.from_url(sys.argv[1])\n"
        "r.set('prompt:active', 'from the gem')\n"
        "r.lpush('prompt:changelog', json.dumps({'timestamp': int(time.time()), 'action': 'modify',"
        " 'user_id': 'ruby', 'instruction': 'x'}))\n"
    )
    subprocess.run([sys.executable, "-c", gem, server_url], check=True, timeout=30)
    agent.wait_for("from the gem")


def test_fleet_sees_a_running_agent_then_marks_it_gone(agent: Agent, server_url: str,
                                                       redis_sync: redis.Redis) -> None:
    redis_sync.set("prompt:active", "fleet text")
    agent.wait_for("fleet text")
    reader = redis.Redis.from_url(server_url)

    def row() -> object:
        rows = [a for a in fleet(reader) if a.agent_id == "e2e-agent"]
        return rows[0] if rows else None

    first = eventually(row, timeout=10.0)
    assert first.pid == agent.proc.pid and not first.gone and not first.behind
    agent.proc.send_signal(signal.SIGKILL)  # no clean exit: the entry stays, and goes stale
    agent.proc.wait(10)
    gone = eventually(lambda: (r := row()) is not None and r.gone and r, timeout=10.0)
    assert gone.age > 3 * 0.3
    reader.close()


def test_chat_loop_example_runs_offline(server_url: str, redis_sync: redis.Redis) -> None:
    redis_sync.set("prompt:active", "# Agent\nTone: Friendly\n")
    for style in ("openai", "anthropic"):
        proc = subprocess.run([sys.executable, str(ROOT / "examples" / "chat_loop.py"), "--turns", "3",
                               "--style", style], capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, REDIS_URL=server_url))
        assert proc.returncode == 0, proc.stderr
        turns = [line for line in proc.stdout.splitlines() if line.startswith("turn ")]
        assert len(turns) == 3 and all("[Friendly]" in t for t in turns)
