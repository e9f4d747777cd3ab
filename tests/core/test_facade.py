"""The seed's synchronous API, on a real server."""

from __future__ import annotations

import threading

import redis

from dynamic_prompt import DynamicPrompt
from dynamic_prompt.core.config import Settings

PROMPT = "Tone: Friendly\nDefault: 3-4 sentences\n\nRULES:\n1. Be helpful.\n2. Be honest.\n"


def test_seed_api_round_trip(settings: Settings, redis_sync: redis.Redis) -> None:
    with DynamicPrompt(settings=settings) as dp:
        assert dp.get_active() is None
        assert dp.load(PROMPT) == PROMPT
        dp.modify("change tone to sarcastic", user_id="alice")
        dp.modify("add rule: Never use emojis", user_id="bob")
        dp.modify("default 2 sentences", user_id="charlie")
        assert dp.diff().splitlines() == [
            "~ Tone: Sarcastic",
            "~ Default: 2 sentences",
            "+ 3. Never use emojis",
        ]
        history = dp.history(limit=10)
        assert [h["user_id"] for h in history] == ["charlie", "bob", "alice", "tester"]
        assert dp.revert() == PROMPT
        assert redis_sync.get("prompt:active") == PROMPT
        assert dp.versions() == [5, 4, 3, 2, 1]
        assert "Sarcastic" in dp.restore(2)
        assert dp.metadata()["version"] == 6
        assert [p.name for p in dp.list()] == ["default"]
        assert dp.clear()
        assert dp.get_active() is None


def test_close_leaves_no_thread(settings: Settings, redis_sync: redis.Redis) -> None:
    before = {t.name for t in threading.enumerate()}
    dp = DynamicPrompt(settings=settings, name="t")
    dp.load(PROMPT)
    assert "dynamic-prompt-loop" in {t.name for t in threading.enumerate()}
    dp.close()
    assert {t.name for t in threading.enumerate()} == before


def test_reverting_one_change_renaming_duplicating_and_notes(settings: Settings, redis_sync: redis.Redis) -> None:
    with DynamicPrompt(settings=settings, name="support") as dp:
        dp.load(PROMPT, note="first cut")
        dp.modify("change tone to sarcastic", user_id="alice", note="livelier")
        dp.modify("add rule: Never use emojis", user_id="bob")
        text = dp.revert_change(2, user_id="carol", note="too sharp")  # alice's change only
        assert text == PROMPT.replace("2. Be honest.\n", "2. Be honest.\n3. Never use emojis\n")
        history = dp.history(limit=4)
        assert [(h["action"], h["user_id"], h.get("note", "")) for h in history] == [
            ("revert-change", "carol", "too sharp"),
            ("modify", "bob", ""),
            ("modify", "alice", "livelier"),
            ("load", "tester", "first cut"),
        ]
        assert dp.duplicate("support-eu") == text
        assert dp.rename("helpdesk") == "helpdesk"
        assert dp.name == "helpdesk" and dp.get_active() == text  # the instance follows its prompt
        assert dp.get_active(name="support") is None
        assert sorted(p.name for p in dp.list()) == ["helpdesk", "support-eu"]
        assert dp.metadata()["version"] == 4 and len(dp.history(limit=10)) == 5  # history kept, plus a rename entry
