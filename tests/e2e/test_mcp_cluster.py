"""The MCP server on a real Redis Cluster: tools write, resources read, a write through
another node is announced to a subscriber."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import pytest
from mcp import types
from mcp.shared.exceptions import MCPDeprecationWarning

from tests.e2e.test_mcp import connect, feed_ready, ok
from tests.support.cluster import TestCluster, start_cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[TestCluster]:
    started = start_cluster()
    yield started
    started.cleanup()


@pytest.fixture
def errlog(tmp_path: Path) -> Any:
    with open(tmp_path / "server-stderr.log", "w+", encoding="utf-8") as fh:
        yield fh


async def test_mcp_tools_resources_and_updates_on_a_cluster(cluster: TestCluster, errlog: TextIO) -> None:
    rc = cluster.cluster_client()
    async with connect(cluster.url, errlog) as (s, inbox):
        await feed_ready(s)
        await ok(s, "load_prompt", source="# Agent\n\nTone: Calm\n", kind="text", name="support")
        await ok(s, "load_prompt", source="The default prompt.\n", kind="text")
        await ok(s, "modify_prompt", instruction="change tone to dry", name="support")
        assert "Tone: Dry" in (rc.get("prompt:{support}:active") or "")
        assert rc.get("prompt:{default}:active") == "The default prompt.\n"
        uris = sorted(r.uri for r in (await s.list_resources()).resources)
        assert uris == ["prompt://default", "prompt://support"]
        with pytest.warns(MCPDeprecationWarning):  # the handshake era's way, which older clients still use
            await s.subscribe_resource("prompt://support")
        rc.set("prompt:{support}:active", "written through the cluster client\n")
        await inbox.wait_for(inbox.updated("prompt://support"))
        content = (await s.read_resource("prompt://support")).contents[0]
        assert isinstance(content, types.TextResourceContents)
        assert content.text == "written through the cluster client\n"
    rc.close()
