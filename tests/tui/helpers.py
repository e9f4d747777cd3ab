"""Helpers for the dashboard tests: sample prompts, waiting, reading panes as text."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from textual.pilot import Pilot
from textual.widget import Widget

from dynamic_prompt.tui.app import DashboardApp
from dynamic_prompt.tui.screens.confirm import ConfirmScreen

SAMPLE = """# Support assistant

You are a support assistant for Acme's billing product.

Tone: Friendly

## Rules
1. Answer in plain English
2. Cite the help-center article you used
3. Never promise refunds
4. Ask for the invoice number before looking anything up

DEFAULT 3 SENTENCES
"""

FIXED_NOW = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
SERVER_LABEL = "redis://127.0.0.1:****/0 (test)"


async def wait_for(pilot: Pilot[None], predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Let the app run until ``predicate()`` is true (fails after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {getattr(predicate, '__name__', predicate)}")
        await pilot.pause(0.02)


async def settle(pilot: Pilot[None], timeout: float = 10.0) -> None:
    """Wait for the feed to be live and every pending read and diff to land."""
    app = pilot.app
    assert isinstance(app, DashboardApp)

    def ready() -> bool:
        screen = app.dashboard
        return screen.status.mode == "notifications" and screen.settled

    await wait_for(pilot, ready, timeout)
    await pilot.pause()
    await wait_for(pilot, ready, timeout)


async def answer(pilot: Pilot[None], key: str) -> ConfirmScreen:
    """Wait for a confirmation, answer it with ``key`` (``y``/``n``) and wait until it closes;
    returns the answered dialog (its ``title_text`` and ``detail`` say what it asked)."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    dialog = app.screen
    assert isinstance(dialog, ConfirmScreen)
    await pilot.press(key)
    await wait_for(pilot, lambda: app.screen is not dialog)
    return dialog


def lines_of(widget: Widget) -> list[str]:
    """The widget's visible content lines as plain text (what a person sees).

    A container's lines are cut from its screen as drawn (its children included).
    """
    if widget.is_container:
        region = widget.content_region
        strips = widget.screen._compositor.render_strips()
        rows = strips[region.y : region.bottom]
        return ["".join(s.text for s in row.crop(region.x, region.right)).rstrip() for row in rows]
    out = []
    for y in range(widget.size.height):
        strip = widget.render_line(y)
        out.append("".join(segment.text for segment in strip).rstrip())
    return out


def text_of(widget: Widget) -> str:
    """:func:`lines_of` joined with newlines."""
    return "\n".join(lines_of(widget))


def run_sync(coro: object) -> object:
    """Run a coroutine to completion from a synchronous test (snapshot tests)."""
    return asyncio.run(coro)  # type: ignore[arg-type]
