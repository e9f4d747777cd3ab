"""dynamic-prompt: system prompts for LLM agents, kept in Redis and tuned live.

The core library never imports Textual; the dashboard lives in
``dynamic_prompt.tui`` and is loaded only when it starts. The names below are
imported lazily, so ``import dynamic_prompt`` costs almost nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from dynamic_prompt.core.version import __version__

# public name -> module that defines it
_EXPORTS = {
    "DynamicPrompt": "dynamic_prompt.facade",
    "PromptStore": "dynamic_prompt.store",
    "ChangeFeed": "dynamic_prompt.live.feed",
    "Settings": "dynamic_prompt.core.config",
    "load_settings": "dynamic_prompt.core.config",
    "DynamicPromptError": "dynamic_prompt.core.errors",
    "PromptClient": "dynamic_prompt.live.client",
    "AsyncPromptClient": "dynamic_prompt.live.client",
    "Read": "dynamic_prompt.live.client",
    "AgentInfo": "dynamic_prompt.store.fleet",
    "fleet": "dynamic_prompt.store.fleet",
    "fleet_async": "dynamic_prompt.store.fleet",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:
    from dynamic_prompt.core.config import Settings, load_settings
    from dynamic_prompt.core.errors import DynamicPromptError
    from dynamic_prompt.facade import DynamicPrompt
    from dynamic_prompt.live.client import AsyncPromptClient, PromptClient, Read
    from dynamic_prompt.live.feed import ChangeFeed
    from dynamic_prompt.store import PromptStore
    from dynamic_prompt.store.fleet import AgentInfo, fleet, fleet_async


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dynamic_prompt' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
