"""Version deltas (core/delta.py): any two texts round-trip, and a one-line edit stays small."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamic_prompt.core import delta
from dynamic_prompt.core.errors import CorruptDataError

LINES = st.lists(st.sampled_from(["a\n", "b\n", "rule 1\n", "\n", "x", "ü\n", "\r\n", "tail"]), max_size=40)


@settings(max_examples=400, deadline=None)
@given(LINES, LINES)
def test_any_two_texts_round_trip(a: list[str], b: list[str]) -> None:
    base, target = "".join(a), "".join(b)
    patch = delta.make(base, target, 7)
    step = delta.parse(patch)
    assert step.base == 7
    assert step.apply(base) == target


def test_a_one_line_edit_of_a_megabyte_is_one_small_op() -> None:
    big = "".join(f"- Fact {i}: the service handles request type {i}.\n" for i in range(20_000))
    edited = big.replace("Fact 9000:", "Fact 9000 (edited):")
    patch = delta.make(edited, big, 2)
    assert len(json.loads(patch)["o"]) == 1
    assert len(patch) < 300
    assert delta.parse(patch).apply(edited) == big


def test_a_delta_applied_to_the_wrong_text_or_garbled_is_one_clear_error() -> None:
    patch = delta.make("one\ntwo\n", "one\nthree\n", 3)
    with pytest.raises(CorruptDataError, match="does not rebuild"):
        delta.parse(patch).apply("zero\ntwo\n")  # not the text the delta was made from
    for garbage in ("", "{", '{"b": 1}', "[1, 2]", '{"b":1,"n":1,"h":"x","o":[[1]]}'):
        with pytest.raises(CorruptDataError, match="unreadable"):
            delta.parse(garbage)


def test_the_original_and_every_snapshot_stay_whole() -> None:
    assert delta.keeps_whole(1) and delta.keeps_whole(delta.SNAPSHOT_EVERY) and delta.keeps_whole(0)
    assert not any(delta.keeps_whole(v) for v in range(2, delta.SNAPSHOT_EVERY))
