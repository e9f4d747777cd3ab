"""The instruction engine's bounded cases: CPU before and after the bound, in one run.

Each case (a prompt of up to 4 MB and an instruction of up to 10,000
characters) runs in a fresh process twice: with the engine as it was before
the bound (the source tree of commit BEFORE, taken with ``git archive``) and
with this checkout's. The figure is the CPU time of the call alone (not of
building the prompt): once for the old engine, the least of three for the
bounded one. An old run still going after LIMIT seconds (plus 10 for building
the prompt) is stopped and shown as ``> LIMIT``. Set ``BENCH_MODIFIER_LIMIT``
(seconds) to change it.
"""

from __future__ import annotations

import io
import json
import os
import random
import resource
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BEFORE = "e33494e"
"""The last commit before the engine's CPU bound."""
LIMIT = float(os.environ.get("BENCH_MODIFIER_LIMIT", "30"))
_MEMORY = 6 * 1024**3  # the old engine can build gigabyte texts: cap each run's address space

sys.path.insert(0, str(ROOT))  # the prompts are the tests' (plain text, no import of the product)
from tests.support.big_prompts import VOCAB, hundred_thousand_rules, one_letter_rules  # noqa: E402

# -- prompts and instructions (plain text: the child process may run the old engine) ----------


def all_words_rules() -> str:
    """30,000 rules, each holding all 20 words in its own order (the stems tier's worst case)."""
    r = random.Random(1)
    lines = ["## Rules"]
    for k in range(1, 30_001):
        words = VOCAB[:]
        r.shuffle(words)
        lines.append(f"{k}. " + " ".join(words))
    return "\n".join(lines) + "\n"


def nested_plain_rules() -> str:
    """A RULES: list of 20,000 rules, each followed by an indented "x rules:" line."""
    lines = ["RULES:"]
    for k in range(1, 20_001):
        lines += [f"{k}. item {k}", "   x rules:"]
    return "\n".join(lines) + "\n"


def rules_sections() -> str:
    """30,000 "## Rules k" sections of one rule each."""
    return "".join(f"## Rules {k}\n1. rule {k}\n\n" for k in range(30_000))


def background(lines: int) -> str:
    return "# Agent\n\nTone: Calm\n\n" + "Background line about the service and its users.\n" * lines


def consonant_words(chars: int) -> str:
    r = random.Random(9)
    return " ".join("".join(r.choice("bcdfghjklmnpqrstvwxz") for _ in range(6)) for _ in range(chars))[:chars].strip()


def real_words(chars: int) -> str:
    r = random.Random(3)
    return " ".join(r.choice(VOCAB) for _ in range(chars // 4))[:chars].strip()


Case = tuple[str, Callable[[], str], Callable[[], str], str]
"""(label, prompt, instruction or partial, "modify" or "suggest")."""

CASES: list[Case] = [
    ("remove rule about <9,950 chars, no such words>, 100,000 rules",
     hundred_thousand_rules, lambda: "remove rule about " + consonant_words(9_950), "modify"),
    ("remove rule about <9,950 chars of rule words>, 100,000 rules",
     hundred_thousand_rules, lambda: "remove rule about " + real_words(9_950), "modify"),
    ("remove rule about <typo>, 100,000 rules (fuzzy still runs)",
     lambda: hundred_thousand_rules("Never invent APIs."), lambda: "remove rule about invnted APIs", "modify"),
    ("remove rule about zzqqxx, 200,000 one-letter rules (fuzzy over budget)",
     lambda: one_letter_rules(200_000), lambda: "remove rule about zzqqxx", "modify"),
    ("remove rule about <20 words in all of 30,000 rules> (stems)",
     all_words_rules, lambda: "remove rule about " + " ".join(reversed(VOCAB)), "modify"),
    ("remove rule 5, 1,000,000 one-letter rules (refused)",
     lambda: one_letter_rules(1_000_000), lambda: "remove rule 5", "modify"),
    ("add rule: <9,990 chars of words>, 200,000 one-letter rules",
     lambda: one_letter_rules(200_000), lambda: "add rule: " + real_words(9_990).capitalize(), "modify"),
    ("remove rule 5, 20,000 rules with nested 'x rules:' lines",
     nested_plain_rules, lambda: "remove rule 5", "modify"),
    ("add rule, 30,000 '## Rules k' sections",
     rules_sections, lambda: "add rule: brand new", "modify"),
    ('replace "e" with <9,000 chars>, 100 KB (refused)',
     lambda: "## Notes\n" + "tree " * 20_000 + "\n", lambda: 'replace "e" with "' + "y" * 9_000 + '"', "modify"),
    ("100 x change tone, 4 MB (refused)",
     lambda: background(80_000), lambda: "; ".join(f"change tone to t{k}" for k in range(100)), "modify"),
    ('16 x replace "a" with "aa" (doubling), 500 chars (refused)',
     lambda: "a" * 500 + "\n", lambda: "; ".join(['replace "a" with "aa"'] * 16), "modify"),
    ("suggest remove rule about <200 chars>, 100,000 rules",
     hundred_thousand_rules, lambda: "remove rule about " + real_words(200), "suggest"),
]


def _child(index: int, repeat: int) -> None:
    """Run case ``index`` ``repeat`` times with whatever engine is importable; print the least CPU
    seconds of one run and the outcome (the least: the machine is shared, noise only adds)."""
    import time

    from dynamic_prompt.core import modifier
    from dynamic_prompt.core.errors import InstructionError

    _, prompt, instruction, kind = CASES[index]
    text, typed = prompt(), instruction()
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        try:
            if kind == "suggest":
                outcome = repr(modifier.suggest(typed, text)[:1])
            else:
                outcome = f"changed {len(modifier.modify_text(text, typed).text):,} chars"
        except InstructionError as exc:
            outcome = str(exc)
        except MemoryError:
            outcome = "MemoryError"
        best = min(best, time.process_time() - started)
    print(json.dumps([best, outcome[:100]]))


def _old_tree(tmp: str) -> str | None:
    """The source tree of BEFORE, extracted under ``tmp``; None when git cannot give it."""
    try:
        data = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", BEFORE, "src"],
                              capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(tmp, filter="data")
    return os.path.join(tmp, "src")


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (_MEMORY, _MEMORY))


def _measure(src: str, index: int, limit: float, repeat: int) -> tuple[str, str]:
    """(CPU ms or "> limit", outcome) of one case on the engine under ``src``."""
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_modifier as b; b._child({index}, {repeat})"
    env = {**os.environ, "PYTHONPATH": src}
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                             timeout=limit * repeat + 10, preexec_fn=_limit_memory)  # + building the prompt
    except subprocess.TimeoutExpired:
        return f"> {limit * 1000:.0f}", "stopped"
    if out.returncode != 0:
        return "failed", out.stderr.strip().splitlines()[-1][:100] if out.stderr.strip() else "?"
    seconds, outcome = json.loads(out.stdout.strip().splitlines()[-1])
    return f"{seconds * 1000:.0f}", outcome


def run() -> list[tuple[str, str, str]]:
    """One row per bounded case: CPU ms before / after, and the outcome after."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old = _old_tree(tmp)
        for index, (label, _, _, _) in enumerate(CASES):
            # The old engine once (some cases take minutes), the bounded one best of three.
            before, _ = _measure(old, index, LIMIT, 1) if old else ("n/a", "")
            after, outcome = _measure(str(ROOT / "src"), index, LIMIT, 3)
            rows.append((f"modifier: {label}", "CPU ms before / after", f"{before} / {after}  ({outcome})"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
