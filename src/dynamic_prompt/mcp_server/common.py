"""Small shared pieces of the MCP server: URIs, timestamps, and what a tool gets and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from dynamic_prompt.core.errors import DynamicPromptError
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from dynamic_prompt.store.sources import SourcePolicy

URI_SCHEME = "prompt://"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
"""The JSON Schema form of :func:`dynamic_prompt.core.keys.validate_name`'s rule (shown to clients)."""


def prompt_uri(name: str) -> str:
    """The resource URI of prompt ``name``."""
    return f"{URI_SCHEME}{name}"


def iso(ts: float) -> str | None:
    """Unix seconds as an ISO 8601 UTC string; ``None`` for "never"."""
    if ts <= 0:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class ToolFailure(DynamicPromptError):
    """A tool refused the call (e.g. a missing confirmation); nothing was changed."""


@dataclass
class ToolContext:
    """What a tool call may use: the store, the server it talks to, the feed's state."""

    store: PromptStore
    target: ServerTarget
    feed_mode: Callable[[], str] = lambda: "unknown"
    policy: SourcePolicy = SourcePolicy()
    """Which files and URLs load_prompt may read (by default: none, only literal text)."""


@dataclass(frozen=True)
class ToolOutput:
    """A tool's answer: readable text for the model, plus JSON for programs."""

    text: str
    data: dict[str, Any] | None = None
