"""MCP tools for labels and rollouts, driven by the SDK's own client over stdio.

A model lists labels, reads a prompt at one, edits on a label, moves a label (refused
without the exact confirmation, which names what moves), and starts and ends a
rollout; every effect is checked in Redis itself.
"""

from __future__ import annotations

import json
from typing import TextIO

import pytest
import redis

pytest.importorskip("mcp")

from tests.e2e.test_mcp import connect, error, ok, text  # noqa: E402
from tests.e2e.test_mcp import errlog as errlog  # noqa: E402,F401 - the fixture

pytestmark = pytest.mark.filterwarnings("ignore::mcp.MCPDeprecationWarning")

TEXT = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n"


async def test_labels_and_rollouts_through_mcp(server_url: str, redis_sync: redis.Redis, errlog: TextIO) -> None:
    async with connect(server_url, errlog) as (session, _):
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        for name in ("move_label", "start_rollout", "stop_rollout"):
            annotations = tools[name].annotations
            assert annotations is not None and annotations.destructive_hint, name
        for name in ("list_labels", "get_prompt_at_label"):
            annotations = tools[name].annotations
            assert annotations is not None and annotations.read_only_hint, name

        await ok(session, "load_prompt", name="support", source=TEXT)
        refused = await error(session, "move_label", name="support", label="staging", to="production")
        assert "yes, move staging of support" in refused and "nothing was moved" in refused
        wrong = await error(session, "move_label", name="support", label="staging", to="production",
                            confirm="yes")
        assert "does not match" in wrong
        assert redis_sync.get("prompt:{support}:labels") is None
        await ok(session, "move_label", name="support", label="staging", to="production",
                 confirm="yes, move staging of support")
        edited = await ok(session, "modify_prompt", name="support", label="staging",
                          instruction="change tone to sarcastic")
        assert "production is unchanged" in text(edited)
        assert redis_sync.get("prompt:{support}:active") == TEXT
        at = await ok(session, "get_prompt_at_label", name="support", label="staging")
        assert "Tone: Sarcastic" in text(at) and at.structured_content is not None
        assert at.structured_content["version"] == 2
        listed = await ok(session, "list_labels", name="support")
        assert listed.structured_content is not None
        assert listed.structured_content["labels"] == {"production": 1, "latest": 2, "staging": 2}
        assert "nothing was moved" in await error(session, "start_rollout", name="support", to="staging", percent=30)
        await ok(session, "start_rollout", name="support", to="staging", percent=30, confirm="yes, roll out support")
        assert json.loads(redis_sync.get("prompt:{support}:release"))["rollout"]["percent"] == 30
        bad = await error(session, "get_prompt_at_label", name="support", label="Nope!")
        assert "label" in bad.lower()
        await ok(session, "stop_rollout", name="support", outcome="promote",
                 confirm="yes, end the rollout of support")
        assert "Tone: Sarcastic" in redis_sync.get("prompt:{support}:active")
        assert redis_sync.get("prompt:{support}:release") is None
        history = json.loads(redis_sync.lindex("prompt:{support}:changelog", 0))
        assert history["action"] == "promote" and history["metadata"]["from"] == 1


async def test_a_template_is_an_mcp_prompt_with_its_variables_as_arguments(
        server_url: str, redis_sync: redis.Redis, errlog: TextIO) -> None:
    from mcp.shared.exceptions import MCPError

    async with connect(server_url, errlog) as (session, _):
        await ok(session, "load_prompt", name="frag", source="Never share a card number.\n")
        await ok(session, "load_prompt", name="greeter",
                 source="Hi {{ user }} from {{ company }}.\n{% include \"frag\" %}")
        listed = {p.name: p for p in (await session.list_prompts()).prompts}
        arguments = listed["greeter"].arguments or []
        assert sorted(a.name for a in arguments) == ["company", "user"]
        assert listed["frag"].arguments is None
        got = await session.get_prompt("greeter", {"user": "Ada", "company": "Northwind"})
        content = got.messages[0].content
        assert content.text == "Hi Ada from Northwind.\nNever share a card number.\n"  # type: ignore[union-attr]
        with pytest.raises(MCPError, match="Missing variable 'company'"):
            await session.get_prompt("greeter", {"user": "Ada"})


async def test_a_config_is_set_read_and_diffed_through_mcp(server_url: str, redis_sync: redis.Redis,
                                                           errlog: TextIO) -> None:
    async with connect(server_url, errlog) as (session, _):
        await ok(session, "load_prompt", name="cfg", source=TEXT)
        done = await ok(session, "set_prompt_config", name="cfg", config={"model": "gpt-5", "temperature": 0.2},
                        note="try gpt-5")
        assert "version 2" in text(done) and "+model, +temperature" in text(done)
        assert json.loads(redis_sync.hget("prompt:{cfg}:meta", "config")) == {"model": "gpt-5", "temperature": 0.2}
        got = await ok(session, "get_active_prompt", name="cfg")
        assert text(got) == TEXT and got.structured_content["config"] == {"model": "gpt-5", "temperature": 0.2}
        diff = text(await ok(session, "show_diff", name="cfg", against_version=1, to_version=2))
        assert "+  \"model\": \"gpt-5\"," in diff
        for bad, says in (([1, 2], "Bad arguments for set_prompt_config: 'config' is not valid"),
                          ("gpt-5", "Bad arguments for set_prompt_config: 'config' is not valid"),
                          ({"t": "x" * 70_000}, "at most 65,536 are kept with a version"),
                          ({"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {
                              "a": {"a": {"a": {"a": {"a": 1}}}}}}}}}}}}}}}}}, "deeper than 16")):
            message = await error(session, "set_prompt_config", name="cfg", config=bad)
            assert says in message, message
        assert redis_sync.hget("prompt:{cfg}:meta", "version") == "2"  # every refusal wrote nothing
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert tools["set_prompt_config"].annotations.destructive_hint is False  # type: ignore[union-attr]
        await ok(session, "move_label", name="cfg", label="staging", to="production", confirm="yes, move staging of cfg")
        await ok(session, "set_prompt_config", name="cfg", label="staging", config={"model": "gpt-5-mini"})
        at = await ok(session, "get_prompt_at_label", name="cfg", label="staging")
        assert text(at) == TEXT and at.structured_content["config"] == {"model": "gpt-5-mini"}
        assert json.loads(redis_sync.hget("prompt:{cfg}:meta", "config")) == {"model": "gpt-5", "temperature": 0.2}
