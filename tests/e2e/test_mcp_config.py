"""``dprompt mcp --print-config``: the snippets a newcomer pastes, and the README's copies of them.

The README shows exactly what the command prints, with the absolute path of ``dprompt``
written as ``/home/you/.local/bin/dprompt``; a change to either shows here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dynamic_prompt.mcp_server.tools import TOOLS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text("utf-8")
PLACEHOLDER = "/home/you/.local/bin/dprompt"


def print_config(client: str, home: Path, **env: str) -> tuple[str, str]:
    """As a newcomer runs it: a home of their own, no DPROMPT_* overrides (unless given)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DPROMPT_", "XDG_")) and k != "REDIS_URL"}
    done = subprocess.run([sys.executable, "-m", "dynamic_prompt.cli", "mcp", "--print-config", client],
                          capture_output=True, text=True, timeout=30, env={**clean, "HOME": str(home), **env})
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def readme_block(client: str) -> str:
    found = re.search(rf"<!-- print-config:{client}:start -->\n```\w*\n(.*?)```\n<!-- print-config:{client}:end -->",
                      README, re.S)
    assert found is not None, f"the README has no print-config block for {client}"
    return found.group(1)


@pytest.mark.parametrize("client", ["claude", "claude-code"])
def test_the_readme_snippets_are_what_print_config_prints(client: str, tmp_path: Path) -> None:
    out, where = print_config(client, tmp_path)
    command = json.loads(out)["mcpServers"]["dynamic-prompt"]["command"] if client == "claude" else \
        out.split(" -- ", 1)[1].split(" ", 1)[0]
    assert os.path.isabs(command) and os.access(command, os.X_OK), command
    assert out.replace(command, PLACEHOLDER) == readme_block(client)
    assert "the embedded default" in where  # nothing configured: the same server as the dashboard


def test_cursor_takes_the_same_json_as_claude(tmp_path: Path) -> None:
    assert print_config("cursor", tmp_path)[0] == print_config("claude", tmp_path)[0]


def test_a_url_from_the_shell_goes_into_env_only_without_a_password(tmp_path: Path) -> None:
    out, where = print_config("claude", tmp_path, REDIS_URL="redis://prompts.internal:6379/2")
    assert json.loads(out)["mcpServers"]["dynamic-prompt"]["env"]["REDIS_URL"] == "redis://prompts.internal:6379/2"
    out, where = print_config("claude", tmp_path, REDIS_URL="redis://ann:s3cret-pass@prompts.internal:6379/2")
    assert "s3cret-pass" not in out + where
    assert "REDIS_URL" not in json.loads(out)["mcpServers"]["dynamic-prompt"].get("env", {})
    assert "config file" in where
    config = tmp_path / "config.toml"
    config.write_text('redis_url = "redis://ann:s3cret-pass@prompts.internal:6379/2"\n', encoding="utf-8")
    out, where = print_config("claude-code", tmp_path, DPROMPT_CONFIG=str(config))
    assert "s3cret-pass" not in out + where and "from the config file" in where


def test_the_readme_lists_every_mcp_tool() -> None:
    listed = set(re.findall(r"^\| `(\w+)[(`]", README, re.M))
    assert set(TOOLS) <= listed, sorted(set(TOOLS) - listed)
