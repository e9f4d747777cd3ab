"""One computation of the completions per keystroke, off the dashboard's event loop."""

from __future__ import annotations

import threading

import pytest

from dynamic_prompt.core import modifier
from dynamic_prompt.store import PromptStore
from tests.tui.conftest import AppFactory
from tests.tui.helpers import SAMPLE, settle, wait_for


async def test_each_keystroke_computes_completions_once_in_a_worker_thread(
    store: PromptStore, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.load("default", SAMPLE, kind="text")
    calls: list[tuple[str, bool]] = []
    real = modifier.suggest

    def counted(partial: str, text: str | None = None, limit: int = 8) -> list[str]:
        calls.append((partial, threading.current_thread() is threading.main_thread()))
        return real(partial, text, limit)

    monkeypatch.setattr(modifier, "suggest", counted)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        bar = app.dashboard.instruction_bar
        typed = "remove rule ab"
        for n, key in enumerate(typed, 1):
            await pilot.press(key)
            await wait_for(pilot, lambda n=n: len(calls) >= n)
        await wait_for(pilot, lambda: "remove rule about" in bar.hint)
        await settle(pilot)
        assert [partial for partial, _ in calls] == [typed[:n] for n in range(1, len(typed) + 1)]
        assert not any(on_main for _, on_main in calls)  # never on the event loop's thread
        assert bar.input._suggestion.startswith("remove rule about")  # the ghost text: the same list
