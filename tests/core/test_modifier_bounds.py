"""The instruction engine's CPU bound: no instruction costs much more than a second.

Every case here is a prompt of up to 4 MB (or an instruction of up to 10,000
characters) that cost the engine from several seconds to minutes of CPU on
the event loop of the MCP server and the dashboard. Each test asserts the
exact outcome (the rule removed, the text produced, or the refusal's exact
words); ``timeout`` only guards against the old hang and is generous. The
figures, before and after, are in ``benchmarks/bench_modifier.py``.

Also here: the user's casing kept in new rules (and in a mixed-case tone),
and ambiguity errors that name each candidate once with the instruction that
picks it.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.modifier import apply_edits, modify_text, parse, rules, suggest
from tests.support.big_prompts import VOCAB, hundred_thousand_rules, one_letter_rules


def consonant_words(chars: int) -> str:
    """Lower-case words without vowels: they occur in no rule above."""
    r = random.Random(9)
    words = ("".join(r.choice("bcdfghjklmnpqrstvwxz") for _ in range(6)) for _ in range(chars))
    return " ".join(words)[:chars].strip()


def refusal(text: str, instruction: str) -> str:
    """The one-line error ``instruction`` gets on ``text`` (and it changes nothing)."""
    with pytest.raises(InstructionError) as info:
        apply_edits(text, parse(instruction))
    message = str(info.value)
    assert "\n" not in message
    return message


def clipped(text: str) -> str:
    return text if len(text) <= 60 else text[:59].rstrip() + "…"


# -- remove rule about <topic> on 100,000 rules ---------------------------------------------


class TestTopicOnHugePrompts:
    @pytest.mark.timeout(20)
    @pytest.mark.parametrize("kind", ["no such words", "real words"])
    def test_a_topic_of_thousands_of_words_is_refused_in_one_line(self, kind: str) -> None:
        # Was 20 s (no such words: fuzzy over every rule with the whole topic)
        # and 12 s (real words: per-rule stem loops), ending in "No rule
        # matches" / "matches 4127 rules".
        text = hundred_thousand_rules()
        r = random.Random(3)
        topic = consonant_words(9_950) if kind == "no such words" else " ".join(
            r.choice(VOCAB) for _ in range(1_500))[:9_950].strip()
        words = len(topic.split())
        assert refusal(text, "remove rule about " + topic) == (
            f"No rule contains '{clipped(topic)}', and a topic this long ({len(topic):,} characters, "
            f"{words:,} words) is too long to match loosely; name the rule by its number "
            '("remove rule 5") or by a few of its words.'
        )

    @pytest.mark.timeout(20)
    def test_a_long_topic_still_finds_the_rule_it_quotes(self) -> None:
        long_rule = " ".join(["Quote the customer's order number"] * 250) + "."
        text = hundred_thousand_rules(extra=long_rule)
        out = modify_text(text, "remove rule about " + long_rule[:9_000]).text
        assert out == text.replace(f"100001. {long_rule}\n", "")

    @pytest.mark.timeout(20)
    def test_a_typo_is_still_found_among_100000_rules(self) -> None:
        text = hundred_thousand_rules(extra="Never invent APIs.")
        out = modify_text(text, "remove rule about invnted APIs").text
        assert out == text.replace("100001. Never invent APIs.\n", "")

    @pytest.mark.timeout(20)
    def test_fuzzy_matching_over_budget_is_skipped_and_said_so(self) -> None:
        # Was 2 s and "'zzqqxx' matches 84615 rules: 1. a, ..." (every one-letter
        # rule is a perfect partial match).
        text = one_letter_rules(200_000)
        assert refusal(text, "remove rule about zzqqxx") == (
            "No rule contains 'zzqqxx', and comparing it loosely with 200,000 rules would take too long, "
            'so that was skipped; name the rule by its number ("remove rule 5") or by a few of its exact words.'
        )

    @pytest.mark.timeout(20)
    def test_every_word_in_every_rule_is_still_ambiguous(self) -> None:
        # The stems tier's worst case: each of 20 words starts a word of every rule.
        r = random.Random(1)
        lines = ["## Rules"]
        for k in range(1, 30_001):
            words = VOCAB[:]
            r.shuffle(words)
            lines.append(f"{k}. " + " ".join(words))
        text = "\n".join(lines) + "\n"
        topic = " ".join(reversed(VOCAB))
        message = refusal(text, "remove rule about " + topic)
        assert message.startswith(f"'{clipped(topic)}' matches 30,000 rules: {clipped(lines[1])}, 2. ")
        assert message.endswith(', and 29,990 more; say which, e.g. "remove rule 1".')

    @pytest.mark.timeout(20)
    def test_a_million_rules_are_refused_by_every_rule_edit(self) -> None:
        # Was 7 s for "remove rule 5" and about a minute for a 10,000-character rule.
        text = one_letter_rules(1_000_000)
        expected = (
            "The prompt has over 200,000 rule lines, more than rule edits handle; "
            "use replace or remove line containing instead."
        )
        assert refusal(text, "remove rule 5") == expected
        assert refusal(text, "add rule: " + "x" * 9_990) == expected
        assert suggest("remove rule about ", text) == ["remove rule about <topic>"]

    @pytest.mark.timeout(10)
    def test_a_ten_thousand_character_rule_is_added_after_200000_rules(self) -> None:
        # Was 11 s (the new rule's 1,500 words were normalised again for each
        # of the 200,000 rules), now 0.5 s.
        text = one_letter_rules(200_000)
        r = random.Random(5)
        rule = "Always " + " ".join(r.choice(VOCAB) for _ in range(2_000))[:9_980]
        assert modify_text(text, "add rule: " + rule).text == text + f"- {rule}\n"


# -- rules blocks that used to be read quadratically -------------------------------------------


class TestRulesBlocks:
    @pytest.mark.timeout(20)
    def test_rules_lines_nested_in_a_plain_list(self) -> None:
        # Each indented "x rules:" line started a block running to the end: over 40 s.
        lines = ["RULES:"]
        for k in range(1, 20_001):
            lines += [f"{k}. item {k}", "   x rules:"]
        text = "\n".join(lines) + "\n"
        out = modify_text(text, "remove rule 5").text
        # Rule 5 goes with its indented line; the rules after it move up by one.
        expected = ["RULES:"]
        for k in range(1, 20_001):
            if k != 5:
                expected += [f"{k - (k > 5)}. item {k}", "   x rules:"]
        assert out == "\n".join(expected) + "\n"

    def test_a_nested_rules_line_does_not_list_its_rules_twice(self) -> None:
        text = "RULES:\n1. cite sources\n  Safety rules:\n2. link sources\n"
        assert rules(text) == ["cite sources", "link sources"]
        assert refusal(text, "remove rule about sources") == (
            "'sources' matches 2 rules: 1. cite sources, 2. link sources; say which, e.g. \"remove rule 1\"."
        )

    @pytest.mark.timeout(20)
    def test_thirty_thousand_rules_sections(self) -> None:
        # Every line holding "rule" was checked against every section: over 40 s.
        text = "".join(f"## Rules {k}\n1. rule {k}\n\n" for k in range(30_000))
        out = modify_text(text, "add rule: brand new").text
        assert out == text.replace("1. rule 0\n", "1. rule 0\n2. brand new\n", 1)


# -- growth and many edits ---------------------------------------------------------------------------


class TestWorkBudget:
    def test_a_replace_that_would_add_gigabytes_is_refused(self) -> None:
        # Was a 100 MB text built here (a 4 GB one on a 4 MB prompt) before anything refused it.
        text = "## Notes\n" + "tree " * 20_000 + "\n"
        assert refusal(text, 'replace "e" with "' + "y" * 9_000 + '"') == (
            "Replacing 40,001 copies of 'e' would add 359,968,999 characters to the prompt; "
            "one instruction may add at most 4,194,304."
        )

    @pytest.mark.timeout(20)
    def test_many_edits_on_a_big_prompt_are_refused_before_any_work(self) -> None:
        # Was 100 full passes over 4 MB: about 4 s, and 40 s for 1,000 pieces.
        text = "# Agent\n\nTone: Calm\n\n" + "Background line about the service and its users.\n" * 80_000
        instruction = "; ".join(f"change tone to t{k}" for k in range(100))
        assert refusal(text, instruction) == (
            "100 edits at once on a prompt this big (3,920,021 characters, 80,004 lines) is too much work; "
            "send at most 1 at a time."
        )

    def test_edits_that_grow_the_text_stop_at_the_budget(self) -> None:
        # Each replace doubles the text: 16 of them made a 32 MB text from 1 KB.
        text = "a" * 500 + "\n"
        message = refusal(text, "; ".join(['replace "a" with "aa"'] * 16))
        assert message == (
            "16 edits at once on a prompt this big (501 characters, 1 lines) is too much work; "
            "send at most 14 at a time."
        )

    def test_normal_instructions_are_not_limited(self) -> None:
        text = "# Bot\n\nTone: Calm\n\n## Rules\n1. Be kind.\n" + "Some line of text here.\n" * 300
        instruction = "; ".join(f"be more trait{k}" for k in range(200))
        out = modify_text(text, instruction).text
        assert out.count("- Be more trait") == 200


# -- casing ---------------------------------------------------------------------------------


class TestCasing:
    @pytest.mark.parametrize(
        ("rule", "line"),
        [
            ("iPhone users get the iOS guide", "2. iPhone users get the iOS guide"),
            ("never use emojis", "2. never use emojis"),
            ("Never use emojis", "2. Never use emojis"),
        ],
    )
    def test_a_new_rule_keeps_the_users_casing_exactly(self, rule: str, line: str) -> None:
        assert modify_text("## Rules\n1. Be kind.\n", f"add rule: {rule}").text == f"## Rules\n1. Be kind.\n{line}\n"

    def test_a_new_rules_block_keeps_it_too(self) -> None:
        assert modify_text("Hi.\n", "add rule: eBay links only").text == "Hi.\n\n## Rules\n\n1. eBay links only\n"

    @pytest.mark.parametrize(
        ("tone", "line"),
        [("iOS-savvy", "Tone: iOS-savvy"), ("macOS fan", "Tone: macOS fan"), ("dry", "Tone: Dry"),
         ("dry, iOS-savvy", "Tone: Dry, iOS-savvy")],
    )
    def test_a_tone_is_capitalised_unless_its_first_word_has_capitals(self, tone: str, line: str) -> None:
        assert modify_text("Tone: x\n", f"change tone to {tone}").text == f"{line}\n"


# -- ambiguity messages ---------------------------------------------------------------------------


def _as_over_mcp(error: InstructionError) -> str:
    """What the MCP server sends: the message, then " Try: a; b." when there are suggestions."""
    message = str(error)
    if error.suggestions:
        message += " Try: " + "; ".join(error.suggestions[:4]) + "."
    return message


def _error(text: str, instruction: str) -> InstructionError:
    with pytest.raises(InstructionError) as info:
        apply_edits(text, parse(instruction))
    return info.value


class TestAmbiguity:
    def test_names_each_candidate_once_with_the_instruction_that_picks_it(self) -> None:
        text = "## Rules\n1. Cite sources for facts.\n2. Link sources at the end.\n"
        e = _error(text, "remove rule about sources")
        assert str(e) == (
            "'sources' matches 2 rules: 1. Cite sources for facts, 2. Link sources at the end; "
            'say which, e.g. "remove rule 1".'
        )
        assert e.suggestions == ("remove rule 1", "remove rule 2")
        assert _as_over_mcp(e).endswith('"remove rule 1". Try: remove rule 1; remove rule 2.')
        assert ".." not in _as_over_mcp(e)

    def test_bullets_in_two_blocks_are_numbered_as_remove_rule_counts_them(self) -> None:
        text = "## Style rules\n- Cite sources.\n\n## Rules\n- Link sources.\n"
        e = _error(text, "remove rule about sources")
        assert str(e) == "'sources' matches 2 rules: 1. Cite sources, 2. Link sources; say which, e.g. \"remove rule 1\"."
        assert modify_text(text, e.suggestions[1]).text == "## Style rules\n- Cite sources.\n\n## Rules\n"

    def test_rules_sharing_a_number_are_picked_by_their_words(self) -> None:
        text = "## A rules\n1. Cite sources.\n\n## B rules\n1. Link sources.\n"
        e = _error(text, "remove rule 1")
        assert str(e) == (
            'There are 2 rules numbered 1: Cite sources, Link sources; say which by its words, '
            'e.g. "remove rule about Cite sources.".'
        )
        assert e.suggestions == ("remove rule about Cite sources.", "remove rule about Link sources.")
        assert modify_text(text, e.suggestions[1]).text == "## A rules\n1. Cite sources.\n\n## B rules\n"

    def test_rules_that_read_the_same_say_so(self) -> None:
        text = "## A rules\n1. Cite sources.\n\n## B rules\n1. Cite sources.\n"
        e = _error(text, "remove rule about sources")
        assert str(e) == (
            "'sources' matches 2 rules: 1. Cite sources, 1. Cite sources; "
            "they read the same, so change one with replace first."
        )
        assert e.suggestions == ()

    def test_lines_name_the_instruction_that_picks_one(self) -> None:
        e = _error("one\ntwo one.\nthree\n", "remove the line containing one")
        assert str(e) == "'one' is on 2 lines: 1: one, 2: two one.; say which, e.g. \"remove line containing two one.\"."
        assert e.suggestions == ("remove line containing two one.",)
        assert modify_text("one\ntwo one.\nthree\n", e.suggestions[0]).text == "one\nthree\n"

    def test_no_match_suggestions_end_cleanly(self) -> None:
        e = _error("## Rules\n1. Be concise.\n2. Never invent APIs.\n", "remove rule about zebras")
        assert e.suggestions == ("Be concise", "Never invent APIs")
        assert not _as_over_mcp(e).endswith("..")


_RULE_WORDS = st.sampled_from(["cite", "sources", "link", "facts", "answer", "short", "user", "never", "apis"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(_RULE_WORDS, min_size=1, max_size=4).map(" ".join), min_size=2, max_size=6),
    st.sampled_from(["1.", "-"]),
    _RULE_WORDS,
)
def test_every_suggested_pick_removes_exactly_that_candidate(texts: list[str], marker: str, topic: str) -> None:
    body = [f"{k}. {t}" if marker == "1." else f"- {t}" for k, t in enumerate(texts, 1)]
    text = "## Rules\n" + "\n".join(body) + "\n"
    try:
        apply_edits(text, parse(f"remove rule about {topic}"))
        return
    except InstructionError as e:
        error = e
    assert ".." not in _as_over_mcp(error)
    if not str(error).startswith(f"'{topic}' matches "):
        return  # not ambiguous: its suggestions are the rules' texts, not instructions
    for pick in error.suggestions:
        out = modify_text(text, pick).text
        assert len(rules(out)) == len(texts) - 1
        number = re.fullmatch(r"remove rule (\d+)", pick)
        if number:
            # By number: the candidate at that position went, the others stayed in order.
            k = int(number.group(1))
            assert rules(out) == [t for j, t in enumerate(texts, 1) if j != k]


# -- behaviour kept: the bounded matcher agrees with the unbounded one on normal prompts ----------


def _reference(topic: str, texts: list[str]) -> tuple[str, tuple[int, ...]]:
    """The matcher as it was (per-rule loops), for topics the bound does not touch."""
    from rapidfuzz import fuzz

    stop = frozenset(["a", "an", "and", "about", "any", "for", "in", "of", "on", "or", "the", "to", "with"])

    def stem(word: str) -> str:
        for suffix in ("ing", "ed", "es", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                return word[: -len(suffix)]
        return word

    q = " ".join(topic.lower().split()).strip(" .!?\"'")
    q = re.sub(r"^(?:the|a|an|any|all)\s+(?=\S)", "", q)
    low = [" ".join(t.lower().split()) for t in texts]
    st_ = q[:-1] if q.endswith("s") and len(q) > 3 else q
    word = re.compile(r"\b(?:" + re.escape(q) + "|" + re.escape(st_) + r")(?:s|es)?\b")
    stems = [stem(w) for w in re.findall(r"\w+", q) if w not in stop]
    tiers = [
        [k for k, t in enumerate(low) if t.rstrip(".!;") == q.rstrip(".!;")],
        [k for k, t in enumerate(low) if word.search(t)],
        [k for k, t in enumerate(low) if q in t or st_ in t],
        [k for k, t in enumerate(low) if stems and all(any(w.startswith(s) for w in re.findall(r"\w+", t)) for s in stems)],
    ]
    for tier in tiers:
        if tier:
            return ("found" if len(tier) == 1 else "ambiguous"), tuple(tier)
    scores = [max(fuzz.partial_ratio(q, t), fuzz.token_set_ratio(q, t)) for t in low]
    best = max(scores)
    if best < 75:
        return "no match", ()
    close = [k for k, s in enumerate(scores) if s >= best - 5]
    return ("found" if len(close) == 1 else "ambiguous"), tuple(sorted(close, key=lambda k: -scores[k]))


_WORDS = st.sampled_from(["cite", "citing", "sources", "source", "link", "links", "Facts", "answer", "the",
                          "user's", "never", "APIs", "invnted", "invent", "emoji", "emojis", "at", "end", "é"])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.lists(_WORDS, min_size=1, max_size=6).map(" ".join).map(lambda t: t + st_punct(t)),
             min_size=1, max_size=8),
    st.lists(_WORDS, min_size=1, max_size=4).map(" ".join),
)
def test_the_bounded_matcher_agrees_with_the_old_one(texts: list[str], topic: str) -> None:
    from dynamic_prompt.core.modifier import topic as topics

    q = topics.normalize_topic(topic)
    if not q:
        return
    got = topics.find(q, topics.RuleTexts(texts))
    assert (got.outcome.value, got.indices) == _reference(topic, texts)


def st_punct(text: str) -> str:
    """A final period on some rules (deterministic, so examples shrink well)."""
    return "." if len(text) % 2 else ""


# -- the other big inputs, kept fast and unchanged -------------------------------------------------


@pytest.mark.timeout(20)
def test_an_unknown_ten_thousand_character_instruction_names_the_closest_forms() -> None:
    with pytest.raises(InstructionError) as info:
        parse("chnage tone to " + "x" * 9_000)
    assert str(info.value) == f"Unknown instruction '{clipped('chnage tone to ' + 'x' * 9_000)}'."
    assert info.value.suggestions[0] == "change tone to <tone>"


@pytest.mark.timeout(20)
def test_suggest_ranks_the_rules_of_a_100000_rule_prompt() -> None:
    text = hundred_thousand_rules(extra="Never invent APIs.")
    assert suggest("remove rule about invnted apis", text)[0] == "remove rule about Never invent APIs."
