"""MCP over HTTP: how soon a listening client hears a write made with a plain Redis client.

Side by side, in one run, on a private server: a ``dprompt mcp --http`` process; a
2026-07-28 client (the SDK's ``Client``) listening with ``subscriptions/listen``; a
handshake-era client (``ClientSession``) subscribed with ``resources/subscribe``. For
each of 50 writes (a SET of ``prompt:active``, what redis-cli does), the time from the
write until each client has the notification. Also ``resources/read`` through HTTP with a
token: the first read, and the ones within its cache hint's ``ttlMs``.

Run alone: ``python benchmarks/bench_mcp_http.py`` (or via ``benchmarks/run.py``).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench_agents import p99  # noqa: E402
from tests.support.servers import TestServer, free_port  # noqa: E402

WRITES = 50
TOKEN = "bench-token-" + "x" * 24


def _start(url: str, directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    config = directory / "config.toml"
    config.write_text(f'[[mcp.tokens]]\nname = "bench"\ntoken = "{TOKEN}"\naccess = "write"\n', encoding="utf-8")
    config.chmod(0o600)
    port = free_port()
    env = {**os.environ, "DPROMPT_CONFIG": str(config), "REDIS_URL": url, "DPROMPT_DATA_DIR": str(directory)}
    proc = subprocess.Popen([sys.executable, "-m", "dynamic_prompt.cli", "mcp", "--http", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}/mcp"


async def _measure(url: str, endpoint: str) -> list[tuple[str, str, str]]:
    import anyio
    import httpx2
    import redis
    from mcp import Client, ClientSession, types
    from mcp.client.streamable_http import streamable_http_client

    writer = redis.Redis.from_url(url)
    writer.set("prompt:active", "v0\n")
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx2.get(endpoint, timeout=0.5)
            break
        except httpx2.TransportError:
            if time.monotonic() > deadline:
                raise
            await anyio.sleep(0.05)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    modern_lags: list[float] = []
    legacy_lags: list[float] = []
    reads: list[float] = []
    legacy_seen: list[float] = []

    async def on_message(message: object) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            legacy_seen.append(time.monotonic())

    async with httpx2.AsyncClient(headers=headers, timeout=30) as h1, httpx2.AsyncClient(headers=headers,
                                                                                          timeout=30) as h2:
        async with Client(streamable_http_client(endpoint, http_client=h1)) as client, \
                streamable_http_client(endpoint, http_client=h2) as (read, write), \
                ClientSession(read, write, message_handler=on_message) as legacy:
            await legacy.initialize()
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                await legacy.subscribe_resource("prompt://default")
            for _ in range(20):
                start = time.monotonic()
                await client.read_resource("prompt://default")
                reads.append((time.monotonic() - start) * 1000)
            async with client.listen(resource_subscriptions=["prompt://default"]) as subscription:
                events = aiter(subscription)
                await anyio.sleep(0.5)
                for i in range(WRITES):
                    legacy_seen.clear()
                    writer.set("prompt:active", f"v{i + 1}\n")
                    written = time.monotonic()
                    with anyio.fail_after(5):
                        await anext(events)
                    modern_lags.append((time.monotonic() - written) * 1000)
                    with anyio.fail_after(5):
                        while not legacy_seen:
                            await anyio.sleep(0.0005)
                    legacy_lags.append((legacy_seen[0] - written) * 1000)
                    await anyio.sleep(0.02)
    writer.close()
    modern_lags.sort()
    legacy_lags.sort()
    reads.sort()
    return [
        ("mcp over http", f"a SET -> resources/updated, 2026-07-28 listen stream / handshake-era subscribe, "
                          f"p50 / p99 of {WRITES}",
         f"{statistics.median(modern_lags):.1f} / {statistics.median(legacy_lags):.1f} ms, "
         f"p99 {p99(modern_lags):.1f} / {p99(legacy_lags):.1f} ms"),
        ("mcp over http", "resources/read with a bearer token: the first, then the next 19 within its ttlMs "
                          "(the SDK client answers those from its cache), median",
         f"{reads[-1]:.1f} ms, then {statistics.median(reads[:-1]):.2f} ms"),
    ]


def run() -> list[tuple[str, str, str]]:
    server = TestServer().start()
    directory = Path(tempfile.mkdtemp(prefix="dprompt-bench-mcp-"))
    proc, endpoint = _start(server.url, directory)
    try:
        return asyncio.run(_measure(server.url, endpoint))
    finally:
        proc.terminate()
        proc.wait(10)
        server.cleanup()


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
