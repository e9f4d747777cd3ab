"""The registry of instruction forms: each form's declaration holds, and everything derived agrees.

The README's "Instructions" table, ``KNOWN_FORMS``, the MCP tool's description
of ``instruction`` and the edit handlers all come from
``dynamic_prompt.core.modifier.forms.FORMS``; these tests fail when one of
them (or a form's own example, stubs or completions) disagrees with it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier import KNOWN_FORMS, apply_edits, modify_text, parse, suggest
from dynamic_prompt.core.modifier.forms import BY_OP, FORMS, InstructionForm, Stub, StubKind, markdown_table
from dynamic_prompt.mcp_server.args import ModifyArgs

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = (ROOT / "prompts" / "assistant.md").read_text(encoding="utf-8")
_TABLE_START = "### Instructions"
_TABLE_END = "Separate several instructions with `;` or new lines; they apply together or not at all."
_IDS = [form.op for form in FORMS]


def readme_rows() -> list[tuple[tuple[str, ...], str]]:
    """The README's instruction table: (the wordings of the left column, the right column), per row."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.count(_TABLE_START) == 1 and readme.count(_TABLE_END) == 1
    section = readme.split(_TABLE_START, 1)[1].split(_TABLE_END, 1)[0]
    lines = [line for line in section.splitlines() if line.strip()]
    assert lines[:2] == ["| instruction | what it does |", "|---|---|"], lines[:2]
    rows = []
    for line in lines[2:]:
        m = re.fullmatch(r"\| (.+?) \| (.+) \|", line)
        assert m, f"not a table row: {line!r}"
        wordings = tuple(w.removeprefix("`").removesuffix("`") for w in m.group(1).split(" / "))
        rows.append((wordings, m.group(2)))
    return rows


def engaged(piece: str) -> list[str]:
    """The ops of the forms whose matcher takes ``piece`` (returns an edit or refuses it), in order."""
    ops = []
    for form in FORMS:
        try:
            taken = form.match(piece) is not None
        except InstructionError:
            taken = True
        if taken:
            ops.append(form.op)
    return ops


# -- the registry itself -------------------------------------------------------------------------


def test_each_op_has_one_form_and_each_wording_one_place() -> None:
    assert len(BY_OP) == len(FORMS) == 10
    assert [BY_OP[form.op] for form in FORMS] == list(FORMS)
    assert KNOWN_FORMS == tuple(w for form in FORMS for w in form.forms)
    assert len(set(KNOWN_FORMS)) == len(KNOWN_FORMS)


@pytest.mark.parametrize("form", FORMS, ids=_IDS)
def test_a_declaration_fits_in_a_table_row(form: InstructionForm) -> None:
    assert form.forms and form.description and form.example
    assert form.hint == form.forms[0]
    # The README table splits on these: a wording or description holding one would break it.
    for wording in form.forms:
        assert not {"|", "`", "\n"} & set(wording) and " / " not in wording, wording
    assert not {"|", "\n"} & set(form.description), form.description


# -- the README table ----------------------------------------------------------------------------


def test_the_readme_table_is_the_registry() -> None:
    expected = [(form.forms, form.description) for form in FORMS]
    stale = "README.md's instruction table is stale; paste this:\n" + markdown_table()
    assert readme_rows() == expected, stale


def test_the_generated_table_has_a_row_per_form() -> None:
    table = markdown_table()
    assert table.splitlines()[2] == (
        "| `change tone to <tone>` / `set tone to <tone>` | rewrites the `Tone:` line (adds one if missing) |"
    )
    assert len(table.splitlines()) == 2 + len(FORMS)


# -- each form's example and stubs ------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS, ids=_IDS)
def test_the_example_parses_to_the_forms_op_and_applies(form: InstructionForm) -> None:
    edits = parse(form.example)
    assert [e.op for e in edits] == [form.op]
    assert form.match(form.example) == edits[0]  # the form's own matcher, not another form's
    changed = apply_edits(SAMPLE, edits)
    assert changed != SAMPLE
    assert modify_text(SAMPLE, form.example).text == changed


@pytest.mark.parametrize("form", FORMS, ids=_IDS)
def test_no_other_form_takes_the_example(form: InstructionForm) -> None:
    assert engaged(form.example) == [form.op]


_STUBS = [(f, s) for f in FORMS for s in f.stubs]


@pytest.mark.parametrize(("form", "stub"), _STUBS, ids=[f"{f.op}-{s.example}" for f, s in _STUBS])
def test_every_stub_names_its_form(form: InstructionForm, stub: Stub) -> None:
    assert stub.catches(stub.example)
    with pytest.raises(InstructionError) as info:
        parse(stub.example)
    assert info.value.suggestions == (form.hint,)
    expected = f"{stub.message} Write {form.hint}." if stub.kind is StubKind.WHOLE else stub.message
    assert str(info.value) == expected


def test_the_stubs_of_todays_forms() -> None:
    kinds = {f.op: [(s.kind, s.example) for s in f.stubs] for f in FORMS}
    assert kinds == {
        "set_tone": [(StubKind.WHOLE, "change tone to")],
        "add_rule": [(StubKind.WHOLE, "add rule:")],
        "remove_rule": [(StubKind.WHOLE, "remove rule about")],
        "set_sentences": [(StubKind.START, "default many sentences")],
        "verbosity": [],
        "trait": [(StubKind.WHOLE, "be more")],
        "replace": [(StubKind.START, "replace foo")],
        "set_field": [(StubKind.START, "set Language")],
        "remove_line": [(StubKind.WHOLE, "remove line containing")],
        "add_section": [(StubKind.WHOLE, "add section:"), (StubKind.START, "add section Title")],
    }
    assert str(_refusal("add rule:")) == "Say the rule to add. Write add rule: <text>."
    assert str(_refusal("set Language")) == "Write set <Field> to <value>."


def _refusal(instruction: str) -> InstructionError:
    with pytest.raises(InstructionError) as info:
        parse(instruction)
    return info.value


# -- which forms take a piece: one, except where the registry's order decides --------------------------


@pytest.mark.parametrize(
    ("piece", "op"),
    [
        ("switch the tone to dry", "set_tone"),
        ("make tone = warm", "set_tone"),
        ("add a new rule cite sources", "add_rule"),
        ("add rules: be brief", "add_rule"),
        ("drop rule #3", "remove_rule"),
        ("delete the rules regarding quotes", "remove_rule"),
        ("respond in three sentences by default", "set_sentences"),
        ("default response length: 4 sentences.", "set_sentences"),
        ("make the answers less verbose", "verbosity"),
        ("less verbose", "verbosity"),
        ("be a bit less formal", "trait"),
        ("be much more direct!", "trait"),
        ('replace all "a; b" with c', "replace"),
        ('change "Atlas" to Acme', "replace"),
        ("set the Reading level: plain", "set_field"),
        ("set **Format** = text", "set_field"),
        ("delete the lines that contain Atlas", "remove_line"),
        ("drop line mentioning laptop", "remove_line"),
        ('add a new section "Privacy" with Keep data out.', "add_section"),
        ("add section Privacy with Keep data out.", "add_section"),
    ],
)
def test_each_wording_is_taken_by_one_form(piece: str, op: str) -> None:
    assert engaged(piece) == [op]
    assert [e.op for e in parse(piece)] == [op]


@pytest.mark.parametrize(
    ("piece", "takers", "edit"),
    [
        (
            "set tone to calm",
            ["set_tone", "set_field"],
            Edit("set_tone", {"tone": "calm"}, "set tone to calm"),
        ),
        (
            "set default to 3 sentences",
            ["set_sentences", "set_field"],
            Edit("set_sentences", {"sentences": "3"}, "set default to 3 sentences"),
        ),
        (
            "be more verbose",
            ["verbosity", "trait"],
            Edit("verbosity", {"direction": "more"}, "be more verbose"),
        ),
    ],
)
def test_overlapping_forms_go_in_registry_order(piece: str, takers: list[str], edit: Edit) -> None:
    assert engaged(piece) == takers
    assert parse(piece) == [edit]
    first = BY_OP[takers[0]]
    assert first.match(piece) == edit


# -- no-op reasons, handlers, completions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "reason"),
    [
        ("set_tone", "the tone is already playful"),
        ("set_sentences", "the default is already 2 sentences"),
        ("verbosity", "verbosity is already at the end of its scale"),
        ("trait", "the prompt already says to be more technical"),
        ("set_field", "Format is already plain text"),
    ],
)
def test_repeating_an_example_is_a_noop_with_its_forms_reason(op: str, reason: str) -> None:
    form = BY_OP[op]
    once = modify_text(SAMPLE, form.example).text
    with pytest.raises(InstructionError) as info:
        modify_text(once, form.example)
    assert str(info.value) == f"The instruction changes nothing: {reason}."
    assert form.noop_reason(parse(form.example)[0].args) == reason


def test_forms_without_their_own_noop_reason_say_the_prompt_reads_that_way() -> None:
    for op in ("add_rule", "remove_rule", "remove_line", "add_section"):
        assert BY_OP[op].noop_reason({}) == "the prompt already reads that way"
    assert BY_OP["replace"].noop_reason({}) == "the new text is the same as the old"


def test_an_unknown_op_lists_the_registrys_ops() -> None:
    with pytest.raises(InstructionError) as info:
        apply_edits(SAMPLE, [Edit("rename", {})])
    assert str(info.value) == "Unknown edit 'rename'."
    assert info.value.suggestions == tuple(sorted(BY_OP))


def test_completions_come_from_the_forms_that_have_them() -> None:
    with_completions = [f.op for f in FORMS if f.complete is not None]
    assert with_completions == ["set_tone", "remove_rule", "trait", "set_field"]
    assert suggest("set tone to fr")[0] == "set tone to friendly"
    assert suggest("be less tech", SAMPLE)[0] == "be less technical"
    rule = "Never invent quotes, people, URLs or statistics."
    assert suggest("remove rule about quo", SAMPLE)[0] == f"remove rule about {rule}"


@pytest.mark.parametrize("form", [f for f in FORMS if f.complete is not None], ids=lambda f: f.op)
def test_a_forms_completions_leave_the_other_forms_examples_alone(form: InstructionForm) -> None:
    # Completers are asked in registry order and the first answer wins: each must
    # answer only for its own form's wording, so that order cannot matter.
    assert form.complete is not None
    for other in FORMS:
        if other is not form:
            typed = " ".join(other.example.lower().split())
            assert form.complete(typed, SAMPLE) is None, typed
            assert form.complete(typed, None) is None, typed


# -- the MCP tool's description ------------------------------------------------------------------------


def test_the_mcp_description_lists_every_form_with_its_example() -> None:
    description = ModifyArgs.model_fields["instruction"].description or ""
    lines = description.splitlines()
    assert lines[0] == "What to change, in plain words. Known forms:"
    assert lines[-1] == "Join several instructions with ';'."
    quoted = [" / ".join("'" + w + "'" for w in f.forms) for f in FORMS]
    assert lines[1:-1] == [f"- {q}: {f.description}; e.g. '{f.example}'" for q, f in zip(quoted, FORMS)]
    replace = """- 'replace "<old>" with "<new>"': literal replacement (never inside a template tag); e.g. 'replace "Atlas" with "Acme"'"""
    assert lines[7] == replace
