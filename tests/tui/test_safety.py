"""Text from Redis is shown as text: markup stays literal, escapes are inert."""

from __future__ import annotations

import redis

from dynamic_prompt.store import PromptStore
from tests.tui.conftest import AppFactory
from tests.tui.helpers import settle, text_of, wait_for

SIZE = (140, 45)
HOSTILE = (
    "Rules: [bold red]not markup[/] and [link=http://x]no link[/link]\n"
    "Escape: \x1b[31mred\x1b[0m and title \x1b]0;pwned\x07 and clip \x1b]52;c;aGk=\x07\n"
    "Bidi: abc\u202edef\n"
)


async def test_markup_and_escapes_render_literally(
    store: PromptStore, make_app: AppFactory, redis_sync: redis.Redis
) -> None:
    redis_sync.set("prompt:{evil}:active", HOSTILE)
    redis_sync.lpush("prompt:{evil}:changelog", '{"timestamp": 1, "action": "[red]x[/]", "instruction": "\\u001b[2J"}')
    app = make_app("evil")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.dashboard
        view = screen.prompt_view
        shown = "\n".join(view.line_text(i).plain for i in range(view.line_count))
        assert text_of(view).startswith("1  Rules: [bold red]not markup[/]")
        assert "[bold red]not markup[/]" in shown and "[link=http://x]no link[/link]" in shown
        assert "␛[31mred␛[0m" in shown and "\x1b" not in shown and "\x07" not in shown
        assert "<U+202E>" in shown
        timeline = text_of(screen.timeline.table)
        assert "[RED]X[/]" in timeline and "\x1b" not in timeline
        svg = app.export_screenshot()
        assert "markup" in svg and "\x1b" not in svg
        await wait_for(pilot, lambda: "evil" in screen.prompt_list.names)
