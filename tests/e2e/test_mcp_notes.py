"""``dprompt mcp``: revert one change, notes on every write tool, diffs of two versions.

The real server over stdio, driven by the SDK's own client (see test_mcp.py), checked
in Redis with a plain client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import pytest
import redis

pytest.importorskip("mcp")

from tests.e2e.test_mcp import PROMPT, connect, error, ok, text  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::mcp.MCPDeprecationWarning")

RULE = "8. Reply in the user's language"


@pytest.fixture
def errlog(tmp_path: Path) -> Iterator[TextIO]:
    with open(tmp_path / "server-stderr.log", "w+", encoding="utf-8") as fh:
        yield fh


def entries(r: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(item) for item in r.lrange("prompt:changelog", 0, -1)]


async def three_versions(s: Any) -> None:
    await ok(s, "load_prompt", source=PROMPT, kind="text", note="first draft")
    await ok(s, "modify_prompt", instruction="change tone to sarcastic", note="try a sharper voice")
    await ok(s, "modify_prompt", instruction="add rule: Reply in the user's language")


async def test_tool_schemas_offer_notes_and_revert_change(
    server_url: str, redis_sync: redis.Redis, errlog: TextIO
) -> None:
    async with connect(server_url, errlog) as (s, _):
        tools = {tool.name: tool for tool in (await s.list_tools()).tools}
    for name in ("load_prompt", "modify_prompt", "revert_prompt", "restore_version", "revert_change"):
        note = tools[name].input_schema["properties"]["note"]
        assert note["type"] == "string" and note["default"] == "" and "one line" in note["description"], name
    revert = tools["revert_change"]
    assert revert.input_schema["required"] == ["version"]
    assert set(revert.input_schema["properties"]) == {"version", "name", "user_id", "note", "dry_run"}
    assert revert.input_schema["properties"]["version"]["minimum"] == 1
    assert revert.annotations is not None and not revert.annotations.read_only_hint
    assert "keeping every change made after it" in (revert.description or "")
    assert "to_version" in tools["show_diff"].input_schema["properties"]


async def test_revert_change_keeps_later_changes_and_history_shows_notes(
    server_url: str, redis_sync: redis.Redis, errlog: TextIO
) -> None:
    async with connect(server_url, errlog) as (s, _):
        await three_versions(s)
        preview = await ok(s, "revert_change", version=2, dry_run=True)
        assert text(preview).startswith("Dry run: nothing was written.")
        assert "-Tone: Sarcastic\n+Tone: Friendly\n" in text(preview)
        assert redis_sync.hget("prompt:meta", "version") == "3"

        done = await ok(s, "revert_change", version=2, user_id="alice", note="tone test over")
        assert text(done).splitlines() == [
            "~ Tone: Friendly",
            "Reverted the change of version 2 of prompt 'default', keeping later changes: now version 4.",
        ]
        assert done.structured_content == {
            "name": "default", "reverted": 2, "version": 4, "changed": True, "dry_run": False,
            "changes": ["~ Tone: Friendly"],
        }  # fmt: skip
        active = redis_sync.get("prompt:active")
        assert active is not None and "Tone: Friendly" in active and RULE in active

        history = await ok(s, "get_history", limit=4)
        lines = text(history).splitlines()
        assert "v4 REVERT-CHANGE by alice" in lines[0]
        assert lines[0].endswith(": revert the change of v2 (note: tone test over)")
        assert lines[2].endswith(": change tone to sarcastic (note: try a sharper voice)")
        assert history.structured_content is not None
        assert [e.get("note") for e in history.structured_content["entries"]] == [
            "tone test over", None, "try a sharper voice", "first draft",
        ]  # fmt: skip
        assert text(await ok(s, "revert_change", version=2)) == (
            "The change of v2 is not in the current text any more; nothing to revert."
        )


async def test_revert_change_conflict_is_a_one_line_tool_error_and_writes_nothing(
    server_url: str, redis_sync: redis.Redis, errlog: TextIO
) -> None:
    async with connect(server_url, errlog) as (s, _):
        await three_versions(s)
        await ok(s, "modify_prompt", instruction="change tone to dry")
        message = await error(s, "revert_change", version=2)
        assert message.startswith("Cannot revert the change of v2 of 'default': a later change touched the same lines")
        assert "'Tone: Sarcastic' is now line" in message and "'Tone: Dry'" in message
        assert "Version 1 is the first version" in await error(s, "revert_change", version=1)
        assert "has no version 9" in await error(s, "revert_change", version=9)
        assert redis_sync.hget("prompt:meta", "version") == "4" and redis_sync.llen("prompt:changelog") == 4


async def test_every_write_tool_records_its_note_and_a_bad_one_writes_nothing(
    server_url: str, redis_sync: redis.Redis, errlog: TextIO
) -> None:
    async with connect(server_url, errlog) as (s, _):
        await three_versions(s)
        await ok(s, "revert_prompt", note="back to base")
        await ok(s, "restore_version", version=3, note="keep the language rule")
        await ok(s, "load_prompt", source="Replaced.\n", kind="text", force=True, note="start over")
        assert [(e["action"], e.get("note")) for e in entries(redis_sync)][:3] == [
            ("load", "start over"), ("restore", "keep the language rule"), ("revert", "back to base"),
        ]  # fmt: skip
        before = (redis_sync.get("prompt:active"), redis_sync.llen("prompt:changelog"))
        for tool, arguments in (
            ("modify_prompt", {"instruction": "change tone to dry"}),
            ("revert_prompt", {}),
            ("restore_version", {"version": 2}),
            ("revert_change", {"version": 3}),
            ("load_prompt", {"source": "x\n", "kind": "text", "force": True}),
        ):
            message = await error(s, tool, note="two\nlines", **arguments)
            assert "contains a line break or control characters" in message, tool
        assert "the limit is 500" in await error(s, "modify_prompt", instruction="change tone to dry", note="x" * 501)
        assert (redis_sync.get("prompt:active"), redis_sync.llen("prompt:changelog")) == before


async def test_show_diff_of_two_versions(server_url: str, redis_sync: redis.Redis, errlog: TextIO) -> None:
    async with connect(server_url, errlog) as (s, _):
        await three_versions(s)
        two = await ok(s, "show_diff", against_version=2, to_version=3)
        assert text(two).startswith("--- default v2\n+++ default v3\n@@")
        assert f"\n+{RULE}\n" in text(two)
        assert two.structured_content is not None and two.structured_content["to"] == 3
        summary = await ok(s, "show_diff", against_version=3, to_version=1, format="summary")
        assert text(summary).splitlines() == ["~ Tone: Friendly", f"- {RULE}"]
        same = await ok(s, "show_diff", against_version=2, to_version=2)
        assert text(same) == "No changes: version 2 is the same as version 2."
        assert "to_version needs against_version" in await error(s, "show_diff", to_version=2)
        assert "has no version 7" in await error(s, "show_diff", against_version=1, to_version=7)


async def test_rename_and_duplicate_keep_the_history_and_refuse_a_taken_name(
    server_url: str, redis_sync: redis.Redis, errlog: TextIO
) -> None:
    async with connect(server_url, errlog) as (s, _):
        await ok(s, "load_prompt", source=PROMPT, kind="text", name="support")
        await ok(s, "modify_prompt", instruction="change tone to sarcastic", name="support")
        done = await ok(s, "rename_prompt", name="support", new_name="helpdesk", note="one team now")
        assert text(done) == "Renamed prompt 'support' to 'helpdesk', keeping its history: version 2."
        assert done.structured_content == {"name": "helpdesk", "old_name": "support", "version": 2}
        assert redis_sync.get("prompt:{support}:active") is None
        active = redis_sync.get("prompt:{helpdesk}:active")
        assert active is not None and "Tone: Sarcastic" in active
        history = await ok(s, "get_history", name="helpdesk", limit=5)
        assert history.structured_content is not None
        assert [e["action"] for e in history.structured_content["entries"]] == ["rename", "modify", "load"]

        copy = await ok(s, "duplicate_prompt", name="helpdesk", new_name="helpdesk-eu")
        assert text(copy) == "Started prompt 'helpdesk-eu' from 'helpdesk''s active text: version 1."
        assert redis_sync.get("prompt:{helpdesk-eu}:active") == active

        taken = await error(s, "rename_prompt", name="helpdesk-eu", new_name="helpdesk")
        assert taken == "Prompt 'helpdesk' already exists; rename refuses to replace it (nothing was changed)."
        assert redis_sync.get("prompt:{helpdesk-eu}:active") == active  # nothing was written
