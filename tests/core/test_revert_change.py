"""Reverting one change and keeping the later ones (pure: core/revert.py).

The properties: reverting a change right after it is made gives the text before it
exactly (byte for byte, a missing final newline included); reverting change k of a
chain whose later edits touch other lines gives what replaying the chain without
change k gives; a later edit of the change's own lines is a conflict that names them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamic_prompt.core.errors import ConflictError, RevertConflictError
from dynamic_prompt.core.revert import revert_change, split_keepends

BASE = "# Assistant\nTone: Friendly\nDefault: 3 sentences\n\n## Rules\n1. Be kind.\n2. No emojis.\n"


def test_revert_right_after_the_change_gives_the_text_before() -> None:
    after = BASE.replace("Tone: Friendly", "Tone: Dry")
    assert revert_change(BASE, after, after) == BASE


def test_a_later_change_elsewhere_is_kept() -> None:
    v2 = BASE.replace("Tone: Friendly", "Tone: Dry")
    v3 = v2 + "3. Cite sources.\n"
    assert revert_change(BASE, v2, v3) == BASE + "3. Cite sources.\n"


def test_a_missing_final_newline_round_trips() -> None:
    before = "one\ntwo"  # no final newline
    after = "one\ntwo\nthree"
    assert revert_change(before, after, after) == before
    # ... and the change that only added the final newline is reverted exactly too.
    assert revert_change("a\nb", "a\nb\n", "x\na\nb\n") == "x\na\nb"


def test_crlf_and_form_feed_are_text_not_line_breaks() -> None:
    before = "a\r\nb\x0cc\n"
    after = "a\r\nB\x0cc\n"
    assert revert_change(before, after, "z\n" + after) == "z\n" + before


def test_a_later_change_of_the_same_line_is_a_conflict_that_names_it() -> None:
    v2 = BASE.replace("Tone: Friendly", "Tone: Dry")
    v3 = v2.replace("Tone: Dry", "Tone: Sarcastic")
    with pytest.raises(RevertConflictError) as caught:
        revert_change(BASE, v2, v3, version=2, name="support", current_version=3)
    err = caught.value
    assert isinstance(err, ConflictError)
    assert err.reverted_version == 2 and err.current_version == 3
    (region,) = err.regions
    assert (region.old_start, region.old_lines) == (2, ("Tone: Dry",))
    assert (region.new_start, region.new_lines) == (2, ("Tone: Sarcastic",))
    assert region.before_lines == ("Tone: Friendly",)
    message = str(err)
    assert "\n" not in message
    assert message == (
        "Cannot revert the change of v2 of 'support': a later change touched the same lines "
        "(v2 line 2 'Tone: Dry' is now line 2 'Tone: Sarcastic'); nothing was written."
    )


def test_two_inserts_at_the_very_same_place_are_a_conflict() -> None:
    before = "a\nb\nc\n"
    after = "a\nc\n"  # the change deleted b: its revert inserts b back between a and c
    current = "a\nx\nc\n"  # a later change inserted x exactly there
    with pytest.raises(RevertConflictError) as caught:
        revert_change(before, after, current, version=5)
    (region,) = caught.value.regions
    assert (region.old_start, region.old_lines) == (2, ())
    assert (region.new_start, region.new_lines) == (2, ("x",))
    assert region.before_lines == ("b",)
    assert "v5 nothing at line 2 is now line 2 'x'" in str(caught.value)


def test_several_conflicts_are_all_carried_and_counted_in_the_message() -> None:
    before = "a\nb\nc\nd\ne\n"
    after = "A\nb\nc\nd\nE\n"
    current = "AA\nb\nc\nd\nEE\n"
    with pytest.raises(RevertConflictError) as caught:
        revert_change(before, after, current, version=4)
    assert [r.old_lines for r in caught.value.regions] == [("A",), ("E",)]
    assert "and 1 more place" in str(caught.value)


def test_a_later_change_that_already_undid_it_is_no_conflict() -> None:
    v2 = BASE.replace("Tone: Friendly", "Tone: Dry")
    v3 = v2.replace("Tone: Dry", "Tone: Friendly") + "extra\n"
    assert revert_change(BASE, v2, v3) == v3


def test_an_insert_beside_the_changed_lines_is_kept_in_order() -> None:
    # Touching, not the same lines: the line added right after the change stays after it.
    before = "a\nx\nb\n"
    after = "a\ny\nb\n"
    current = "a\ny\nz\nb\n"
    assert revert_change(before, after, current) == "a\nx\nz\nb\n"
    current = "a\nz\ny\nb\n"
    assert revert_change(before, after, current) == "a\nz\nx\nb\n"


def test_split_keepends_splits_on_newline_only() -> None:
    assert split_keepends("") == []
    assert split_keepends("a\r\nb") == ["a\r\n", "b"]
    assert split_keepends("a\n\n") == ["a\n", "\n"]
    assert "".join(split_keepends("x\u2028y\n")) == "x\u2028y\n"


# -- properties ---------------------------------------------------------------------------

# Few characters, so lines repeat and edits land on equal lines: the alignment must still
# give the text before exactly.
messy_text = st.text(alphabet="ab\n\r \u2028", max_size=40)


@settings(max_examples=400, deadline=None)
@given(messy_text, messy_text)
def test_property_revert_right_after_the_change_is_exact(before: str, after: str) -> None:
    assert revert_change(before, after, after) == before


@settings(max_examples=300, deadline=None)
@given(messy_text, messy_text, messy_text)
def test_property_a_result_or_a_conflict_that_names_real_lines(before: str, after: str, current: str) -> None:
    try:
        result = revert_change(before, after, current)
    except RevertConflictError as err:
        assert err.regions
        after_lines = [line.removesuffix("\n") for line in split_keepends(after)]
        current_lines = [line.removesuffix("\n") for line in split_keepends(current)]
        for r in err.regions:
            assert tuple(after_lines[r.old_start - 1 : r.old_start - 1 + len(r.old_lines)]) == r.old_lines
            assert tuple(current_lines[r.new_start - 1 : r.new_start - 1 + len(r.new_lines)]) == r.new_lines
        return
    assert isinstance(result, str)
    if current == after:
        assert result == before


@dataclass
class Chain:
    """A text of unique lines, change k, and later edits that stay away from change k."""

    before: str
    after: str
    current: str
    without_k: str
    """The later edits replayed on ``before`` (the chain without change k)."""


def _text(lines: list[str], final_newline: bool) -> str:
    text = "".join(f"{line}\n" for line in lines)
    return text if final_newline or not text else text[:-1]


@st.composite
def chains(draw: st.DrawFn, touch_k: bool = False) -> Chain:
    fresh = iter(range(10_000))

    def new_lines(low: int, high: int) -> list[str]:
        return [f"L{next(fresh)}" for _ in range(draw(st.integers(low, high)))]

    final_newline = draw(st.booleans())
    body = new_lines(1, 12)
    # A last line without a newline is never edited (an edit after it would need one).
    tail = [] if final_newline else new_lines(1, 1)
    start = draw(st.integers(0, len(body)))
    stop = draw(st.integers(start, min(len(body), start + 3)))
    # A change writes or removes something; one whose lines are edited later writes some.
    written = new_lines(0 if stop > start and not touch_k else 1, 3)
    before_lines = body + tail
    after_lines = body[:start] + written + body[stop:] + tail
    # Change k's lines and the lines around them (its region's neighbours) are kept away from.
    k_lines = set(written)
    near = set(k_lines)
    if start > 0:
        near.add(body[start - 1])
    if stop < len(body):
        near.add(body[stop])
    near.update(tail)

    current, replay = list(after_lines), list(before_lines)
    for _ in range(draw(st.integers(0, 4))):
        free = [line for line in current if line not in near]
        op = draw(st.sampled_from(["replace", "delete", "insert", "insert_first"]))
        if op == "insert_first":
            if not current or current[0] in near or (replay and replay[0] in near):
                continue
            added = new_lines(1, 2)
            current[:0], replay[:0] = added, added
            continue
        if not free:
            continue
        target = draw(st.sampled_from(free))
        i, j = current.index(target), replay.index(target)
        if op == "replace":
            added = new_lines(1, 2)
            current[i : i + 1], replay[j : j + 1] = added, added
        elif op == "delete":
            del current[i], replay[j]
        else:
            added = new_lines(1, 2)
            current[i + 1 : i + 1] = added
            replay[j + 1 : j + 1] = added
    if touch_k:
        ks = [line for line in current if line in k_lines]  # never edited above: all there
        target = draw(st.sampled_from(ks))
        i = current.index(target)
        current[i : i + 1] = new_lines(1, 2)
    return Chain(
        _text(before_lines, final_newline),
        _text(after_lines, final_newline),
        _text(current, final_newline),
        _text(replay, final_newline),
    )


@settings(max_examples=400, deadline=None)
@given(chains())
def test_property_reverting_change_k_equals_the_chain_without_it(chain: Chain) -> None:
    assert revert_change(chain.before, chain.after, chain.current) == chain.without_k


@settings(max_examples=200, deadline=None)
@given(chains(touch_k=True))
def test_property_a_later_edit_of_the_changes_lines_always_conflicts(chain: Chain) -> None:
    with pytest.raises(RevertConflictError) as caught:
        revert_change(chain.before, chain.after, chain.current)
    assert caught.value.regions
