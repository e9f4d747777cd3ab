"""Tests for dynamic_prompt.core.diff: exact small cases, properties, the no-difflib rule."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    word_spans,
)
from dynamic_prompt.core.diff import views as diff

SRC = Path(__file__).resolve().parents[2] / "src"

SEED_OLD = """You are a helpful assistant.
Tone: Friendly
Rules:
1. Be kind
5. Be brief
DEFAULT 3 SENTENCES
"""
SEED_NEW = """You are a helpful assistant.
Tone: Sarcastic
Rules:
1. Be kind
5. Be brief
6. Never use emojis
DEFAULT 2 SENTENCES
"""


# --------------------------------------------------------------------------
# A tiny patch applier: the oracle for unified()
# --------------------------------------------------------------------------

_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$")


def _keep_ends(text: str) -> list[str]:
    """Lines with their "\\n" (only "\\n" separates lines, as in diff.py)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def apply_unified(old: str, patch: str) -> str:
    """Apply a unified diff to ``old``, checking every context/delete line."""
    if not patch:
        return old
    source = _keep_ends(old)
    rows = patch.split("\n")
    assert rows[-1] == "", "a unified diff ends with a newline"
    rows.pop()
    assert rows[0].startswith("--- ") and rows[1].startswith("+++ ")
    out: list[str] = []
    pos = 0
    k = 2
    while k < len(rows):
        m = _HEADER.match(rows[k])
        assert m, f"expected a hunk header, got {rows[k]!r}"
        a, b = int(m[1]), int(m[2] or 1)
        c, d = int(m[3]), int(m[4] or 1)
        start = a - 1 if b else a  # an empty range names the line before it
        assert start >= pos, "hunks must be in order and not overlap"
        out.extend(source[pos:start])
        assert len(out) == (c - 1 if d else c), "new-side start must match"
        pos = start
        k += 1
        seen_old = seen_new = 0
        while k < len(rows) and not rows[k].startswith("@@"):
            row = rows[k]
            nonl = k + 1 < len(rows) and rows[k + 1] == "\\ No newline at end of file"
            line = row[1:] + ("" if nonl else "\n")
            if row[0] in " -":
                assert source[pos] == line, f"context mismatch at old line {pos + 1}"
                pos += 1
                seen_old += 1
            if row[0] in " +":
                out.append(line)
                seen_new += 1
            assert row[0] in " -+", f"bad line {row!r}"
            k += 2 if nonl else 1
        assert (seen_old, seen_new) == (b, d), "hunk header counts must match its body"
    out.extend(source[pos:])
    return "".join(out)


@contextmanager
def banded_everywhere() -> Iterator[None]:
    """Force the banded-Levenshtein path even for tiny inputs."""
    saved = line_align.BANDED_MIN_CELLS
    line_align.BANDED_MIN_CELLS = 0
    try:
        yield
    finally:
        line_align.BANDED_MIN_CELLS = saved


def _join(lines: list[DiffLine], tags: set[str]) -> str:
    """The text one side of a line diff spells out."""
    kept = [line for line in lines if line.tag in tags]
    text = "".join(line.text + "\n" for line in kept)
    if kept and kept[-1].missing_newline:
        text = text[:-1]
    return text


# --------------------------------------------------------------------------
# Exact expectations
# --------------------------------------------------------------------------


def test_seed_summary() -> None:
    assert summary(SEED_OLD, SEED_NEW) == [
        "~ Tone: Sarcastic",
        "+ 6. Never use emojis",
        "~ DEFAULT 2 SENTENCES",
    ]


def test_equal_texts() -> None:
    text = "a\nb\n"
    assert [line.tag for line in line_diff(text, text)] == ["equal", "equal"]
    assert hunks(text, text) == []
    assert unified(text, text) == ""
    assert summary(text, text) == []
    assert count_changes(text, text) == (0, 0)
    assert changed_new_lines(text, text) == set()
    assert line_diff("", "") == []


def test_line_diff_replaced_line_exact() -> None:
    assert line_diff("a\nTone: Friendly\nc", "a\nTone: Sarcastic\nc") == [
        DiffLine("equal", 1, 1, "a", (Span("a", False),)),
        DiffLine(
            "delete", 2, None, "Tone: Friendly", (Span("Tone: ", False), Span("Friendly", True))
        ),
        DiffLine(
            "insert", None, 2, "Tone: Sarcastic", (Span("Tone: ", False), Span("Sarcastic", True))
        ),
        DiffLine("equal", 3, 3, "c", (Span("c", False),)),
    ]


def test_replaced_block_is_deletes_then_inserts_paired_in_order() -> None:
    lines = line_diff("x\nrule one\nrule two\ny", "x\nrule 1\nrule 2\ny")
    assert [(l.tag, l.old_no, l.new_no) for l in lines] == [
        ("equal", 1, 1),
        ("delete", 2, None),
        ("delete", 3, None),
        ("insert", None, 2),
        ("insert", None, 3),
        ("equal", 4, 4),
    ]
    assert lines[1].spans == (Span("rule ", False), Span("one", True))
    assert lines[4].spans == (Span("rule ", False), Span("2", True))


def test_pairing_follows_similarity_when_block_sizes_differ() -> None:
    lines = line_diff(SEED_OLD, SEED_NEW)
    new_rule = next(l for l in lines if l.text == "6. Never use emojis")
    default = next(l for l in lines if l.text == "DEFAULT 2 SENTENCES")
    assert new_rule.spans == (Span("6. Never use emojis", False),)  # unpaired
    assert default.spans == (Span("DEFAULT ", False), Span("2", True), Span(" SENTENCES", False))


def test_unpaired_lines_are_one_unchanged_span() -> None:
    lines = line_diff("a\n", "a\nnew line\n")
    assert lines[-1] == DiffLine("insert", None, 2, "new line", (Span("new line", False),))
    lines = line_diff("a\ngone\n", "a\n")
    assert lines[-1] == DiffLine("delete", 2, None, "gone", (Span("gone", False),))


def test_dissimilar_lines_are_not_paired() -> None:
    assert summary("DEFAULT 3 SENTENCES", "6. Never use emojis") == [
        "- DEFAULT 3 SENTENCES",
        "+ 6. Never use emojis",
    ]


def test_summary_skips_blank_lines_and_strips() -> None:
    assert summary("a\n", "a\n\n   \n  - new rule  \n") == ["+ - new rule"]
    assert summary("a\n\nb\n", "a\nb\n") == []
    assert summary("keep\n  old one\n", "keep\n") == ["- old one"]


def test_word_spans_exact() -> None:
    assert word_spans("Be concise and kind.", "Be verbose and kind!") == (
        (Span("Be ", False), Span("concise", True), Span(" and kind", False), Span(".", True)),
        (Span("Be ", False), Span("verbose", True), Span(" and kind", False), Span("!", True)),
    )
    # Whitespace between changes folds into them: one changed phrase.
    assert word_spans("a b c", "x y z") == ((Span("a b c", True),), (Span("x y z", True),))
    # A short equality between bigger changes folds too (no confetti).
    assert word_spans("the agent must reply", "a user must answer") == (
        (Span("the agent must reply", True),),
        (Span("a user must answer", True),),
    )
    assert word_spans("x", "x y") == ((Span("x", False),), (Span("x", False), Span(" y", True)))
    assert word_spans("", "abc") == ((Span("", False),), (Span("abc", True),))
    assert word_spans("same", "same") == ((Span("same", False),), (Span("same", False),))


def test_word_spans_long_lines_diff_only_their_middle() -> None:
    long_old = "word " * 500  # 2,500 chars: longer than WORD_DIFF_MAX_CHARS
    long_new = long_old + "more"
    assert word_spans(long_old, long_new) == (
        (Span(long_old, False),),
        (Span(long_old, False), Span("more", True)),
    )
    # A middle still longer than that is marked changed as a whole, between
    # the unchanged prefix and suffix of whole words.
    old_mid, new_mid = "a " * 1500, "b " * 1500
    assert word_spans(f"Keep {old_mid}end", f"Keep {new_mid}end") == (
        (Span("Keep ", False), Span(old_mid[:-1], True), Span(" end", False)),
        (Span("Keep ", False), Span(new_mid[:-1], True), Span(" end", False)),
    )


def test_a_rewrite_marks_paired_lines_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = "keep\nTone: Friendly\nBe brief\n", "keep\nTone: Sarcastic\nBe very brief\n"
    assert line_diff(old, new)[1].spans == (Span("Tone: ", False), Span("Friendly", True))
    monkeypatch.setattr(diff, "WORD_DIFF_MAX_PAIRS", 1)  # 2 pairable lines: a "rewrite"
    lines = line_diff(old, new)
    assert [l.spans for l in lines[1:]] == [
        (Span("Tone: Friendly", True),),
        (Span("Be brief", True),),
        (Span("Tone: Sarcastic", True),),
        (Span("Be very brief", True),),
    ]
    assert summary(old, new) == ["~ Tone: Sarcastic", "~ Be very brief"]  # pairing unchanged


def test_unified_exact() -> None:
    assert unified(SEED_OLD, SEED_NEW) == (
        "--- backup\n"
        "+++ active\n"
        "@@ -1,6 +1,7 @@\n"
        " You are a helpful assistant.\n"
        "-Tone: Friendly\n"
        "+Tone: Sarcastic\n"
        " Rules:\n"
        " 1. Be kind\n"
        " 5. Be brief\n"
        "-DEFAULT 3 SENTENCES\n"
        "+6. Never use emojis\n"
        "+DEFAULT 2 SENTENCES\n"
    )


def test_unified_labels_context_and_empty_ranges() -> None:
    assert (
        unified("", "x\n", from_label="v1", to_label="v2") == "--- v1\n+++ v2\n@@ -0,0 +1 @@\n+x\n"
    )
    assert unified("x\n", "") == "--- backup\n+++ active\n@@ -1 +0,0 @@\n-x\n"
    old = "".join(f"{i}\n" for i in range(1, 21))
    new = old.replace("10\n", "ten\n")
    assert unified(old, new, context=1) == (
        "--- backup\n+++ active\n@@ -9,3 +9,3 @@\n 9\n-10\n+ten\n 11\n"
    )
    assert unified(old, new, context=0) == "--- backup\n+++ active\n@@ -10 +10 @@\n-10\n+ten\n"


def test_unified_no_newline_at_end() -> None:
    assert unified("a\nb", "a\nb\n") == (
        "--- backup\n+++ active\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"
    )
    assert unified("a\nb", "a\nc") == (
        "--- backup\n+++ active\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n"
        "+c\n\\ No newline at end of file\n"
    )
    # Unchanged last line without a newline, as context.
    assert unified("x\nend", "y\nend") == (
        "--- backup\n+++ active\n@@ -1,2 +1,2 @@\n-x\n+y\n end\n\\ No newline at end of file\n"
    )


def test_missing_newline_flag_and_equality() -> None:
    lines = line_diff("a\nb", "a\nb\n")
    assert [(l.tag, l.text, l.missing_newline) for l in lines] == [
        ("equal", "a", False),
        ("delete", "b", True),
        ("insert", "b", False),
    ]
    # Excluded from comparison so plain expectations still match.
    assert lines[0] == DiffLine("equal", 1, 1, "a", (Span("a", False),))


def test_crlf_and_other_separators_are_text() -> None:
    lines = line_diff("a\r\nb\r\n", "a\r\nB\r\n")
    assert [l.text for l in lines] == ["a\r", "b\r", "B\r"]
    # \x0b, \x1c and U+2028 split str.splitlines() but are not line breaks here.
    assert [l.text for l in line_diff("p\x0bq\u2028r", "p\x0bq\u2028r")] == ["p\x0bq\u2028r"]


def test_hunks_grouping() -> None:
    old = "".join(f"line {i}\n" for i in range(1, 31))
    far = old.replace("line 2\n", "LINE 2\n").replace("line 28\n", "LINE 28\n")
    groups = hunks(old, far)
    assert len(groups) == 2
    assert [l.old_no for l in groups[0] if l.tag != "insert"] == [1, 2, 3, 4, 5]
    assert [l.new_no for l in groups[1] if l.tag != "delete"] == [25, 26, 27, 28, 29, 30]
    near = old.replace("line 10\n", "X\n").replace("line 16\n", "Y\n")
    assert len(hunks(old, near)) == 1  # 5 equal lines apart <= 2 * 3
    assert len(hunks(old, near, context=2)) == 2
    with pytest.raises(ValueError):
        hunks(old, near, context=-1)


def test_side_by_side_rows() -> None:
    rows = side_by_side(SEED_OLD, SEED_NEW)
    as_text = [(l and l.text, r and r.text) for l, r in rows]
    assert as_text == [
        ("You are a helpful assistant.", "You are a helpful assistant."),
        ("Tone: Friendly", "Tone: Sarcastic"),
        ("Rules:", "Rules:"),
        ("1. Be kind", "1. Be kind"),
        ("5. Be brief", "5. Be brief"),
        (None, "6. Never use emojis"),
        ("DEFAULT 3 SENTENCES", "DEFAULT 2 SENTENCES"),
    ]
    assert rows[0][0] is rows[0][1]


def test_count_and_changed_new_lines() -> None:
    assert count_changes(SEED_OLD, SEED_NEW) == (3, 2)
    assert changed_new_lines(SEED_OLD, SEED_NEW) == {2, 6, 7}
    assert count_changes("a\nb\nc\n", "a\nc\n") == (0, 1)
    assert changed_new_lines("a\nb\nc\n", "a\nc\n") == set()


def test_moved_line_keeps_the_longest_common_run() -> None:
    # LCS, like diff: two lines stay equal, one moves.
    assert count_changes("A\nB\nC\n", "B\nC\nA\n") == (1, 1)


def test_banded_path_matches_exact_cases() -> None:
    with banded_everywhere():
        assert summary(SEED_OLD, SEED_NEW) == [
            "~ Tone: Sarcastic",
            "+ 6. Never use emojis",
            "~ DEFAULT 2 SENTENCES",
        ]
        assert count_changes("A\nB\nC\n", "B\nC\nA\n") == (1, 1)
        assert count_changes("A\nB\n", "B\nA\n") == (1, 1)


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs the patch tool")
@pytest.mark.parametrize(
    ("old", "new"),
    [
        (SEED_OLD, SEED_NEW),
        ("a\nb", "a\nb\n"),
        ("a\nb\n", "a\nc"),
        ("", "new\n"),
        ("".join(f"{i}\n" for i in range(50)), "".join(f"{i}\n" for i in range(50) if i % 17)),
    ],
)
def test_real_patch_tool_accepts_unified(tmp_path: Path, old: str, new: str) -> None:
    target = tmp_path / "prompt.md"
    target.write_bytes(old.encode())
    patch_file = tmp_path / "change.diff"
    patch_file.write_bytes(unified(old, new).encode())
    subprocess.run(
        ["patch", "--quiet", "--force", str(target), str(patch_file)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    assert target.read_bytes().decode() == new


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

_LINE = st.sampled_from(["", "a", "b", "c c", "Tone: x", "Tone: y", "  ", "\r", "ü é", "1. rule"])


@st.composite
def prompt_text(draw: st.DrawFn) -> str:
    lines = draw(st.lists(_LINE, max_size=25))
    text = "\n".join(lines)
    if lines and draw(st.booleans()):
        text += "\n"
    return text


_TEXT = st.one_of(prompt_text(), st.text(alphabet="ab \n\rx", max_size=40), st.text(max_size=40))


def _check_all(old: str, new: str) -> None:
    patch = unified(old, new)
    assert apply_unified(old, patch) == new
    assert (patch == "") == (old == new)

    body = [row for row in patch.split("\n")[2:] if row and row[0] in "+-"]
    added = sum(1 for row in body if row[0] == "+")
    removed = sum(1 for row in body if row[0] == "-")
    assert count_changes(old, new) == (added, removed)

    lines = line_diff(old, new)
    assert _join(lines, {"equal", "delete"}) == old
    assert _join(lines, {"equal", "insert"}) == new
    assert changed_new_lines(old, new) == {l.new_no for l in lines if l.tag == "insert"}
    for line in lines:
        assert "".join(span.text for span in line.spans) == line.text
        assert line.spans, "never an empty spans tuple"
        if line.tag == "equal":
            assert line.spans == (Span(line.text, False),)
        assert line.old_no is None if line.tag == "insert" else line.old_no is not None
        assert line.new_no is None if line.tag == "delete" else line.new_no is not None

    rows = side_by_side(old, new)
    left = [l for l, _ in rows if l is not None]
    right = [r for _, r in rows if r is not None]
    assert [l.old_no for l in left] == list(range(1, len(left) + 1))
    assert [r.new_no for r in right] == list(range(1, len(right) + 1))

    flat = [l for group in hunks(old, new, context=1) for l in group]
    assert {l.new_no for l in flat if l.tag == "insert"} == changed_new_lines(old, new)


@settings(max_examples=300, deadline=None)
@given(_TEXT, _TEXT)
def test_properties(old: str, new: str) -> None:
    _check_all(old, new)


@settings(max_examples=150, deadline=None)
@given(prompt_text(), prompt_text())
def test_properties_banded_path(old: str, new: str) -> None:
    with banded_everywhere():
        _check_all(old, new)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_word_spans_reproduce_both_lines(old: str, new: str) -> None:
    old_spans, new_spans = word_spans(old, new)
    assert "".join(s.text for s in old_spans) == old
    assert "".join(s.text for s in new_spans) == new
    for spans in (old_spans, new_spans):
        assert all(a.changed != b.changed for a, b in pairwise(spans))


# --------------------------------------------------------------------------
# The house rule and speed
# --------------------------------------------------------------------------


def test_no_difflib_under_src() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
                names = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if any(str(n).split(".")[0] == "difflib" for n in names):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def _big(n: int, tag: str = "") -> list[str]:
    return [
        f"{tag}{i}. keep answers short and clear, rule number {i * 7919 % 1000}" for i in range(n)
    ]


# The speed is bench_diff.py's to measure; here: the results on 20,000 lines, under a hang guard.
# They take about 0.6 s; comparing every pair of lines in Python (a quadratic pass) would take
# some 45 s for the comparisons alone, so the guard trips on that and on a hang, not on noise.
@pytest.mark.timeout(30)
def test_20000_line_diffs_are_right() -> None:
    old_lines = _big(20_000)
    new_lines = list(old_lines)
    for i in range(0, 20_000, 2_000):
        new_lines[i] += " (edited)"
    old, new = "\n".join(old_lines), "\n".join(new_lines)
    assert count_changes(old, new) == (10, 10)
    assert len(line_diff(old, new)) == 20_010

    other = "\n".join(_big(20_000, tag="z"))
    lines = line_diff(old, other)
    assert len(lines) == 40_000
