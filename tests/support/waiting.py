"""Waiting for something that happens in another thread or process, with a deadline."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(probe: Callable[[], T], timeout: float = 5.0, interval: float = 0.005) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last value {value!r}")
        time.sleep(interval)


async def eventually_async(
    probe: Callable[[], T | Awaitable[T]], timeout: float = 5.0, interval: float = 0.02
) -> T:
    """:func:`eventually` for async tests: sleeps without blocking the loop (a feed under
    test may run on it), and awaits ``probe``'s result when it is awaitable."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last value {value!r}")
        await asyncio.sleep(interval)
