"""An agent's read never blocks long once it has a last-known-good text.

The server hangs (SIGSTOP) or the link is partitioned (a frozen proxy): every
read serves the last known good text flagged stale, quickly, while one
background refresh per prompt waits for the server; once the server answers
again, reads are fresh. The bound asserted here (1 s) is generous, far below
the 2 s socket timeout the old reads waited; the real figure is in
``benchmarks/bench_feeds.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable

import pytest
import redis

from dynamic_prompt import AsyncPromptClient, PromptClient
from dynamic_prompt.core.errors import ConnectionFailedError
from dynamic_prompt.live.client import Read
from tests.reliability.conftest import ServerFactory
from tests.support.proxy import FreezableProxy
from tests.support.servers import TestServer
from tests.support.waiting import eventually, eventually_async

FAST = {"ping_interval": 0.2, "ping_timeout": 1.0, "poll_interval": 0.2}
BOUND = 1.0
"""No single read may take longer than this (seconds) once a last-known-good text exists."""
OUTAGE = 3.0
"""How long reads run during the outage: longer than the socket timeout plus ``retry_after``."""



def timed_reads(read: Callable[[], Read], seconds: float) -> list[tuple[float, Read]]:
    """Read for ``seconds``; each read with how long it took."""
    out: list[tuple[float, Read]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.perf_counter()
        result = read()
        out.append((time.perf_counter() - start, result))
        time.sleep(0.005)
    return out


def assert_all_stale_and_quick(reads: list[tuple[float, Read]], text: str) -> None:
    assert reads
    worst = max(took for took, _ in reads)
    assert worst < BOUND, f"a read blocked {worst:.2f} s ({len(reads)} reads)"
    bad = [r for _, r in reads if not (r.stale and r.text == text and r.source == "last-known-good")]
    assert not bad, f"{len(bad)} of {len(reads)} reads were not last-known-good: {bad[:3]}"


class Outage:
    """Partition the link (a frozen proxy) or hang the server (SIGSTOP), and end it again."""

    def __init__(self, server: TestServer, how: str) -> None:
        self.server, self.how = server, how
        self.proxy = FreezableProxy(server.port).start() if how == "frozen-link" else None
        self.stopped = False

    @property
    def url(self) -> str:
        return self.proxy.url if self.proxy is not None else self.server.url

    def begin(self) -> None:
        if self.proxy is not None:
            self.proxy.freeze()
        else:
            assert self.server.proc is not None
            os.kill(self.server.proc.pid, signal.SIGSTOP)
            self.stopped = True

    def end(self) -> None:
        if self.proxy is not None:
            self.proxy.thaw()
        elif self.stopped:
            assert self.server.proc is not None
            os.kill(self.server.proc.pid, signal.SIGCONT)
            self.stopped = False

    def close(self) -> None:
        self.end()
        if self.proxy is not None:
            self.proxy.close()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("how", ["frozen-link", "sigstop"])
def test_reads_during_an_outage_serve_last_known_good_without_blocking(
    make_kind_server: ServerFactory, how: str
) -> None:
    server = make_kind_server()
    admin = redis.Redis.from_url(server.url, decode_responses=True)
    admin.set("prompt:{p}:active", "one")
    outage = Outage(server, how)
    client = PromptClient(outage.url, announce=False, feed_options=FAST)
    try:
        assert client.get_active("p") == "one"
        eventually(lambda: client.read("p").source == "memory")
        outage.begin()
        eventually(lambda: client.feed_mode == "disconnected", 5.0)
        reads = timed_reads(lambda: client.read("p"), OUTAGE)
        assert_all_stale_and_quick(reads, "one")
        assert client.stale and client.stats().stale_serves >= len(reads)
        with pytest.raises(ConnectionFailedError):
            client.read("p", strict=True)  # strict never serves stale text
        outage.end()
        admin.set("prompt:{p}:active", "two")
        eventually(lambda: (r := client.read("p")).text == "two" and not r.stale, 15.0)
        assert not client.stale
        eventually(lambda: client.read("p").source == "memory", 15.0)  # the feed is back too
    finally:
        client.close()
        outage.close()
        admin.close()


@pytest.mark.timeout(90)
def test_many_threads_reading_during_a_hung_server_never_block(make_kind_server: ServerFactory) -> None:
    server = make_kind_server()
    admin = redis.Redis.from_url(server.url, decode_responses=True)
    admin.set("prompt:{p}:active", "one")
    admin.set("prompt:{q}:active", "q-one")
    outage = Outage(server, "sigstop")
    client = PromptClient(outage.url, announce=False, feed_options=FAST)
    try:
        assert client.get_active("p") == "one" and client.get_active("q") == "q-one"
        eventually(lambda: client.read("p").source == "memory")
        outage.begin()
        eventually(lambda: client.feed_mode == "disconnected", 5.0)
        results: list[list[tuple[float, Read]]] = [[] for _ in range(6)]

        def reader(i: int) -> None:
            name = "p" if i % 2 else "q"
            results[i] = timed_reads(lambda: client.read(name), OUTAGE)

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for i, reads in enumerate(results):
            assert_all_stale_and_quick(reads, "one" if i % 2 else "q-one")
        outage.end()
        eventually(lambda: not client.read("p").stale and not client.read("q").stale, 15.0)
    finally:
        client.close()
        outage.close()
        admin.close()


@pytest.mark.timeout(90)
async def test_async_reads_during_a_frozen_link_serve_last_known_good_without_blocking(
    make_kind_server: ServerFactory,
) -> None:
    server = make_kind_server()
    admin = redis.Redis.from_url(server.url, decode_responses=True)
    admin.set("prompt:{p}:active", "one")
    outage = Outage(server, "frozen-link")
    try:
        async with AsyncPromptClient(outage.url, announce=False, feed_options=FAST) as client:
            assert await client.get_active("p") == "one"

            async def from_memory() -> bool:
                return (await client.read("p")).source == "memory"

            await eventually_async(from_memory, 5.0)
            outage.begin()
            await eventually_async(lambda: client.feed_mode == "disconnected", 5.0)
            reads: list[tuple[float, Read]] = []
            end = time.monotonic() + OUTAGE
            while time.monotonic() < end:
                start = time.perf_counter()
                result = await client.read("p")
                reads.append((time.perf_counter() - start, result))
                await asyncio.sleep(0.005)
            assert_all_stale_and_quick(reads, "one")
            outage.end()
            await asyncio.to_thread(admin.set, "prompt:{p}:active", "two")

            async def fresh() -> bool:
                r = await client.read("p")
                return r.text == "two" and not r.stale

            await eventually_async(fresh, 15.0)
    finally:
        outage.close()
        admin.close()


@pytest.mark.timeout(60)
def test_a_first_read_during_an_outage_still_waits_and_raises(make_kind_server: ServerFactory) -> None:
    """No last-known-good text: nothing to serve, so the read waits for the server, then raises."""
    server = make_kind_server()
    outage = Outage(server, "frozen-link")
    client = PromptClient(outage.url, announce=False, timeout=0.5, feed_options=FAST)
    try:
        assert client.get_active("p") is None
        outage.begin()
        with pytest.raises(ConnectionFailedError, match="never read before"):
            client.get_active("never-read")
    finally:
        client.close()
        outage.close()
