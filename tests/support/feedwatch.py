"""Run a change feed (one server, or every primary of a cluster) in the background and wait for what it reports."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from dynamic_prompt.core.models import PromptEvent
from dynamic_prompt.live.cluster_feed import feed_for
from dynamic_prompt.server import ServerTarget


class FeedWatcher:
    """A feed task plus every event it delivered, stamped with ``time.monotonic()``."""

    def __init__(self, target: ServerTarget, **kwargs: Any) -> None:
        self.feed = feed_for(target, **kwargs)
        self.events: list[tuple[float, PromptEvent]] = []
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> FeedWatcher:
        self.task = asyncio.create_task(self.feed.run(self._collect))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.feed.stop()
        assert self.task is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.task, 10)
        # The feed must never have died of a fault: run() returns only when stopped.
        assert self.task.done() and self.task.exception() is None

    def _collect(self, event: PromptEvent) -> None:
        self.events.append((time.monotonic(), event))

    async def wait_for(self, predicate: Callable[[PromptEvent], bool], timeout: float,
                       since: float = 0.0) -> float:
        """Wait until an event after ``since`` matches; return when it arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, event in self.events:
                if at >= since and predicate(event):
                    return at
            assert self.task is not None and not self.task.done(), "the feed stopped"
            await asyncio.sleep(0.02)
        raise AssertionError(f"no matching event within {timeout} s; got {[e for _, e in self.events]}")

    async def wait_mode(self, mode: str, timeout: float, since: float = 0.0) -> float:
        return await self.wait_for(lambda e: e.kind == "mode" and e.mode == mode, timeout, since)

    async def wait_change(self, name: str, timeout: float, since: float = 0.0) -> float:
        return await self.wait_for(lambda e: e.kind == "changed" and e.name == name, timeout, since)

    async def wait_resync(self, timeout: float, since: float = 0.0) -> float:
        return await self.wait_for(lambda e: e.kind == "resync", timeout, since)
