"""Concurrent writers in separate processes, and the checks that prove none was lost.

:func:`burst` runs in a child process: one :class:`PromptStore` doing a seeded
mix of modify / manual edit with an expected version / revert / restore on one
prompt, recording what every write returned. :func:`verify` then reads the
prompt back and checks the whole version chain against those records:

- versions are 1..N with no gap, meta/active/hash/changelog agree with version N;
- every successful write owns exactly one version, and that version's text is
  the text the write produced (SHA-1), derived from the version just before it
  (a modify is its instruction applied to v-1, an edit is v-1 plus its line, a
  revert is the original, a restore is the restored version's text);
- one changelog entry per version, newest first, with the write's action and user;
- a manual edit refused as a conflict left no trace in any version.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core import modifier
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import ConflictError
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore

BASE = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n"


def sha(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass
class BurstResult:
    """What one writer process did."""

    writer: int
    records: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    noops: int = 0
    retries: int = 0
    modifies: int = 0
    rereads: int = 0
    """Conflicts that were re-read and tried again (``persist=True``)."""


async def _burst(url: str, name: str, writer: int, writes: int, start_at: float,
                 retention: int, persist: bool = False) -> BurstResult:
    settings = Settings(user=f"w{writer}", version_retention=retention, changelog_cap=retention)
    store = PromptStore.connect(ServerTarget(url, "writers"), settings)
    rnd = random.Random(writer)
    out = BurstResult(writer)
    await asyncio.sleep(max(0.0, start_at - time.time()))  # all writers start together
    try:
        for j in range(writes):
            roll = rnd.random()
            tag = f"w{writer} n{j}"
            if roll < 0.40:
                kind, instruction = "modify", f"add rule: {tag}"
            elif roll < 0.50:
                kind, instruction = "modify", f"change tone to tone {tag}"
            elif roll < 0.75:
                kind, instruction = "edit", f"edit {tag}"
            elif roll < 0.85:
                kind, instruction = "revert", ""
            else:
                kind, instruction = "restore", ""
            while True:
                try:
                    result, record = await _one(store, name, kind, instruction, rnd)
                except ConflictError as exc:
                    out.conflicts.append({"kind": kind, "instruction": instruction,
                                          "expected": exc.expected_version,
                                          "current": exc.current_version})
                    if persist:  # like a person who reloads and does it again
                        out.rereads += 1
                        continue
                    result = None
                break
            if kind == "modify":
                out.modifies += 1
            if result is None:
                continue
            if not result.changed:
                out.noops += 1
                continue
            record.update(version=result.version, sha=sha(result.text), user=f"w{writer}")
            out.records.append(record)
    finally:
        out.retries = store.retries
        await store.aclose()
    return out


async def _one(store: PromptStore, name: str, kind: str, instruction: str,
               rnd: random.Random) -> tuple[Any, dict[str, Any]]:
    """One write of ``kind``; returns the store's result and what to record."""
    if kind == "modify":
        return await store.modify(name, instruction), {"kind": "modify", "instruction": instruction}
    if kind == "edit":
        state = await store.state(name, with_backup=False)
        text = (state.active or "") + instruction + "\n"
        result = await store.set_active(name, text, expected_version=state.version)
        return result, {"kind": "edit", "instruction": instruction, "expected": state.version}
    if kind == "revert":
        return await store.revert(name), {"kind": "revert"}
    state = await store.state(name, with_backup=False)
    source = rnd.randint(1, max(1, state.version))
    return await store.restore(name, source), {"kind": "restore", "from": source}


def burst(args: tuple[Any, ...]) -> BurstResult:
    """Entry point for a child process: ``(url, name, writer, writes, start_at, retention[, persist])``."""
    return asyncio.run(_burst(*args))


def verify(client: redis.Redis, name: str, results: Sequence[BurstResult],
           base: str = BASE) -> dict[str, int]:
    """Check the version chain against the writers' records; returns the counts."""
    k = keymod.keys_for(name)
    versions = {int(v): t.decode() for v, t in client.hgetall(k.versions).items()}
    meta = {a.decode(): b.decode() for a, b in client.hgetall(k.meta).items()}
    log = [json.loads(e) for e in client.lrange(k.changelog, 0, -1)]
    active = client.get(k.active).decode()
    records = [r for res in results for r in res.records]
    top = int(meta["version"])

    assert sorted(versions) == list(range(1, top + 1)), "versions are not contiguous"
    assert active == versions[top] and meta["hash"] == sha(active)
    assert client.get(k.backup).decode() == base == versions[1]
    assert len(records) == top - 1, f"{len(records)} successful writes but {top - 1} new versions"
    by_version = {r["version"]: r for r in records}
    assert len(by_version) == len(records), "two writes claim one version"
    assert [e.get("version") for e in log] == list(range(top, 0, -1)), "changelog out of step"
    for v in range(2, top + 1):
        r, prev, text, entry = by_version[v], versions[v - 1], versions[v], log[top - v]
        assert sha(text) == r["sha"], f"v{v} is not the text its write produced"
        if r["kind"] == "modify":
            assert text == modifier.apply_edits(prev, modifier.parse(r["instruction"])), f"v{v}"
        elif r["kind"] == "edit":
            assert text == prev + r["instruction"] + "\n" and r["expected"] == v - 1, f"v{v}"
        elif r["kind"] == "revert":
            assert text == base, f"v{v}"
        else:
            assert text == versions[r["from"]] and entry["metadata"]["from_version"] == r["from"]
        assert entry["action"] == r["kind"] and entry["user_id"] == r["user"], f"v{v}: {entry}"
    conflicts = [c for res in results for c in res.conflicts]
    lines = {line for text in versions.values() for line in text.splitlines()}
    written = {r.get("instruction") for r in records}
    for c in conflicts:
        if c["kind"] == "edit" and c["instruction"] not in written:
            assert c["instruction"] not in lines, f"refused edit {c} was written"
    return {
        "versions": top,
        "writes": len(records),
        "conflicts": len(conflicts),
        "noops": sum(res.noops for res in results),
        "retries": sum(res.retries for res in results),
        "modifies": sum(res.modifies for res in results),
        "rereads": sum(res.rereads for res in results),
    }
