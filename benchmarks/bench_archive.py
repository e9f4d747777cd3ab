"""The archive: how soon a write is archived, and how fast search is over 100,000 versions.

Side by side, in one run:

1. Lag after a write: a ``dprompt archive`` process follows a private server; 100 modifies,
   one at a time. For each, the time from the write's acknowledgement until the archive
   file holds its changelog entry (read by another connection, polled every 0.5 ms), and,
   beside it, until an agent process's client serves the new text (the push the archiver
   also hears). p50 / p99.
2. Search over 100,000 archived versions (about 1 KB each, 200 prompts, words from a
   vocabulary of 5,000): FTS5 against a plain ``LIKE`` scan of the same rows, for a rare
   word, a common word, two words, and one prompt's history; the best of 5 per query.

Run alone: ``python benchmarks/bench_archive.py`` (or via ``benchmarks/run.py``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench_agents import p99  # noqa: E402
from tests.support.servers import TestServer  # noqa: E402

from dynamic_prompt.archive.db import Archive  # noqa: E402
from dynamic_prompt.archive.records import ArchivedVersion  # noqa: E402
from dynamic_prompt.core.config import Settings  # noqa: E402
from dynamic_prompt.live.client import PromptClient  # noqa: E402
from dynamic_prompt.server import ServerTarget  # noqa: E402
from dynamic_prompt.store import PromptStore  # noqa: E402

NAME = "bench"
WRITES = 100
VERSIONS = 100_000


def _agent(url: str, conn: Connection) -> None:
    """An agent process: reports when it first serves each rule the writer adds."""
    client = PromptClient(url, agent_id="bench-agent", announce=False)
    try:
        client.get_active(NAME)
        conn.send("ready")
        while True:
            if conn.poll():
                want = conn.recv()
                if want is None:
                    return
                while want not in (client.get_active(NAME) or ""):
                    pass
                conn.send(time.monotonic())
    finally:
        client.close()


def bench_lag(url: str, archive: Path) -> list[tuple[str, str, str]]:
    env = dict(os.environ, DPROMPT_ARCHIVE=str(archive))
    follower = subprocess.Popen([sys.executable, "-m", "dynamic_prompt.cli", "--redis-url", url, "archive",
                                 "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent, child = multiprocessing.Pipe()
    agent = multiprocessing.Process(target=_agent, args=(url, child), daemon=True)
    agent.start()
    archived: list[float] = []
    served: list[float] = []
    try:
        async def work() -> None:
            store = PromptStore.connect(ServerTarget(url, "bench"), Settings(redis_url=url, user="bench"))
            try:
                await store.clear(NAME)
                await store.load(NAME, "# Bench\nTone: Calm\n", kind="text")
                deadline = time.monotonic() + 20
                while not archive.exists() and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                reader = sqlite3.connect(str(archive), timeout=10)
                assert parent.recv() == "ready"
                for i in range(WRITES):
                    rule = f"rule number {i} for the bench"
                    parent.send(rule)
                    result = await store.modify(NAME, f"add rule: {rule}")
                    done = time.monotonic()
                    row = None
                    limit = done + 10
                    while row is None and time.monotonic() < limit:
                        row = reader.execute("SELECT 1 FROM changes WHERE name=? AND version=?",
                                             (NAME, result.version)).fetchone()
                        if row is None:
                            time.sleep(0.0005)
                    archived.append((time.monotonic() - done) * 1000)
                    served.append((parent.recv() - done) * 1000)
                reader.close()
            finally:
                await store.aclose()

        asyncio.run(work())
    finally:
        parent.send(None)
        agent.join(5)
        follower.terminate()
        follower.wait(10)
    archived.sort()
    served.sort()
    return [
        ("archive lag", f"write -> row in the archive file, p50 / p99 of {WRITES}",
         f"{statistics.median(archived):.1f} ms / {p99(archived):.1f} ms"),
        ("archive lag", "beside it: write -> an agent process serves it, p50 / p99",
         f"{statistics.median(served):.2f} ms / {p99(served):.2f} ms"),
    ]


def _corpus(archive: Archive) -> None:
    rng = random.Random(7)
    vocabulary = [f"w{i:04d}" for i in range(5000)]
    weights = [1 / (i + 1) for i in range(5000)]  # Zipf-like: a few words are everywhere
    batch: list[ArchivedVersion] = []
    for i in range(VERSIONS):
        words = rng.choices(vocabulary, weights, k=150)
        if i % 10_000 == 1234:
            words.append("zanzibar")  # a rare word: 10 versions have it
        batch.append(ArchivedVersion(f"prompt-{i % 200}", i // 200 + 1, " ".join(words), updated_at=float(i)))
        if len(batch) == 5000:
            archive.add("bench", batch)
            batch = []
    if batch:
        archive.add("bench", batch)


def _best(call: Any, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def bench_search(path: Path) -> list[tuple[str, str, str]]:
    archive = Archive(path)
    start = time.perf_counter()
    _corpus(archive)
    built = time.perf_counter() - start
    plain = sqlite3.connect(str(path))
    rows = [("archive search", f"{VERSIONS:,} versions archived (~1 KB each)", f"in {built:.1f} s, "
             f"{path.stat().st_size / 1e6:.0f} MB")]
    cases = [("a rare word (10 versions)", "zanzibar", None, "%zanzibar%"),
             ("a common word", "w0003", None, "%w0003%"),
             ("two words", "w0100 w0200", None, "%w0100%"),
             ("one prompt's history", "w0050", "prompt-7", "%w0050%")]
    for label, query, name, like in cases:
        fts = _best(lambda: archive.search(query, name=name, limit=20))
        where = "text LIKE ?" + (" AND name = ?" if name else "")
        args = [like, name] if name else [like]
        scan = _best(lambda: plain.execute(f"SELECT name, number FROM versions WHERE {where} LIMIT 20", args)
                     .fetchall(), repeat=3)
        rows.append(("archive search", f"{label}: FTS5 top 20 ranked / LIKE scan, first 20 unranked",
                     f"{fts:.1f} ms / {scan:.1f} ms"))
    plain.close()
    archive.close()
    return rows


def run() -> list[tuple[str, str, str]]:
    server = TestServer().start()
    directory = Path(tempfile.mkdtemp(prefix="dprompt-bench-archive-"))
    try:
        return bench_lag(server.url, directory / "lag.sqlite3") + bench_search(directory / "search.sqlite3")
    finally:
        server.cleanup()
        for p in directory.iterdir():
            p.unlink()
        directory.rmdir()


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
