"""``dprompt mcp --http``: a real MCP client from the official SDK, over Streamable HTTP, with tokens.

The server runs as a real process on a free port; the clients are the SDK's own
(``Client`` in auto mode speaks 2026-07-28: stateless requests and ``subscriptions/listen``;
``ClientSession`` speaks the handshake era with ``resources/subscribe``). A write made
with a plain Redis client reaches a listening client as ``resources/updated``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import redis
from mcp import Client, ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from mcp.server.subscriptions import ResourceUpdated
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from tests.e2e.test_mcp import Inbox, feed_ready, ok, text
from tests.reliability.clirun import ok as ok_run
from tests.reliability.clirun import run_cli
from tests.support.checks import one_error_line, one_line
from tests.support.servers import cli_path, free_port

WRITER = "w" * 8 + "-writer-token-for-tests-0123456789"
READER = "r" * 8 + "-reader-token-for-tests-0123456789"


def start_http(server_url: str, tmp_path: Path, *flags: str) -> tuple[subprocess.Popen[bytes], str]:
    """``dprompt mcp --http`` on a free port with one write and one read token; its /mcp URL."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[mcp.tokens]]\nname = "ann"\ntoken = "{WRITER}"\naccess = "write"\n\n'
        f'[[mcp.tokens]]\nname = "dash"\ntoken = "{READER}"\naccess = "read"\n', encoding="utf-8")
    config.chmod(0o600)
    port = free_port()
    env = {**os.environ, "DPROMPT_CONFIG": str(config), "REDIS_URL": server_url}
    proc = subprocess.Popen([sys.executable, "-m", "dynamic_prompt.cli", "mcp", "--http", "--port", str(port),
                             *flags], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx2.get(url, timeout=0.5)
            break
        except httpx2.TransportError:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "server exited") from None
            time.sleep(0.05)
    return proc, url


def stop_http(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def http_server(server_url: str, tmp_path: Path) -> Iterator[str]:
    proc, url = start_http(server_url, tmp_path)
    yield url
    stop_http(proc)


@asynccontextmanager
async def modern(url: str, token: str) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


@asynccontextmanager
async def handshake(url: str, token: str) -> AsyncIterator[tuple[ClientSession, Inbox]]:
    inbox = Inbox()
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write, message_handler=inbox) as session:
                await session.initialize()
                yield session, inbox


async def test_a_2026_client_lists_reads_modifies_and_hears_a_redis_cli_write_within_100_ms(
        http_server: str, server_url: str, redis_sync: redis.Redis) -> None:
    redis_sync.set("prompt:active", "You are helpful.\n")
    async with modern(http_server, WRITER) as client:
        assert client.session.protocol_version == "2026-07-28"
        await feed_ready(client)
        listed = await client.list_resources()
        assert "prompt://default" in [r.uri for r in listed.resources]
        assert listed.ttl_ms == 5_000 and listed.cache_scope == "private"  # cache hints: neither hammer nor stale
        content = (await client.read_resource("prompt://default")).contents[0]
        assert isinstance(content, types.TextResourceContents) and content.text == "You are helpful.\n"
        await ok(client, "modify_prompt", instruction="add rule: never use emojis", note="over http")
        assert "never use emojis" in (redis_sync.get("prompt:active") or "")
        async with client.listen(resource_subscriptions=["prompt://default"]) as subscription:
            events = aiter(subscription)
            port = server_url.rsplit(":", 1)[1].split("/")[0]
            subprocess.run([cli_path(), "-p", port, "-n", server_url.rsplit("/", 1)[1], "SET", "prompt:active",
                            "Written by redis-cli.\n"], check=True, capture_output=True, timeout=10)
            written = time.monotonic()
            with anyio.fail_after(5):
                event = await anext(events)
            heard = time.monotonic() - written
        assert event == ResourceUpdated(uri="prompt://default")
        assert redis_sync.get("prompt:active") == "Written by redis-cli.\n"
        assert heard < 0.1, f"resources/updated came {heard * 1000:.0f} ms after the write"


async def test_a_handshake_era_client_subscribes_over_http(http_server: str, redis_sync: redis.Redis) -> None:
    redis_sync.set("prompt:active", "v1\n")
    async with handshake(http_server, WRITER) as (session, inbox):
        await feed_ready(session)
        with pytest.warns(MCPDeprecationWarning):  # the SDK says it is gone from 2026-07-28: older clients use it
            await session.subscribe_resource("prompt://default")
        redis_sync.set("prompt:active", "v2\n")
        await inbox.wait_for(inbox.updated("prompt://default"))
        tools = {t.name for t in (await session.list_tools()).tools}
        assert "modify_prompt" in tools


async def test_a_wrong_token_or_none_is_refused(http_server: str, redis_sync: redis.Redis) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    for auth in ({}, {"Authorization": "Bearer not-a-token-we-know-of-at-all"}, {"Authorization": f"Basic {WRITER}"}):
        answer = httpx2.post(http_server, json=body, headers={**headers, **auth}, timeout=5)
        assert answer.status_code == 401, answer.text
    redis_sync.set("prompt:active", "untouched\n")
    with pytest.raises(Exception):  # noqa: B017,PT011 - the SDK raises its transport's error for a 401
        async with modern(http_server, READER[:-1] + "X") as client:
            await client.list_tools()
    assert redis_sync.get("prompt:active") == "untouched\n"


async def test_a_read_token_reads_and_listens_but_every_write_is_refused(
        http_server: str, redis_sync: redis.Redis) -> None:
    redis_sync.set("prompt:active", "Read me.\n")
    async with modern(http_server, READER) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert "get_active_prompt" in tools and "modify_prompt" not in tools and "clear_prompts" not in tools
        assert text(await ok(client, "get_active_prompt")) .startswith("Read me.")
        for tool, args in (("modify_prompt", {"instruction": "add rule: x"}),
                           ("load_prompt", {"source": "new text", "kind": "text", "force": True}),
                           ("clear_prompts", {"name": "default", "confirm": "yes, delete default"})):
            result = await client.call_tool(tool, args)
            assert result.is_error
            assert "may read but not write" in one_line(text(result))
        assert redis_sync.get("prompt:active") == "Read me.\n"
        async with client.listen(resource_subscriptions=["prompt://default"]) as subscription:
            events = aiter(subscription)
            redis_sync.set("prompt:active", "Changed.\n")
            with anyio.fail_after(5):
                assert await anext(events) == ResourceUpdated(uri="prompt://default")


async def test_load_prompt_over_http_reads_no_file_and_no_private_url_by_default(
        http_server: str, server_url: str, redis_sync: redis.Redis) -> None:
    redis_sync.set("prompt:active", "kept\n")
    port = server_url.rsplit(":", 1)[1].split("/")[0]
    async with modern(http_server, WRITER) as client:
        for source in ("/etc/shadow", f"http://127.0.0.1:{port}/"):
            result = await client.call_tool("load_prompt", {"source": source, "force": True})
            assert result.is_error, text(result)
            message = one_line(text(result))
            assert "root:" not in message
    assert redis_sync.get("prompt:active") == "kept\n"


async def test_a_request_body_over_the_limit_is_refused_before_it_is_read(http_server: str) -> None:
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "load_prompt", ' \
           b'"arguments": {"source": "' + b"x" * (2 * 1024 * 1024) + b'"}}}'
    answer = httpx2.post(http_server, content=body, timeout=10, headers={
        "Authorization": f"Bearer {WRITER}", "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28"})
    assert answer.status_code == 413


def test_http_without_tokens_or_with_a_readable_config_is_one_line(server_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    env: dict[str, Any] = {**os.environ, "DPROMPT_CONFIG": str(config), "REDIS_URL": server_url}
    run = subprocess.run([sys.executable, "-m", "dynamic_prompt.cli", "mcp", "--http", "--port", str(free_port())],
                         env=env, capture_output=True, text=True, timeout=30)
    assert "--new-token" in one_error_line(run.returncode, run.stderr)
    config.write_text(f'[[mcp.tokens]]\nname = "ann"\ntoken = "{WRITER}"\naccess = "write"\n', encoding="utf-8")
    config.chmod(0o644)
    run = subprocess.run([sys.executable, "-m", "dynamic_prompt.cli", "mcp", "--http", "--port", str(free_port())],
                         env=env, capture_output=True, text=True, timeout=30)
    assert "chmod 600" in one_error_line(run.returncode, run.stderr)


async def test_versions_diffs_the_fleet_and_the_archive_are_tools_and_resources(
        http_server: str, server_url: str, redis_sync: redis.Redis, tmp_path: Path) -> None:
    async with modern(http_server, WRITER) as client:
        await ok(client, "load_prompt", source="# Agent\nTone: Calm\n", kind="text", force=True)
        await ok(client, "modify_prompt", instruction="change tone to sarcastic")
        assert text(await ok(client, "get_version", version=1)) == "# Agent\nTone: Calm\n"
        content = (await client.read_resource("prompt://default/v/1")).contents[0]
        assert isinstance(content, types.TextResourceContents) and content.text == "# Agent\nTone: Calm\n"
        missing = await client.call_tool("get_version", {"version": 99})
        assert missing.is_error and "no version 99" in one_line(text(missing))
        diff = text(await ok(client, "show_diff", against_version=1, to_version=2))
        assert "-Tone: Calm" in diff and "+Tone: Sarcastic" in diff
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert {"prompt://{name}", "prompt://{name}/v/{version}", "prompt://{name}/fleet"} <= templates

        from dynamic_prompt import PromptClient

        agent = PromptClient(server_url, agent_id="http-test-agent", announce_interval=0.2)
        try:
            assert agent.get_active("default") is not None
            with anyio.fail_after(10):
                while "http-test-agent" not in text(await ok(client, "get_fleet")):
                    await anyio.sleep(0.1)
            fleet = (await client.read_resource("prompt://default/fleet")).contents[0]
            assert isinstance(fleet, types.TextResourceContents) and "http-test-agent" in fleet.text
        finally:
            agent.close()

        nothing = await client.call_tool("search_history", {"query": "sarcastic"})
        assert nothing.is_error and "dprompt archive" in one_line(text(nothing))
        ok_run(run_cli("archive", "--once", url=server_url))  # the operator's archiver, same data dir
        found = await ok(client, "search_history", query="sarcastic")
        assert found.structured_content is not None
        assert {(r["kind"], r["version"]) for r in found.structured_content["results"]} >= {("change", 2), ("version", 2)}


async def test_listen_streams_and_sessions_are_bounded(server_url: str, tmp_path: Path) -> None:
    proc, url = start_http(server_url, tmp_path, "--max-listeners", "1", "--max-sessions", "1")
    try:
        async with modern(url, READER) as client:
            async with client.listen(resource_subscriptions=["prompt://default"]):
                with pytest.raises(MCPError, match="Subscription limit"):
                    async with client.listen(resource_subscriptions=["prompt://other"]):
                        pass
            async with client.listen(resource_subscriptions=["prompt://other"]):  # the slot is free again
                pass
        async with handshake(url, READER) as (session, _):
            await session.list_tools()
            body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "two", "version": "1"}}}
            answer = httpx2.post(url, json=body, timeout=5, headers={
                "Authorization": f"Bearer {READER}", "Accept": "application/json, text/event-stream"})
            assert answer.status_code == 503  # a second session while one is open
    finally:
        stop_http(proc)
