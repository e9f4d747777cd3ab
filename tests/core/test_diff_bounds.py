"""Bounds of dynamic_prompt.core.diff: huge lines, and the trimming by characters.

A word replaced all along a 4 MB one-line prompt kept ``dprompt modify`` and
``dprompt diff --summary`` busy for minutes: pairing the old line with the new
one ran an LCS of the two whole lines, O(n*m). The timeouts turn a return of
that into a failure (no timing is asserted: benchmarks/bench_diff.py measures).

Trimming the texts by characters before they are split into lines must not
change anything: every view is compared with the untrimmed path on random
texts, and the word spans of long lines (diffed between their common prefix
and suffix) with the plain word diff.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import Indel, LCSseq

from dynamic_prompt.core.diff import (
    DiffLine,
    Span,
    changed_new_lines,
    count_changes,
    hunks,
    line_align,
    line_diff,
    side_by_side,
    summary,
    unified,
    word_diff,
    word_spans,
)

_WORDS = ("always", "never", "answer", "user", "agent", "reply", "brief", "clear")


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(count))


@functools.cache
def _huge_line() -> str:
    """About 4.3 MB of words on one line, the same every run."""
    line = "Tone: Friendly. " + _words(random.Random(4), 700_000) + " the end"
    assert len(line) > 4_000_000
    return line


def _same(result: object, expected: object) -> bool:
    # A bare bool: pytest must not try to diff two 4 MB reprs on failure.
    return result == expected


# --------------------------------------------------------------------------
# A 4 MB single-line prompt
# --------------------------------------------------------------------------

_VIEWS: dict[str, Callable[[str, str], object]] = {
    "summary": summary,
    "unified": unified,
    "count_changes": count_changes,
    "changed_new_lines": changed_new_lines,
    "line_diff": line_diff,
    "hunks": hunks,
    "side_by_side": side_by_side,
}


def _expected(view: str, old_line: str, new_line: str, lines: list[DiffLine]) -> object:
    """What each view shows for a one-line prompt whose line was edited (ends with a newline)."""
    return {
        "summary": [f"~ {new_line}"],
        "unified": f"--- backup\n+++ active\n@@ -1 +1 @@\n-{old_line}\n+{new_line}\n",
        "count_changes": (1, 1),
        "changed_new_lines": {1},
        "line_diff": lines,
        "hunks": [lines],
        "side_by_side": [(lines[0], lines[1])],
    }[view]


def _edited_line(old_line: str, new_line: str, old_spans: tuple[Span, ...],
                 new_spans: tuple[Span, ...]) -> list[DiffLine]:
    return [DiffLine("delete", 1, None, old_line, old_spans),
            DiffLine("insert", None, 1, new_line, new_spans)]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("view", list(_VIEWS))
def test_huge_line_with_a_word_replaced_everywhere(view: str) -> None:
    # What `dprompt modify 'replace "never" with "rarely"'` does to a one-line
    # prompt: edits all along the line, so no common prefix/suffix to speak of.
    old_line = _huge_line()
    new_line = old_line.replace("never", "rarely")
    first = old_line.index("never")
    old_end = old_line.rindex("never") + len("never")
    new_end = new_line.rindex("rarely") + len("rarely")
    # Unchanged words before the first edit and after the last; in between
    # (far over WORD_DIFF_MAX_CHARS) is changed as a whole.
    lines = _edited_line(
        old_line,
        new_line,
        (Span(old_line[:first], False), Span(old_line[first:old_end], True),
         Span(old_line[old_end:], False)),
        (Span(new_line[:first], False), Span(new_line[first:new_end], True),
         Span(new_line[new_end:], False)),
    )
    result = _VIEWS[view](old_line + "\n", new_line + "\n")
    assert _same(result, _expected(view, old_line, new_line, lines)), f"{view} differs"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("view", ["summary", "line_diff", "side_by_side"])
def test_huge_line_edited_at_both_ends(view: str) -> None:
    # Nothing in common at the ends but the first word: the middle is the
    # whole line, and the pair must still be recognised as one edited line.
    old_line = _huge_line()
    new_line = "Tone: Sarcastic." + old_line[len("Tone: Friendly.") :] + "!"
    lines = _edited_line(
        old_line,
        new_line,
        (Span("Tone: ", False), Span(old_line[6:], True)),
        (Span("Tone: ", False), Span(new_line[6:], True)),
    )
    result = _VIEWS[view](old_line + "\n", new_line + "\n")
    assert _same(result, _expected(view, old_line, new_line, lines)), f"{view} differs"


@pytest.mark.timeout(30)
def test_huge_line_with_one_word_changed_marks_that_word() -> None:
    # Lines over WORD_DIFF_MAX_CHARS used to be marked changed as a whole;
    # now the word diff runs between the common prefix and suffix.
    old_line = _huge_line()
    at = old_line.index(" never ", len(old_line) // 2) + 1
    new_line = old_line[:at] + "RARELY" + old_line[at + len("never") :]
    lines = _edited_line(
        old_line,
        new_line,
        (Span(old_line[:at], False), Span("never", True), Span(old_line[at + 5 :], False)),
        (Span(new_line[:at], False), Span("RARELY", True), Span(new_line[at + 6 :], False)),
    )
    assert _same(line_diff(old_line + "\n", new_line + "\n"), lines)
    assert _same(summary(old_line + "\n", new_line + "\n"), [f"~ {new_line}"])


@pytest.mark.timeout(30)
def test_a_block_of_many_long_lines_pairs_without_a_quadratic_table() -> None:
    # 50 replaced lines of 40 KB each: the similarity table (50 x 50 LCS of
    # 40 KB lines) took minutes; over PAIR_MAX_CHARS it pairs positionally.
    rng = random.Random(5)
    olds = [f"{k}. {_words(rng, 6_500)}" for k in range(50)]
    news = [line.replace("never", "rarely") for line in olds]
    old, new = "\n".join(["keep", *olds, "keep"]), "\n".join(["keep", *news, "keep"])
    assert _same(summary(old, new), [f"~ {line}" for line in news])
    assert count_changes(old, new) == (50, 50)


# --------------------------------------------------------------------------
# The trimmed path gives exactly what the untrimmed one gives
# --------------------------------------------------------------------------


def _no_edges(old: str, new: str) -> tuple[int, int]:
    return 0, 0


@contextmanager
def untrimmed() -> Iterator[None]:
    """The reference path: whole texts split into lines, no edges cut by characters."""
    saved = line_align.text_edges
    setattr(line_align, "text_edges", _no_edges)
    try:
        yield
    finally:
        setattr(line_align, "text_edges", saved)


def _outputs(old: str, new: str) -> str:
    """Every view of the diff, as one repr (so missing_newline is compared too)."""
    views: list[object] = [
        line_diff(old, new),
        side_by_side(old, new),
        summary(old, new),
        count_changes(old, new),
        sorted(changed_new_lines(old, new)),
    ]
    for context in (0, 1, 3):
        views.append(unified(old, new, context=context))
        views.append(hunks(old, new, context=context))
    return repr(views)


def _check_same_as_untrimmed(old: str, new: str) -> None:
    trimmed = _outputs(old, new)
    with untrimmed():
        reference = _outputs(old, new)
    assert trimmed == reference


_LINE = st.sampled_from(
    ["", "a", "b", "c c", "Tone: x", "Tone: y", "  ", "\r", "a\r", "ü é", "1. rule", "x"]
)


@st.composite
def edited_pair(draw: st.DrawFn) -> tuple[str, str]:
    """A text and the same text after a few character edits (often at its very ends)."""
    old = "\n".join(draw(st.lists(_LINE, max_size=30)))
    old += draw(st.sampled_from(["", "\n", "\r\n"]))
    new = old
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.one_of(st.sampled_from([0, len(new)]), st.integers(0, len(new))))
        cut = draw(st.integers(0, min(4, len(new) - pos)))
        new = new[:pos] + draw(st.text(alphabet="ab \n\rx", max_size=5)) + new[pos + cut :]
    return (new, old) if draw(st.booleans()) else (old, new)


_FREE = st.one_of(st.text(alphabet="ab \n\rx", max_size=40), st.text(max_size=20))


@settings(max_examples=400, deadline=None)
@given(edited_pair())
def test_trimmed_path_matches_untrimmed_on_edited_texts(pair: tuple[str, str]) -> None:
    _check_same_as_untrimmed(*pair)


@settings(max_examples=200, deadline=None)
@given(_FREE, _FREE)
def test_trimmed_path_matches_untrimmed_on_unrelated_texts(old: str, new: str) -> None:
    _check_same_as_untrimmed(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("", ""),
        ("", "a"),
        ("a", ""),
        ("a", "a\n"),
        ("a\n", "a"),
        ("a\nb", "a\nb\n"),
        ("a\n", "a\nb"),
        ("x\nx\n", "x\n"),
        ("x\n", "x\nx\n"),
        ("\n", "\n\n"),
        ("a\r\nb\r\n", "a\r\nc\r\n"),
        ("a\r\n", "a\n"),
        ("same\n", "same\n"),
        ("same", "same"),
        ("1\n2\n3\n", "0\n1\n2\n3\n"),
        ("1\n2\n3\n", "1\n2\n3\n4\n"),
        ("1\n2\n3", "1\n2\n3x"),
        ("end", "x\nend"),
        ("x\nend", "y\nend"),
    ],
)
def test_trimmed_path_matches_untrimmed_at_the_edges(old: str, new: str) -> None:
    _check_same_as_untrimmed(old, new)


def test_trimmed_path_matches_untrimmed_on_a_long_prompt() -> None:
    rng = random.Random(6)
    lines = [f"{k}. {_words(rng, rng.randint(0, 9))}" for k in range(400)]
    old = "\n".join(lines) + "\n"
    for new in (
        "first\n" + old,  # an edit on the very first line
        old[:-1],  # the final newline lost
        old + "last",  # a last line without a newline
        old.replace("\n", "\r\n", 3),  # CRLF in the first lines
        old.replace("7. ", "7: ").replace("393. ", "393! "),  # a middle line and one near the end
    ):
        _check_same_as_untrimmed(old, new)
        _check_same_as_untrimmed(new, old)


# --------------------------------------------------------------------------
# Word spans of long lines, and the similarity of long lines
# --------------------------------------------------------------------------

_WORDY = "ab_1é .,!\t"


@st.composite
def line_pair(draw: st.DrawFn) -> tuple[str, str]:
    """Two lines sharing a prefix and a suffix that may end inside a token."""
    prefix = draw(st.text(alphabet=_WORDY, max_size=12))
    suffix = draw(st.text(alphabet=_WORDY, max_size=12))
    a = prefix + draw(st.text(alphabet=_WORDY, max_size=10)) + suffix
    b = prefix + draw(st.text(alphabet=_WORDY, max_size=10)) + suffix
    return a, b


def _plain_spans(old: str, new: str) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
    segs = word_diff._fold(word_diff._token_segments(old, new))
    return word_diff._spans(segs, 1), word_diff._spans(segs, 2)


def _trimmed_spans(old: str, new: str) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
    segs = word_diff._fold(word_diff._trimmed_segments(old, new))
    return word_diff._spans(segs, 1), word_diff._spans(segs, 2)


@settings(max_examples=500, deadline=None)
@given(line_pair())
def test_long_line_word_spans_equal_the_plain_word_diff(pair: tuple[str, str]) -> None:
    # The path lines over WORD_DIFF_MAX_CHARS take, run on short lines.
    old, new = pair
    if old != new:
        assert _trimmed_spans(old, new) == _plain_spans(old, new)


def test_long_line_word_spans_exact() -> None:
    pad = "x" * 2500  # over WORD_DIFF_MAX_CHARS, one token
    assert word_spans(f"{pad} Tone: Friendly.", f"{pad} Tone: Sarcastic!") == (
        (Span(f"{pad} Tone: ", False), Span("Friendly.", True)),
        (Span(f"{pad} Tone: ", False), Span("Sarcastic!", True)),
    )
    # The common prefix ends inside a word: the whole word is marked.
    assert word_spans(f"{pad} Friendly tone", f"{pad} Friendlier tone") == (
        (Span(f"{pad} ", False), Span("Friendly", True), Span(" tone", False)),
        (Span(f"{pad} ", False), Span("Friendlier", True), Span(" tone", False)),
    )
    # ... and so does the suffix (the padding is one token cut on both sides).
    assert word_spans(f"a{pad}", f"b{pad}") == (
        (Span(f"a{pad}", True),),
        (Span(f"b{pad}", True),),
    )


@settings(max_examples=200, deadline=None)
@given(line_pair())
def test_line_similarity_is_exact_when_the_middle_is_small(pair: tuple[str, str]) -> None:
    old, new = pair
    exact = Indel.normalized_similarity(old, new)
    saved = word_diff.SIMILARITY_EXACT_CELLS
    # Just below the whole lines' size, so the common prefix and suffix are cut first.
    word_diff.SIMILARITY_EXACT_CELLS = max(len(old) * len(new) - 1, 0)
    try:
        assert word_diff.line_similarity(old, new) == exact
    finally:
        word_diff.SIMILARITY_EXACT_CELLS = saved


@contextmanager
def tiny_chunks() -> Iterator[None]:
    """The anchored bound everywhere, with chunks small enough for short strings."""
    saved = (word_diff.SIMILARITY_EXACT_CELLS, word_diff.SIMILARITY_CHUNK,
             word_diff.SIMILARITY_ANCHOR)
    word_diff.SIMILARITY_EXACT_CELLS, word_diff.SIMILARITY_CHUNK = 0, 8
    word_diff.SIMILARITY_ANCHOR = 3
    try:
        yield
    finally:
        (word_diff.SIMILARITY_EXACT_CELLS, word_diff.SIMILARITY_CHUNK,
         word_diff.SIMILARITY_ANCHOR) = saved


_LONGISH = st.text(alphabet="abc ", min_size=0, max_size=300)


@settings(max_examples=300, deadline=None)
@given(_LONGISH, _LONGISH)
def test_anchored_lcs_is_a_lower_bound(x: str, y: str) -> None:
    with tiny_chunks():
        bound = word_diff._anchored_lcs(x, y)
        similarity = word_diff.line_similarity(x, y)
    assert 0 <= bound <= LCSseq.similarity(x, y)
    assert 0.0 <= similarity <= Indel.normalized_similarity(x, y)


def test_anchored_bound_recognises_an_edited_line() -> None:
    rng = random.Random(7)
    line = _words(rng, 20_000)  # ~120 KB: the exact LCS takes a fraction of a second
    for new in (line.replace("never", "rarely"), "X" + line + "Y", line[:5000] + line[5100:]):
        exact = Indel.normalized_similarity(line, new)
        estimate = word_diff.line_similarity(line, new)
        assert exact - 0.01 <= estimate <= exact
