"""``dprompt mcp --print-config CLIENT``: the snippet that makes an MCP client run this server.

GUI apps (Claude Desktop, Cursor) do not start from your shell, so they do not see its
PATH or its environment. The snippet therefore names this ``dprompt`` by its absolute
path, and carries the environment the server needs to find the same Redis the dashboard
uses: nothing for the embedded default or a server in the config file (the server reads
the config file itself), ``REDIS_URL`` for a server named only in this shell's
environment, never with a password (the snippet sits in a file other programs read).
The arguments are the safe ones: no files, no URLs.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.redact import mask_url

SAFE_ARGS = ("mcp", "--no-files", "--no-urls")
"""load_prompt stores literal text only, whatever the config file allows (remove the flags to let it decide)."""

SERVER_NAME = "dynamic-prompt"


def dprompt_path() -> str:
    """The absolute path of the ``dprompt`` that is running (the console script beside this Python)."""
    beside = Path(sys.executable).parent / "dprompt"
    if beside.exists():
        return str(beside)
    argv0 = Path(sys.argv[0])
    if argv0.name == "dprompt" and argv0.exists():
        return str(argv0.resolve())
    import shutil

    found = shutil.which("dprompt")
    return str(Path(found).resolve()) if found else str(beside)


def server_env(settings: Settings) -> tuple[dict[str, str], str]:
    """The environment the client must give the server, and one line saying which Redis it uses."""
    env: dict[str, str] = {}
    for name in ("DPROMPT_CONFIG", "DPROMPT_DATA_DIR"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    url = settings.redis_url
    if not url:
        return env, "the embedded default (the same server as your dashboard)"
    shown = mask_url(url)
    if settings.redis_url_origin == "config file":
        return env, f"{shown} (from the config file, which the server reads too)"
    if shown != url:
        return env, (f"{shown}: its password is not written here; put redis_url in the config file "
                     "(chmod 600) so the server finds it")
    env["REDIS_URL"] = url
    return env, f"{shown} (given in the snippet's env)"


def client_config(client: str, settings: Settings) -> tuple[str, str]:
    """The snippet for ``client`` (``claude``, ``cursor`` or ``claude-code``), and a line on where it goes.

    The snippet alone goes to stdout (so it can be piped into a file); the line to stderr.
    """
    command = dprompt_path()
    env, server = server_env(settings)
    if client == "claude-code":
        exports = " ".join(f"--env {k}={shlex.quote(v)}" for k, v in env.items())
        line = f"claude mcp add --scope user {exports + ' ' if exports else ''}{SERVER_NAME} -- " \
               f"{shlex.quote(command)} {' '.join(SAFE_ARGS)}"
        return line, f"Run this once in a shell. Server: {server}."
    entry: dict[str, object] = {"command": command, "args": list(SAFE_ARGS)}
    if env:
        entry["env"] = env
    where = ("claude_desktop_config.json (Settings > Developer > Edit Config)" if client == "claude"
             else ".cursor/mcp.json in the project, or ~/.cursor/mcp.json for every project")
    snippet = json.dumps({"mcpServers": {SERVER_NAME: entry}}, indent=2)
    return snippet, f"Put this in {where}. Server: {server}."
