"""The instruction engine's edges, pinned where mutmut's mutants of it went unnoticed.

A second round after :mod:`tests.core.test_modifier_mutants`: each class kills
mutants that a mutmut 3 run over ``core/modifier`` found alive. They pin the
``add section`` wording (quoted titles, ``:`` in the text, ``#`` in titles),
where a missing ``Tone:`` line goes, the messages and suggestions of refused
rule numbers and ambiguous fields, the closest-forms hint of an unknown
instruction, and the settings lines ``default <n> sentences``, ``more
verbose`` and traits add. Everything goes through the public API
(:func:`parse`, :func:`modify_text`, :func:`apply_edits`, :func:`suggest`), and
every expectation is a literal.
"""

from __future__ import annotations

import pytest

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier import apply_edits, fields, modify_text, parse, rules, suggest


def refusal(text: str, instruction: str) -> InstructionError:
    """The error ``instruction`` gets on ``text`` (it must get one)."""
    with pytest.raises(InstructionError) as info:
        modify_text(text, instruction)
    return info.value


def edit_refusal(text: str, edit: Edit) -> InstructionError:
    """The error applying ``edit`` to ``text`` gets (it must get one)."""
    with pytest.raises(InstructionError) as info:
        apply_edits(text, [edit])
    return info.value


def parsed(instruction: str) -> list[tuple[str, dict[str, str]]]:
    return [(e.op, dict(e.args)) for e in parse(instruction)]


# -- add section --------------------------------------------------------------------------------


class TestAddSectionWording:
    """How ``add section`` splits the title from the text."""

    @pytest.mark.parametrize(
        ("instruction", "title", "text"),
        [
            ('add section "Q: A" with answers here', "Q: A", "answers here"),
            ("add section “Q: A” with answers here", "Q: A", "answers here"),
            ('add section "A" with say "hi"', "A", 'say "hi"'),
            ('add section "A" WITH b', "A", "b"),
            ('add section "A": body', "A", "body"),
            ("add section Notes: time is 10:30", "Notes", "time is 10:30"),
            ("add section Xmas: body X", "Xmas", "body X"),
            ("add section ## Privacy: body", "Privacy", "body"),
            # An unclosed quote is part of the title.
            ('add section "Privacy: keep it', '"Privacy', "keep it"),
        ],
    )
    def test_title_and_text(self, instruction: str, title: str, text: str) -> None:
        assert parsed(instruction) == [("add_section", {"title": title, "text": text})]

    @pytest.mark.parametrize("instruction", ['add section ""x": body', 'add section "": body', "add section #: body"])
    def test_no_title_is_refused(self, instruction: str) -> None:
        with pytest.raises(InstructionError) as info:
            parse(instruction)
        assert str(info.value) == "Write add section Title: text."


class TestAddSectionApply:
    """The section an ``add_section`` edit appends, and its refusals."""

    @pytest.mark.parametrize(("title", "heading"), [("## Privacy", "## Privacy"), ("Xmas", "## Xmas")])
    def test_title_loses_only_hashes_and_spaces(self, title: str, heading: str) -> None:
        out = apply_edits("Intro\n", [Edit("add_section", {"title": title, "text": "x"}, "")])
        assert out == f"Intro\n\n{heading}\n\nx\n"

    def test_text_lines_keep_their_indent(self) -> None:
        edit = Edit("add_section", {"title": "Privacy", "text": "first\n  indented  "}, "")
        assert apply_edits("Intro\n", [edit]) == "Intro\n\n## Privacy\n\nfirst\n  indented\n"

    @pytest.mark.parametrize("args", [{"title": "Privacy"}, {"title": "Privacy", "text": "   "}])
    def test_no_text_is_refused(self, args: dict[str, str]) -> None:
        e = edit_refusal("Intro\n", Edit("add_section", args, ""))
        assert str(e) == "The new section needs some text."

    def test_a_title_of_hashes_is_refused(self) -> None:
        e = edit_refusal("Intro\n", Edit("add_section", {"title": "#", "text": "x"}, ""))
        assert str(e) == "The new section needs a title."


# -- where a missing Tone line goes -------------------------------------------------------------


class TestToneSpot:
    """A missing ``Tone:`` line goes to a persona section, else after the first paragraph."""

    @pytest.mark.parametrize(
        ("text", "out"),
        [
            ("Intro\n\n## Style\n", "Intro\n\n## Style\nTone: Calm\n"),
            ("Intro\n\n## Style\n\n- Be brief.\n", "Intro\n\n## Style\n\n- Tone: Calm\n- Be brief.\n"),
            ("\nHello.\n\nMore.\n", "\nHello.\nTone: Calm\n\nMore.\n"),
            ("\n\n", "\n\nTone: Calm\n"),
            ("## Intro\nHello.\n\nMore.\n", "## Intro\nHello.\nTone: Calm\n\nMore.\n"),
            ("# Title\n\nHello.\n\nMore.\n", "# Title\n\nHello.\nTone: Calm\n\nMore.\n"),
            ("# Title\n\n```\ncode\n```\n", "# Title\nTone: Calm\n\n```\ncode\n```\n"),
            ("# A\n## B\nText\n", "# A\nTone: Calm\n## B\nText\n"),
            ("# Title\n", "# Title\nTone: Calm\n"),
            ("Hello.\n\nMore.\n", "Hello.\nTone: Calm\n\nMore.\n"),
            ("Hello.\n", "Hello.\nTone: Calm\n"),
            ("Hello.\n## Rules\n1. x\n", "Hello.\nTone: Calm\n## Rules\n1. x\n"),
            ("Hello.\n```\ncode\n```\n", "Hello.\nTone: Calm\n```\ncode\n```\n"),
        ],
    )
    def test_where_it_goes(self, text: str, out: str) -> None:
        assert modify_text(text, "change tone to calm").text == out


class TestToneValue:
    """The tone as written: first letter capitalised unless the word has capitals of its own."""

    @pytest.mark.parametrize(("tone", "line"), [("eBay style", "Tone: eBay style"),
                                                ("warm and kind", "Tone: Warm and kind")])
    def test_casing(self, tone: str, line: str) -> None:
        assert modify_text("Tone: calm\n", f"change tone to {tone}").text == f"{line}\n"

    @pytest.mark.parametrize(("text", "out"), [("Use the tone\nTone:\n", "Use the tone\nTone: Calm\n"),
                                               ("Intro\n  Tone:\n", "Intro\n  Tone: Calm\n")])
    def test_an_empty_tone_line_is_filled(self, text: str, out: str) -> None:
        assert modify_text(text, "change tone to calm").text == out

    def test_only_the_field_named_tone_is_the_tone(self) -> None:
        assert modify_text("Tone: calm\nTone notes: none\n", "change tone to warm").text == (
            "Tone: Warm\nTone notes: none\n")

    def test_two_tone_lines_are_refused_with_their_numbers(self) -> None:
        e = refusal("Tone: a\nTone: b\n", "change tone to c")
        assert str(e) == "'tone' is set on 2 lines (1, 2); use replace to say which."
        assert e.suggestions == ("Tone: a", "Tone: b")

    def test_at_most_ten_tone_lines_are_named(self) -> None:
        text = "".join(f"Tone: t{i}\n" for i in range(12))
        e = refusal(text, "change tone to c")
        assert str(e) == "'tone' is set on 12 lines (1, 2, 3, 4, 5, 6, 7, 8, 9, 10); use replace to say which."
        assert e.suggestions == tuple(f"Tone: t{i}" for i in range(10))

    def test_a_tone_already_set_says_so(self) -> None:
        assert str(refusal("Tone: Calm\n", "change tone to calm")) == (
            "The instruction changes nothing: the tone is already calm.")

    def test_several_edits_that_change_nothing(self) -> None:
        assert str(refusal("Tone: Calm\n", "change tone to Calm; change tone to Calm")) == (
            "The instruction changes nothing: together the edits leave the prompt as it was.")


# -- remove rule <n> ----------------------------------------------------------------------------


class TestRuleNumbers:
    """``remove rule <n>``: by label when rules are numbered, by position when none is."""

    def test_bullets_are_counted_from_1(self) -> None:
        text = "## Rules\n- Cite facts.\n- Cite figures.\n"
        assert modify_text(text, "remove rule 1").text == "## Rules\n- Cite figures.\n"
        assert modify_text(text, "remove rule 2").text == "## Rules\n- Cite facts.\n"

    @pytest.mark.parametrize("n", ["0", "3"])
    def test_past_the_bullets_is_refused(self, n: str) -> None:
        e = refusal("## Rules\n- Cite facts.\n- Cite figures.\n", f"remove rule {n}")
        assert str(e) == f"There is no rule {n}. Rules: 1. Cite facts., 2. Cite figures."
        assert e.suggestions == ("Cite facts", "Cite figures")

    def test_a_position_is_not_a_label_when_rules_are_numbered(self) -> None:
        e = refusal("## Rules\n1. Cite facts.\n3. Cite figures.\n", "remove rule 2")
        assert str(e) == "There is no rule 2. Rules: 1. Cite facts., 3. Cite figures."

    def test_more_than_ten_rules_are_counted(self) -> None:
        text = "## Rules\n" + "".join(f"{i}. Rule {i}.\n" for i in range(1, 13))
        e = refusal(text, "remove rule 20")
        assert str(e) == ("There is no rule 20. Rules: 1. Rule 1., 2. Rule 2., 3. Rule 3., 4. Rule 4., "
                          "5. Rule 5., 6. Rule 6., 7. Rule 7., 8. Rule 8., 9. Rule 9., 10. Rule 10., and 2 more")

    def test_a_number_twice_is_ambiguous(self) -> None:
        e = refusal("## Rules\n1. Cite facts.\n1. Cite figures.\n", "remove rule 1")
        assert str(e) == ('There are 2 rules numbered 1: Cite facts, Cite figures; say which by its words, '
                          'e.g. "remove rule about Cite facts.".')

    def test_twin_rules_cannot_be_told_apart_by_words(self) -> None:
        e = refusal("## Rules\n1. Same.\n1. Same.\n", "remove rule 1")
        assert str(e) == "There are 2 rules numbered 1: Same, Same; say which by more of its words."
        assert e.suggestions == ()

    def test_more_than_ten_rules_with_one_number(self) -> None:
        text = "## Rules\n" + "".join(f"1. Rule {chr(97 + i)}.\n" for i in range(12))
        e = refusal(text, "remove rule 1")
        assert str(e) == ("There are 12 rules numbered 1: Rule a, Rule b, Rule c, Rule d, Rule e, Rule f, "
                          "Rule g, Rule h, Rule i, Rule j, and 2 more; say which by its words, "
                          'e.g. "remove rule about Rule a.".')

    def test_a_number_that_is_not_digits(self) -> None:
        e = edit_refusal("## Rules\n1. a\n", Edit("remove_rule", {"number": "two"}, ""))
        assert str(e) == "'two' is not a rule number."


# -- unknown instructions -----------------------------------------------------------------------


class TestClosestForms:
    """An unknown instruction suggests the three forms its verb and words are nearest to."""

    @pytest.mark.parametrize(
        ("instruction", "closest"),
        [
            ("chnage tone to warm", ("change tone to <tone>", "set tone to <tone>", "add section <Title>: <text>")),
            ("ADDD RULE x", ("add rule: <text>", "remove rule about <topic>", "add section <Title>: <text>")),
            ("Frobnicate The Tone", ("change tone to <tone>", "set tone to <tone>", "remove rule about <topic>")),
            ("MAEK MORE VERBOSE", ("make more verbose", "make less verbose", "be more <trait>")),
            ("remvoe  rule   about x", ("remove rule about <topic>", "remove rule <n>", "be more <trait>")),
            ("rule about remove the", ("remove rule about <topic>", "remove rule <n>", "add rule: <text>")),
        ],
    )
    def test_suggestions(self, instruction: str, closest: tuple[str, ...]) -> None:
        with pytest.raises(InstructionError) as info:
            parse(instruction)
        assert str(info.value) == f"Unknown instruction '{' '.join(instruction.split())}'."
        assert info.value.suggestions == closest


# -- set <Field> to <value> ---------------------------------------------------------------------


class TestSetField:
    @pytest.mark.parametrize(
        ("instruction", "edit"),
        [
            ("set *Tone* to warm.", ("set_tone", {"tone": "warm"})),
            ("set _tone_ to warm", ("set_tone", {"tone": "warm"})),
            ("set Format TO plain text", ("set_field", {"field": "Format", "value": "plain text"})),
            ("set Format: a: b", ("set_field", {"field": "Format", "value": "a: b"})),
            ("set Format= a=b", ("set_field", {"field": "Format", "value": "a=b"})),
            ("set xFormatx to plain", ("set_field", {"field": "xFormatx", "value": "plain"})),
        ],
    )
    def test_parsed(self, instruction: str, edit: tuple[str, dict[str, str]]) -> None:
        assert parsed(instruction) == [edit]

    def test_a_field_with_a_value_wins_over_an_empty_one(self) -> None:
        assert modify_text("Format:\nFormat: rich\n", "set Format to plain").text == "Format:\nFormat: plain\n"

    @pytest.mark.parametrize(
        ("text", "message", "suggestions"),
        [
            ("Format: rich\n", "No field 'Colour' in the prompt. Fields: Format.", ("Format",)),
            ("Intro\n", "No field 'Colour' in the prompt. Fields: none.", ()),
            ("".join(f"F{i}: v\n" for i in range(12)),
             "No field 'Colour' in the prompt. Fields: F0, F1, F2, F3, F4, F5, F6, F7, F8, F9, and 2 more.",
             tuple(f"F{i}" for i in range(10))),
        ],
    )
    def test_an_absent_field(self, text: str, message: str, suggestions: tuple[str, ...]) -> None:
        e = refusal(text, "set Colour to red")
        assert str(e) == message
        assert e.suggestions == suggestions

    def test_a_value_already_set_says_so(self) -> None:
        assert str(refusal("Format: plain\n", "set Format to plain")) == (
            "The instruction changes nothing: Format is already plain.")


# -- settings lines: verbosity and default length ------------------------------------------------


class TestVerbosityScale:
    @pytest.mark.parametrize(
        ("line", "instruction", "out"),
        [
            ("Verbosity: medium", "make more verbose", "Verbosity: high"),
            ("Verbosity: *Low*", "make more verbose", "Verbosity: Medium"),
            ("Verbosity: _low_.", "make more verbose", "Verbosity: medium"),
            ("Verbosity: Normal", "make less verbose", "Verbosity: Low"),
            ("Verbosity: MEDIUM", "make less verbose", "Verbosity: LOW"),
            ("Verbosity: medium", "make less verbose", "Verbosity: low"),
            ("Verbosity: xlow", "make less verbose", "Verbosity: briefer than default"),
        ],
    )
    def test_steps(self, line: str, instruction: str, out: str) -> None:
        assert modify_text(f"{line}\n", instruction).text == f"{out}\n"

    @pytest.mark.parametrize(("line", "instruction"), [("Verbosity: high", "make more verbose"),
                                                       ("Verbosity: Low", "make less verbose")])
    def test_the_ends_of_the_scale(self, line: str, instruction: str) -> None:
        assert str(refusal(f"{line}\n", instruction)) == (
            "The instruction changes nothing: verbosity is already at the end of its scale.")

    def test_a_direction_other_than_more_or_less(self) -> None:
        e = edit_refusal("Verbosity: medium\n", Edit("verbosity", {"direction": "up"}, ""))
        assert str(e) == "Verbosity goes 'more' or 'less'."


class TestDefaultSentences:
    @pytest.mark.parametrize(
        ("text", "n", "out"),
        [
            ("Intro\n\n## Style\nTone: a\nFormat: b\nEnd.\n", "3",
             "Intro\n\n## Style\nTone: a\nFormat: b\nDefault: 3 sentences\nEnd.\n"),
            ("Intro\n\n## Style\nBe kind.\n", "3", "Intro\n\n## Style\nBe kind.\nDefault: 3 sentences\n"),
            ("Intro\n\n## Style\n", "3", "Intro\n\n## Style\nDefault: 3 sentences\n"),
            ("Intro\n\n## Style\n- Format: b\nEnd.\n\n## Next\nx\n", "3",
             "Intro\n\n## Style\n- Format: b\n- Default: 3 sentences\nEnd.\n\n## Next\nx\n"),
            ("Tone: a\nFormat: b\nEnd.\n", "3", "Tone: a\nFormat: b\nDefault: 3 sentences\nEnd.\n"),
            ("Intro.\nTone: a\n- Format: b\n\nEnd.\n", "1", "Intro.\nTone: a\n- Format: b\n- Default: 1 sentence\n\nEnd.\n"),
            ("Tone: a\n```\nX: y\n```\n", "3", "Tone: a\nDefault: 3 sentences\n```\nX: y\n```\n"),
            ("Intro\n\n## Style\n```\nX: y\n```\nTail\n", "3",
             "Intro\n\n## Style\n```\nX: y\n```\nTail\nDefault: 3 sentences\n"),
            ("Intro\n", "1", "Intro\n\nDefault: 1 sentence\n"),
            ("Intro\n\nTone: a\nFormat: b\n\nEnd.\n", "3", "Intro\n\nTone: a\nFormat: b\nDefault: 3 sentences\n\nEnd.\n"),
            ("Intro\n\n## Style\nA: 1\nB: 2\nC: 3\nEnd.\n", "3",
             "Intro\n\n## Style\nA: 1\nB: 2\nC: 3\nDefault: 3 sentences\nEnd.\n"),
            ("Tone: a\n\n## Style\nBe kind.\n", "3", "Tone: a\n\n## Style\nBe kind.\nDefault: 3 sentences\n"),
        ],
    )
    def test_a_missing_setting_is_added_next_to_the_others(self, text: str, n: str, out: str) -> None:
        assert modify_text(text, f"default {n} sentences").text == out

    @pytest.mark.parametrize(
        ("text", "n", "out"),
        [
            ("Answer in 3 sentences by default.\nNever more than 8 sentences.\n", "2",
             "Answer in 2 sentences by default.\nNever more than 8 sentences.\n"),
            ("Length: 3 Sentences\nOther 4 sentences\n", "1", "Length: 1 Sentence\nOther 4 sentences\n"),
            ("Default: 3 SENTENCES\n", "1", "Default: 1 SENTENCE\n"),
            ("Default: 3 Sentences\n", "1", "Default: 1 Sentence\n"),
            ("Size: 3 sentences\nLength: 4 sentences\n", "2", "Size: 3 sentences\nLength: 2 sentences\n"),
            ("Default: none\nDefault: 3 sentences\n", "2", "Default: none\nDefault: 2 sentences\n"),
        ],
    )
    def test_the_line_that_states_it_is_changed(self, text: str, n: str, out: str) -> None:
        assert modify_text(text, f"default {n} sentences").text == out

    def test_a_length_already_set_says_so(self) -> None:
        assert str(refusal("Default: 3 Sentences\n", "default 3 sentences")) == (
            "The instruction changes nothing: the default is already 3 sentences.")


# -- replace ------------------------------------------------------------------------------------


class TestReplace:
    """``replace``: literal, case-sensitive, spaces kept, growth bounded at 4 MiB."""

    @pytest.mark.parametrize(
        ("old", "new", "out"),
        [(" a ", "b", "xby\n"), ("a", " b ", "x  b  y\n"), ("a", "", "x  y\n")],
    )
    def test_spaces_are_kept_and_new_may_be_empty(self, old: str, new: str, out: str) -> None:
        assert apply_edits("x a y\n", [Edit("replace", {"old": old, "new": new}, "")]) == out

    def test_the_first_other_casing_is_hinted(self) -> None:
        e = refusal("Atlas and atlas\n", 'replace "ATLAS" with "x"')
        assert str(e) == "'ATLAS' is not in the prompt. Replace is case-sensitive: the prompt has 'Atlas'."
        assert e.suggestions == ("Atlas",)

    def test_no_hint_when_lower_casing_changes_lengths(self) -> None:
        # "İ".lower() is two characters: a position in the lower-cased text is not one in the text.
        e = refusal("İ Atlas\n", 'replace "atlas" with "x"')
        assert str(e) == "'atlas' is not in the prompt."
        assert e.suggestions == ()

    def test_growth_of_exactly_4_mib_is_allowed(self) -> None:
        out = apply_edits("a\n", [Edit("replace", {"old": "a", "new": "b" * 4_194_305}, "")])
        assert len(out) == 4_194_306

    def test_growth_past_4_mib_is_refused(self) -> None:
        e = edit_refusal("a\n", Edit("replace", {"old": "a", "new": "b" * 4_194_306}, ""))
        assert str(e) == ("Replacing 1 copies of 'a' would add 4,194,305 characters to the prompt; "
                          "one instruction may add at most 4,194,304.")


# -- remove line containing ---------------------------------------------------------------------


class TestRemoveLine:
    def test_a_line_inside_code_is_found(self) -> None:
        assert modify_text("Intro\n```\nsecret here\n```\n", "remove line containing secret").text == (
            "Intro\n```\n```\n")

    def test_several_lines_are_named_and_picked(self) -> None:
        e = refusal("a cat\nthe cat\n", "remove line containing cat")
        assert str(e) == ("'cat' is on 2 lines: 1: a cat, 2: the cat; say which, "
                          'e.g. "remove line containing a cat".')
        assert e.suggestions == ("remove line containing a cat", "remove line containing the cat")

    def test_identical_lines_cannot_be_picked(self) -> None:
        e = refusal("cat\ncat\n", "remove line containing cat")
        assert str(e) == "'cat' is on 2 lines: 1: cat, 2: cat; say which with more of the line's words."
        assert e.suggestions == ()

    def test_an_unpickable_line_does_not_stop_the_others(self) -> None:
        e = refusal("cat\ncat\nthe cat\n", "remove line containing cat")
        assert e.suggestions == ("remove line containing the cat",)

    def test_at_most_six_lines_are_shown(self) -> None:
        e = refusal("".join(f"cat {i}\n" for i in range(8)), "remove line containing cat")
        assert str(e) == ("'cat' is on 8 lines: 1: cat 0, 2: cat 1, 3: cat 2, 4: cat 3, 5: cat 4, 6: cat 5, "
                          'and 2 more; say which, e.g. "remove line containing cat 0".')
        assert e.suggestions == tuple(f"remove line containing cat {i}" for i in range(6))

    def test_lines_longer_than_80_characters_are_not_offered(self) -> None:
        e = refusal("cat " + "x" * 77 + "\ncat " + "y" * 76 + "\n", "remove line containing cat")
        assert e.suggestions == ("remove line containing cat " + "y" * 76,)

    def test_a_quoted_line_is_picked_with_its_quotes(self) -> None:
        e = refusal('"cat"\nmy cat\n', "remove line containing cat")
        assert e.suggestions == ('remove line containing ""cat""', "remove line containing my cat")


# -- completions --------------------------------------------------------------------------------


class TestCompletions:
    TRAITS = "## Adjustments\n- Be more concise.\n- be less Formal!\nBe  more  kind \n"

    def test_the_prompts_own_traits_come_first(self) -> None:
        assert suggest("be more ", self.TRAITS) == [
            "be more concise", "be more Formal", "be more kind", "be more formal",
            "be more technical", "be more friendly", "be more detailed", "be more direct",
        ]

    def test_without_a_prompt_only_common_traits(self) -> None:
        assert suggest("be more ", None) == [
            "be more concise", "be more formal", "be more technical", "be more friendly",
            "be more detailed", "be more direct", "be more empathetic", "be more precise",
        ]

    def test_a_typo_finds_near_tones_only(self) -> None:
        assert suggest("change tone to prfssnal") == [
            "change tone to professional", "change tone to casual", "change tone to neutral"]
        assert suggest("change tone to xyz") == ["change tone to <tone>"]


# -- be more / be less --------------------------------------------------------------------------


class TestTraitNotes:
    """Where a trait note goes, and how an existing one is found and flipped."""

    @pytest.mark.parametrize(
        ("text", "instruction", "out"),
        [
            ("Intro\n\n## Adjustment\n- Be calm.\n\n## Next\nx\n", "be more kind",
             "Intro\n\n## Adjustment\n- Be calm.\n- Be more kind.\n\n## Next\nx\n"),
            ("Intro\n\n## Adjustments\n", "be more kind", "Intro\n\n## Adjustments\n- Be more kind.\n"),
            ("Intro\n\n## Adjustments\n\n## Next\nx\n", "be more kind",
             "Intro\n\n## Adjustments\n- Be more kind.\n\n## Next\nx\n"),
            ("Intro\n\n## Adjustments\nBe calm.\n", "be more kind", "Intro\n\n## Adjustments\nBe calm.\n- Be more kind.\n"),
            ("Maybe be calm.\n- Be less kind.\n", "be more kind", "Maybe be calm.\n- Be more kind.\n"),
            ("- Be less very  kind.\n", "be more very kind", "- Be more very kind.\n"),
        ],
    )
    def test_added_or_flipped(self, text: str, instruction: str, out: str) -> None:
        assert modify_text(text, instruction).text == out

    @pytest.mark.parametrize(("trait", "note"), [("kind!", "Be more kind."), ("kind.", "Be more kind."),
                                                 ("relaX", "Be more relaX.")])
    def test_the_trait_loses_only_final_punctuation(self, trait: str, note: str) -> None:
        out = apply_edits("Intro\n", [Edit("trait", {"direction": "more", "trait": trait}, "")])
        assert out == f"Intro\n\n## Adjustments\n\n- {note}\n"

    @pytest.mark.parametrize(("args", "message"), [({"direction": "up", "trait": "kind"}, "A trait goes 'more' or 'less'."),
                                                   ({"direction": "more", "trait": "..."}, "Say which trait.")])
    def test_bad_arguments(self, args: dict[str, str], message: str) -> None:
        assert str(edit_refusal("Intro\n", Edit("trait", args, ""))) == message

    @pytest.mark.parametrize(("instruction", "direction"), [("be a bit more Verbose!", "more"),
                                                            ("be much less VERBOSE.", "less")])
    def test_verbose_is_the_verbosity_setting(self, instruction: str, direction: str) -> None:
        assert parsed(instruction) == [("verbosity", {"direction": direction})]

    def test_an_empty_trait_is_refused(self) -> None:
        with pytest.raises(InstructionError) as info:
            parse('be more ""')
        assert str(info.value) == "Say which trait."
        assert info.value.suggestions == ("be more <trait>",)

    def test_a_trait_already_there(self) -> None:
        assert str(refusal("- Be more kind.\n", "be more kind")) == (
            "The instruction changes nothing: the prompt already says to be more kind.")


class TestReplaceWording:
    @pytest.mark.parametrize(("instruction", "old", "new"), [("replace a WITH b", "a", "b"),
                                                             ('change "a" TO b', "a", "b"),
                                                             ('replace "a" WITH "b"', "a", "b"),
                                                             ('replace "with care" with "gently"', "with care", "gently")])
    def test_the_separator_is_caseless(self, instruction: str, old: str, new: str) -> None:
        assert parsed(instruction) == [("replace", {"old": old, "new": new})]

    def test_an_empty_old_text_is_refused(self) -> None:
        with pytest.raises(InstructionError) as info:
            parse('replace "" with x')
        assert str(info.value) == "Say what to replace."
        assert info.value.suggestions == ('replace "<old>" with "<new>"',)


class TestSuggestForms:
    def test_a_short_prefix_lists_its_forms(self) -> None:
        assert suggest("ch") == ["change tone to <tone>"]

    def test_a_four_letter_typo_scoring_75_is_offered(self) -> None:
        assert suggest("chag") == ["change tone to <tone>"]

    def test_runs_of_spaces_are_one(self) -> None:
        assert suggest("change   tone  to f") == [
            "change tone to friendly", "change tone to formal", "change tone to professional",
            "change tone to playful", "change tone to <tone>"]

    def test_limits(self) -> None:
        assert suggest("ch", limit=0) == []
        assert suggest("change tone to ", limit=1) == ["change tone to professional"]
        assert suggest("change tone to ") == [
            "change tone to professional", "change tone to friendly", "change tone to casual",
            "change tone to formal", "change tone to playful", "change tone to empathetic",
            "change tone to neutral", "change tone to sarcastic"]


class TestMessagesHelpers:
    def test_a_first_word_without_capitals_is_capitalised(self) -> None:
        assert modify_text("Tone: calm\n", "change tone to warm iOS vibe").text == "Tone: Warm iOS vibe\n"

    def test_one_more_is_counted(self) -> None:
        e = refusal("".join(f"F{i}: v\n" for i in range(11)), "set Colour to red")
        assert str(e) == "No field 'Colour' in the prompt. Fields: F0, F1, F2, F3, F4, F5, F6, F7, F8, F9, and 1 more."


class TestFieldNames:
    def test_a_name_of_up_to_four_words_is_a_field(self) -> None:
        assert fields("One two three four: x\nOne two three four five: y\nEmpty:\n") == ["One two three four"]


class TestPlainRulesList:
    """The list under a plain ``Rules:`` line: blank lines inside it, and where it ends."""

    @pytest.mark.parametrize(
        ("text", "found"),
        [
            ("Rules:\n- a\n\n- b\nEnd\n", ["a", "b"]),
            ("Rules:\n- a\nEnd\n- c\n", ["a"]),
            ("Rules:\nNot a list\n", []),
            ("Rules:\n- a\n   ## Next\n- b\n", ["a"]),
            ("Intro\nRules:\n- a\n  more of a\n- b\n", ["a", "b"]),
        ],
    )
    def test_rules(self, text: str, found: list[str]) -> None:
        assert rules(text) == found


class TestFuzzyOrder:
    def test_ambiguous_fuzzy_candidates_are_listed_best_first(self) -> None:
        # English scores 80.0 and Spanish 78.26 (see test_modifier_mutants): English leads though it is rule 2.
        e = refusal("## Rules\n1. Reply in Spanish.\n2. Reply in English.\n", "remove rule about reply inglish")
        assert str(e) == ("'reply inglish' matches 2 rules: 2. Reply in English, 1. Reply in Spanish; "
                          'say which, e.g. "remove rule 2".')
