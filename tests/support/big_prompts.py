"""Big prompts for the instruction engine's bounds, written once for the tests and the benchmark.

Plain text builders with fixed seeds (no import of the product), so the benchmark's child
processes can build the same prompt for the engine of an older commit.
"""

from __future__ import annotations

import random

VOCAB = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
         "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"]
"""The words the big prompts' rules are made of."""


def hundred_thousand_rules(extra: str = "") -> str:
    """About 4 MB: a numbered rules block of 100,000 rules of four words each (plus ``extra`` last)."""
    r = random.Random(7)
    lines = ["# Agent", "", "Tone: Friendly", "", "## Rules", ""]
    lines += [f"{k}. " + " ".join(r.choice(VOCAB) for _ in range(4)) + f" r{k}." for k in range(1, 100_001)]
    if extra:
        lines.append(f"100001. {extra}")
    return "\n".join(lines) + "\n"


def one_letter_rules(n: int) -> str:
    """``n`` bulleted one-letter rules (a million of them fit in 4 MB)."""
    return "# Agent\nTone: Calm\n\n## Rules\n" + "".join(f"- {chr(97 + k % 26)}\n" for k in range(n))
