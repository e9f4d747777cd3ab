"""The diff engine's edges, pinned where mutmut's mutants of it went unnoticed.

Each class kills mutants that a mutmut 3 run over ``core/diff`` found alive:
how far hunks reach and when two of them merge (``context`` and ``2 *
context``), the unified format of runs of deleted lines and of a last line
without a newline, the banded alignment of big texts (changes near both ends
and in the middle), and the word diff of lines longer than 2,000 characters
(the common prefix and suffix cut back to whole tokens, and a middle still
too long marked changed as a whole). Everything goes through the public API
of :mod:`dynamic_prompt.core.diff`, and every expectation is a literal.
"""

from __future__ import annotations

import pytest

from dynamic_prompt.core.diff import (
    Span,
    changed_new_lines,
    count_changes,
    hunks,
    line_diff,
    unified,
    word_spans,
)

TEN = "".join(f"{k}\n" for k in range(1, 11))


def numbered(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


class TestHunkContext:
    """Three lines of context by default; changes 6 equal lines apart share a hunk, 7 apart do not."""

    def test_seven_equal_lines_split_hunks(self) -> None:
        new = TEN.replace("1\n", "X\n", 1).replace("9\n", "Y\n")
        assert unified(TEN, new) == ("--- backup\n+++ active\n@@ -1,4 +1,4 @@\n-1\n+X\n 2\n 3\n 4\n"
                                     "@@ -6,5 +6,5 @@\n 6\n 7\n 8\n-9\n+Y\n 10\n")

    def test_six_equal_lines_stay_in_one_hunk(self) -> None:
        old = numbered([str(k) for k in range(1, 9)])
        new = numbered(["X", "2", "3", "4", "5", "6", "7", "Y"])
        assert unified(old, new) == ("--- backup\n+++ active\n@@ -1,8 +1,8 @@\n"
                                     "-1\n+X\n 2\n 3\n 4\n 5\n 6\n 7\n-8\n+Y\n")
        assert len(hunks(old, new)) == 1

    def test_a_negative_context_is_refused(self) -> None:
        with pytest.raises(ValueError) as info:
            hunks("a", "b", -1)
        assert str(info.value) == "context must be >= 0"


class TestUnifiedFormat:
    def test_deleted_lines_each_get_a_minus(self) -> None:
        assert unified("a\nb\nc\nd\n", "a\nd\n") == "--- backup\n+++ active\n@@ -1,4 +1,2 @@\n a\n-b\n-c\n d\n"

    def test_no_newline_at_the_end_of_either_side(self) -> None:
        assert unified("a\nb", "a\nc") == ("--- backup\n+++ active\n@@ -1,2 +1,2 @@\n a\n-b\n"
                                           "\\ No newline at end of file\n+c\n\\ No newline at end of file\n")


class TestBigTexts:
    """5,000 lines changed at both ends, so the banded alignment sees the whole middle."""

    OLD = numbered([f"line {k}" for k in range(5000)])
    NEW = numbered(["first", *(f"line {k}" for k in range(1, 100)), "extra",
                    *(f"line {k}" for k in range(100, 2500)), "middle",
                    *(f"line {k}" for k in range(2501, 4999)), "last"])

    def test_unified(self) -> None:
        assert unified(self.OLD, self.NEW) == (
            "--- backup\n+++ active\n"
            "@@ -1,4 +1,4 @@\n-line 0\n+first\n line 1\n line 2\n line 3\n"
            "@@ -98,6 +98,7 @@\n line 97\n line 98\n line 99\n+extra\n line 100\n line 101\n line 102\n"
            "@@ -2498,7 +2499,7 @@\n line 2497\n line 2498\n line 2499\n-line 2500\n+middle\n"
            " line 2501\n line 2502\n line 2503\n"
            "@@ -4997,4 +4998,4 @@\n line 4996\n line 4997\n line 4998\n-line 4999\n+last\n"
        )

    def test_counts_and_changed_lines(self) -> None:
        assert count_changes(self.OLD, self.NEW) == (4, 3)
        assert changed_new_lines(self.OLD, self.NEW) == {1, 101, 2502, 5001}


Z = " z" * 1000  # 2,000 characters: with it, a line is over the word diff's 2,000-character limit


def spans(old: str, new: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    a, b = word_spans(old, new)
    return [(s.text, s.changed) for s in a], [(s.text, s.changed) for s in b]


class TestLongLineWordDiff:
    """Over 2,000 characters, only the middle between whole-token edges is word-diffed."""

    def test_a_long_word_cut_by_the_common_prefix(self) -> None:
        assert spans("x" * 100 + "A" + Z, "x" * 100 + "B" + Z) == (
            [("x" * 100 + "A", True), (Z, False)], [("x" * 100 + "B", True), (Z, False)])

    def test_the_prefix_backs_up_to_the_start_of_the_cut_word(self) -> None:
        assert spans("hi worldA" + Z, "hi worldB" + Z) == (
            [("hi ", False), ("worldA", True), (Z, False)], [("hi ", False), ("worldB", True), (Z, False)])

    def test_a_word_cut_on_one_side_only(self) -> None:
        assert spans("ab cd" + Z, "ab cdx" + Z) == (
            [("ab ", False), ("cd", True), (Z, False)], [("ab ", False), ("cdx", True), (Z, False)])

    def test_a_word_cut_by_the_common_suffix(self) -> None:
        head = "z " * 1000
        assert spans(head + "ab cd", head + "ab xcd") == (
            [(head + "ab ", False), ("cd", True)], [(head + "ab ", False), ("xcd", True)])

    def test_the_suffix_moves_on_to_the_end_of_the_cut_word(self) -> None:
        tail = " z" * 1100
        assert spans("Acd" + tail, "Bxcd" + tail) == ([("Acd", True), (tail, False)], [("Bxcd", True), (tail, False)])

    def test_one_side_is_all_suffix(self) -> None:
        tail = " z" * 1100
        assert spans(tail, "Q" + tail) == ([(tail, False)], [("Q", True), (tail, False)])

    def test_prefix_and_suffix_do_not_overlap(self) -> None:
        line = "w " * 1100
        assert spans(line, line + "w ") == ([(line, False)], [(line, False), ("w ", True)])

    def test_span_type(self) -> None:
        assert word_spans("a", "a") == ((Span("a", False),), (Span("a", False),))


class TestLongMiddles:
    """A middle of 2,000 characters is still word-diffed; one side's middle past that is marked whole."""

    SHORT = "head y KEEP bbb tail"

    def test_a_middle_of_2000_is_word_diffed_either_side(self) -> None:
        long = "head " + "x " * 996 + "KEEP aaa tail"
        x_side = [("head ", False), ("x " * 996, True), ("KEEP ", False), ("aaa", True), (" tail", False)]
        y_side = [("head ", False), ("y ", True), ("KEEP ", False), ("bbb", True), (" tail", False)]
        assert spans(long, self.SHORT) == (x_side, y_side)
        assert spans(self.SHORT, long) == (y_side, x_side)

    def test_a_middle_of_2002_on_either_side_is_one_change(self) -> None:
        long = "head " + "x " * 997 + "KEEP aaa tail"
        x_side = [("head ", False), ("x " * 997 + "KEEP aaa", True), (" tail", False)]
        y_side = [("head ", False), ("y KEEP bbb", True), (" tail", False)]
        assert spans(long, self.SHORT) == (x_side, y_side)
        assert spans(self.SHORT, long) == (y_side, x_side)


def rows(old: str, new: str) -> list[tuple[str, int | None, int | None, str, bool]]:
    """``line_diff`` with ``missing_newline`` made visible (it is left out of DiffLine equality)."""
    return [(d.tag, d.old_no, d.new_no, d.text, d.missing_newline) for d in line_diff(old, new)]


class TestLineNumbersAndMissingNewlines:
    """Only the last line of a side without a final newline is marked; numbers follow each side."""

    @pytest.mark.parametrize(
        ("old", "new", "expected"),
        [
            ("x\nb", "y\nb", [("delete", 1, None, "x", False), ("insert", None, 1, "y", False),
                              ("equal", 2, 2, "b", True)]),
            ("a\nb\n", "a\nc\n", [("equal", 1, 1, "a", False), ("delete", 2, None, "b", False),
                                  ("insert", None, 2, "c", False)]),
            ("x\nb\n", "y\nb\n", [("delete", 1, None, "x", False), ("insert", None, 1, "y", False),
                                  ("equal", 2, 2, "b", False)]),
            ("a\nb\n", "x\na\nb\n", [("insert", None, 1, "x", False), ("equal", 1, 2, "a", False),
                                     ("equal", 2, 3, "b", False)]),
            ("a\nb", "c\nd", [("delete", 1, None, "a", False), ("delete", 2, None, "b", True),
                              ("insert", None, 1, "c", False), ("insert", None, 2, "d", True)]),
            ("x\na\nb", "x\n", [("equal", 1, 1, "x", False), ("delete", 2, None, "a", False),
                                ("delete", 3, None, "b", True)]),
            ("x\n", "x\na\nb", [("equal", 1, 1, "x", False), ("insert", None, 2, "a", False),
                                ("insert", None, 3, "b", True)]),
        ],
    )
    def test_rows(self, old: str, new: str, expected: list[tuple[str, int | None, int | None, str, bool]]) -> None:
        assert rows(old, new) == expected


class TestWordLevelLimit:
    """Up to 10,000 pairable lines get word spans; past that a replaced line is marked whole."""

    def test_10000_pairs_are_word_diffed(self) -> None:
        old = "".join(f"a{k} same\n" for k in range(10_000))
        new = "".join(f"b{k} same\n" for k in range(10_000))
        d = line_diff(old, new)
        assert d[0].spans == (Span("a0", True), Span(" same", False))
        assert d[10_000].spans == (Span("b0", True), Span(" same", False))

    def test_10001_pairs_are_marked_whole(self) -> None:
        old = "".join(f"a{k} same\n" for k in range(10_001))
        new = "".join(f"b{k} same\n" for k in range(10_001))
        d = line_diff(old, new)
        assert d[0].spans == (Span("a0 same", True),)
        assert d[10_001].spans == (Span("b0 same", True),)


class TestWordSpansFolding:
    """Short lines: unchanged stretches no longer than the changes on both sides fold into them."""

    @pytest.mark.parametrize(
        ("old", "new", "old_spans", "new_spans"),
        [
            ("the agent must reply", "a user must answer",
             [("the agent must reply", True)], [("a user must answer", True)]),
            ("aaaaaaa b c", "xxxxxxx b d", [("aaaaaaa", True), (" b ", False), ("c", True)],
             [("xxxxxxx", True), (" b ", False), ("d", True)]),
            ("aaa b ccc", "xxx b ddd", [("aaa b ccc", True)], [("xxx b ddd", True)]),
            ("the cat sat", "the dog ran", [("the ", False), ("cat sat", True)], [("the ", False), ("dog ran", True)]),
            ("the end", "the big end", [("the end", False)], [("the ", False), ("big ", True), ("end", False)]),
            ("the a end", "the x y z end", [("the ", False), ("a", True), (" end", False)],
             [("the ", False), ("x y z", True), (" end", False)]),
            ("the x y z end", "the a end", [("the ", False), ("x y z", True), (" end", False)],
             [("the ", False), ("a", True), (" end", False)]),
            ("one two three four", "one 2 three 4",
             [("one ", False), ("two", True), (" three ", False), ("four", True)],
             [("one ", False), ("2", True), (" three ", False), ("4", True)]),
            ("keep this, drop that", "keep this", [("keep this", False), (", drop that", True)],
             [("keep this", False)]),
        ],
    )
    def test_spans(self, old: str, new: str, old_spans: list[tuple[str, bool]],
                   new_spans: list[tuple[str, bool]]) -> None:
        assert spans(old, new) == (old_spans, new_spans)


# Each: old, new, context, the unified diff (checked by hand against diff -u's format).
UNIFIED_CASES: list[tuple[str, str, int, str]] = [
    ('a\nb\n\nc\nd\ne\n', 'a\nb\n\nC\nd\ne\n', 1, '--- backup\n+++ active\n@@ -3,3 +3,3 @@\n \n-c\n+C\n d\n'),
    ('a\nb\n\nc\nd\ne\n', 'a\nb\n\nC\nd\ne\n', 2, '--- backup\n+++ active\n@@ -2,5 +2,5 @@\n b\n \n-c\n+C\n d\n e\n'),
    ('a\nb\n\nc\nd\ne\n', 'a\nb\n\nC\nd\ne\n', 3, '--- backup\n+++ active\n@@ -1,6 +1,6 @@\n a\n b\n \n-c\n+C\n d\n e\n'),
    ('1\n2\n3\n4\n5\nx\n6\n7\n8\n9', '1\n2\n3\n4\n5\ny\n6\n7\n8\n9', 2, '--- backup\n+++ active\n@@ -4,5 +4,5 @@\n 4\n 5\n-x\n+y\n 6\n 7\n'),
    ('1\n2\n3\n4\n5\nx\n6\n7\n8\n9', '1\n2\n3\n4\n5\ny\n6\n7\n8\n9', 4, '--- backup\n+++ active\n@@ -2,9 +2,9 @@\n 2\n 3\n 4\n 5\n-x\n+y\n 6\n 7\n 8\n 9\n\\ No newline at end of file\n'),
    ('1\n2\n3\n4\n5\nx\n6\n7\n8\n9', '1\n2\n3\n4\n5\ny\n6\n7\n8\n9', 0, '--- backup\n+++ active\n@@ -6 +6 @@\n-x\n+y\n'),
    ('\n\n\nx\n\n\n', '\n\n\ny\n\n\n', 2, '--- backup\n+++ active\n@@ -2,5 +2,5 @@\n \n \n-x\n+y\n \n \n'),
    ('x\n1\n2\n3\n4\n5', 'y\n1\n2\n3\n4\n5', 2, '--- backup\n+++ active\n@@ -1,3 +1,3 @@\n-x\n+y\n 1\n 2\n'),
    ('1\n2\n3\n4\n5\nx', '1\n2\n3\n4\n5\ny', 2, '--- backup\n+++ active\n@@ -4,3 +4,3 @@\n 4\n 5\n-x\n\\ No newline at end of file\n+y\n\\ No newline at end of file\n'),
    ('1\n2\n3\n4\n5\nx\n', '1\n2\n3\n4\n5\nx', 2, '--- backup\n+++ active\n@@ -4,3 +4,3 @@\n 4\n 5\n-x\n+x\n\\ No newline at end of file\n'),
]


class TestContextWindows:
    """Only ``context`` lines around a change are cut from the equal edges: blank lines, short
    heads and tails, and a last line without a newline."""

    @pytest.mark.parametrize(("old", "new", "context", "expected"), UNIFIED_CASES)
    def test_unified(self, old: str, new: str, context: int, expected: str) -> None:
        assert unified(old, new, context=context) == expected


class TestBandedRegionsAreRediffed:
    """A change region of the banded alignment is re-diffed exactly: "A B" -> "B C" keeps B equal
    (Levenshtein alone would call it two substitutions)."""

    OLD = numbered(["line 0", *(f"line {k}" for k in range(1, 2500)), "A", "B",
                    *(f"line {k}" for k in range(2502, 5000))])
    NEW = numbered(["first", *(f"line {k}" for k in range(1, 2500)), "B", "C",
                    *(f"line {k}" for k in range(2502, 4999)), "last"])

    def test_unified(self) -> None:
        assert unified(self.OLD, self.NEW) == (
            "--- backup\n+++ active\n"
            "@@ -1,4 +1,4 @@\n-line 0\n+first\n line 1\n line 2\n line 3\n"
            "@@ -2498,8 +2498,8 @@\n line 2497\n line 2498\n line 2499\n-A\n B\n+C\n line 2502\n line 2503\n line 2504\n"
            "@@ -4997,4 +4997,4 @@\n line 4996\n line 4997\n line 4998\n-line 4999\n+last\n"
        )
