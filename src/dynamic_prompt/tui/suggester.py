"""Input completions backed by :func:`dynamic_prompt.core.modifier.suggest`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.suggester import Suggester

from dynamic_prompt.core import modifier

BIG_TEXT = 200_000
"""Above this size the prompt's own rules/fields are not offered (parsing it per key costs too much)."""


def completions(value: str, text: str | None, limit: int = 8) -> list[str]:
    """Whole-instruction suggestions for ``value`` (never raises)."""
    if text is not None and len(text) > BIG_TEXT:
        text = None
    try:
        return list(modifier.suggest(value, text, limit=limit))
    except Exception:  # noqa: BLE001 - a suggestion must never break typing
        return []


def ghost(value: str, suggestion: str) -> str | None:
    """The inline completion of ``value`` from ``suggestion``, up to its first placeholder."""
    if not value.strip() or not suggestion.casefold().startswith(value.casefold()):
        return None
    cut = suggestion.find("<", len(value))
    completed = suggestion if cut < 0 else suggestion[:cut]
    return completed if len(completed) > len(value) else None


Found = Callable[[str, list[str]], None]
"""Told (what was typed, its completions) once they are computed."""


class InstructionSuggester(Suggester):
    """Suggests the rest of an instruction for the prompt ``text()`` returns.

    The completions are computed once per keystroke, in a thread (a big prompt's rules
    take a while to list), and serve both the ghost text in the input and, through
    ``found``, the hint line under it.
    """

    def __init__(self, text: Callable[[], str | None], found: Found | None = None) -> None:
        # The prompt changes under the input, so results are not cached.
        super().__init__(use_cache=False, case_sensitive=True)
        self._text = text
        self._found = found

    async def get_suggestion(self, value: str) -> str | None:
        """The first suggestion that continues what was typed."""
        text = self._text()
        found = await asyncio.to_thread(completions, value, text, 8)
        if self._found is not None:
            self._found(value, found)
        for suggestion in found:
            completed = ghost(value, suggestion)
            if completed is not None:
                return completed
        return None
