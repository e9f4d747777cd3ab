"""Labels, rollouts and experiments seen by agents in real processes (the issue's "done when").

Five agent processes read ``production``; a rollout to 40% moves exactly the agents
whose stable hash falls below the line (the test computes the line itself, from the
agent ids), the fleet view shows the split, ``promote`` brings all five to the new
version and ``abort`` all five back. A sticky experiment gives the same variant for the
same key in two processes. A gem-style reader (a plain GET of ``prompt:active``) sees
exactly what production serves.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from dynamic_prompt.core import labels as lab
from dynamic_prompt.store.fleet import fleet, split
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
NAME = "default"  # the gem's prompt: its prompt:active is production

READER = r"""
import json, sys, time
from dynamic_prompt import PromptClient
url, agent_id, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
with PromptClient(url, agent_id=agent_id, announce_interval=0.2,
                  feed_options={"ping_interval": 0.2, "ping_timeout": 1.0}) as client:
    last = None
    while True:
        r = client.read("default")
        seen = {"version": r.version, "served": r.served,
                "keys": {k: client.read("default", key=k).served for k in keys}}
        if seen != last:
            print(json.dumps(seen), flush=True)
            last = seen
        time.sleep(0.0005)
"""


class Reader:
    """An agent process printing what it serves whenever that changes."""

    def __init__(self, url: str, agent_id: str, keys: tuple[str, ...] = ()) -> None:
        env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}")
        self.agent_id = agent_id
        self.proc = subprocess.Popen([sys.executable, "-c", READER, url, agent_id, *keys],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue[dict] = queue.Queue()
        self.last: dict = {}
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def wait_for(self, want: dict, timeout: float = 15.0) -> dict:
        """Wait until the agent's latest line has every item of ``want``."""
        deadline = time.monotonic() + timeout
        while not all(self.last.get(k) == v for k, v in want.items()):
            try:
                self.last = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{self.agent_id} never served {want}; last {self.last}") from None
        return self.last

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def dprompt(url: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "dynamic_prompt.cli", "--redis-url", url, *args],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, DPROMPT_USER="rel"))
    assert done.returncode == 0, done.stderr
    return done.stdout


def _ids() -> list[str]:
    """Five agent ids with both sides of a 40% line (found, not assumed: the hash decides)."""
    line = lab.Rollout(2, 40.0)
    inside = [f"agent-{i}" for i in range(100) if line.includes(NAME, f"agent-{i}")]
    outside = [f"agent-{i}" for i in range(100) if not line.includes(NAME, f"agent-{i}")]
    return sorted(inside[:2] + outside[:3])


@pytest.fixture
def readers(server_url: str, redis_sync: redis.Redis) -> Iterator[list[Reader]]:
    dprompt(server_url, "load", "--text", "# Agent\nTone: Calm\n")
    dprompt(server_url, "label", "set", NAME, "canary", "production")
    dprompt(server_url, "modify", "--label", "canary", "change tone to sarcastic")
    started = [Reader(server_url, agent_id) for agent_id in _ids()]
    yield started
    for r in started:
        r.stop()


def test_a_rollout_moves_exactly_the_agents_below_the_line_then_promote_and_abort_move_all(
        readers: list[Reader], server_url: str, redis_sync: redis.Redis) -> None:
    for r in readers:
        r.wait_for({"version": 1, "served": ""})
    dprompt(server_url, "rollout", NAME, "--to", "canary", "--percent", "40")
    line = lab.Rollout(2, 40.0)
    for r in readers:
        if line.includes(NAME, r.agent_id):
            r.wait_for({"version": 2, "served": "rollout 40%"})
        else:
            r.wait_for({"version": 1, "served": ""})
    assert redis_sync.get("prompt:active") == "# Agent\nTone: Calm\n"  # the gem still reads production
    reader = redis.Redis.from_url(server_url)
    try:
        def two_way_split() -> dict[int, int] | None:
            rows = [a for a in fleet(reader, NAME) if a.agent_id in {r.agent_id for r in readers}]
            got = split(rows)
            return got if got == {2: 2, 1: 3} and not any(a.behind for a in rows) else None

        assert eventually(two_way_split, timeout=10.0) == {2: 2, 1: 3}
        # The same agents every time: abort, then the same rollout again.
        dprompt(server_url, "abort", NAME)
        for r in readers:
            r.wait_for({"version": 1, "served": ""})
        dprompt(server_url, "rollout", NAME, "--to", "v2", "--percent", "40")
        for r in readers:
            r.wait_for({"version": 2 if line.includes(NAME, r.agent_id) else 1})
        out = dprompt(server_url, "promote", NAME)
        assert "v1 -> v2" in out
        for r in readers:
            r.wait_for({"version": 2, "served": ""})
        assert redis_sync.get("prompt:active") == "# Agent\nTone: Sarcastic\n"  # the gem sees production
        assert eventually(lambda: split([a for a in fleet(reader, NAME) if not a.behind]) == {2: 5}, timeout=10.0)
        dprompt(server_url, "rollback", NAME)
        for r in readers:
            r.wait_for({"version": 1, "served": ""})
        assert redis_sync.get("prompt:active") == "# Agent\nTone: Calm\n"
    finally:
        reader.close()


def test_an_agent_in_a_rollout_that_missed_it_is_behind_in_the_fleet(server_url: str, redis_sync: redis.Redis) -> None:
    # A hand-written announcement of an agent the rollout includes, still on production.
    dprompt(server_url, "load", "--force", "--text", "# Agent\nTone: Calm\n")
    dprompt(server_url, "label", "set", NAME, "canary", "production")
    dprompt(server_url, "modify", "--label", "canary", "change tone to sarcastic")
    dprompt(server_url, "rollout", NAME, "--to", "canary", "--percent", "100")
    reader = redis.Redis.from_url(server_url)
    try:
        reader.hset("dprompt:agents:default", "stuck", json.dumps(
            {"agent_id": "stuck", "version": 1, "hash": "", "interval": 60, "last_seen": time.time()}))
        rows = {a.agent_id: a for a in fleet(reader, NAME)}
        assert rows["stuck"].behind
    finally:
        reader.close()


def test_a_sticky_experiment_gives_one_variant_per_key_in_every_process(server_url: str, redis_sync: redis.Redis) -> None:
    dprompt(server_url, "load", "--force", "--text", "# Agent\nTone: Calm\n")
    dprompt(server_url, "label", "set", NAME, "exp-b", "production")
    dprompt(server_url, "modify", "--label", "exp-b", "change tone to sarcastic")
    keys = tuple(f"user-{i}" for i in range(12))
    pair = [Reader(server_url, "exp-one", keys), Reader(server_url, "exp-two", keys)]
    try:
        for r in pair:
            r.wait_for({"version": 1, "served": ""})
        dprompt(server_url, "experiment", NAME, "--variant", "a=production:50", "--variant", "b=exp-b:50")
        state = json.loads(dprompt(server_url, "label", "list", NAME, "--json"))
        experiment = lab.Experiment.from_dict(state["experiment"])
        assert experiment is not None
        want = {k: f"experiment {experiment.variants[experiment.choose(NAME, k)].name}" for k in keys}
        assert len(set(want.values())) == 2  # both variants among the keys: the test can fail
        for r in pair:
            r.wait_for({"keys": want})
        assert pair[0].last["keys"] == pair[1].last["keys"]
        dprompt(server_url, "experiment", NAME, "--stop")
        for r in pair:
            r.wait_for({"keys": {k: "" for k in keys}, "version": 1})
    finally:
        for r in pair:
            r.stop()
