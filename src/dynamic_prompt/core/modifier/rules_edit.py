"""Adding and removing rules in a prompt's rules block.

A new rule goes after the last rule of the block, in the block's style (next
number, same marker, same indent), with the user's words exactly as typed.
Removing finds the rule by number, or by topic with the bounded tiers of
:mod:`.topic`; more than one equally good candidate is an error that names
each candidate once with the instruction that picks it, never a guess.
Numbered rules are renumbered after a removal when they were numbered 1, 2,
3... before it.

In a template, a rule added after a last rule that is inside an ``{% if %}`` or
``{% for %}`` opened under the heading goes after that block's end tag: "add
rule" means a rule that always applies, once (see
:meth:`.template_tags.TemplateTags.level_of`). A rules list that lives inside a
block with its heading gets the rule inside that block, next to its rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import pairwise

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.modifier import topic as topics
from dynamic_prompt.core.modifier.common import append_block, arg
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.messages import clip, listing
from dynamic_prompt.core.modifier.rule_blocks import ITEM, RuleItem, RulesBlock
from dynamic_prompt.core.modifier.sections import Outline

LISTED = 10
"""The most candidate rules an error names (and offers as suggestions)."""
_PICK_CHARS = 80  # longer rule texts are not offered as "remove rule about <text>"

Found = list[tuple[RulesBlock, RuleItem, int]]
"""Every rule of the prompt: its block, the rule and its 1-based position in the block."""


def add_rule(doc: Lines, args: Mapping[str, str]) -> None:
    """Append a rule to the main rules block (creating ``## Rules`` when there is none).

    The rule is written exactly as typed: ``iPhone users ...`` stays as is.
    """
    rule = arg(args, "rule")
    out = Outline(doc)
    blocks = out.rules_blocks()
    _refuse_duplicate(blocks, rule)
    if not blocks:
        if out.uses_blocks():
            append_block(doc, ["▛///▞ RULES", f"1. {rule}", ":: ∎"])
        else:
            append_block(doc, ["## Rules", "", f"1. {rule}"])
        return
    block = _main_block(blocks)
    if not block.items:
        last = out.last_content(block.start, block.end)
        at = out.tags.level_of(block.header, block.header + 1 if last is None else last + 1, doc)
        doc.insert(at, [f"1. {rule}"])
        return
    last_item = block.items[-1]
    label = f"{last_item.number + 1}{last_item.marker}" if last_item.number is not None else last_item.marker
    lines = [f"{last_item.indent}{label}{last_item.gap}{rule}"]
    if _is_loose(doc, block):
        lines.insert(0, "")  # a loose list (blank lines between rules) stays loose
    doc.insert(out.tags.level_of(block.header, last_item.end, doc), lines)


def _same_key(text: str) -> str:
    """Rules that differ only in case, spacing or final punctuation are the same rule."""
    return " ".join(text.lower().split()).rstrip(".!;")


def _refuse_duplicate(blocks: Sequence[RulesBlock], rule: str) -> None:
    key = _same_key(rule)
    # Normalise the new rule once and only look closely at rules that share
    # its first word (one pass over a possibly million-rule list).
    first = key.split(" ", 1)[0]
    for block in blocks:
        for pos, item in enumerate(block.items, 1):
            if first in item.text.lower() and _same_key(item.text) == key:
                raise InstructionError(f"That rule is already there: {item.label(pos)} {clip(item.text)}")


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
    found: Found = [(b, item, pos) for b in out.rules_blocks() for pos, item in enumerate(b.items, 1)]
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
    # A tag that starts on the rule's lines ("  {# note" indented under it) goes with it whole,
    # though its last line ("#}") is not indented: half a tag would be left otherwise.
    end = out.tags.past_tags(end)
    # A tag that ends on the rule's lines but starts before them: no rule line can be one today
    # (its first line would be the tag's), but a change to what a rule is must not cut it silently.
    cut = out.tags.cut_by_delete(start, end)
    if cut is not None:
        raise InstructionError(
            f"The rule '{clip(item.text)}' shares its lines with a template tag that runs from line "
            f"{cut[0] + 1} to {cut[1] + 1}; removing it would break the tag, so nothing was removed."
        )
    _renumber_after(doc, block, item)
    doc.delete(start, end)


def _by_number(found: Found, number: str) -> tuple[RulesBlock, RuleItem]:
    if not number.isdigit():
        raise InstructionError(f"'{clip(number)}' is not a rule number.")
    n = int(number)
    labelled = [k for k, (_, it, _) in enumerate(found) if it.number == n]
    if len(labelled) == 1:
        b, it, _ = found[labelled[0]]
        return b, it
    if len(labelled) > 1:
        picks = _Picks(found)
        shown = labelled[:LISTED]
        about = [p for p in (picks.about(k) for k in shown) if p]
        how = f'say which by its words, e.g. "{about[0]}"' if about else "say which by more of its words"
        raise InstructionError(
            f"There are {len(labelled):,} rules numbered {n}: "
            f"{listing([_bare(found[k][1].text) for k in shown], total=len(labelled))}; {how}.",
            suggestions=about,
        )
    if all(it.number is None for _, it, _ in found) and 1 <= n <= len(found):
        b, it, _ = found[n - 1]
        return b, it
    raise InstructionError(f"There is no rule {n}. Rules: {_names(found)}", suggestions=_texts(found))


def _by_topic(found: Found, topic: str) -> tuple[RulesBlock, RuleItem]:
    q = topics.normalize_topic(topic)
    if not q:
        raise InstructionError("Say which rule to remove.")
    rules = topics.RuleTexts([it.text for _, it, _ in found])
    match = topics.find(q, rules)
    if match.outcome is topics.Outcome.FOUND:
        b, it, _ = found[match.indices[0]]
        return b, it
    if match.outcome is topics.Outcome.AMBIGUOUS:
        raise _ambiguous(q, found, match.indices, rules)
    if match.outcome is topics.Outcome.TOO_LONG:
        raise InstructionError(
            f"No rule contains '{clip(q)}', and a topic this long ({len(q):,} characters, "
            f"{topics.word_count(q):,} words) is too long to match loosely; name the rule by its number "
            f"(\"remove rule 5\") or by a few of its words."
        )
    if match.outcome is topics.Outcome.OVER_BUDGET:
        raise InstructionError(
            f"No rule contains '{clip(q)}', and comparing it loosely with {len(found):,} rules would take "
            f"too long, so that was skipped; name the rule by its number (\"remove rule 5\") or by a few "
            f"of its exact words."
        )
    raise InstructionError(f"No rule matches '{clip(q)}'. Rules: {_names(found)}", suggestions=_texts(found))


class _Picks:
    """The instruction that removes exactly one given rule, if there is one."""

    def __init__(self, found: Found, rules: topics.RuleTexts | None = None) -> None:
        self.found = found
        self.numbers = Counter(it.number for _, it, _ in found)
        self.unnumbered = self.numbers[None] == len(found)
        self._rules = rules

    def label(self, k: int) -> str:
        """``5.``: the number or position that ``remove rule 5`` means.

        A bulleted rule in a prompt that also has numbered ones has no such
        number: it is shown with its bullet.
        """
        it = self.found[k][1]
        if it.number is not None:
            return f"{it.number}."
        return f"{k + 1}." if self.unnumbered else it.marker

    def pick(self, k: int) -> str | None:
        """``remove rule 5`` when that number is this rule's alone, else by its words."""
        it = self.found[k][1]
        if it.number is not None and self.numbers[it.number] == 1:
            return f"remove rule {it.number}"
        if self.unnumbered:
            return f"remove rule {k + 1}"
        return self.about(k)

    def about(self, k: int) -> str | None:
        """``remove rule about <its text>`` when that finds this rule and no other."""
        text = self.found[k][1].text
        if len(text) > _PICK_CHARS:
            return None
        if self._rules is None:
            self._rules = topics.RuleTexts([it.text for _, it, _ in self.found])
        rules = self._rules
        # Imported here: the parser reads the forms registry, whose remove_rule form uses this module.
        from dynamic_prompt.core.modifier.parser import parse

        for instruction in (f"remove rule about {text}", f'remove rule about "{text}"'):
            try:
                edits = parse(instruction)
            except InstructionError:
                continue
            about = edits[0].args.get("about") if len(edits) == 1 else None
            key = topics.normalize_topic(about).rstrip(".!;") if isinstance(about, str) else ""
            # The exact tier goes first: one rule with exactly these words is found.
            if key and rules.texts[k].rstrip(".!;") == key and self._exact_count(key) == 1:
                return instruction
        return None

    def _exact_count(self, key: str) -> int:
        assert self._rules is not None
        texts = self._rules.texts
        return sum(1 for j in self._rules.containing(key) if texts[j].rstrip(".!;") == key)


def _bare(text: str) -> str:
    """A rule's text for a listing inside a sentence: without its final period."""
    return text.rstrip(" .!;") or text


def _names(found: Found) -> str:
    picks = _Picks(found)
    return listing([f"{picks.label(k)} {it.text}" for k, (_, it, _) in enumerate(found[:LISTED])], total=len(found))


def _texts(found: Found) -> list[str]:
    """Suggestions: the first rules' texts, without final punctuation (callers add their own)."""
    return [_bare(it.text) for _, it, _ in found[:LISTED]]


def _ambiguous(q: str, found: Found, cands: Sequence[int], rules: topics.RuleTexts) -> InstructionError:
    """Each candidate once, by the number that picks it, and how to pick one."""
    picks = _Picks(found, rules)
    shown = list(dict.fromkeys(cands))[:LISTED]
    entries = [f"{picks.label(k)} {_bare(found[k][1].text)}" for k in shown]
    chosen = list(dict.fromkeys(p for p in (picks.pick(k) for k in shown) if p))
    if chosen:
        how = f'say which, e.g. "{chosen[0]}"'
    elif len({rules.texts[k].rstrip(".!;") for k in shown}) == 1:
        how = "they read the same, so change one with replace first"
    else:
        how = "say which with more of its words"
    return InstructionError(
        f"'{clip(q)}' matches {len(cands):,} rules: {listing(entries, total=len(cands))}; {how}.",
        suggestions=chosen,
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
