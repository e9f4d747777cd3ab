"""Diff speed: our rapidfuzz-based diff vs the standard library's difflib.

Same inputs for both: a 2,000-line prompt with ~5% of its lines edited (words
changed in place, a few lines inserted and deleted, scattered over 69 hunks: the
hard case), the same prompt after one instruction (the everyday case), and a 1 MB
prompt. difflib is imported here,
and only here, as the yardstick (the project's code never uses it).

Then every view on a 4 MB prompt that is one single line, with a word replaced
all along it (no difflib row: ``difflib.unified_diff`` is fast there, it only
compares whole lines; the cost was ours, pairing the two lines for the word
level and the summary).

Run alone with ``python benchmarks/bench_diff.py``; the benchmarks entry point
calls :func:`run` and prints the rows in its table.
"""

from __future__ import annotations

import difflib
import gc
import random
import statistics
import time
from collections.abc import Callable

from dynamic_prompt.core.diff import (
    changed_new_lines,
    count_changes,
    hunks,
    line_diff,
    side_by_side,
    summary,
    unified,
)

_WORDS = (
    "always",
    "never",
    "answer",
    "user",
    "agent",
    "tone",
    "rules",
    "reply",
    "brief",
    "clear",
    "polite",
    "format",
    "json",
    "markdown",
    "cite",
    "sources",
    "avoid",
    "emojis",
    "sentences",
    "default",
    "concise",
    "helpful",
    "assistant",
    "explain",
    "steps",
    "examples",
    "code",
    "review",
    "security",
    "refuse",
    "unsafe",
    "requests",
    "language",
)


def _prompt(rng: random.Random, n_lines: int) -> list[str]:
    """A sectioned prompt: headings, numbered rules, prose lines, blank lines."""
    lines: list[str] = []
    section = 0
    while len(lines) < n_lines:
        section += 1
        lines.append(f"## SECTION {section}: {rng.choice(_WORDS).upper()}")
        for rule in range(1, rng.randint(5, 15)):
            words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 16)))
            lines.append(f"{rule}. {words.capitalize()}.")
        lines.append("")
    return lines[:n_lines]


def _edit(rng: random.Random, lines: list[str], fraction: float) -> list[str]:
    """Edit ``fraction`` of the lines: mostly in-place word changes, some inserts/deletes."""
    out = list(lines)
    for index in sorted(rng.sample(range(len(out)), int(len(out) * fraction)), reverse=True):
        roll = rng.random()
        if roll < 0.7:
            words = out[index].split(" ")
            words[rng.randrange(len(words))] = rng.choice(_WORDS)
            out[index] = " ".join(words)
        elif roll < 0.85:
            out.insert(
                index, f"{rng.randint(1, 9)}. New rule: {rng.choice(_WORDS)} {rng.choice(_WORDS)}."
            )
        else:
            del out[index]
    return out


def _p50(fn: Callable[[], object], *, min_reps: int = 15, budget_s: float = 1.0) -> float:
    """Median wall time of ``fn`` in seconds, over at least ``min_reps`` runs."""
    return _p50_pair(fn, None, min_reps=min_reps, budget_s=budget_s)[0]


def _p50_pair(
    ours: Callable[[], object],
    theirs: Callable[[], object] | None,
    *,
    min_reps: int = 31,
    budget_s: float = 2.0,
) -> tuple[float, float]:
    """Medians of two functions timed alternately (so drift hits both alike)."""
    fns = [ours] if theirs is None else [ours, theirs]
    for fn in fns:
        fn()  # warm-up: imports, regex compilation, caches
    times: list[list[float]] = [[] for _ in fns]
    deadline = time.perf_counter() + budget_s
    # The garbage collector is off while timing, as timeit does: otherwise a
    # collection triggered by one side's allocations lands in the other's time.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        while len(times[0]) < min_reps or (time.perf_counter() < deadline and len(times[0]) < 1000):
            for fn, bucket in zip(fns, times):
                start = time.perf_counter()
                fn()
                bucket.append(time.perf_counter() - start)
            gc.collect(0)  # between rounds, outside the timed region
    finally:
        if gc_was_on:
            gc.enable()
    medians = [statistics.median(bucket) for bucket in times]
    return medians[0], (medians[1] if theirs is not None else 0.0)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _ratio(ours: float, theirs: float) -> str:
    return f"{_ms(ours)} / {_ms(theirs)} = {theirs / ours:.1f}x faster"


def run() -> list[tuple[str, str, str]]:
    """Measure and return rows of (benchmark, measurement, value)."""
    rng = random.Random(2024)
    old_lines = _prompt(rng, 2000)
    new_lines = _edit(rng, old_lines, 0.05)
    old, new = "\n".join(old_lines) + "\n", "\n".join(new_lines) + "\n"

    def ours_unified() -> str:
        return unified(old, new)

    def theirs_unified() -> str:
        # difflib wants lists of lines with their endings, and is lazy: join
        # forces the whole diff, as unified() produces it.
        return "".join(
            difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True), "backup", "active"
            )
        )

    def theirs_ndiff() -> list[str]:
        # difflib's counterpart of line_diff(): line diff plus intraline marks.
        return list(difflib.ndiff(old.splitlines(keepends=True), new.splitlines(keepends=True)))

    ours_u, theirs_u = _p50_pair(ours_unified, theirs_unified)
    ours_ld, theirs_nd = _p50_pair(lambda: line_diff(old, new), theirs_ndiff, min_reps=15)
    added, removed = count_changes(old, new)
    label = f"diff 2,000-line prompt ({added} lines added / {removed} removed)"
    rows = [
        (label, "unified(): rapidfuzz p50 / difflib.unified_diff p50", _ratio(ours_u, theirs_u)),
        (
            label,
            "line_diff() with word spans p50 / difflib.ndiff p50",
            _ratio(ours_ld, theirs_nd),
        ),
    ]

    # The same prompt after one instruction: "change tone to ..." rewrites one line in the
    # middle and "add rule: ..." inserts one a few lines on. This is what the dashboard and
    # `dprompt diff` compute after every change; the trimming of the common prefix and
    # suffix leaves rapidfuzz a few lines.
    one = list(old_lines)
    middle = len(one) // 2
    one[middle] = one[middle].replace(".", " (reworded).", 1)
    one.insert(middle + 4, "7. Never use emojis.")
    one_old, one_new = "\n".join(old_lines) + "\n", "\n".join(one) + "\n"
    ours_one, theirs_one = _p50_pair(
        lambda: unified(one_old, one_new),
        lambda: "".join(difflib.unified_diff(
            one_old.splitlines(keepends=True), one_new.splitlines(keepends=True), "backup", "active")),
    )
    rows.append(("diff 2,000-line prompt, one instruction (1 line reworded, 1 added)",
                 "unified(): rapidfuzz p50 / difflib.unified_diff p50", _ratio(ours_one, theirs_one)))

    # A 1 MB prompt with a handful of edits spread across it.
    big_old = _prompt(rng, 20_000)
    big_new = list(big_old)
    for index in rng.sample(range(len(big_new)), 10):
        big_new[index] += " (edited)"
    b_old, b_new = "\n".join(big_old) + "\n", "\n".join(big_new) + "\n"
    size_mb = len(b_old.encode()) / 1e6
    big_label = f"diff 20,000-line prompt ({size_mb:.1f} MB, 10 lines edited)"
    ours_big, theirs_big = _p50_pair(
        lambda: unified(b_old, b_new),
        lambda: "".join(
            difflib.unified_diff(b_old.splitlines(True), b_new.splitlines(True), "backup", "active")
        ),
        min_reps=5,
    )
    rows.append(
        (
            big_label,
            "unified(): rapidfuzz p50 / difflib.unified_diff p50",
            _ratio(ours_big, theirs_big),
        )
    )
    rows.append(
        (big_label, "line_diff() p50", _ms(_p50(lambda: line_diff(b_old, b_new), min_reps=5)))
    )

    # The everyday case on the big prompt: one instruction, in the middle.
    big_one = list(big_old)
    big_middle = len(big_one) // 2
    big_one[big_middle] = big_one[big_middle].replace(".", " (reworded).", 1)
    big_one.insert(big_middle + 4, "7. Never use emojis.")
    bo_new = "\n".join(big_one) + "\n"
    ours_bo, theirs_bo = _p50_pair(
        lambda: unified(b_old, bo_new),
        lambda: "".join(
            difflib.unified_diff(
                b_old.splitlines(True), bo_new.splitlines(True), "backup", "active"
            )
        ),
        min_reps=5,
    )
    rows.append(
        (
            f"diff 20,000-line prompt ({size_mb:.1f} MB), one instruction",
            "unified(): rapidfuzz p50 / difflib.unified_diff p50",
            _ratio(ours_bo, theirs_bo),
        )
    )

    # Pathological: two unrelated 20,000-line texts (every line replaced).
    other = "\n".join(_prompt(random.Random(7), 20_000)).replace(".", "!") + "\n"
    start = time.perf_counter()
    line_diff(b_old, other)
    rows.append(
        (
            "diff two unrelated 20,000-line texts",
            "line_diff() once",
            _ms(time.perf_counter() - start),
        )
    )
    rows.extend(_huge_line_rows())
    return rows


def _huge_line_rows() -> list[tuple[str, str, str]]:
    """Each view on a 4 MB one-line prompt with a word replaced all along the line."""
    rng = random.Random(4)
    huge_old = "Tone: Friendly. " + " ".join(rng.choice(_WORDS) for _ in range(570_000)) + "\n"
    huge_new = huge_old.replace("never", "rarely")
    label = f"diff one {len(huge_old) / 1e6:.1f} MB line, a word replaced all along it"
    views: list[tuple[str, Callable[[str, str], object]]] = [
        ("summary", summary),
        ("unified", unified),
        ("count_changes", count_changes),
        ("changed_new_lines", changed_new_lines),
        ("side_by_side", side_by_side),
        ("line_diff", line_diff),
        ("hunks", hunks),
    ]
    rows = []
    for name, view in views:
        seconds = _p50(lambda view=view: view(huge_old, huge_new), min_reps=3, budget_s=1.0)
        rows.append((label, f"{name}() p50", _ms(seconds)))
    return rows


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
