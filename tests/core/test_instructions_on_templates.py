"""The instruction engine on templates: it edits the source, finds structure inside template
blocks as before, and never breaks a template tag.

Prompts are generated in the three shapes the engine reads (Markdown ``## Rules``, the seed's
``▛///▞ CORE RULES … :: ∎`` blocks, plain ``RULES:`` lines) with jinja2 mixed in: ``{{ var }}``
and ``{{ var | default('x') }}`` in rules, fields, headings and prose; ``{% if %}`` /
``{% else %}`` around rules, fields and whole sections (one condition written over two lines);
``{% for %}`` loops in both layouts; ``{% include %}``; one-line and multi-line ``{# comments #}``
(one holding a retired rule, one running on from a rule's line); ``{%- -%}`` whitespace control.
Instructions come from every form of the registry (:func:`test_every_form_is_exercised` fails
when a form is added and not listed here), one at a time or several in one instruction.

What the engine promises, and what these tests hold it to:

* every tag of the source that an instruction does not target comes out unchanged, and no tag
  comes out that was neither in the source nor typed in the instruction;
* a template that parsed still parses after the edit (else the edit is refused, in one line);
* with the lines that hold only tags taken out, editing the template and editing that plain
  prompt give the same prompt: rules, fields and sections inside template blocks are found
  exactly as if the blocks were not there, and a prompt without template syntax is edited as
  it always was;
* template text typed in an instruction is source, kept verbatim (a tag typed broken is refused).

Where "add rule" puts a rule when the list ends inside a block is a choice, pinned by the
examples below: at the level of the list's heading (after an ``{% endif %}`` / ``{% endfor %}``
opened under the heading, so the rule always applies, once; inside a block that holds the heading
too).
"""

from __future__ import annotations

import re
import subprocess
import sys
from bisect import bisect_right
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier import fields, modify_text, parse, rules
from dynamic_prompt.core.modifier.forms import BY_OP
from dynamic_prompt.core.templates import Template
from tests.support.checks import one_line

# A tag as jinja2 reads one, written out here rather than taken from the code under test.
# No generated tag holds a string with a closing delimiter in it, so the shortest match is the tag.
TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_ITEM_LINE = re.compile(r"[ \t]*(?:\d{1,9}[.)]|[-*+•])[ \t]+\S")

RULE_TEXTS = {
    "brief": "Keep it brief. {# legal\n   asked for this #}",
    "emojis": "Never use emojis.",
    "source": "Cite a source for every fact.",
    "words": "Keep answers under 100 words.",
    "greet": "Greet {{ name }} by name.",
    "priority": "Offer priority support {% if vip %}right away{% else %}when possible{% endif %}.",
    "legal": "Never give legal advice. {# legal asked for this #}",
}

INSTRUCTIONS: dict[str, list[str]] = {
    "set_tone": ["change tone to sarcastic", "set tone to {{ mood }}"],
    "add_rule": [
        "add rule: Never share secrets.",
        "add rule: use {{ name }} to greet",
        "add rule: {% if vip %}Thank them for staying.{% endif %}",
    ],
    "remove_rule": [
        "remove rule about emojis",
        "remove rule about greet",
        "remove rule about priority",
        "remove rule about joke",
        "remove rule about tools",
        "remove rule 1",
        "remove rule 2",
        "remove rule 3",
    ],
    "set_sentences": ["default 2 sentences"],
    "verbosity": ["make more verbose", "make less verbose"],
    "trait": ["be more formal", "be less concise"],
    "replace": [
        f'replace "{old}" with "{new}"'
        for old in ["emojis", "name", "if", "e", "vip", "}}", "%}", "{{", "{{ name }}", "{% endif %}", "Tone",
                    "friendly", "safety", "retired"]
        for new in ["Z", "{{ user }}", ""]
    ],
    "set_field": ["set Language to French", "set Format to plain text", "set Greeting to Hi {{ name }}"],
    "remove_line": [
        f"remove line containing {text}"
        for text in ["emojis", "endif", "include", "retired", "for t in", "Tone", "vip", "legal", "else",
                     "#}", "title"]
    ],
    "add_section": ["add section Privacy: Never share data.", "add section Vars: call them {{ name }}"],
}

# -- the generated prompts ---------------------------------------------------------------------

STYLES = ("md", "llmd", "plain")
_HEADERS = {
    "md": ("# Assistant for {{ company }}", "## Style", "## Rules", "## Notes"),
    "llmd": ("▛///▞ PROMPT :: ASSISTANT", "▛///▞ STYLE", "▛///▞ CORE RULES", "▛///▞ NOTES"),
    "plain": ("ASSISTANT FOR {{ company | upper }}", "", "RULES:", "NOTES:"),
}


@st.composite
def tag_block(draw: st.DrawFn, body: str) -> str:
    """``{% body %}``, with or without whitespace control on either side."""
    left = draw(st.sampled_from(["{% ", "{%- "]))
    right = draw(st.sampled_from([" %}", " -%}"]))
    return f"{left}{body}{right}"


@st.composite
def wrapped(draw: st.DrawFn, lines: list[str], alternative: list[str]) -> list[str]:
    """``lines`` as they are, or inside an ``{% if %}`` (with an ``{% else %}`` holding ``alternative``)."""
    kind = draw(st.sampled_from(["bare", "bare", "if", "if_else", "if_two_lines"]))
    if kind == "bare":
        return lines
    if kind == "if":
        return [draw(tag_block("if strict")), *lines, draw(tag_block("endif"))]
    if kind == "if_else":
        return [draw(tag_block("if formal")), *lines, draw(tag_block("else")), *alternative,
                draw(tag_block("endif"))]
    return ["{% if vip", "   and tier == 'gold' %}", *lines, "{% endif %}"]


def _section(style: str, header: str, body: list[str]) -> list[str]:
    if not header:
        return body
    if style == "md":
        return [header, "", *body]
    if style == "llmd":
        return [header, *body, ":: ∎"]
    return [header, *body]


@st.composite
def style_lines(draw: st.DrawFn, style: str) -> list[str]:
    tones = ["Tone: friendly", "Tone: {{ tone | default('friendly') }}", "**Tone:** calm", None]
    others = ["Language: {{ lang }}", "Format: Markdown", "Greeting: Hello {{ name }}",
              "Sign-off: Bye {{ name\n   | title }}"]
    tone = draw(st.sampled_from(tones))
    fields = [tone] if tone else []
    fields += draw(st.lists(st.sampled_from(others), unique=True, max_size=3))
    if not fields:
        return []
    body = draw(wrapped(fields, ["Tone: formal", "Format: plain text"]))
    return _section(style, _HEADERS[style][1], body)


@st.composite
def rules_lines(draw: st.DrawFn, style: str) -> list[str]:
    numbered = draw(st.booleans())
    keys = draw(st.lists(st.sampled_from(sorted(RULE_TEXTS)), min_size=1, max_size=5, unique=True))
    count = 0

    def item(text: str) -> str:
        nonlocal count
        count += 1
        return f"{count}. {text}" if numbered else f"- {text}"

    body: list[str] = []
    at = 0
    while at < len(keys):
        size = draw(st.integers(1, 2))
        run = [item(RULE_TEXTS[k]) for k in keys[at : at + size]]
        at += size
        body += draw(wrapped(run, [item("Answer in {{ lang | default('English') }}.")]))
        extra = draw(st.sampled_from(["none", "none", "loop", "inline_loop", "retired", "comment"]))
        if extra == "loop":
            body += [draw(tag_block("for t in tools")), "- Use {{ t }} when it helps.",
                     draw(tag_block("endfor"))]
        elif extra == "inline_loop":
            body += ["{% for t in tools %}- {{ t }}", "{% endfor %}"]
        elif extra == "retired":
            body += ["{# retired rules:", "- Never joke.", "#}"]
        elif extra == "comment":
            body += [draw(st.sampled_from(["{# keep this list short #}", "  {# keep it\nshort #}"]))]
    section = _section(style, _HEADERS[style][2], body)
    if _HEADERS[style][2] and draw(st.integers(0, 4)) == 0:
        section = [draw(tag_block("if show_rules")), *section, draw(tag_block("endif"))]
    return section


@st.composite
def notes_lines(draw: st.DrawFn, style: str) -> list[str]:
    notes = draw(st.lists(st.sampled_from(["- Users are developers.", "- Mention {{ product }} by name."]),
                          min_size=1, unique=True))
    section = _section(style, _HEADERS[style][3], notes)
    if draw(st.booleans()):
        section = [draw(tag_block("if show_notes")), *section, draw(tag_block("endif"))]
    return section


@st.composite
def template_prompts(draw: st.DrawFn) -> str:
    style = draw(st.sampled_from(STYLES))
    chunks = [[_HEADERS[style][0]]]
    chunks.append([draw(st.sampled_from([
        "You are {{ name }}, the assistant of {{ company | default('Acme') }}.",
        "You help the customers of Northwind.",
        "{# Written by the support team. #}\nYou help {{ name }}.",
    ]))])
    chunks.append(draw(style_lines(style)))
    chunks.append(draw(rules_lines(style)))
    if draw(st.booleans()):
        chunks.append(draw(notes_lines(style)))
    if draw(st.booleans()):
        chunks.append([draw(st.sampled_from(['{% include "safety" %}', "{%- include 'safety@staging' %}"]))])
    text = "\n\n".join("\n".join(chunk) for chunk in chunks if chunk)
    return text + "\n" if draw(st.booleans()) else text


ALL_INSTRUCTIONS = [text for texts in INSTRUCTIONS.values() for text in texts]
instructions = st.one_of(
    st.sampled_from(ALL_INSTRUCTIONS),
    st.lists(st.sampled_from(ALL_INSTRUCTIONS), min_size=2, max_size=3).map("; ".join),
)

# -- the oracle --------------------------------------------------------------------------------


def tags(text: str) -> list[str]:
    return TAG.findall(text)


def _field_value_tags(lines: list[str], name: str) -> Counter[str]:
    label = r"[ \t]*(?:[-*+][ \t]+)?(?:\*\*|__)?" + re.escape(name) + r"(?:\*\*|__)?:"
    field = re.compile(label, re.IGNORECASE)
    return Counter(t for line in lines if (m := field.match(line)) for t in tags(line[m.end() :]))


def _rule_tags(source: str) -> Counter[str]:
    """The tags a rule may take with it: those that start on its line or on the deeper-indented
    lines that go with it (a ``{# note`` indented under a rule goes whole, with its ``#}``)."""
    lines = source.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    found: Counter[str] = Counter()
    for i, line in enumerate(lines):
        if not _ITEM_LINE.match(line):
            continue
        width = len(line) - len(line.lstrip())
        end = i + 1
        while end < len(lines) and len(lines[end]) - len(lines[end].lstrip()) > width:
            end += 1
        found.update(m.group() for m in TAG.finditer(source) if starts[i] <= m.start() < starts[end])
    return found


def targetable(source: str, edit: Edit) -> Counter[str]:
    """The tags ``edit`` may take out of ``source``: those on what it rewrites or removes.

    A tag that spans lines is on no one line: only a rule it starts in may take it.
    """
    lines = source.split("\n")
    if edit.op == "remove_rule":
        return _rule_tags(source)
    if edit.op == "remove_line":
        needle = edit.args["text"].lower()
        return Counter(t for line in lines if needle in line.lower() for t in tags(line))
    if edit.op == "set_tone":
        return _field_value_tags(lines, "tone")
    if edit.op == "set_field":
        return _field_value_tags(lines, edit.args["field"])
    if edit.op == "replace":
        # Replacing a text that holds a whole tag replaces the tag, as typed.
        return Counter({t: n for t, n in Counter(tags(source)).items() if t in edit.args["old"]})
    return Counter()


def assert_tags_intact(source: str, out: str, instruction: str) -> None:
    allowed: Counter[str] = Counter()
    for edit in parse(instruction):
        allowed += targetable(source, edit)
    before, after = Counter(tags(source)), Counter(tags(out))
    for tag, n in before.items():
        assert after[tag] >= n - allowed[tag], f"the tag {tag!r} was broken or lost:\n{out}"
    for tag in after:
        assert tag in before or tag in instruction, f"a tag neither in the prompt nor typed: {tag!r}\n{out}"


def tag_lines_out(text: str) -> str:
    """``text`` without its lines of template tags only, runs of blank lines made one (a line of
    tags between two blank lines leaves two).

    A tag that runs on from a line of text (``- Be brief. {# legal`` / ``asked #}``) keeps all its
    lines: taking some would leave half a tag.
    """
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    covered = [False] * len(text)
    spans = [(m.start(), m.end()) for m in TAG.finditer(text)]
    for a, b in spans:
        covered[a:b] = [True] * (b - a)
    out = {
        i for i, line in enumerate(lines)
        if line.strip() and all(covered[c] or text[c].isspace() for c in range(starts[i], starts[i + 1] - 1))
    }
    on_lines = [range(bisect_right(starts, a) - 1, bisect_right(starts, b - 1)) for a, b in spans]
    changed = True
    while changed:
        changed = False
        for span_lines in on_lines:
            if any(i in out for i in span_lines) and not all(i in out for i in span_lines):
                out.difference_update(span_lines)
                changed = True
    kept: list[str] = []
    for i, line in enumerate(lines):
        if i not in out and (line.strip() or not kept or kept[-1].strip()):
            kept.append(line)
    return "\n".join(kept)


def _outcome(text: str, instruction: str) -> str:
    try:
        return modify_text(text, instruction).text
    except InstructionError as e:
        return f"refused: {type(e).__name__}"


# About 5 s each (the whole file about 12 s).
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_every_form_is_exercised() -> None:
    assert sorted(INSTRUCTIONS) == sorted(BY_OP)
    for op, texts in INSTRUCTIONS.items():
        assert all(edit.op == op for text in texts for edit in parse(text)), op


@SETTINGS
@given(template_prompts(), instructions)
# What the first runs found, kept: a rule added inside the comment after the last rule; a
# rule removed from inside a comment; a line of a comment removed alone; an {% endif %} removed
# alone; text replaced inside tags.
@example("## Rules\n- Be kind.\n{# retired rules:\n- Never joke.\n#}\n", "add rule: Ask first.")
@example("## Rules\n- Be kind.\n{# retired rules:\n- Never joke.\n#}\n", "remove rule about joke")
@example("## Rules\n- Be kind.\n{# retired rules:\n- Never joke.\n#}\n", "remove line containing retired")
@example("## Rules\n{% if vip %}\n- Be kind.\n{% endif %}\n", "remove line containing endif")
@example("{% if vip %}\n- Be kind.\n{% endif %}\n{{ company | upper }}\n", 'replace "e" with ""')
@example("{% if vip %}\n- Be kind.\n{% endif %}\n", 'replace "if" with "when"')
def test_no_instruction_breaks_a_template_tag(source: str, instruction: str) -> None:
    Template.parse(source)  # the generator writes templates that parse
    try:
        out = modify_text(source, instruction).text
    except InstructionError as e:
        one_line(e)
        return
    Template.parse(out)
    assert_tags_intact(source, out, instruction)


def _names_no_tag(source: str, instruction: str) -> bool:
    """True when no piece of ``instruction`` names text that is inside a tag of ``source``
    (those target a tag, or a line of tags only, which the plain prompt does not have)."""
    inside = " ".join(tags(source))
    for edit in parse(instruction):
        if edit.op == "remove_line" and edit.args["text"].lower() in inside.lower():
            return False
        if edit.op == "replace" and edit.args["old"] in inside:
            return False
    return True


@SETTINGS
@given(template_prompts(), instructions)
@example("RULES:\n{% if strict %}\n1. Be kind.\n{% endif %}\n", "add rule: Ask first.")
@example("RULES:\n1. Be kind.\n{# keep it short #}\n2. Never use emojis.\n", "remove rule about emojis")
@example("## Rules\n- Never use emojis.\n  {# keep it\nshort #}\n- Be kind.\n", "remove rule about emojis")
def test_structure_inside_template_blocks_is_found_as_without_them(source: str, instruction: str) -> None:
    assume(_names_no_tag(source, instruction))
    plain = tag_lines_out(source)
    on_template = _outcome(source, instruction)
    on_plain = _outcome(plain, instruction)
    if on_plain.startswith("refused"):
        assert on_template == on_plain
    else:
        # Taking out a last line of tags can add or drop the final newline: not what is compared here.
        assert tag_lines_out(on_template).rstrip("\n") == tag_lines_out(on_plain).rstrip("\n")


# -- examples: structure inside template blocks is found as before -----------------------------

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
SAMPLES = sorted(PROMPTS.glob("*.md"))

IF_RULES = """# Bot

## Rules

1. Be kind.
{% if strict %}
2. Never use emojis.
{% endif %}
3. Cite sources.
"""


def mod(text: str, instruction: str) -> str:
    return modify_text(text, instruction).text


def refusal(text: str, instruction: str) -> str:
    with pytest.raises(InstructionError) as info:
        modify_text(text, instruction)
    return one_line(info.value)


def test_a_rule_inside_an_if_is_a_rule_and_removing_it_leaves_the_block_tags() -> None:
    assert rules(IF_RULES) == ["Be kind.", "Never use emojis.", "Cite sources."]
    assert mod(IF_RULES, "remove rule about emojis") == (
        "# Bot\n\n## Rules\n\n1. Be kind.\n{% if strict %}\n{% endif %}\n2. Cite sources.\n"
    )


def test_plain_rules_lines_inside_an_if_are_found_as_without_the_if() -> None:
    text = "RULES:\n{% if strict %}\n1. Be kind.\n2. Never use emojis.\n{% endif %}\n\nSIGN-OFF:\nBye.\n"
    assert rules(text) == ["Be kind.", "Never use emojis."]
    # Before: the list "ended" at {% if %}, and the rule went under RULES: as a second "1.".
    assert mod(text, "add rule: Ask first.") == (
        "RULES:\n{% if strict %}\n1. Be kind.\n2. Never use emojis.\n{% endif %}\n3. Ask first.\n"
        "\nSIGN-OFF:\nBye.\n"
    )


def test_change_tone_edits_the_tone_field_inside_a_block() -> None:
    text = "# Bot\n\n{% if formal %}\nTone: formal\nLanguage: English\n{% endif %}\n"
    assert fields(text) == ["Tone", "Language"]
    assert mod(text, "change tone to sarcastic") == (
        "# Bot\n\n{% if formal %}\nTone: Sarcastic\nLanguage: English\n{% endif %}\n"
    )
    assert mod(text, "set Language to French") == text.replace("English", "French")


def test_a_tone_whose_value_is_a_tag_gets_the_new_value_in_place_of_the_tag() -> None:
    # The tag is the field's value, and the value is what the instruction names.
    text = "Tone: {{ tone | default('friendly') }}\nYou help {{ name }}.\n"
    assert mod(text, "change tone to sarcastic") == "Tone: Sarcastic\nYou help {{ name }}.\n"


# Where "add rule" puts the rule when the rules list ends inside a block (the choice this
# engine makes): at the level of the list's heading. A last rule inside an {% if %} or a
# {% for %} opened under the heading puts the new rule after that block's end tag, so it
# always applies, once; a list that lives in a block with its heading gets it inside.


def test_add_rule_after_a_last_rule_inside_an_if_goes_after_the_endif() -> None:
    text = "# Bot\n\n## Rules\n\n1. Be kind.\n{% if strict %}\n2. Never use emojis.\n{% endif %}\n"
    out = mod(text, "add rule: Ask first.")
    assert out == text + "3. Ask first.\n"
    assert "3. Ask first." in Template.parse(out).render({"strict": False}).text


def test_add_rule_after_an_if_else_goes_after_the_endif() -> None:
    text = "## Rules\n- Be kind.\n{%- if formal %}\n- Be formal.\n{%- else %}\n- Be casual.\n{%- endif %}\n"
    assert mod(text, "add rule: Ask first.") == text + "- Ask first.\n"


def test_add_rule_after_a_loop_goes_after_the_endfor_so_it_is_written_once() -> None:
    text = "## Rules\n- Be kind.\n{% for t in tools %}\n- Use {{ t }} well.\n{% endfor %}\n"
    out = mod(text, "add rule: Ask first.")
    assert out == text + "- Ask first.\n"
    assert Template.parse(out).render({"tools": ["search", "mail"]}).text.count("Ask first.") == 1


def test_add_rule_to_a_rules_section_inside_an_if_stays_inside_it() -> None:
    text = "# Bot\n\n{% if show_rules %}\n## Rules\n\n1. Be kind.\n{% endif %}\n"
    assert mod(text, "add rule: Ask first.") == text.replace("1. Be kind.\n", "1. Be kind.\n2. Ask first.\n")


def test_add_rule_to_a_block_style_list_goes_after_the_endif_and_before_the_block_end() -> None:
    text = "▛///▞ CORE RULES\n1. Be kind.\n{% if strict %}\n2. Never use emojis.\n{% endif %}\n:: ∎\n"
    assert mod(text, "add rule: Ask first.") == text.replace("{% endif %}\n", "{% endif %}\n3. Ask first.\n")


def test_a_new_setting_with_no_style_section_goes_after_the_block_its_tone_is_in() -> None:
    text = "{% if formal %}\nTone: formal\n{% else %}\nTone: friendly\n{% endif %}\n\nYou help people.\n"
    expected = text.replace("{% endif %}\n", "{% endif %}\nDefault: 2 sentences\n")
    assert mod(text, "default 2 sentences") == expected


def test_rules_and_fields_inside_a_multi_line_comment_are_not_structure() -> None:
    text = (
        "Tone: friendly\n{# retired:\nTone: sarcastic\n## Old rules\n- Never joke.\n#}\n\n"
        "## Rules\n- Be kind.\n{# old:\n- No puns.\n#}\n"
    )
    assert rules(text) == ["Be kind."]
    assert fields(text) == ["Tone"]
    assert refusal(text, "remove rule about puns").startswith("No rule matches 'puns'.")
    assert mod(text, "change tone to calm") == text.replace("Tone: friendly", "Tone: Calm")
    # The new rule goes after the last rule, not into the comment that follows it.
    assert mod(text, "add rule: Ask first.") == text.replace("- Be kind.\n", "- Be kind.\n- Ask first.\n")


# -- examples: tags are never broken --------------------------------------------------------------


def test_replace_leaves_text_inside_tags_alone() -> None:
    text = "You are {{ name }}.\n{% if vip %}\n- Offer vip support.\n{% endif %}\n"
    gold = "You are {{ name }}.\n{% if vip %}\n- Offer gold support.\n{% endif %}\n"
    assert mod(text, 'replace "vip" with "gold"') == gold
    capital_e = "You arE {{ name }}.\n{% if vip %}\n- OffEr vip support.\n{% endif %}\n"
    assert mod(text, 'replace "e" with "E"') == capital_e


def test_replace_of_a_whole_tag_replaces_the_tag_as_typed() -> None:
    text = "You are {{ name }}. Greet {{ name }}.\n"
    assert mod(text, 'replace "{{ name }}" with "{{ user }}"') == "You are {{ user }}. Greet {{ user }}.\n"


def test_replace_of_text_found_only_inside_tags_is_refused_and_names_the_tag() -> None:
    text = "Tone: {{ tone | default('friendly') }}\n{% if vip %}\nHi.\n{% endif %}\n"
    message = refusal(text, 'replace "tone" with "mood"')
    assert message.startswith("Every copy of 'tone' is inside a template tag or runs into one, such as "
                              "{{ tone | default('friendly') }};")
    assert refusal(text, 'replace "}}" with "x"').startswith("Every copy of '}}' is inside a template tag")


def test_removing_an_end_tag_alone_is_refused_and_removing_both_block_tags_is_not() -> None:
    text = "# Bot\n{% if vip %}\n- Offer priority support.\n{% endif %}\n"
    message = refusal(text, "remove line containing endif")
    assert message.startswith("That would break the template, so nothing was changed: line ")
    assert "{{ '{{' }}" not in message  # the hint is for text the instruction typed
    pair = "remove line containing {% if vip %}; remove line containing {% endif %}"
    assert mod(text, pair) == "# Bot\n- Offer priority support.\n"


def test_a_line_of_a_multi_line_tag_is_not_removed_alone() -> None:
    text = "Hi.\n{# retired rules:\n- Never joke.\n#}\nBye.\n"
    assert refusal(text, "remove line containing retired") == (
        "Line 2 is part of a template tag that runs from line 2 to 4; removing the line alone would "
        "break the tag, so nothing was removed."
    )
    assert mod("Hi.\n{# one line #}\nBye.\n", "remove line containing one line") == "Hi.\nBye.\n"


def test_a_field_whose_value_opens_a_multi_line_tag_is_not_rewritten() -> None:
    text = "Tone: friendly\nGreeting: Hello {{ name\n}}\n"
    message = refusal(text, "set Greeting to Hi")
    assert message.startswith("The value of 'Greeting' on line 2 runs into a template tag")


def test_a_rule_takes_a_tag_that_starts_in_it_whole() -> None:
    text = "## Rules\n- Be kind. {# legal\n  asked #}\n- Ask first.\n"
    assert rules(text) == ["Be kind. {# legal", "Ask first."]
    assert mod(text, "remove rule about ask") == "## Rules\n- Be kind. {# legal\n  asked #}\n"
    assert mod(text, "remove rule about kind") == "## Rules\n- Ask first.\n"
    # The comment starts indented under the rule, so it is the rule's, "#}" line and all.
    text = "## Rules\n- Be kind.\n  {# legal\n#}\n- Ask first.\n"
    assert mod(text, "remove rule about kind") == "## Rules\n- Ask first.\n"


# -- examples: template text typed in an instruction is source, kept verbatim ----------------------


def test_a_rule_typed_with_a_tag_is_kept_verbatim_and_renders() -> None:
    out = mod(IF_RULES, "add rule: use {{ name }} to greet")
    assert out == IF_RULES + "4. use {{ name }} to greet\n"
    assert "4. use Ada to greet" in Template.parse(out).render({"name": "Ada", "strict": True}).text
    assert mod("Tone: a\n", "set tone to {{ mood }}") == "Tone: {{ mood }}\n"


def test_a_plain_prompt_given_a_tag_becomes_a_template_that_parses() -> None:
    out = mod("## Rules\n\n1. Be kind.\n", "add rule: greet {{ name }} warmly")
    assert out == "## Rules\n\n1. Be kind.\n2. greet {{ name }} warmly\n"
    assert Template.parse(out).variables == ("name",)


def test_a_typed_tag_that_does_not_close_is_refused_with_how_to_write_it_as_text() -> None:
    for text in (IF_RULES, "## Rules\n\n1. Be kind.\n"):
        message = refusal(text, "add rule: use {{ name to greet")
        assert message.startswith("That would break the template, so nothing was changed: line ")
        assert message.endswith("To write {{ as text, type {{ '{{' }}.")
    out = mod(IF_RULES, "add rule: write {{ '{{' }} as is")
    assert out == IF_RULES + "4. write {{ '{{' }} as is\n"
    assert "4. write {{ as is" in Template.parse(out).render({"strict": False}).text


def test_a_template_that_did_not_parse_is_left_to_its_author() -> None:
    text = "## Rules\n{% if vip %}\n- Be kind.\n"  # no endif: an edit may be what fixes it
    assert mod(text, 'replace "kind" with "nice"') == "## Rules\n{% if vip %}\n- Be nice.\n"
    assert mod(text, "remove rule about kind") == "## Rules\n{% if vip %}\n"
    assert mod(text, "add rule: {% endif %}") == text + "- {% endif %}\n"


# -- examples: a prompt without template syntax is edited exactly as before -----------------------


def _with_tags(text: str) -> str:
    """A sample prompt with lines of tags only mixed in: a comment, an if around its second
    rule and its Tone line, an include at the end."""
    lines = text.split("\n")
    numbered = [i for i, line in enumerate(lines) if re.match(r"\d+\. ", line)]
    wrap = {numbered[1]} if len(numbered) > 1 else set()
    wrap |= {i for i, line in enumerate(lines) if line.startswith("Tone:")}
    out = [lines[0], "{# Kept in dynamic-prompt. #}"]
    for i, line in enumerate(lines[1:], 1):
        out += ["{% if strict -%}", line, "{%- endif %}"] if i in wrap else [line]
    return "\n".join(out) + '{% include "safety" %}\n'


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("instruction", [form.example for form in BY_OP.values()])
def test_a_sample_with_tags_mixed_in_is_edited_as_the_sample_is(sample: Path, instruction: str) -> None:
    plain = sample.read_text(encoding="utf-8")
    templated = _with_tags(plain)
    assert tag_lines_out(templated) == tag_lines_out(plain)
    on_template, on_plain = _outcome(templated, instruction), _outcome(plain, instruction)
    if on_plain.startswith("refused"):
        assert on_template == on_plain
    else:
        assert tag_lines_out(on_template) == tag_lines_out(on_plain)


def test_a_plain_prompt_never_loads_jinja2() -> None:
    code = (
        "import sys; from pathlib import Path; import dynamic_prompt.core.modifier as m; "
        "text = Path('prompts/assistant.md').read_text(); "
        "[m.modify_text(text, i) for i in "
        "('change tone to playful', 'add rule: Be brief.', 'replace \"Atlas\" with \"Acme\"')]; "
        "print('jinja2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PROMPTS.parent)
    assert out.stdout.strip() == "False"
