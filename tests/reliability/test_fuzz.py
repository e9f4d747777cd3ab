"""Fuzzing the pure parts with hostile input: the instruction engine and the changelog parser."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.inert import has_unsafe, inert
from dynamic_prompt.core.models import ChangeEntry
from dynamic_prompt.core.modifier import KNOWN_FORMS, modify_text
from tests.support.checks import one_line

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HOSTILE_CHARS = st.sampled_from(list("\x00\x1b\x07\x9b\r\n\t\u202e\u200b\ufeff[]{}()*+?.^$|\\/:;\"'`%") + [
    "[bold]", "[/]", "\x1b]52;c;aGk=\x07", "(.*)+", "\\1", "$&", "rule", "tone", "Tone:", "## Rules",
    "1.", "replace", "with", "add", "remove", "about", "default", "sentences", ";", "\ud7ff", "\U0001F600",
])
HOSTILE_TEXT = st.lists(st.one_of(HOSTILE_CHARS, st.text(max_size=8)), max_size=40).map("".join)
PROMPTS = st.one_of(
    HOSTILE_TEXT,
    st.just("# Agent\n\nTone: Calm\nDefault: 3-4 sentences\n\n## Rules\n1. Be kind.\n2. Be brief.\n"),
    HOSTILE_TEXT.map(lambda t: f"Tone: {t}\n\n## Rules\n1. {t}\n2. Keep [bold]x[/]\n"),
)
INSTRUCTIONS = st.one_of(
    HOSTILE_TEXT,
    st.builds(lambda verb, arg: f"{verb} {arg}",
              st.sampled_from(["change tone to", "add rule:", "remove rule about", "remove rule",
                               "default", "be more", "be less", "set", "remove line containing",
                               "add section", "make more", "replace"]), HOSTILE_TEXT),
    st.builds(lambda a, b: f'replace "{a}" with "{b}"', HOSTILE_TEXT, HOSTILE_TEXT),
    st.lists(st.sampled_from(list(KNOWN_FORMS)) | HOSTILE_TEXT, max_size=4).map("; ".join),
)


@FUZZ
@given(text=PROMPTS, instruction=INSTRUCTIONS)
def test_modify_text_raises_nothing_but_instruction_error(text: str, instruction: str) -> None:
    try:
        result = modify_text(text, instruction)
    except InstructionError as exc:
        one_line(exc)
        return
    assert isinstance(result.text, str) and result.text != text


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | HOSTILE_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["timestamp", "action", "user_id", "instruction", "version", "added",
                         "removed", "metadata", "source"]) | st.text(max_size=5), children, max_size=6),
    max_leaves=12,
)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), HOSTILE_TEXT,
                     JSONISH.map(lambda v: json.dumps(v, allow_nan=True))))
def test_changelog_parser_never_raises_and_keeps_what_it_cannot_read(raw: str | bytes) -> None:
    entry = ChangeEntry.from_json(raw)
    assert isinstance(entry.action, str) and entry.action
    assert isinstance(entry.timestamp, float)
    json.dumps(entry.to_dict(), allow_nan=True)  # always re-serialisable
    if entry.action == "unreadable":
        assert entry.raw is not None


@FUZZ
@given(text=HOSTILE_TEXT)
def test_inert_leaves_nothing_a_terminal_would_act_on(text: str) -> None:
    shown = inert(text)
    assert not has_unsafe(shown)
    assert "\x1b" not in shown and "\x9b" not in shown and "\u202e" not in shown
    assert inert(shown) == shown  # idempotent
