"""The instruction engine: parsing, each edit, errors, suggestions, sample prompts."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier import (
    KNOWN_FORMS,
    ModifyResult,
    apply_edits,
    fields,
    modify_text,
    parse,
    rules,
    suggest,
)
from tests.support.checks import one_line

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"

LLMD = """▛///▞ PROMPT :: ASSISTANT
//▞▞ ⟦⎊⟧ :: Helpful, precise, friendly ▞▞
Tone: Friendly
Default: 3-4 sentences

▛///▞ CORE RULES
1. Answer the question asked.
2. Cite sources when you state facts.
3. Never invent APIs.
:: ∎
"""

MD = """# Assistant

You are a helpful assistant.

## Style

Tone: Friendly
Default: 3-4 sentences

## Rules

1. Be concise.
2. Cite sources when you state facts.
3. Never invent APIs.

## Notes

- Users are developers.
"""


def mod(text: str, instruction: str) -> str:
    return modify_text(text, instruction).text


def err(text: str, instruction: str) -> InstructionError:
    with pytest.raises(InstructionError) as info:
        modify_text(text, instruction)
    return info.value


# -- parse ---------------------------------------------------------------------------


class TestParse:
    @pytest.mark.parametrize(
        ("instruction", "op", "args"),
        [
            ("change tone to sarcastic", "set_tone", {"tone": "sarcastic"}),
            ("Set Tone To Playful", "set_tone", {"tone": "Playful"}),
            ("set tone to warm and calm.", "set_tone", {"tone": "warm and calm"}),
            ("add rule: never use emojis", "add_rule", {"rule": "never use emojis"}),
            ("ADD RULE Always cite sources", "add_rule", {"rule": "Always cite sources"}),
            ('add rule: "Say hi"', "add_rule", {"rule": "Say hi"}),
            ("remove rule about emojis", "remove_rule", {"about": "emojis"}),
            ("remove rule sources", "remove_rule", {"about": "sources"}),
            ("delete the rule about Cited Sources", "remove_rule", {"about": "Cited Sources"}),
            ("remove rule 3", "remove_rule", {"number": "3"}),
            ("remove rule #12", "remove_rule", {"number": "12"}),
            ("default 2 sentences", "set_sentences", {"sentences": "2"}),
            ("default to 5 sentences", "set_sentences", {"sentences": "5"}),
            ("respond in 1 sentence", "set_sentences", {"sentences": "1"}),
            ("Default three sentences", "set_sentences", {"sentences": "3"}),
            ("make more verbose", "verbosity", {"direction": "more"}),
            ("Make Less Verbose", "verbosity", {"direction": "less"}),
            ("be more verbose", "verbosity", {"direction": "more"}),
            ("be more concise", "trait", {"direction": "more", "trait": "concise"}),
            ("be less Formal.", "trait", {"direction": "less", "trait": "Formal"}),
            ('replace "a.b" with "c"', "replace", {"old": "a.b", "new": "c"}),
            ("replace 'x' with 'y'", "replace", {"old": "x", "new": "y"}),
            ("replace 'don't' with \"do not\"", "replace", {"old": "don't", "new": "do not"}),
            ("replace old words with new words", "replace", {"old": "old words", "new": "new words"}),
            ('replace "gone" with ""', "replace", {"old": "gone", "new": ""}),
            ('replace "a with b" with "c"', "replace", {"old": "a with b", "new": "c"}),
            ("set Language to French", "set_field", {"field": "Language", "value": "French"}),
            ("set Response language to French", "set_field", {"field": "Response language", "value": "French"}),
            ("set tone to dry", "set_tone", {"tone": "dry"}),
            ("remove line containing TODO", "remove_line", {"text": "TODO"}),
            ("remove the line containing \"x y\"", "remove_line", {"text": "x y"}),
            ("add section Safety: Never share keys.", "add_section", {"title": "Safety", "text": "Never share keys."}),
            ('add section "Safety Notes" with never share keys', "add_section",
             {"title": "Safety Notes", "text": "never share keys"}),
        ],
    )
    def test_forms(self, instruction: str, op: str, args: dict[str, str]) -> None:
        (edit,) = parse(instruction)
        assert edit.op == op
        assert dict(edit.args) == args
        assert edit.instruction == instruction.strip()

    def test_splits_on_semicolons_and_new_lines(self) -> None:
        edits = parse("change tone to calm; add rule: be kind\n\n  ;make more verbose\r\nbe less formal")
        assert [e.op for e in edits] == ["set_tone", "add_rule", "verbosity", "trait"]
        assert edits[1].instruction == "add rule: be kind"

    def test_semicolon_inside_double_quotes_does_not_split(self) -> None:
        edits = parse('replace "a; b" with "c;d"; add rule: x')
        assert [dict(e.args) for e in edits] == [{"old": "a; b", "new": "c;d"}, {"rule": "x"}]

    def test_unbalanced_quote_does_not_swallow_the_rest(self) -> None:
        edits = parse('add rule: say "hi; be more concise')
        assert [e.op for e in edits] == ["add_rule", "trait"]

    @pytest.mark.parametrize("instruction", ["", "   ", "\n\n", " ; ;\n"])
    def test_empty(self, instruction: str) -> None:
        with pytest.raises(InstructionError, match="The instruction is empty"):
            parse(instruction)

    def test_too_long(self) -> None:
        with pytest.raises(InstructionError, match="too long"):
            parse("add rule: " + "x" * 10_000)

    def test_control_characters(self) -> None:
        with pytest.raises(InstructionError, match="control characters"):
            parse("add rule: \x1b[31mred")

    def test_unknown_suggests_closest_forms(self) -> None:
        with pytest.raises(InstructionError) as info:
            parse("chnage tone to sarcastic")
        assert str(info.value) == "Unknown instruction 'chnage tone to sarcastic'."
        assert info.value.suggestions[0] == "change tone to <tone>"
        assert set(info.value.suggestions) <= set(KNOWN_FORMS)

    def test_one_unknown_piece_fails_the_whole_instruction(self) -> None:
        with pytest.raises(InstructionError, match="xyzzy"):
            parse("add rule: fine; xyzzy")

    @pytest.mark.parametrize(
        ("instruction", "form"),
        [
            ("add rule", "add rule: <text>"),
            ("remove rule about", "remove rule about <topic>"),
            ("change tone to", "change tone to <tone>"),
            ("be more", "be more <trait>"),
            ("replace foo", 'replace "<old>" with "<new>"'),
            ("set Language", "set <Field> to <value>"),
            ("add section Title", "add section <Title>: <text>"),
            ("default many sentences", "default <n> sentences"),
        ],
    )
    def test_incomplete_forms_get_a_precise_hint(self, instruction: str, form: str) -> None:
        with pytest.raises(InstructionError) as info:
            parse(instruction)
        assert info.value.suggestions == (form,)

    def test_known_forms_are_the_documented_templates(self) -> None:
        assert "change tone to <tone>" in KNOWN_FORMS
        assert 'replace "<old>" with "<new>"' in KNOWN_FORMS
        assert len(KNOWN_FORMS) == len(set(KNOWN_FORMS))


# -- set_tone -----------------------------------------------------------------------------


class TestTone:
    def test_seed_example(self) -> None:
        assert "Tone: Sarcastic\n" in mod(LLMD, "change tone to sarcastic")

    @pytest.mark.parametrize(
        ("line", "expected"),
        [
            ("Tone: friendly", "Tone: Playful"),
            ("TONE: friendly", "TONE: Playful"),
            ("tone : friendly", "tone : Playful"),
            ("**Tone:** friendly", "**Tone:** Playful"),
            ("**Tone**: friendly", "**Tone**: Playful"),
            ("- Tone: friendly", "- Tone: Playful"),
            ("  * __Tone:__ friendly, but firm", "  * __Tone:__ Playful"),
            ("Tone:", "Tone: Playful"),
        ],
    )
    def test_updates_the_tone_line_in_any_markup(self, line: str, expected: str) -> None:
        assert mod(f"Intro.\n{line}\nOutro.\n", "set tone to playful") == f"Intro.\n{expected}\nOutro.\n"

    def test_keeps_the_users_casing_after_the_first_letter(self) -> None:
        assert mod("Tone: x\n", "change tone to dry, iOS-savvy") == "Tone: Dry, iOS-savvy\n"

    def test_adds_tone_under_a_style_section(self) -> None:
        text = "# Bot\n\nIntro.\n\n## Style\n\n- Short answers.\n\n## Rules\n1. A\n"
        assert mod(text, "change tone to warm") == (
            "# Bot\n\nIntro.\n\n## Style\n\n- Tone: Warm\n- Short answers.\n\n## Rules\n1. A\n"
        )

    def test_adds_tone_after_first_heading_and_paragraph(self) -> None:
        text = "# Bot\n\nYou are a bot.\nYou help.\n\n## Rules\n1. A\n"
        assert mod(text, "change tone to warm") == "# Bot\n\nYou are a bot.\nYou help.\nTone: Warm\n\n## Rules\n1. A\n"

    def test_adds_tone_above_a_leading_rules_list(self) -> None:
        assert mod("RULES:\n1. A\n", "change tone to warm") == "Tone: Warm\nRULES:\n1. A\n"

    def test_adds_tone_in_llmd_header_block(self) -> None:
        text = LLMD.replace("Tone: Friendly\n", "")
        assert mod(text, "change tone to warm").splitlines()[1:4] == [
            "//▞▞ ⟦⎊⟧ :: Helpful, precise, friendly ▞▞",
            "Default: 3-4 sentences",
            "Tone: Warm",
        ]

    def test_tone_in_code_block_is_ignored(self) -> None:
        text = "Intro.\n\n```\nTone: example\n```\n\nTone: Real\n"
        assert mod(text, "change tone to new") == "Intro.\n\n```\nTone: example\n```\n\nTone: New\n"

    def test_two_tone_lines_is_an_error(self) -> None:
        e = err("Tone: a\ntext\nTone: b\n", "change tone to c")
        assert "2 lines" in str(e)

    def test_same_tone_is_a_reported_no_op(self) -> None:
        e = err("Tone: Friendly\n", "change tone to friendly")
        assert str(e).startswith("The instruction changes nothing:")


# -- add_rule --------------------------------------------------------------------------


class TestAddRule:
    def test_seed_example_numbered_sixth_rule(self) -> None:
        text = "RULES:\n1. a\n2. b\n3. c\n4. d\n5. e\n"
        assert mod(text, "add rule: never use emojis").endswith("5. e\n6. never use emojis\n")

    def test_markdown_section(self) -> None:
        out = mod(MD, "add rule: never use emojis")
        assert "3. Never invent APIs.\n4. never use emojis\n\n## Notes" in out

    def test_llmd_block_inserts_before_terminator(self) -> None:
        out = mod(LLMD, "add rule: keep it short")
        assert out.endswith("3. Never invent APIs.\n4. keep it short\n:: ∎\n")

    def test_llmd_two_slash_heading(self) -> None:
        text = "▛//▞ SAFETY RULES ▞\n1. a\n:: ∎\n"
        assert mod(text, "add rule: z") == "▛//▞ SAFETY RULES ▞\n1. a\n2. z\n:: ∎\n"

    @pytest.mark.parametrize(
        ("items", "expected"),
        [
            ("1) a\n2) b\n", "3) new"),
            ("- a\n- b\n", "- new"),
            ("* a\n* b\n", "* new"),
            ("  1.  a\n  2.  b\n", "  3.  new"),
        ],
    )
    def test_keeps_block_style(self, items: str, expected: str) -> None:
        assert mod(f"### Core Rules\n{items}", "add rule: new").endswith(f"{expected}\n")

    def test_after_continuation_lines_of_last_rule(self) -> None:
        text = "## Rules\n1. a\n2. b\n   more about b\n\nClosing words.\n"
        assert mod(text, "add rule: c") == "## Rules\n1. a\n2. b\n   more about b\n3. c\n\nClosing words.\n"

    def test_loose_list_stays_loose(self) -> None:
        text = "## Rules\n\n1. a\n\n2. b\n"
        assert mod(text, "add rule: c") == "## Rules\n\n1. a\n\n2. b\n\n3. c\n"

    def test_bulleted_examples_after_numbered_rules_are_not_rules(self) -> None:
        text = "## Rules\n1. a\n2. b\n\nFor example:\n- x\n- y\n"
        assert rules(text) == ["a", "b"]
        assert mod(text, "add rule: c") == "## Rules\n1. a\n2. b\n3. c\n\nFor example:\n- x\n- y\n"

    def test_no_rules_block_creates_one(self) -> None:
        assert mod("You are a bot.\n", "add rule: be kind") == "You are a bot.\n\n## Rules\n\n1. be kind\n"

    def test_no_rules_block_in_llmd_prompt_creates_a_block(self) -> None:
        text = "▛///▞ PROMPT\nHello.\n:: ∎\n"
        assert mod(text, "add rule: be kind") == text + "\n▛///▞ RULES\n1. be kind\n:: ∎\n"

    def test_empty_rules_section(self) -> None:
        assert mod("## Rules\n\n## Next\n", "add rule: a") == "## Rules\n1. a\n\n## Next\n"

    def test_prefers_the_main_rules_block(self) -> None:
        text = "## Formatting rules\n- f\n\n## Core Rules\n1. a\n"
        assert mod(text, "add rule: b").endswith("## Core Rules\n1. a\n2. b\n")

    def test_duplicate_rule_is_an_error(self) -> None:
        e = err(MD, "add rule: be CONCISE")
        assert str(e) == "That rule is already there: 1. Be concise."

    def test_rules_heading_inside_code_is_ignored(self) -> None:
        text = "```\n## Rules\n1. fake\n```\n\n## Rules\n1. real\n"
        assert mod(text, "add rule: b").endswith("1. real\n2. b\n")


# -- remove_rule -------------------------------------------------------------------------


class TestRemoveRule:
    def test_by_topic_and_renumber(self) -> None:
        out = mod(MD, "remove rule about sources")
        assert "1. Be concise.\n2. Never invent APIs.\n\n## Notes" in out

    def test_seed_example_emojis(self) -> None:
        text = "## Rules\n1. Be kind.\n2. Never use emojis.\n3. Be brief.\n"
        assert mod(text, "remove rule about emojis") == "## Rules\n1. Be kind.\n2. Be brief.\n"

    def test_singular_plural_and_stems(self) -> None:
        text = "## Rules\n1. No emoji at all.\n2. Cite sources.\n"
        assert "emoji" not in mod(text, "remove rule about emojis")
        assert "Cite" not in mod(text, "remove rule about citing")

    def test_fuzzy_typo(self) -> None:
        assert "APIs" not in mod(MD, "remove rule about invnted APIs")

    def test_by_number(self) -> None:
        assert "1. Cite sources when you state facts.\n2. Never invent APIs." in mod(LLMD, "remove rule 1")

    def test_by_position_for_bullets(self) -> None:
        assert mod("## Rules\n- a\n- b\n- c\n", "remove rule 2") == "## Rules\n- a\n- c\n"

    def test_hand_numbering_is_left_alone(self) -> None:
        text = "## Rules\n1. a\n1. b\n1. c\n"
        assert mod(text, "remove rule about b") == "## Rules\n1. a\n1. c\n"

    def test_removes_continuation_lines(self) -> None:
        text = "## Rules\n1. a\n2. b\n   - detail\n   more detail\n3. c\n"
        assert mod(text, "remove rule about b") == "## Rules\n1. a\n2. c\n"

    def test_loose_list_keeps_one_blank_line(self) -> None:
        text = "## Rules\n\n1. a\n\n2. b\n\n3. c\n"
        assert mod(text, "remove rule 2") == "## Rules\n\n1. a\n\n2. c\n"

    def test_ambiguous_names_candidates_and_changes_nothing(self) -> None:
        text = "## Rules\n1. Cite sources for facts.\n2. Link sources at the end.\n"
        with pytest.raises(InstructionError) as info:
            apply_edits(text, parse("remove rule about sources"))
        message = str(info.value)
        assert message.startswith("'sources' matches 2 rules:")
        assert "1. Cite sources for facts" in message and "2. Link sources at the end" in message
        assert message.endswith('say which, e.g. "remove rule 1".')
        assert info.value.suggestions == ("remove rule 1", "remove rule 2")

    def test_a_single_whole_word_match_beats_substrings(self) -> None:
        text = "## Rules\n1. Start with art.\n2. Restart often.\n"
        assert mod(text, "remove rule about art") == "## Rules\n1. Restart often.\n"

    def test_no_match_names_the_rules(self) -> None:
        e = err(MD, "remove rule about emoji")
        assert str(e) == (
            "No rule matches 'emoji'. Rules: 1. Be concise., 2. Cite sources when you state facts., "
            "3. Never invent APIs."
        )

    def test_no_such_number(self) -> None:
        assert "There is no rule 9" in str(err(MD, "remove rule 9"))

    def test_no_rules_at_all(self) -> None:
        assert str(err("Hello.\n", "remove rule about x")) == "The prompt has no rules to remove."


# -- set_sentences, verbosity, trait ----------------------------------------------------


class TestLength:
    @pytest.mark.parametrize(
        ("line", "expected"),
        [
            ("Default: 3-4 sentences", "Default: 2 sentences"),
            ("DEFAULT 4 SENTENCES", "DEFAULT 2 SENTENCES"),
            ("Default length: 3 sentences", "Default length: 2 sentences"),
            ("Keep answers to 3-4 sentences by default.", "Keep answers to 2 sentences by default."),
            ("Length: three to four sentences", "Length: 2 sentences"),
            ("Never more than 9 sentences; 3 sentences by default.", "Never more than 9 sentences; 2 sentences by default."),
        ],
    )
    def test_changes_the_default_line(self, line: str, expected: str) -> None:
        assert mod(f"Intro.\n{line}\n", "default 2 sentences") == f"Intro.\n{expected}\n"

    def test_singular(self) -> None:
        assert mod("DEFAULT 2 SENTENCES\n", "default 1 sentences") == "DEFAULT 1 SENTENCE\n"

    def test_adds_line_in_style_section(self) -> None:
        out = mod("# Bot\n\n## Style\n\nTone: Calm\nFormat: Markdown\n\nBe clear.\n\n## Rules\n1. a\n", "default 2 sentences")
        assert "Tone: Calm\nFormat: Markdown\nDefault: 2 sentences\n\nBe clear.\n" in out

    def test_adds_line_after_tone(self) -> None:
        assert mod("Hi.\nTone: Calm\nMore.\n", "default 2 sentences") == "Hi.\nTone: Calm\nDefault: 2 sentences\nMore.\n"

    def test_adds_line_at_end(self) -> None:
        assert mod("Hi.\n", "respond in 3 sentences") == "Hi.\n\nDefault: 3 sentences\n"

    def test_bad_number(self) -> None:
        assert "from 1 to 1000" in str(err("Hi.\n", "default 0 sentences"))


class TestVerbosity:
    def test_scale_steps(self) -> None:
        assert mod("Verbosity: medium\n", "make more verbose") == "Verbosity: high\n"
        assert mod("Verbosity: High\n", "make less verbose") == "Verbosity: Medium\n"
        assert mod("- **Verbosity:** LOW\n", "be more verbose") == "- **Verbosity:** MEDIUM\n"

    def test_end_of_scale_is_a_no_op(self) -> None:
        assert str(err("Verbosity: high\n", "make more verbose")).startswith("The instruction changes nothing")

    def test_note_added_once_and_replaced(self) -> None:
        once = mod(MD, "make more verbose")
        assert once.count("Verbosity:") == 1 and "Verbosity: more detailed than default" in once
        assert mod(once, "make less verbose").count("Verbosity:") == 1
        assert "Verbosity: briefer than default" in mod(once, "make less verbose")
        assert str(err(once, "make more verbose")).startswith("The instruction changes nothing")


class TestTrait:
    def test_adds_adjustments_section(self) -> None:
        assert mod("Hi.\n", "be more concise") == "Hi.\n\n## Adjustments\n\n- Be more concise.\n"

    def test_llmd_style(self) -> None:
        assert mod(LLMD, "be less formal").endswith(":: ∎\n\n▛///▞ ADJUSTMENTS\n- Be less formal.\n:: ∎\n")

    def test_opposite_replaces_instead_of_contradicting(self) -> None:
        once = mod("Hi.\n", "be more concise")
        assert mod(once, "be less concise") == "Hi.\n\n## Adjustments\n\n- Be less concise.\n"

    def test_appends_to_existing_section(self) -> None:
        text = "## Adjustments\n\n- Be more formal.\n\n## Other\nx\n"
        assert mod(text, "be more technical") == "## Adjustments\n\n- Be more formal.\n- Be more technical.\n\n## Other\nx\n"

    def test_repeat_is_a_no_op(self) -> None:
        once = mod("Hi.\n", "be more concise")
        assert str(err(once, "be more Concise")).startswith("The instruction changes nothing")


# -- replace, set_field, remove_line, add_section ----------------------------------------


class TestReplace:
    def test_literal_every_occurrence(self) -> None:
        assert mod("a.b a.b axb\n(a.b)\n", 'replace "a.b" with "$1\\\\"') == "$1\\\\ $1\\\\ axb\n($1\\\\)\n"

    def test_regex_metacharacters_are_literal(self) -> None:
        assert mod("x*y [z]\n", "replace [z] with (w)") == "x*y (w)\n"

    def test_absent_is_an_error(self) -> None:
        assert str(err("Hello\n", 'replace "bye" with "x"')) == "'bye' is not in the prompt."

    def test_case_hint(self) -> None:
        e = err("Hello\n", 'replace "hello" with "x"')
        assert "case-sensitive" in str(e) and e.suggestions == ("Hello",)

    def test_same_text_is_a_no_op(self) -> None:
        assert "changes nothing" in str(err("a\n", 'replace "a" with "a"'))


class TestSetField:
    def test_multi_word_case_insensitive(self) -> None:
        text = "Response language: English\nOther: x\n"
        assert mod(text, "set RESPONSE language to French") == "Response language: French\nOther: x\n"

    def test_keeps_markup(self) -> None:
        assert mod("- **Language:** Python\n", "set language to Go") == "- **Language:** Go\n"

    def test_absent_names_the_fields(self) -> None:
        e = err("Company: Acme\nEscalation: a@b.c\n", "set Region to EU")
        assert str(e) == "No field 'Region' in the prompt. Fields: Company, Escalation."
        assert e.suggestions == ("Company", "Escalation")

    def test_field_in_code_is_not_a_field(self) -> None:
        assert fields("```\nKey: v\n```\nName: n\n") == ["Name"]


class TestRemoveLine:
    def test_one_line(self) -> None:
        assert mod("a\nTODO: x\nb\n", "remove line containing todo") == "a\nb\n"

    def test_none(self) -> None:
        assert str(err("a\n", "remove line containing zz")) == "No line contains 'zz'."

    def test_several_are_named(self) -> None:
        e = err("one\ntwo one\nthree\n", "remove the line containing one")
        assert str(e) == "'one' is on 2 lines: 1: one, 2: two one; say which, e.g. \"remove line containing two one\"."

    def test_last_line_without_newline(self) -> None:
        assert mod("a\r\nb\r\nc", "remove line containing c") == "a\r\nb"


class TestAddSection:
    def test_markdown(self) -> None:
        assert mod("Hi.\n", "add section Safety: Never share keys.") == "Hi.\n\n## Safety\n\nNever share keys.\n"

    def test_llmd(self) -> None:
        assert mod(LLMD, 'add section "Safety" with never share keys').endswith(
            ":: ∎\n\n▛///▞ SAFETY\nnever share keys\n:: ∎\n"
        )

    def test_existing_title_is_an_error(self) -> None:
        assert str(err(MD, "add section notes: x")) == "There is already a section 'notes'."


# -- modify_text, rules, fields, line endings ------------------------------------------


class TestModifyText:
    def test_result(self) -> None:
        result = modify_text(MD, "change tone to calm; add rule: be kind")
        assert isinstance(result, ModifyResult)
        assert [e.op for e in result.edits] == ["set_tone", "add_rule"]
        assert isinstance(result.edits, tuple) and all(isinstance(e, Edit) for e in result.edits)
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.text = ""  # type: ignore[misc]

    def test_never_partially_applied(self) -> None:
        with pytest.raises(InstructionError, match="No rule matches"):
            modify_text(MD, "change tone to calm; remove rule about zebras")

    def test_edits_see_earlier_edits(self) -> None:
        assert apply_edits(MD, parse("add rule: use tables; remove rule about tables")) == MD
        assert "together the edits leave the prompt as it was" in str(
            err(MD, "add rule: use tables; remove rule about tables")
        )

    def test_apply_edits_rejects_unknown_ops_and_bad_args(self) -> None:
        with pytest.raises(InstructionError, match="Unknown edit"):
            apply_edits("x", [Edit("explode")])
        with pytest.raises(InstructionError, match="no 'rule'"):
            apply_edits("x", [Edit("add_rule", {})])
        with pytest.raises(InstructionError, match="one line"):
            apply_edits("x", [Edit("add_rule", {"rule": "a\nb"})])

    def test_rules_and_fields(self) -> None:
        assert rules(LLMD) == ["Answer the question asked.", "Cite sources when you state facts.", "Never invent APIs."]
        assert fields(LLMD) == ["Tone", "Default"]
        assert rules("RULES:\n- a\n- b\n\nAfter.\n") == ["a", "b"]
        assert rules("") == [] and fields("") == []


class TestLineEndings:
    @pytest.mark.parametrize(
        "instruction",
        ["add rule: x", "remove rule 1", "change tone to calm", "add section A: b", "be more x", "default 2 sentences"],
    )
    @pytest.mark.parametrize("trailing", [True, False])
    def test_crlf_and_trailing_newline_kept(self, instruction: str, trailing: bool) -> None:
        text = "Intro\r\nTone: Friendly\r\n\r\n## Rules\r\n1. Be nice\r\n2. No emojis" + ("\r\n" if trailing else "")
        out = mod(text, instruction)
        assert out.count("\n") == out.count("\r\n")
        assert out.endswith("\r\n") == trailing

    def test_lf_stays_lf(self) -> None:
        assert "\r" not in mod(MD, "add section A: b; add rule: c; be more d")

    def test_empty_prompt(self) -> None:
        assert mod("", "change tone to calm") == "Tone: Calm"
        assert mod("", "add rule: a") == "## Rules\n\n1. a"


# -- suggest ---------------------------------------------------------------------------------


class TestSuggest:
    def test_empty_gives_forms(self) -> None:
        assert suggest("") == list(KNOWN_FORMS[:8])
        assert suggest("", limit=3) == list(KNOWN_FORMS[:3])
        assert suggest("anything", limit=0) == []

    def test_prefix_of_forms(self) -> None:
        assert suggest("rem")[:3] == ["remove rule about <topic>", "remove rule <n>", "remove line containing <text>"]
        assert suggest("MAKE L") == ["make less verbose", "make more verbose"]

    def test_typos(self) -> None:
        assert suggest("chnage t")[0] == "change tone to <tone>"

    def test_rule_texts(self) -> None:
        assert suggest("remove rule about ", MD)[:3] == [
            "remove rule about Be concise.",
            "remove rule about Cite sources when you state facts.",
            "remove rule about Never invent APIs.",
        ]
        assert suggest("remove rule about api", MD)[0] == "remove rule about Never invent APIs."

    def test_fields(self) -> None:
        text = "Company: Acme\nEscalation: a@b.c\nTone: Calm\n"
        assert suggest("set ", text)[:3] == ["set tone to <tone>", "set Company to <value>", "set Escalation to <value>"]
        assert suggest("set esc", text)[0] == "set Escalation to <value>"

    def test_tones_and_traits(self) -> None:
        assert suggest("change tone to pro")[0] == "change tone to professional"
        assert suggest("be less f")[:2] == ["be less formal", "be less friendly"]

    def test_suggestions_are_instructions(self) -> None:
        # The exact lists: an empty list (or one of templates only) must not pass for "all parse".
        removals = suggest("remove rule about ", MD)
        assert removals == [
            "remove rule about Be concise.",
            "remove rule about Cite sources when you state facts.",
            "remove rule about Never invent APIs.",
            "remove rule about <topic>",
        ]
        sets = suggest("set ", MD)
        assert sets == ["set tone to <tone>", "set Default to <value>", "set <Field> to <value>"]
        rules_block = "1. Be concise.\n2. Cite sources when you state facts.\n3. Never invent APIs.\n"
        # Each complete suggestion removes the very rule it names, and only that one.
        assert mod(MD, removals[0]) == MD.replace(rules_block, "1. Cite sources when you state facts.\n"
                                                               "2. Never invent APIs.\n")
        assert mod(MD, removals[1]) == MD.replace(rules_block, "1. Be concise.\n2. Never invent APIs.\n")
        assert mod(MD, removals[2]) == MD.replace(rules_block, "1. Be concise.\n2. Cite sources when you state facts.\n")
        # A template is an instruction once its placeholders are filled in.
        calm = MD.replace("Tone: Friendly", "Tone: Calm")
        filled = {
            removals[3]: ({"<topic>": "concise"}, mod(MD, removals[0])),
            sets[0]: ({"<tone>": "calm"}, calm),
            sets[1]: ({"<value>": "2 sentences"}, MD.replace("Default: 3-4 sentences", "Default: 2 sentences")),
            sets[2]: ({"<Field>": "Tone", "<value>": "calm"}, calm),
        }
        for template, (values, expected) in filled.items():
            instruction = template
            for placeholder, value in values.items():
                instruction = instruction.replace(placeholder, value)
            assert "<" not in instruction and len(parse(instruction)) == 1, instruction
            assert mod(MD, instruction) == expected, instruction


# -- sample prompts ------------------------------------------------------------------------

SAMPLES = {
    "assistant.md": {
        "topic": "quotes",
        "old": "Atlas",
        "field": "Format",
        "line": "Do not apologise",
    },
    "coding_assistant.md": {
        "topic": "type hints",
        "old": "pytest",
        "field": "Language",
        "line": "integration tests",
    },
    "support_agent.md": {
        "topic": "refund",
        "old": "Northwind",
        "field": "Escalation",
        "line": "Tents that have been pitched",
    },
}


def _instance(form: str, sample: dict[str, str]) -> str:
    """A concrete instruction for a known form, for one sample prompt."""
    return (
        form.replace("<tone>", "playful")
        .replace("<text>", "Never use emojis." if form.startswith("add") else sample["line"])
        .replace("<topic>", sample["topic"])
        .replace("<n>", "2" if "rule" in form else "5")
        .replace("<trait>", "technical")
        .replace("<old>", sample["old"])
        .replace("<new>", "Acme")
        .replace("<Field>", sample["field"])
        .replace("<value>", "Rust")
        .replace("<Title>", "Privacy")
    )


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_prompt_shape(name: str) -> None:
    text = (PROMPTS / name).read_text(encoding="utf-8")
    assert 30 <= len(text.splitlines()) <= 80
    assert len(rules(text)) >= 5
    assert "Tone" in fields(text)


@pytest.mark.parametrize("form", KNOWN_FORMS)
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_known_form_works_on_every_sample(form: str, name: str) -> None:
    text = (PROMPTS / name).read_text(encoding="utf-8")
    instruction = _instance(form, SAMPLES[name])
    result = modify_text(text, instruction)
    assert result.text != text
    assert len(result.edits) == 1
    new_lines, old_lines = result.text.splitlines(), text.splitlines()
    op = result.edits[0].op
    if op in ("set_tone", "set_sentences", "set_field", "replace"):
        assert len(new_lines) == len(old_lines)
    elif op in ("remove_rule", "remove_line"):
        assert len(new_lines) == len(old_lines) - 1
        assert len(rules(result.text)) == len(rules(text)) - (op == "remove_rule")
    elif op == "add_rule":
        assert rules(result.text) == [*rules(text), "Never use emojis."]
    else:
        assert len(new_lines) > len(old_lines)
    assert modify_text(result.text, "change tone to calm").text  # the result is still editable


def test_seed_diff_on_a_sample() -> None:
    text = (PROMPTS / "coding_assistant.md").read_text(encoding="utf-8")
    out = mod(text, "change tone to sarcastic; add rule: never use emojis; default 2 sentences")
    assert "Tone: Sarcastic" in out
    assert "8. never use emojis\n:: ∎" in out
    assert "Default: 2 sentences before any code" in out


# -- performance and hygiene ------------------------------------------------------------------


def _big_prompt() -> str:
    body = [f"Paragraph line {i} with some ordinary words in it, nothing special here." for i in range(20_000)]
    return "# Big\n\nTone: Friendly\n\n" + "\n".join(body) + "\n\n## Rules\n\n1. Be concise.\n2. Cite sources.\n"


# How fast a 1 MB prompt is modified is measured in benchmarks/ (bench_modify.py's 1 MB rows);
# here: the edit is right, and a 30 s hang guard (the figure is milliseconds) stops a runaway.
@pytest.mark.timeout(30)
@pytest.mark.parametrize(("instruction", "old", "new"), [
    ("add rule: never use emojis", "2. Cite sources.\n", "2. Cite sources.\n3. never use emojis\n"),
    ("change tone to sarcastic", "Tone: Friendly\n", "Tone: Sarcastic\n"),
])
def test_one_megabyte_prompt_is_edited_in_place(instruction: str, old: str, new: str) -> None:
    text = _big_prompt()
    assert len(text) > 1_000_000 and text.count(old) == 1
    assert modify_text(text, instruction).text == text.replace(old, new)


@pytest.mark.parametrize(
    "line",
    [
        "x" * 1_000_000,
        "Tone: " + "y" * 1_000_000,
        "# " + " #" * 500_000,
        "be more " + "." * 1_000_000,
        "- " * 500_000,
        "Default " + "1 " * 300_000 + "sentences",
        "```" + "`" * 1_000_000,
        "1. " + " " * 1_000_000 + "x",
    ],
)
@pytest.mark.timeout(30)  # a hang guard: all eight take well under a second; the old engine took minutes
def test_one_megabyte_line_does_not_hang(line: str) -> None:
    for instruction in ["add rule: x", "change tone to y", "default 2 sentences", "be more concise",
                        "make more verbose", "remove rule about x", "set Tone to z", "remove line containing zz"]:
        try:
            out = modify_text(line, instruction).text
        except InstructionError as exc:
            one_line(exc)
        else:
            assert out != line, instruction


# The parse time of long runs of spaces (a quadratic pattern costs about 0.2 s at 9,000) belongs
# in benchmarks/bench_modifier.py; here: each gets its precise hint, under a hang guard.
@pytest.mark.timeout(10)
@pytest.mark.parametrize(("instruction", "hint"), [
    ("replace a" + " " * 9_000 + "b", 'Write replace "old" with "new".'),
    ("set a" + " " * 9_000 + "b", "Write set <Field> to <value>."),
    ("add rule" + " " * 9_000 + ":", "Say the rule to add. Write add rule: <text>."),
], ids=["replace", "set", "add-rule"])
def test_long_whitespace_instruction_gets_its_hint(instruction: str, hint: str) -> None:
    with pytest.raises(InstructionError) as info:
        parse(instruction)
    assert one_line(info.value) == hint


def test_pure_no_redis_ui_or_difflib() -> None:
    code = (
        "import sys, dynamic_prompt.core.modifier as m; m.modify_text('Tone: a', 'change tone to b'); "
        "bad = [n for n in ('redis', 'textual', 'rich', 'difflib') if n in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    src = Path(__file__).resolve().parents[2] / "src" / "dynamic_prompt" / "core" / "modifier"
    paths = sorted(src.glob("*.py"))
    assert paths  # the engine moved once already: a wrong folder must not pass silently
    for path in paths:
        assert "difflib" not in path.read_text(encoding="utf-8"), path
