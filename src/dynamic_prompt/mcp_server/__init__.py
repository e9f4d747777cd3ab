"""``dprompt mcp``: the prompts as an MCP server over stdio, on the official ``mcp`` SDK.

What a client gets:

- **tools** for every operation of the seed's MCP server (load, get, modify,
  revert, diff, history, clear, metadata, health) plus ``list_prompts``,
  ``restore_version``, ``revert_change``, ``rename_prompt`` and ``duplicate_prompt``;
  see :mod:`dynamic_prompt.mcp_server.tools`;
- **resources** ``prompt://NAME`` (``text/markdown``), one per stored prompt,
  with subscriptions: a write by anyone (this server, the dashboard, an agent,
  ``redis-cli``) reaches subscribed clients as ``notifications/resources/updated``,
  and prompts appearing or disappearing as ``list_changed``;
- **prompts**: every stored prompt offered as an MCP prompt, so a client can
  pick its system prompt from the server.

The ``mcp`` SDK is an optional extra. Nothing here imports it at module level:
:func:`require_sdk` checks for it and :func:`serve` imports the server modules
only once the check has passed, so ``dprompt`` without the extra still works
and ``dprompt mcp`` fails with one line saying what to install.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

from dynamic_prompt.core.errors import DynamicPromptError
from dynamic_prompt.store.sources import SourcePolicy

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dynamic_prompt.core.config import Settings
    from dynamic_prompt.mcp_server.http import Token
    from dynamic_prompt.server import ServerTarget

__all__ = ["MISSING_SDK_MESSAGE", "MCPUnavailableError", "require_sdk", "serve", "serve_http"]

MISSING_SDK_MESSAGE = "The MCP server needs the 'mcp' extra: pip install 'dynamic-prompt[mcp]'"

MIN_SDK_MAJOR = 2
"""The server is written against the 2.x SDK (lowlevel ``Server`` with ``on_*`` handlers)."""


class MCPUnavailableError(DynamicPromptError):
    """The ``mcp`` SDK is not installed, or is a version this server cannot use."""


def require_sdk() -> None:
    """Raise :class:`MCPUnavailableError` (one line) unless a usable ``mcp`` SDK is importable."""
    try:
        import mcp  # noqa: F401 - only checking that it is there
        from mcp.server.lowlevel import Server  # noqa: F401
    except ImportError:
        raise MCPUnavailableError(MISSING_SDK_MESSAGE) from None
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("mcp")
    except PackageNotFoundError:  # pragma: no cover - importable but not installed (a checkout)
        return
    major = found.split(".", 1)[0]
    if major.isdigit() and int(major) < MIN_SDK_MAJOR:
        # The 1.x SDK has the same module names but another handler API: say so
        # plainly rather than fail later with an AttributeError.
        raise MCPUnavailableError(
            f"The MCP server needs mcp {MIN_SDK_MAJOR}.x or newer (found {found}): "
            "pip install -U 'dynamic-prompt[mcp]'"
        )


def configure_logging() -> None:
    """Send every log record to stderr: on stdio, stdout carries the protocol and nothing else.

    Our own loggers log at INFO (startup line, change-feed mode changes); the
    SDK and libraries only at WARNING, so an MCP client's log pane stays
    readable. ``DPROMPT_DEBUG=1`` turns everything up to DEBUG.
    """
    debug = bool(os.environ.get("DPROMPT_DEBUG"))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("dprompt-mcp %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    # Replace, not add: a handler some import installed on stdout would corrupt the wire.
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("dynamic_prompt").setLevel(logging.DEBUG if debug else logging.INFO)


def serve(target: ServerTarget, settings: Settings, policy: SourcePolicy | None = None) -> None:
    """Run the MCP server on stdin/stdout until the client closes stdin.

    Args:
        target: the Redis server holding the prompts (already resolved; an
            embedded server was started, and announced on stderr, if needed).
        settings: retention, size limit and the default author of changes.
        policy: which files and URLs ``load_prompt`` may read (default: none,
            only literal text; see :mod:`dynamic_prompt.mcp_server.policy`).
    """
    require_sdk()
    configure_logging()
    import anyio

    from dynamic_prompt.mcp_server.app import run_stdio

    anyio.run(run_stdio, target, settings, policy or SourcePolicy())


def serve_http(target: ServerTarget, settings: Settings, policy: SourcePolicy, tokens: Sequence[Token], *,
               host: str, port: int, max_sessions: int, max_listeners: int, max_request_bytes: int) -> None:
    """Run the MCP server on Streamable HTTP (``http://HOST:PORT/mcp``) until interrupted.

    Every request needs one of ``tokens``; see :mod:`dynamic_prompt.mcp_server.http`.
    """
    require_sdk()
    configure_logging()
    import anyio

    from dynamic_prompt.mcp_server.app import run_http

    try:
        anyio.run(lambda: run_http(target, settings, policy, tokens, host=host, port=port,
                                   max_sessions=max_sessions, max_listeners=max_listeners,
                                   max_request_bytes=max_request_bytes))
    except KeyboardInterrupt:
        pass
