"""Adding and removing rules in a prompt's rules block.

A new rule goes after the last rule of the block, in the block's style (next
number, same marker, same indent). Removing finds the rule with a plain word
match first and rapidfuzz second; more than one equally good candidate is an
error that names them, never a guess. Numbered rules are renumbered after a
removal when they were numbered 1, 2, 3... before it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import pairwise

from rapidfuzz import fuzz

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.modifier.common import append_block, arg
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.messages import capitalize, clip, listing
from dynamic_prompt.core.modifier.sections import ITEM, Outline, RuleItem, RulesBlock

# Fuzzy scores are 0-100: below THRESHOLD nothing matches; candidates within
# MARGIN of the best are too close to call.
THRESHOLD = 75.0
MARGIN = 5.0
_STOPWORDS = frozenset(["a", "an", "and", "about", "any", "for", "in", "of", "on", "or", "the", "to", "with"])


def _same(a: str, b: str) -> bool:
    """Rules that differ only in case, spacing or final punctuation are the same rule."""
    return " ".join(a.lower().split()).rstrip(".!;") == " ".join(b.lower().split()).rstrip(".!;")


def add_rule(doc: Lines, args: Mapping[str, str]) -> None:
    """Append a rule to the main rules block (creating ``## Rules`` when there is none)."""
    rule = capitalize(arg(args, "rule"))
    out = Outline(doc)
    blocks = out.rules_blocks()
    for block in blocks:
        for pos, item in enumerate(block.items, 1):
            if _same(item.text, rule):
                raise InstructionError(f"That rule is already there: {item.label(pos)} {clip(item.text)}")
    if not blocks:
        if out.uses_blocks():
            append_block(doc, ["▛///▞ RULES", f"1. {rule}", ":: ∎"])
        else:
            append_block(doc, ["## Rules", "", f"1. {rule}"])
        return
    block = _main_block(blocks)
    if not block.items:
        last = out.last_content(block.start, block.end)
        doc.insert(block.header + 1 if last is None else last + 1, [f"1. {rule}"])
        return
    last_item = block.items[-1]
    label = f"{last_item.number + 1}{last_item.marker}" if last_item.number is not None else last_item.marker
    lines = [f"{last_item.indent}{label}{last_item.gap}{rule}"]
    if _is_loose(doc, block):
        lines.insert(0, "")  # a loose list (blank lines between rules) stays loose
    doc.insert(last_item.end, lines)


def _is_loose(doc: Lines, block: RulesBlock) -> bool:
    """True when the rules are separated by blank lines."""
    items = block.items
    return any(
        not doc.content(i).strip() for a, b in pairwise(items) for i in range(a.end, b.start)
    )


def _main_block(blocks: Sequence[RulesBlock]) -> RulesBlock:
    """The block new rules go to: one titled RULES / CORE RULES, else the first with rules."""
    for block in blocks:
        if block.title in ("rules", "core rules"):
            return block
    for block in blocks:
        if block.items:
            return block
    return blocks[0]


def remove_rule(doc: Lines, args: Mapping[str, str]) -> None:
    """Delete one rule (by number or by topic) and renumber the rest of its block."""
    out = Outline(doc)
    found = [(b, item, pos) for b in out.rules_blocks() for pos, item in enumerate(b.items, 1)]
    if not found:
        raise InstructionError("The prompt has no rules to remove.")
    number = args.get("number")
    if isinstance(number, str) and number.strip():
        block, item = _by_number(found, number.strip())
    else:
        block, item = _by_topic(found, arg(args, "about"))
    start, end = item.start, item.end
    if _is_loose(doc, block) and end < len(doc) and not doc.content(end).strip():
        end += 1  # in a loose list, take the blank line that separated this rule
    _renumber_after(doc, block, item)
    doc.delete(start, end)


def _by_number(found: list[tuple[RulesBlock, RuleItem, int]], number: str) -> tuple[RulesBlock, RuleItem]:
    if not number.isdigit():
        raise InstructionError(f"'{clip(number)}' is not a rule number.")
    n = int(number)
    labelled = [(b, it) for b, it, _ in found if it.number == n]
    if len(labelled) == 1:
        return labelled[0]
    if len(labelled) > 1:
        raise InstructionError(
            f"There are {len(labelled)} rules numbered {n}: "
            f"{listing([clip(it.text) for _, it in labelled])}; say which by its words.",
            suggestions=[it.text for _, it in labelled],
        )
    if all(it.number is None for _, it, _ in found) and 1 <= n <= len(found):
        b, it, _ = found[n - 1]
        return b, it
    raise InstructionError(f"There is no rule {n}. Rules: {_names(found)}", suggestions=[it.text for _, it, _ in found])


def _by_topic(found: list[tuple[RulesBlock, RuleItem, int]], topic: str) -> tuple[RulesBlock, RuleItem]:
    q = " ".join(topic.lower().split()).strip(" .!?\"'")
    q = re.sub(r"^(?:the|a|an|any|all)\s+(?=\S)", "", q)
    if not q:
        raise InstructionError("Say which rule to remove.")
    texts = [" ".join(it.text.lower().split()) for _, it, _ in found]
    stem = q[:-1] if q.endswith("s") and len(q) > 3 else q
    word = re.compile(r"\b(?:" + re.escape(q) + "|" + re.escape(stem) + r")(?:s|es)?\b")
    tiers = [
        [k for k, t in enumerate(texts) if t.rstrip(".!;") == q.rstrip(".!;")],
        [k for k, t in enumerate(texts) if word.search(t)],
        [k for k, t in enumerate(texts) if q in t or stem in t],
        _by_stems(q, texts),
    ]
    for tier in tiers:
        if len(tier) == 1:
            b, it, _ = found[tier[0]]
            return b, it
        if tier:
            raise _ambiguous(q, [found[k] for k in tier])
    scores = [max(fuzz.partial_ratio(q, t), fuzz.token_set_ratio(q, t)) for t in texts]
    best = max(scores)
    if best < THRESHOLD:
        raise InstructionError(
            f"No rule matches '{clip(q)}'. Rules: {_names(found)}",
            suggestions=[it.text for _, it, _ in found],
        )
    close = [k for k, s in enumerate(scores) if s >= best - MARGIN]
    if len(close) > 1:
        raise _ambiguous(q, [found[k] for k in sorted(close, key=lambda k: -scores[k])])
    b, it, _ = found[close[0]]
    return b, it


def _stem(word: str) -> str:
    """A crude stem, enough for "citing" to find "Cite" and "links" to find "link"."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _by_stems(q: str, texts: Sequence[str]) -> list[int]:
    """Rules in which every word of ``q`` (stemmed) starts some word."""
    stems = [_stem(w) for w in re.findall(r"\w+", q) if w not in _STOPWORDS]
    if not stems:
        return []
    out = []
    for k, t in enumerate(texts):
        words = re.findall(r"\w+", t)
        if all(any(w.startswith(s) for w in words) for s in stems):
            out.append(k)
    return out


def _names(found: Sequence[tuple[RulesBlock, RuleItem, int]]) -> str:
    return listing([f"{it.label(pos)} {it.text}" for _, it, pos in found])


def _ambiguous(q: str, cands: Sequence[tuple[RulesBlock, RuleItem, int]]) -> InstructionError:
    return InstructionError(
        f"'{clip(q)}' matches {len(cands)} rules: {_names(cands)}; say which.",
        suggestions=[it.text for _, it, _ in cands],
    )


def _renumber_after(doc: Lines, block: RulesBlock, removed: RuleItem) -> None:
    """Close the gap a removed rule leaves, if the block was numbered 1, 2, 3..."""
    numbers = [it.number for it in block.items]
    if removed.number is None or any(
        a is None or b is None or b != a + 1 for a, b in pairwise(numbers)
    ):
        return  # bullets, or numbering someone chose by hand: leave it alone
    for it in block.items:
        if it.start > removed.start and it.number is not None:
            line = doc.content(it.start)
            m = ITEM.match(line)
            if m:
                doc.set(it.start, line[: m.start(2)] + str(it.number - 1) + line[m.end(2) :])
