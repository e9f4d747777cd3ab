"""The instruction engine's edges, pinned where hand-made mutants of it went unnoticed.

Each class kills mutants that the rest of the suite let live: the fuzzy topic
matcher's ambiguity margin (5) and threshold (75), curly quotes protecting
``;`` when an instruction is split into pieces, the default length's bounds
(1 to 1000 sentences) and the refusal of C1 control characters. Everything
goes through the public API (:func:`parse`, :func:`modify_text`), so the tests
hold however the engine's modules are arranged, and every expectation is a
literal (no figure is read back from the code under test).
"""

from __future__ import annotations

import pytest

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.modifier import modify_text, parse

FACTS_FIGURES = "## Rules\n1. Cite sources for facts.\n2. Cite sources for figures.\n"
ENGLISH_SPANISH = "## Rules\n1. Reply in English.\n2. Reply in Spanish.\n"


def refusal(text: str, instruction: str) -> InstructionError:
    """The error ``instruction`` gets on ``text`` (it must get one)."""
    with pytest.raises(InstructionError) as info:
        modify_text(text, instruction)
    return info.value


# -- the fuzzy tier of "remove rule about <topic>" ---------------------------------------------
#
# These topics are typos that no cheaper tier (exact, whole word, substring, word stems) matches,
# so the fuzzy tier decides. The scores in the comments are the best of rapidfuzz partial_ratio
# and token_set_ratio for each rule, as the tier computes them; each case sits in the band
# where moving one constant changes the outcome.


class TestFuzzyMargin:
    """Candidates within 5 points of the best are too close to call; further apart, the best wins."""

    def test_a_runner_up_less_than_5_points_behind_is_ambiguous(self) -> None:
        # English 80.0, Spanish 78.26: 1.74 apart. A margin of 0 would pick English.
        e = refusal(ENGLISH_SPANISH, "remove rule about reply inglish")
        assert str(e) == ("'reply inglish' matches 2 rules: 1. Reply in English, 2. Reply in Spanish; "
                          'say which, e.g. "remove rule 1".')
        assert e.suggestions == ("remove rule 1", "remove rule 2")

    def test_a_runner_up_more_than_5_points_behind_loses(self) -> None:
        # figures 76.92, facts 69.23: 7.69 apart. A margin of 10 would call it ambiguous.
        out = modify_text(FACTS_FIGURES, "remove rule about sorces figurs").text
        assert out == "## Rules\n1. Cite sources for facts.\n"


class TestFuzzyThreshold:
    """A best score of 75 or more matches; below 75 nothing does."""

    def test_a_best_score_between_75_and_80_matches(self) -> None:
        # figures 78.26, facts 66.67. A threshold of 80 would find nothing.
        out = modify_text(FACTS_FIGURES, "remove rule about sorce fgures").text
        assert out == "## Rules\n1. Cite sources for facts.\n"

    def test_a_best_score_between_70_and_75_matches_nothing(self) -> None:
        # figures 72.73, facts 66.67. A threshold of 70 would remove the figures rule.
        e = refusal(FACTS_FIGURES, "remove rule about srces fgures")
        assert str(e) == ("No rule matches 'srces fgures'. Rules: 1. Cite sources for facts., "
                          "2. Cite sources for figures.")


# -- ";" inside quotes -------------------------------------------------------------------------


class TestQuotesProtectSemicolons:
    """A ``;`` between straight or curly double quotes belongs to the quoted text."""

    TEXT = "Intro\n\nTone: Calm\n"

    @pytest.mark.parametrize("quoted", ['"Calm; warm"', "“Calm; warm”"], ids=["straight", "curly"])
    def test_a_quoted_semicolon_is_text(self, quoted: str) -> None:
        instruction = f"replace “Calm” with {quoted}"
        assert [(e.op, e.args) for e in parse(instruction)] == [("replace", {"old": "Calm", "new": "Calm; warm"})]
        assert modify_text(self.TEXT, instruction).text == "Intro\n\nTone: Calm; warm\n"

    def test_several_curly_quoted_runs_on_one_line(self) -> None:
        edits = parse("add rule: use “a; b” and “c; d”; change tone to warm")
        assert [(e.op, e.args) for e in edits] == [
            ("add_rule", {"rule": "use “a; b” and “c; d”"}),
            ("set_tone", {"tone": "warm"}),
        ]

    def test_an_unclosed_curly_quote_protects_nothing(self) -> None:
        edits = parse("add rule: say “hi; change tone to warm")
        assert [(e.op, e.args) for e in edits] == [("add_rule", {"rule": "say “hi"}), ("set_tone", {"tone": "warm"})]

    def test_a_curly_apostrophe_is_not_a_quote(self) -> None:
        edits = parse("add rule: it’s fine; change tone to ‘warm; be more concise")
        assert [e.op for e in edits] == ["add_rule", "set_tone", "trait"]
        assert edits[0].args == {"rule": "it’s fine"}


# -- "default <n> sentences": 1 to 1000 --------------------------------------------------------


class TestSentenceBounds:
    TEXT = "Intro\n\nDefault: 3 sentences\n"
    REFUSED = "The default length must be a number of sentences from 1 to 1000."

    @pytest.mark.parametrize(("n", "line"), [("1", "Default: 1 sentence"), ("2", "Default: 2 sentences"),
                                             ("999", "Default: 999 sentences"), ("1000", "Default: 1000 sentences"),
                                             ("0001000", "Default: 1000 sentences"), ("one", "Default: 1 sentence")])
    def test_from_1_to_1000_is_set(self, n: str, line: str) -> None:
        assert modify_text(self.TEXT, f"default {n} sentences").text == f"Intro\n\n{line}\n"

    @pytest.mark.parametrize("n", ["0", "000", "1001", "99999999"])
    def test_outside_1_to_1000_is_refused(self, n: str) -> None:
        assert str(refusal(self.TEXT, f"default {n} sentences")) == self.REFUSED


# -- control characters ------------------------------------------------------------------------


class TestControlCharacters:
    """C0 (but tab), DEL and C1 are refused; the first printable characters after them are not."""

    REFUSED = "The instruction contains control characters."

    @pytest.mark.parametrize("code", [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)],
                             ids=lambda c: f"U+{c:04X}")
    def test_refused(self, code: int) -> None:
        with pytest.raises(InstructionError) as info:
            parse(f"add rule: a{chr(code)}b")
        assert str(info.value) == self.REFUSED

    @pytest.mark.parametrize("char", ["\t", " ", "~", "\xa0", "é"], ids=["tab", "space", "tilde", "nbsp", "e-acute"])
    def test_kept(self, char: str) -> None:
        assert [(e.op, e.args) for e in parse(f"add rule: a{char}b")] == [("add_rule", {"rule": f"a{char}b"})]
