"""Pure text work the store does for a write, kept off the event loop when it is big.

Applying an instruction or diffing two versions is microseconds for an everyday
prompt and can be tens of milliseconds for a 4 MB one. On the event loop of the MCP
server or the dashboard that would stall every other request and every repaint, so
inputs above :data:`OFFLOAD_CHARS` run in a worker thread; small ones run inline,
where a thread hop would cost more than the work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from dynamic_prompt.core import delta, modifier, revert
from dynamic_prompt.core import diff as diffmod

T = TypeVar("T")

OFFLOAD_CHARS = 64 * 1024
"""Texts longer than this are diffed and edited in a worker thread."""


async def _maybe_offload(size: int, work: Callable[[], T]) -> T:
    if size <= OFFLOAD_CHARS:
        return work()
    return await asyncio.to_thread(work)


async def count_changes(old: str, new: str) -> tuple[int, int]:
    """:func:`dynamic_prompt.core.diff.count_changes`, off the loop for big texts."""
    return await _maybe_offload(len(old) + len(new), lambda: diffmod.count_changes(old, new))


async def make_delta(base: str, target: str, base_version: int) -> str:
    """:func:`dynamic_prompt.core.delta.make`, off the loop for big texts."""
    return await _maybe_offload(len(base) + len(target), lambda: delta.make(base, target, base_version))


async def modify_text(text: str, instruction: str) -> modifier.ModifyResult:
    """:func:`dynamic_prompt.core.modifier.modify_text`, off the loop for big texts."""
    return await _maybe_offload(len(text), lambda: modifier.modify_text(text, instruction))


async def revert_change(before: str, after: str, current: str, *, version: int, name: str,
                        current_version: int) -> str:
    """:func:`dynamic_prompt.core.revert.revert_change`, off the loop for big texts."""
    return await _maybe_offload(
        len(before) + len(after) + len(current),
        lambda: revert.revert_change(before, after, current, version=version, name=name,
                                     current_version=current_version),
    )
