"""``dprompt mcp`` end to end: the SDK's own client drives the real server over stdio.

Every test spawns ``python -m dynamic_prompt.cli --redis-url <test server> mcp``
as a subprocess, speaks MCP to it with ``mcp.client.stdio.stdio_client`` and
``ClientSession`` (or ``mcp.Client`` for the 2026-07-28 era), and checks what
lands in Redis with a plain redis-py client, the way ``redis-cli`` would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import anyio
import pytest
import redis

pytest.importorskip("mcp")

from mcp import Client, ClientSession, StdioServerParameters, types  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from mcp.client.subscriptions import ResourceUpdated  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402

from tests.support.checks import BAD_NAMES, bad_name_reason, one_line  # noqa: E402
from tests.support.servers import stop_process  # noqa: E402
from tests.support.web import PROMPT as WEB_PROMPT  # noqa: E402
from tests.support.web import Drip, Site  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::mcp.MCPDeprecationWarning")  # resources/subscribe is handshake-era

ROOT = Path(__file__).resolve().parents[2]
PROMPT = (ROOT / "prompts" / "assistant.md").read_text("utf-8")
TOOLS = {
    "list_prompts", "load_prompt", "get_active_prompt", "modify_prompt", "revert_prompt",
    "restore_version", "revert_change", "rename_prompt", "duplicate_prompt", "show_diff", "get_history",
    "clear_prompts", "get_metadata", "health_check",
    "list_labels", "get_prompt_at_label", "move_label", "start_rollout", "stop_rollout", "set_prompt_config",
    "get_version", "search_history", "get_fleet",
}  # fmt: skip


# -- helpers ------------------------------------------------------------------------------------


def server_params(redis_url: str | None, *flags: str) -> StdioServerParameters:
    """How to start ``dprompt mcp``: this interpreter, the test's private config and data dirs."""
    env = {
        "DPROMPT_CONFIG": os.environ["DPROMPT_CONFIG"],  # tmp paths, set by the autouse fixture
        "DPROMPT_DATA_DIR": os.environ["DPROMPT_DATA_DIR"],
        "DPROMPT_USER": "tester",
        # The client passes only a minimal environment; make the package importable either way.
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p),
    }
    args = ["-m", "dynamic_prompt.cli", *(["--redis-url", redis_url] if redis_url else []), "mcp", *flags]
    return StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(ROOT))


class Inbox:
    """Collects what the server sends unasked; tests wait for a matching notification."""

    def __init__(self) -> None:
        self.notifications: list[Any] = []
        self.errors: list[Exception] = []  # e.g. a stdout line that is not JSON-RPC

    async def __call__(self, message: Any) -> None:
        if isinstance(message, Exception):
            self.errors.append(message)
        else:
            self.notifications.append(message)

    async def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 8.0) -> Any:
        with anyio.fail_after(timeout):
            while True:
                for note in self.notifications:
                    if predicate(note):
                        return note
                await anyio.sleep(0.02)

    def updated(self, uri: str) -> Callable[[Any], bool]:
        return lambda n: isinstance(n, types.ResourceUpdatedNotification) and n.params.uri == uri


@asynccontextmanager
async def connect(
    redis_url: str | None, errlog: TextIO, *flags: str
) -> AsyncIterator[tuple[ClientSession, Inbox]]:
    """A handshake-era session (what Claude Desktop and Cursor speak) with the spawned server."""
    inbox = Inbox()
    async with stdio_client(server_params(redis_url, *flags), errlog=errlog) as (read, write):
        async with ClientSession(read, write, message_handler=inbox) as session:
            await session.initialize()
            yield session, inbox


async def call(session: ClientSession | Client, tool: str, **arguments: Any) -> types.CallToolResult:
    return await session.call_tool(tool, arguments)


def text(result: types.CallToolResult) -> str:
    assert len(result.content) == 1
    item = result.content[0]
    assert isinstance(item, types.TextContent)
    return item.text


async def ok(session: ClientSession | Client, tool: str, **arguments: Any) -> types.CallToolResult:
    result = await call(session, tool, **arguments)
    assert not result.is_error, text(result)
    return result


async def error(session: ClientSession, tool: str, **arguments: Any) -> str:
    """Call a tool that must fail; its message is one line."""
    result = await call(session, tool, **arguments)
    message = text(result)
    assert result.is_error, message
    return one_line(message)


async def feed_ready(session: ClientSession | Client) -> None:
    """Wait until the server's change feed is subscribed, so no write can slip past it."""
    with anyio.fail_after(8):
        while True:
            result = await ok(session, "health_check")
            assert result.structured_content is not None
            if result.structured_content["change_feed"] in ("notifications", "tracking", "channel", "polling"):
                return
            await anyio.sleep(0.05)


@pytest.fixture
def errlog(tmp_path: Path) -> Any:
    with open(tmp_path / "server-stderr.log", "w+", encoding="utf-8") as fh:
        yield fh


# -- tests ----------------------------------------------------------------------------------------


async def test_initialize_and_tool_schemas(server_url: str, redis_sync: redis.Redis, errlog: TextIO) -> None:
    inbox = Inbox()
    async with stdio_client(server_params(server_url), errlog=errlog) as (read, write):
        async with ClientSession(read, write, message_handler=inbox) as session:
            init = await session.initialize()
            listed = (await session.list_tools()).tools
    assert init.server_info.name == "dynamic-prompt"
    caps = init.capabilities
    assert caps.tools is not None
    assert caps.resources is not None and caps.resources.subscribe and caps.resources.list_changed
    assert caps.prompts is not None and caps.prompts.list_changed
    assert init.instructions and "modify_prompt" in init.instructions

    tools = {tool.name: tool for tool in listed}
    assert set(tools) == TOOLS
    for tool in tools.values():
        schema = tool.input_schema
        assert tool.description and len(tool.description) > 60, tool.name
        assert schema["type"] == "object" and schema["additionalProperties"] is False, tool.name
        assert set(schema) <= {"type", "properties", "required", "additionalProperties"}, tool.name
        for prop in schema["properties"].values():
            assert prop.get("description") and "anyOf" not in prop, tool.name
        if tool.name not in ("list_prompts", "health_check", "search_history"):  # these span every prompt
            name = schema["properties"]["name"]
            assert name["default"] == "default" and name["pattern"].startswith("^"), tool.name
            assert "name" not in schema.get("required", []), tool.name
    modify = tools["modify_prompt"].input_schema
    assert modify["required"] == ["instruction"]
    assert "add rule: <text>" in modify["properties"]["instruction"]["description"]
    assert set(modify["properties"]) == {"instruction", "user_id", "dry_run", "name", "note", "label"}
    assert "yes, delete NAME" in tools["clear_prompts"].input_schema["properties"]["confirm"]["description"]
    assert tools["load_prompt"].input_schema["required"] == ["source"]
    # A model learns up front what this server reads, and what the operator could allow.
    load = tools["load_prompt"].description or ""
    assert "reads no files" in load and "--files-under DIR" in load
    assert "fetches no URLs" in load and "--allow-urls" in load
    assert tools["get_history"].input_schema["properties"]["limit"] == {
        "default": 10, "description": "How many entries to return, newest first.",
        "maximum": 1000, "minimum": 1, "type": "integer",
    }  # fmt: skip
    annotations = {name: tool.annotations for name, tool in tools.items()}
    assert annotations["clear_prompts"] is not None and annotations["clear_prompts"].destructive_hint
    assert annotations["get_active_prompt"] is not None and annotations["get_active_prompt"].read_only_hint
    assert annotations["modify_prompt"] is not None and not annotations["modify_prompt"].read_only_hint

    errlog.seek(0)
    assert "serving the prompts on redis://" in errlog.read()  # the log went to stderr
    assert inbox.errors == []  # and stdout carried nothing but JSON-RPC


async def test_every_tool_round_trip(
    server_url: str, redis_sync: redis.Redis, errlog: TextIO, tmp_path: Path
) -> None:
    prompt_file = tmp_path / "assistant.md"
    prompt_file.write_text(PROMPT, "utf-8")
    async with connect(server_url, errlog, "--files-under", str(tmp_path)) as (s, _):
        assert "No prompts are stored yet" in text(await ok(s, "list_prompts"))

        loaded = await ok(s, "load_prompt", source=str(prompt_file))
        assert "Loaded prompt 'default'" in text(loaded) and "as version 1" in text(loaded)
        assert loaded.structured_content == {
            "name": "default", "uri": "prompt://default", "version": 1, "changed": True,
            "loaded_size": len(PROMPT.encode()), "source": f"file:{prompt_file}",
        }  # fmt: skip
        assert redis_sync.get("prompt:active") == PROMPT  # the gem's key, readable by the gem
        assert "already exists" in await error(s, "load_prompt", source=str(prompt_file))

        active = await ok(s, "get_active_prompt")
        assert text(active) == PROMPT
        assert active.structured_content is not None and active.structured_content["version"] == 1

        preview = await ok(s, "modify_prompt", instruction="change tone to sarcastic", dry_run=True)
        assert "Dry run: nothing was written" in text(preview)
        assert "-Tone: Friendly" in text(preview) and "+Tone: Sarcastic" in text(preview)
        assert redis_sync.get("prompt:active") == PROMPT

        modified = await ok(s, "modify_prompt", instruction="add rule: Never use emojis", user_id="alice")
        assert text(modified).splitlines() == ["+ 8. Never use emojis", "Prompt 'default' is now version 2."]
        assert "8. Never use emojis" in str(redis_sync.get("prompt:active"))

        unified = text(await ok(s, "show_diff"))
        assert unified.startswith("--- default original\n+++ default active\n@@")
        assert "\n+8. Never use emojis\n" in unified
        summary = await ok(s, "show_diff", format="summary")
        assert text(summary) == "+ 8. Never use emojis"

        history = await ok(s, "get_history", limit=5)
        lines = text(history).splitlines()
        assert len(lines) == 2
        assert "v2 MODIFY by alice" in lines[0] and lines[0].endswith(": add rule: Never use emojis")
        assert "v1 LOAD by tester" in lines[1]
        assert history.structured_content is not None
        assert [e["action"] for e in history.structured_content["entries"]] == ["modify", "load"]

        reverted = await ok(s, "revert_prompt")
        assert "now version 3" in text(reverted)
        assert redis_sync.get("prompt:active") == PROMPT
        assert "Already at the original" in text(await ok(s, "revert_prompt"))

        restored = await ok(s, "restore_version", version=2)
        assert text(restored) == "Restored version 2 of prompt 'default': now version 4."
        assert "8. Never use emojis" in str(redis_sync.get("prompt:active"))

        await ok(s, "load_prompt", source="You are the support agent.\n", kind="text", name="support")
        listing = await ok(s, "list_prompts")
        assert [line.split(":")[0] for line in text(listing).splitlines()] == ["default", "support"]
        assert listing.structured_content is not None
        assert [(p["name"], p["version"]) for p in listing.structured_content["prompts"]] == [
            ("default", 4), ("support", 1),
        ]  # fmt: skip

        meta = await ok(s, "get_metadata")
        assert meta.structured_content is not None
        assert meta.structured_content["version"] == 4
        assert meta.structured_content["modified_from_original"] is True
        assert meta.structured_content["keys"]["active"] == "prompt:active"
        assert '"version": 4' in text(meta)

        health = await ok(s, "health_check")
        assert health.structured_content is not None
        assert health.structured_content["prompts"] == 2
        assert health.structured_content["server"] == server_url
        assert text(health).startswith(f"OK: {server_url} answers in ")

        cleared = await ok(s, "clear_prompts", name="support", confirm="yes, delete support")
        assert text(cleared) == "Deleted prompt 'support' with its original, versions and changelog."
        assert redis_sync.exists("prompt:{support}:active", "prompt:{support}:changelog") == 0
        assert redis_sync.get("prompt:active") is not None  # other prompts untouched


async def test_errors_are_one_line_tool_errors(server_url: str, redis_sync: redis.Redis, errlog: TextIO) -> None:
    async with connect(server_url, errlog, "--files-under", str(ROOT)) as (s, _):
        assert bad_name_reason(BAD_NAMES["bang"]) in await error(s, "get_active_prompt", name=BAD_NAMES["bang"])
        assert bad_name_reason("x" * 65) in await error(s, "get_history", name="x" * 65)
        assert await error(s, "get_active_prompt", name="ghost") == (
            "There is no prompt named 'ghost'; load one first."
        )
        assert "'ghost'" in await error(s, "modify_prompt", instruction="add rule: x", name="ghost")
        assert "'ghost'" in await error(s, "revert_prompt", name="ghost")
        assert "missing.md" in await error(s, "load_prompt", source="./no/such/dir/missing.md")
        assert "'kind' is not valid" in await error(s, "load_prompt", source="x", kind="ftp")

        await ok(s, "load_prompt", source=PROMPT, kind="text")
        before = redis_sync.get("prompt:active")
        assert "Try:" in await error(s, "modify_prompt", instruction="make it pop with sparkles")
        await error(s, "modify_prompt", instruction="remove rule about unicorns")
        assert redis_sync.get("prompt:active") == before
        history = (await ok(s, "get_history")).structured_content
        assert history is not None and [e["action"] for e in history["entries"]] == ["load"]

        message = await error(s, "clear_prompts")
        assert 'confirm set to "yes, delete default"' in message and "nothing was deleted" in message
        assert "does not match" in await error(s, "clear_prompts", confirm="yes")
        assert "does not match" in await error(s, "clear_prompts", confirm="yes, delete support")
        assert redis_sync.get("prompt:active") == before

        assert await error(s, "modify_prompt") == "Bad arguments for modify_prompt: 'instruction' is required."
        assert "'limt' is not an argument" in await error(s, "get_history", limt=3)
        assert "'limit' is not valid" in await error(s, "get_history", limit="many")
        assert "'version' is not valid" in await error(s, "restore_version", version=0)
        assert "has no version 99" in await error(s, "restore_version", version=99)
        assert "There is no tool named 'drop_database'" in await error(s, "drop_database")

        assert text(await ok(s, "get_active_prompt")) == before  # still serving, nothing changed


async def test_operator_limits_which_files_and_urls_load_prompt_reads(
    server_url: str, redis_sync: redis.Redis, errlog: TextIO, tmp_path: Path
) -> None:
    allowed = tmp_path / "prompts"
    allowed.mkdir()
    (allowed / "ok.md").write_text("Inside the allowed folder.\n", "utf-8")
    secret = tmp_path / "secret.md"
    secret.write_text("Outside: must never be read.\n", "utf-8")
    (allowed / "sneaky.md").symlink_to(secret)  # a link may not lead out of the folder
    async with connect(server_url, errlog, "--files-under", str(allowed), "--no-urls") as (s, _):
        assert "outside the folders" in await error(s, "load_prompt", source=str(secret))
        assert "outside the folders" in await error(s, "load_prompt", source=str(allowed / "sneaky.md"))
        assert "outside the folders" in await error(s, "load_prompt", source=str(allowed / ".." / "secret.md"))
        assert "does not fetch URLs" in await error(s, "load_prompt", source="https://example.com/p.md")
        assert redis_sync.get("prompt:active") is None  # nothing was stored by the refusals
        await ok(s, "load_prompt", source=str(allowed / "ok.md"))
        assert redis_sync.get("prompt:active") == "Inside the allowed folder.\n"
        await ok(s, "load_prompt", source="Plain text still loads.", name="texty")
    async with connect(server_url, errlog, "--no-files") as (s, _):
        assert "does not read files" in await error(s, "load_prompt", source=str(allowed / "ok.md"), force=True)
        # Forcing the file reading by kind is refused the same way.
        assert "does not read files" in await error(s, "load_prompt", source=str(secret), kind="file", force=True)
    assert redis_sync.get("prompt:active") == "Inside the allowed folder.\n"


def written(client: redis.Redis) -> list[str]:
    """Every key, but the reconcile lease the server takes on start (a read's bookkeeping)."""
    return sorted(k for k in client.keys("*") if k != "dprompt:reconciled")


@pytest.fixture
def site() -> Any:
    """A real HTTP server on 127.0.0.1 answering every path with a prompt (it counts requests)."""
    with Site("127.0.0.1") as running:
        yield running


async def test_by_default_no_file_is_read_and_no_url_fetched(
    server_url: str, redis_sync: redis.Redis, errlog: TextIO, site: Site
) -> None:
    async with connect(server_url, errlog) as (s, _):
        message = await error(s, "load_prompt", source="/etc/shadow")
        assert message.startswith("This server does not read files;") and "--files-under DIR" in message
        assert "does not read files" in await error(s, "load_prompt", source="/etc/shadow", kind="file")
        for url in (site.url(), site.url(host="0x7f000001")):  # 0x7f000001 is 127.0.0.1
            message = await error(s, "load_prompt", source=url)
            assert message.startswith("This server does not fetch URLs;") and "--allow-urls" in message
        assert written(redis_sync) == []  # the refusals wrote nothing
        await ok(s, "load_prompt", source="Plain text still loads.\n", name="texty")
    assert site.hits == []
    assert redis_sync.get("prompt:{texty}:active") == "Plain text still loads.\n"


async def test_allow_urls_still_refuses_loopback_and_allow_private_urls_fetches_it(
    server_url: str, redis_sync: redis.Redis, errlog: TextIO, site: Site
) -> None:
    urls = (site.url("/p.md"), site.url("/p.md", host="0x7f000001"))
    async with connect(server_url, errlog, "--allow-urls") as (s, _):
        for url in urls:
            message = await error(s, "load_prompt", source=url)
            assert message.startswith(f"{url} leads to 127.0.0.1, a loopback address,"), message
            assert "--allow-private-urls" in message
    assert site.hits == [] and written(redis_sync) == []
    async with connect(server_url, errlog, "--allow-private-urls") as (s, _):
        for number, url in enumerate(urls):
            await ok(s, "load_prompt", source=url, name=f"web{number}")
            assert redis_sync.get(f"prompt:{{web{number}}}:active") == WEB_PROMPT
    assert site.hits == ["/p.md", "/p.md"]


async def test_the_config_file_mcp_table_allows_and_flags_win(
    server_url: str, redis_sync: redis.Redis, errlog: TextIO, site: Site, tmp_path: Path
) -> None:
    allowed = tmp_path / "prompts"
    allowed.mkdir()
    (allowed / "ok.md").write_text("From the configured folder.\n", "utf-8")
    Path(os.environ["DPROMPT_CONFIG"]).write_text(
        f'[mcp]\nfiles_under = ["{allowed}"]\nallow_urls = true\nallow_private_urls = true\n', "utf-8"
    )
    async with connect(server_url, errlog) as (s, _):
        await ok(s, "load_prompt", source=str(allowed / "ok.md"), name="file")
        await ok(s, "load_prompt", source=site.url("/p.md"), name="web")
        assert "outside the folders" in await error(s, "load_prompt", source=str(tmp_path / "x.md"))
    assert redis_sync.get("prompt:{file}:active") == "From the configured folder.\n"
    assert redis_sync.get("prompt:{web}:active") == WEB_PROMPT
    async with connect(server_url, errlog, "--no-urls", "--no-files") as (s, _):
        assert "does not fetch URLs" in await error(s, "load_prompt", source=site.url("/p.md"), name="web", force=True)
        assert "does not read files" in await error(s, "load_prompt", source=str(allowed / "ok.md"), name="f2")
    async with connect(server_url, errlog, "--allow-urls") as (s, _):  # the file's private addresses still apply
        await ok(s, "load_prompt", source=site.url("/p.md"), name="web2")
    assert site.hits == ["/p.md", "/p.md"]


def test_bad_mcp_table_is_one_line(server_url: str, tmp_path: Path) -> None:
    Path(os.environ["DPROMPT_CONFIG"]).write_text('[mcp]\nallow_urls = "yes"\n', "utf-8")
    env = {**os.environ, **server_params(None).env}  # type: ignore[dict-item]
    proc = subprocess.run([sys.executable, "-m", "dynamic_prompt.cli", "--redis-url", server_url, "mcp"],
                          env=env, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == f"error: {os.environ['DPROMPT_CONFIG']}: [mcp] allow_urls must be true or false.\n"


async def test_files_under_checks_what_is_opened(
    server_url: str, redis_sync: redis.Redis, errlog: TextIO, tmp_path: Path
) -> None:
    allowed = tmp_path / "prompts"
    allowed.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a b.txt").write_text("Outside, with a space.\n", "utf-8")
    (outside / "secret.md").write_text("Outside: must never be read.\n", "utf-8")
    os.link(outside / "secret.md", allowed / "hard.md")
    os.mkfifo(allowed / "pipe.md")
    async with connect(server_url, errlog, "--files-under", str(allowed)) as (s, _):
        # A path with a space: the same refusal whether it exists or not (no probing the disk).
        there = await error(s, "load_prompt", source=str(outside / "a b.txt"))
        not_there = await error(s, "load_prompt", source=str(outside / "c d.txt"))
        assert there.replace("a b.txt", "X") == not_there.replace("c d.txt", "X")
        assert "outside the folders this server may read" in there and "--files-under DIR" in there
        assert "hard links" in await error(s, "load_prompt", source=str(allowed / "hard.md"))
        with anyio.fail_after(10):  # a FIFO with no writer must not hang the call
            assert "not a regular file" in await error(s, "load_prompt", source=str(allowed / "pipe.md"))
    assert written(redis_sync) == []


def _rpc(proc: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(message).encode() + b"\n")
    proc.stdin.flush()


@pytest.mark.timeout(60)
def test_the_server_exits_when_stdin_closes_during_a_dripping_fetch(server_url: str, tmp_path: Path) -> None:
    from mcp_types.version import LATEST_HANDSHAKE_VERSION

    params = server_params(server_url, "--allow-private-urls")
    with Drip(opening=b"H", byte=b"T", interval=2.0) as drip, open(tmp_path / "err.log", "wb") as err:
        proc = subprocess.Popen([params.command, *params.args], env=params.env, cwd=params.cwd,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        try:
            _rpc(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": LATEST_HANDSHAKE_VERSION, "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"}}})  # fmt: skip
            assert proc.stdout is not None and b'"id":1' in proc.stdout.readline()
            _rpc(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
            _rpc(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                        "params": {"name": "load_prompt", "arguments": {"source": drip.url()}}})  # fmt: skip
            assert drip.connected.wait(15), "the server never started the fetch"
            assert proc.stdin is not None
            proc.stdin.close()  # the client goes away in the middle of the fetch
            start = time.monotonic()
            try:
                code = proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                code = None
            assert code is not None, "the server was still running 8 s after stdin closed"
            assert time.monotonic() - start < 8
        finally:
            stop_process(proc)


async def test_resources_list_and_read(server_url: str, redis_sync: redis.Redis, errlog: TextIO) -> None:
    redis_sync.set("prompt:active", "Written the gem's way.\n")  # what redis-cli or the Ruby gem does
    async with connect(server_url, errlog) as (s, _):
        await ok(s, "load_prompt", source="# Support\n\nBe kind.\n", kind="text", name="support")
        resources = (await s.list_resources()).resources
        assert [(r.uri, r.name, r.mime_type) for r in resources] == [
            ("prompt://default", "default", "text/markdown"),
            ("prompt://support", "support", "text/markdown"),
        ]
        assert resources[1].size == len("# Support\n\nBe kind.\n") and "version 1" in (resources[1].description or "")

        default = (await s.read_resource("prompt://default")).contents
        assert len(default) == 1 and isinstance(default[0], types.TextResourceContents)
        assert default[0].text == "Written the gem's way.\n" and default[0].mime_type == "text/markdown"
        support = (await s.read_resource("prompt://support")).contents[0]
        assert isinstance(support, types.TextResourceContents) and support.text == "# Support\n\nBe kind.\n"

        with pytest.raises(MCPError, match="There is no prompt named 'ghost'"):
            await s.read_resource("prompt://ghost")
        with pytest.raises(MCPError, match="prompt resources look like prompt://NAME"):
            await s.read_resource("file:///etc/passwd")
        with pytest.raises(MCPError, match="Bad prompt name"):
            await s.read_resource("prompt://a b")

        templates = (await s.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["prompt://{name}", "prompt://{name}/v/{version}",
                                                       "prompt://{name}/fleet"]


async def test_subscribers_hear_plain_redis_writes(server_url: str, redis_sync: redis.Redis, errlog: TextIO) -> None:
    redis_sync.set("prompt:active", "v1\n")
    redis_sync.set("prompt:{other}:active", "other v1\n")
    async with connect(server_url, errlog) as (s, inbox):
        await feed_ready(s)
        await s.subscribe_resource("prompt://default")

        redis_sync.set("prompt:{other}:active", "other v2\n")  # not subscribed: no update for it
        redis_sync.set("prompt:active", "v2 from redis-cli\n")  # exactly what `redis-cli SET` does
        await inbox.wait_for(inbox.updated("prompt://default"))
        assert not any(inbox.updated("prompt://other")(n) for n in inbox.notifications)
        content = (await s.read_resource("prompt://default")).contents[0]
        assert isinstance(content, types.TextResourceContents) and content.text == "v2 from redis-cli\n"

        # A prompt appearing changes both lists.
        inbox.notifications.clear()
        redis_sync.set("prompt:{fresh}:active", "new\n")
        await inbox.wait_for(lambda n: isinstance(n, types.ResourceListChangedNotification))
        await inbox.wait_for(lambda n: isinstance(n, types.PromptListChangedNotification))
        assert "prompt://fresh" in [r.uri for r in (await s.list_resources()).resources]

        # A write through this server's own tools is announced the same way.
        inbox.notifications.clear()
        await ok(s, "load_prompt", source="v3 via the tool\n", kind="text", force=True)
        await inbox.wait_for(inbox.updated("prompt://default"))

        # Unsubscribed: silence for default; a new subscription hears its own prompt.
        await s.unsubscribe_resource("prompt://default")
        await s.subscribe_resource("prompt://fresh")
        inbox.notifications.clear()
        redis_sync.set("prompt:active", "v4\n")
        redis_sync.set("prompt:{fresh}:active", "fresh v2\n")
        await inbox.wait_for(inbox.updated("prompt://fresh"))
        assert not any(inbox.updated("prompt://default")(n) for n in inbox.notifications)

        # Deleting a subscribed prompt is an update (reading it now fails) and a list change.
        inbox.notifications.clear()
        redis_sync.delete("prompt:{fresh}:active")
        await inbox.wait_for(inbox.updated("prompt://fresh"))
        await inbox.wait_for(lambda n: isinstance(n, types.ResourceListChangedNotification))
        with pytest.raises(MCPError, match="no prompt named 'fresh'"):
            await s.read_resource("prompt://fresh")
    assert inbox.errors == []


async def test_subscriptions_survive_a_redis_restart(errlog: TextIO) -> None:
    from tests.support.servers import TestServer

    server = TestServer().start()
    try:
        async with connect(server.url, errlog) as (s, inbox):
            await feed_ready(s)
            await s.subscribe_resource("prompt://default")
            server.stop()
            server.start()
            # Writes may have been missed while the feed was down: after it resyncs, every
            # subscribed resource is announced again, with no write needed.
            await inbox.wait_for(inbox.updated("prompt://default"), timeout=15)
            await feed_ready(s)
            inbox.notifications.clear()
            redis.Redis.from_url(server.url).set("prompt:active", "after the restart\n")
            await inbox.wait_for(inbox.updated("prompt://default"))
            assert text(await ok(s, "get_active_prompt")) == "after the restart\n"
        assert inbox.errors == []
    finally:
        server.cleanup()


async def test_prompts_capability_offers_stored_prompts(
    server_url: str, redis_sync: redis.Redis, errlog: TextIO
) -> None:
    async with connect(server_url, errlog) as (s, _):
        await ok(s, "load_prompt", source=PROMPT, kind="text")
        await ok(s, "load_prompt", source="You are a terse support agent.\n", kind="text", name="support")
        prompts = (await s.list_prompts()).prompts
        assert [p.name for p in prompts] == ["default", "support"]
        assert all(p.description and "version 1" in p.description for p in prompts)

        got = await s.get_prompt("support")
        assert got.description is not None and "system message" in got.description
        assert len(got.messages) == 1 and got.messages[0].role == "user"
        content = got.messages[0].content
        assert isinstance(content, types.TextContent) and content.text == "You are a terse support agent.\n"
        first = (await s.get_prompt("default")).messages[0].content
        assert isinstance(first, types.TextContent) and first.text == PROMPT

        with pytest.raises(MCPError, match="There is no prompt named 'ghost'"):
            await s.get_prompt("ghost")


async def test_2026_clients_listen_for_updates(server_url: str, redis_sync: redis.Redis, errlog: TextIO) -> None:
    redis_sync.set("prompt:active", "v1\n")
    # mode "auto" (the default) discovers that the server speaks the 2026-07-28 protocol.
    async with Client(stdio_client(server_params(server_url), errlog=errlog)) as client:
        assert client.session.protocol_version == "2026-07-28"
        await feed_ready(client)
        async with client.listen(resource_subscriptions=["prompt://default"]) as subscription:
            redis_sync.set("prompt:active", "v2\n")
            with anyio.fail_after(8):
                events = aiter(subscription)
                event = await anext(events)
        assert event == ResourceUpdated(uri="prompt://default")
        content = (await client.read_resource("prompt://default")).contents[0]
        assert isinstance(content, types.TextResourceContents) and content.text == "v2\n"


async def test_unreachable_redis_gives_tool_errors_not_a_crash(errlog: TextIO) -> None:
    from tests.support.servers import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    async with connect(dead, errlog) as (s, inbox):
        assert (await s.list_tools()).tools  # the protocol side works without Redis
        message = await error(s, "health_check")
        assert message.startswith(f"Cannot reach the Redis server at {dead}")
        assert "Cannot reach" in await error(s, "get_active_prompt")
        with pytest.raises(MCPError, match="Cannot reach"):
            await s.list_resources()
        assert "Cannot reach" in await error(s, "health_check")  # still serving
    assert inbox.errors == []


async def test_embedded_server_notice_stays_off_stdout(redis_sync: redis.Redis, errlog: TextIO) -> None:
    from dynamic_prompt.server import embedded

    data_dir = Path(os.environ["DPROMPT_DATA_DIR"])
    try:
        async with connect(None, errlog) as (s, inbox):
            health = await ok(s, "health_check")
            assert health.structured_content is not None and health.structured_content["origin"] == "embedded"
        errlog.seek(0)
        assert "Started the embedded server at unix://" in errlog.read()  # its own socket, no TCP
        assert inbox.errors == []  # stdout carried only JSON-RPC
    finally:
        embedded.stop(data_dir)


def test_missing_sdk_is_one_line(server_url: str) -> None:
    # `sys.modules["mcp"] = None` makes `import mcp` fail as if the extra were not installed.
    code = (
        "import sys; sys.modules['mcp'] = None\n"
        "from dynamic_prompt.cli import main\n"
        "sys.argv = ['dprompt', 'mcp']\n"
        "main()\n"
    )
    env = {**os.environ, **server_params(None).env}  # type: ignore[dict-item]
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == "error: The MCP server needs the 'mcp' extra: pip install 'dynamic-prompt[mcp]'\n"
    # The check comes first: no embedded server was started for nothing.
    assert not (Path(os.environ["DPROMPT_DATA_DIR"]) / "server.json").exists()


@pytest.mark.timeout(60)
async def test_a_change_along_a_2_mb_line_keeps_the_server_answering(
    server_url: str, redis_sync: redis.Redis, errlog: TextIO
) -> None:
    """A one-line 2 MB prompt with a word replaced all along it: the diff that summarises the
    change was quadratic in the line (16 s for 1 MB, every other request waiting behind it)."""
    line = ("The agent answers politely. " * 75_000).rstrip() + "\n"
    redis_sync.set("prompt:active", line)
    async with connect(server_url, errlog) as (s, _):
        with anyio.fail_after(20):
            done = await ok(s, "modify_prompt", instruction='replace "politely" with "briefly"')
            assert done.structured_content is not None
            assert done.structured_content["changes"] == ["~ " + line.replace("politely", "briefly").strip()]
            assert (await ok(s, "health_check")).structured_content is not None
    assert redis_sync.get("prompt:active") == line.replace("politely", "briefly")
