"""The fleet pane's reader: the agents of the listed prompts, about once a second, while it shows."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from textual.message import Message
from textual.widget import Widget

from dynamic_prompt.core.errors import DynamicPromptError
from dynamic_prompt.store import PromptStore
from dynamic_prompt.store.fleet import AgentInfo

FLEET_REFRESH = 1.0
"""Seconds between reads of the fleet while its pane shows."""


@dataclass
class FleetLoaded(Message):
    """Every agent of the watched prompts, as the last read found them."""

    agents: tuple[AgentInfo, ...]


class FleetWatch(Widget):
    """Reads the fleet of :attr:`names` every :data:`FLEET_REFRESH` s while :attr:`active`."""

    DEFAULT_CSS = "FleetWatch { display: none; }"

    def __init__(self, store: PromptStore) -> None:
        super().__init__(id="fleet-watch")
        self.store = store
        self.names: Sequence[str] = ()
        self.active = False
        self._wake = asyncio.Event()

    def on_mount(self) -> None:
        """Start the reader (it sleeps while the pane is hidden)."""
        self.run_worker(self._watch(), name="fleet", group="fleet", exit_on_error=False)

    def follow(self, names: Sequence[str], active: bool) -> None:
        """Read the fleet of ``names`` while ``active`` (the pane shows), starting now."""
        self.names = tuple(names)
        self.active = active
        self._wake.set()

    async def _watch(self) -> None:
        while True:
            if not self.active:
                await self._wake.wait()
            self._wake.clear()
            if self.active and self.names:
                try:
                    found = await self.store.fleet(self.names)
                    self.post_message(FleetLoaded(tuple(agent for rows in found.values() for agent in rows)))
                except DynamicPromptError:
                    pass  # the status bar already says the server is away
            # A wake (the pane opened, the names changed) cuts the wait short.
            try:
                await asyncio.wait_for(self._wake.wait(), FLEET_REFRESH)
            except asyncio.TimeoutError:
                pass
