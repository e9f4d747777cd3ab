"""The archive in the dashboard: it archives while open, F11 searches it, F12 counts.

The dashboard runs an archiver on its own store while it is open (into the archive file
of the settings, else the data dir's, which the test env makes a fresh temp dir per
test). The search screen finds versions and changelog entries; the hit chosen is
diffed against the active text in the diff pane, from the archive when Redis no longer
keeps that version. The stats screen charts changes per day and counts the rest.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

from textual.widgets import Sparkline

from dynamic_prompt.archive.db import Archive, default_path
from dynamic_prompt.archive.follower import server_id
from dynamic_prompt.core.config import Settings
from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui.app import DashboardApp
from dynamic_prompt.tui.screens.archive import SearchScreen, StatsScreen
from dynamic_prompt.tui.widgets.archive_stats import StatsPanel
from tests.tui.conftest import AppFactory
from tests.tui.helpers import SAMPLE, settle, text_of, wait_for

SIZE = (160, 48)


def _archived(app: DashboardApp, store: PromptStore,
              found: Callable[[Archive, str], object]) -> Callable[[], object]:
    """A predicate for wait_for: ``found(archive, server)`` on the dashboard's archive file, read by
    another connection (as `dprompt search` would)."""
    archive = Archive(app.archive_path)

    def check() -> object:
        return found(archive, server_id(store))

    check.__name__ = "archived"
    check.archive = archive  # type: ignore[attr-defined]
    return check


async def _open_search(pilot, app: DashboardApp, query: str) -> SearchScreen:  # type: ignore[no-untyped-def]
    await pilot.press("f11")
    await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
    screen = app.screen
    assert isinstance(screen, SearchScreen)
    screen.query_input.value = query
    await pilot.press("enter")
    await wait_for(pilot, lambda: screen.results.row_count > 0)
    return screen


async def _choose(pilot, app: DashboardApp, search: SearchScreen, kind: str, version: int) -> None:  # type: ignore[no-untyped-def]
    rows = [n for n, h in enumerate(search.results.hits) if h.kind == kind and h.version == version]
    assert rows, [(h.kind, h.version) for h in search.results.hits]
    search.results.focus()
    search.results.move_cursor(row=rows[0])
    await pilot.pause()
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen is app.dashboard)


async def test_the_open_dashboard_archives_a_change_another_client_made(
        store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    # Each test has its own data dir, so its own archive: nothing leaks between tests.
    assert app.archive_path == default_path()
    assert str(app.archive_path).startswith(os.environ["DPROMPT_DATA_DIR"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await wait_for(pilot, lambda: app.dashboard.archive.archive is not None)
        await store.modify("default", "add rule: mention the refund policy", user="alice")  # another client
        refund = _archived(app, store,
                           lambda a, s: [h for h in a.search("refund", server=s) if h.kind == "change"])
        await wait_for(pilot, refund, timeout=15)
        hit = refund()[0]  # type: ignore[index]
        assert (hit.name, hit.version, hit.user_id, hit.action) == ("default", 2, "alice", "modify")
        await wait_for(pilot, _archived(app, store, lambda a, s: a.version(s, "default", 2)))
        refund.archive.close()  # type: ignore[attr-defined]


async def test_search_finds_an_instruction_and_the_hit_chosen_shows_in_the_diff_pane(
        store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.modify("default", "change tone to sarcastic", user="alice")
    await store.modify("default", "add rule: keep it short", user="bob")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        caught_up = _archived(app, store, lambda a, s: a.counts(s)[1] >= 3)  # catch-up: 3 changelog entries
        await wait_for(pilot, caught_up, timeout=15)
        search = await _open_search(pilot, app, "sarcastic")
        kinds = {(h.kind, h.version) for h in search.results.hits}
        assert ("change", 2) in kinds and ("version", 2) in kinds  # the instruction, and the texts it made
        assert "change tone to sarcastic" in text_of(search.results)
        await _choose(pilot, app, search, "change", 2)
        diff = app.dashboard.diff_view
        await wait_for(pilot, lambda: "Diff: v2 → v3 (active)" in str(diff.border_title))
        assert "keep it short" in text_of(diff)  # what v3 added to v2
        caught_up.archive.close()  # type: ignore[attr-defined]


async def test_a_version_only_the_archive_keeps_is_diffed_from_the_archive(
        settings: Settings, target: object, redis_sync: object, make_app: AppFactory) -> None:
    short = dataclasses.replace(settings, version_retention=2)
    writer = PromptStore.connect(target, short)  # type: ignore[arg-type]
    try:
        await writer.load("triage", "You triage tickets.\nTone: Calm\n", kind="text")
        await writer.modify("triage", "change tone to sarcastic")
        app = make_app("triage", settings=short)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            has_v2 = _archived(app, writer, lambda a, s: a.version(s, "triage", 2))
            await wait_for(pilot, has_v2, timeout=15)
            await writer.modify("triage", "add rule: keep it short")
            await writer.modify("triage", "add rule: cite the ticket number")
            assert 2 not in await writer.versions("triage")  # Redis keeps the newest two
            screen = app.dashboard
            await wait_for(pilot, lambda: screen.state is not None and screen.state.version == 4)
            await settle(pilot)
            search = await _open_search(pilot, app, "sarcastic")
            await _choose(pilot, app, search, "change", 2)
            diff = app.dashboard.diff_view
            await wait_for(pilot, lambda: "Diff: v2 (archive) → v4 (active)" in str(diff.border_title))
            assert "cite the ticket number" in text_of(diff) and "Sarcastic" in text_of(diff)
            has_v2.archive.close()  # type: ignore[attr-defined]
    finally:
        await writer.aclose()


async def test_a_hit_of_another_prompt_switches_to_it(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.load("billing", "You route billing questions.\nTone: Formal\n", kind="text")
    await store.modify("billing", "add rule: quote the invoice number")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        caught_up = _archived(app, store, lambda a, s: a.version(s, "billing", 2))
        await wait_for(pilot, caught_up, timeout=15)
        search = await _open_search(pilot, app, "formal")
        await _choose(pilot, app, search, "version", 1)
        screen = app.dashboard
        await wait_for(pilot, lambda: screen.current == "billing" and "Diff: v1 → v2 (active)"
                       in str(screen.diff_view.border_title))
        assert "invoice number" in text_of(screen.diff_view)
        caught_up.archive.close()  # type: ignore[attr-defined]


async def test_search_says_what_is_wrong_in_one_line(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await wait_for(pilot, lambda: app.dashboard.archive.archive is not None)
        await pilot.press("f11")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
        search = app.screen
        assert isinstance(search, SearchScreen)
        status = search.query_one("#search-status")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Type a word" in text_of(status))
        search.query_input.value = '":*('  # no word: FTS syntax is not passed through
        await pilot.press("enter")
        await wait_for(pilot, lambda: "at least one word" in text_of(status))
        search.query_input.value = "[bold]zebra[/]"  # shown as typed, never read as markup
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Nothing in the archive matches '[bold]zebra[/]'" in text_of(status))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.dashboard)


async def test_stats_chart_changes_per_day_and_count_authors_actions_and_reverts(
        store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.modify("default", "change tone to sarcastic", user="alice")
    await store.revert("default", user="bob")
    await store.load("triage", "You triage tickets.\n", kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        caught_up = _archived(app, store, lambda a, s: a.counts(s)[1] >= 4)
        await wait_for(pilot, caught_up, timeout=15)
        await pilot.press("f12")
        await wait_for(pilot, lambda: isinstance(app.screen, StatsScreen))
        stats = app.screen
        one = stats.query_one("#stats-prompt", StatsPanel)
        every = stats.query_one("#stats-overall", StatsPanel)
        await wait_for(pilot, lambda: one.stats is not None and every.stats is not None)
        assert "3 changes, " in one.plain and "reverts and undos: 1 of 3 (33%)" in one.plain
        assert "alice 1" in one.plain and "bob 1" in one.plain and "tester 1" in one.plain
        assert "revert 1" in one.plain and "modify 1" in one.plain and "load 1" in one.plain
        assert "4 changes, " in every.plain and "2 prompts" in every.plain
        assert "most edited: default 3" in every.plain
        assert sum(one.query_one(Sparkline).data or []) == 3
        assert sum(every.query_one(Sparkline).data or []) == 4
        assert "3 changes" in text_of(stats.query_one("#stats-scroll"))  # on screen, not only in the data
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.dashboard)
        caught_up.archive.close()  # type: ignore[attr-defined]


async def test_an_archive_that_cannot_be_opened_is_said_once_and_the_dashboard_goes_on(
        store: PromptStore, make_app: AppFactory, settings: Settings, tmp_path: Path) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app(settings=dataclasses.replace(settings, archive=str(tmp_path)))  # a directory, not a file
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)

        def said() -> list[str]:
            return [n.message for n in app._notifications if "archive" in n.message.lower()]

        await wait_for(pilot, said)
        assert len(said()) == 1 and "is not a file" in said()[0]
        await pilot.press("f11")  # the key says why, in one line, and opens nothing
        await wait_for(pilot, lambda: len(said()) == 2)
        assert app.screen is app.dashboard and "is not a file" in said()[1]
        await store.modify("default", "change tone to warm")  # the dashboard still follows
        await wait_for(pilot, lambda: app.dashboard.state is not None and app.dashboard.state.version == 2)


async def test_the_archive_can_be_turned_off(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app(archive=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f12")
        await wait_for(pilot, lambda: any("archive is off" in n.message for n in app._notifications))
        assert app.screen is app.dashboard
    assert not app.archive_path.exists()
