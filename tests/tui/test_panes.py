"""Each pane shows what the server holds: list, prompt, diff, timeline, status bar."""

from __future__ import annotations

import redis

from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui.widgets.prompt_view import PromptView
from tests.support.checks import no_secret, shows_mask
from tests.support.servers import TestServer
from tests.tui.conftest import AppFactory
from tests.tui.helpers import SAMPLE, SERVER_LABEL, lines_of, settle, text_of, wait_for

SIZE = (140, 45)


async def test_prompt_list_shows_every_prompt_with_version(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.modify("default", "change tone to sarcastic")
    await store.load("alpha", "Hello\n", kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        listing = app.dashboard.prompt_list
        await wait_for(pilot, lambda: listing.names == ["default", "alpha"])
        shown = text_of(listing)
        assert "default" in shown and "v2" in shown and "alpha" in shown


async def test_new_prompt_appears_live(store: PromptStore, make_app: AppFactory, redis_sync: redis.Redis) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        redis_sync.set("prompt:{fresh}:active", "brand new\n")
        listing = app.dashboard.prompt_list
        await wait_for(pilot, lambda: "fresh" in listing.names)


async def test_prompt_pane_numbers_lines_and_marks_changes(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.modify("default", "change tone to sarcastic")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = app.dashboard.prompt_view
        lines = lines_of(view)
        tone = next(line for line in lines if "Tone:" in line)
        assert tone.lstrip().startswith("5") and "▌Tone: Sarcastic" in tone
        first = lines[0]
        assert first.lstrip().startswith("1") and "▌" not in first
        assert view.changed == frozenset({5})
        assert "1 changed from the original" in str(view.border_subtitle)


async def test_picking_a_prompt_focuses_every_pane(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.load("beta", "Beta prompt\nTone: Calm\n", kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        await wait_for(pilot, lambda: "beta" in screen.prompt_list.names)
        screen.prompt_list.focus()
        screen.prompt_list.move_cursor(row=screen.prompt_list.names.index("beta"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.state is not None and screen.state.name == "beta")
        await settle(pilot)
        assert "Beta prompt" in text_of(screen.prompt_view)
        assert screen.status.prompt_name == "beta"
        assert [e.action for e in screen.timeline.entries] == ["load"]


async def test_diff_pane_against_backup_then_split_view(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.modify("default", "change tone to sarcastic")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        shown = text_of(screen.diff_view)
        assert "- Tone: Friendly" in shown and "+ Tone: Sarcastic" in shown
        assert "original" in str(screen.diff_view.border_title)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.diff_view.rows is not None and screen.diff_view.rows.mode == "split")
        line = next(line for line in lines_of(screen.diff_view) if "Friendly" in line)
        assert "│" in line and "Sarcastic" in line.split("│", 1)[1]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.diff_view.rows is not None and screen.diff_view.rows.mode == "unified")


async def test_word_level_changes_are_marked(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.modify("default", "change tone to sarcastic")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = app.dashboard.diff_view
        word_style = view.get_component_rich_style("diff-view--insert-word")
        row = next(i for i, (kind, value) in enumerate(view.rows.rows)  # type: ignore[union-attr]
                   if kind == "line" and value.tag == "insert")  # type: ignore[union-attr]
        text = view.line_text(row)
        marked = [text.plain[s.start:s.end] for s in text.spans if s.style == word_style]
        assert marked == ["Sarcastic"]


async def test_timeline_lists_changes_and_shows_a_change(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    await store.modify("default", "change tone to sarcastic", user="alice")
    await store.modify("default", "add rule: never use emojis", user="bob")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        timeline = screen.timeline
        assert [(e.version, e.user_id, e.action) for e in timeline.entries] == [
            (3, "bob", "modify"), (2, "alice", "modify"), (1, "tester", "load")]
        shown = text_of(timeline.table)
        assert "alice" in shown and "change tone to sarcastic" in shown and "+1/-1" in shown
        timeline.table.focus()
        timeline.table.move_cursor(row=1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Change: v1 → v2" in str(screen.diff_view.border_title))
        await settle(pilot)
        shown = text_of(screen.diff_view)
        assert "+ Tone: Sarcastic" in shown and "emojis" not in shown
        await pilot.press("c")  # compare the active text with v2
        await wait_for(pilot, lambda: "v2 → v3" in str(screen.diff_view.border_title))
        await settle(pilot)
        assert "emojis" in text_of(screen.diff_view)
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: "original" in str(screen.diff_view.border_title))


async def test_status_bar_shows_server_mode_version_size_tokens(store: PromptStore, make_app: AppFactory) -> None:
    await store.load("default", SAMPLE, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        line = text_of(app.dashboard.status)
        size = len(SAMPLE.encode())
        assert SERVER_LABEL in line
        assert "notifications" in line and "v1" in line
        assert f"{size} B" in line and f"~{(size + 3) // 4} tokens" in line


async def test_status_bar_masks_the_password_by_default() -> None:
    """The real path: a server that requires a password, the URL that carries it, and no
    label given, so the dashboard derives what it shows from the target itself."""
    from dynamic_prompt.core.config import Settings
    from dynamic_prompt.server import ServerTarget
    from dynamic_prompt.tui.app import DashboardApp

    password = "hunter2-Panes-5517"
    server = TestServer([f"requirepass {password}"]).start()
    try:
        url = f"redis://:{password}@127.0.0.1:{server.port}/0"
        seed = PromptStore.connect(ServerTarget(url, "test"), Settings(user="t"))
        await seed.load("default", SAMPLE, kind="text")
        await seed.aclose()
        app = DashboardApp(ServerTarget(url, "--redis-url"), Settings(user="t"), remember_theme=False)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)  # live and loaded: the password did reach the server
            line = text_of(app.dashboard.status)
            # First: no password anywhere (so no failure message below can print one).
            no_secret(line, app.server_label, app.title, app.sub_title, app.export_screenshot(),
                      secrets=(password,))
            shows_mask(line)
            assert line.startswith("● live: notifications"), line
            assert line.endswith(f"│  redis://:***@127.0.0.1:{server.port}/0"), line
            assert "v1" in line
    finally:
        server.cleanup()


async def test_a_missing_prompt_says_how_to_create_one(store: PromptStore, make_app: AppFactory) -> None:
    app = make_app("nothing-here")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.dashboard.state is not None)
        assert "ctrl+l" in str(app.dashboard.prompt_view.border_subtitle)
        assert "(no text)" in text_of(app.dashboard.status)


async def test_a_1mb_prompt_stays_responsive(store: PromptStore, make_app: AppFactory) -> None:
    big = "".join(f"{i}. rule number {i} with **bold** and `code`\n" for i in range(25_000))
    assert len(big) > 1_000_000
    await store.load("default", big, kind="text")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, timeout=20)
        view: PromptView = app.dashboard.prompt_view
        assert view.lazy and "large" in str(view.border_subtitle)
        assert "0. rule number 0" in text_of(view)
        view.scroll_to_line(20_000)
        await pilot.pause()
        assert "20000. rule number 20000" in text_of(view)
        assert len(view._line_cache) < 200  # only the visible lines were highlighted
