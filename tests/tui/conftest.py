"""Fixtures for the dashboard tests: an app factory on the test server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dynamic_prompt.core.config import Settings
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.tui.app import DashboardApp
from tests.tui.helpers import SERVER_LABEL

AppFactory = Callable[..., DashboardApp]


@pytest.fixture(autouse=True)
def _own_archive(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every dashboard keeps an archive: the test's own data dir's, never the person's DPROMPT_ARCHIVE."""
    monkeypatch.delenv("DPROMPT_ARCHIVE", raising=False)


@pytest.fixture
def make_app(target: ServerTarget, settings: Settings, redis_sync: object) -> AppFactory:
    """Build a dashboard on the (flushed) test server; keyword arguments pass through."""

    def factory(name: str = "default", **kwargs: object) -> DashboardApp:
        kwargs.setdefault("server_label", SERVER_LABEL)
        kwargs.setdefault("remember_theme", False)
        return DashboardApp(target, kwargs.pop("settings", settings), name, **kwargs)  # type: ignore[arg-type]

    return factory
