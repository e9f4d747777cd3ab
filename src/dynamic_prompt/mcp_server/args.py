"""The tools' arguments, as pydantic models; the input schemas clients see come from them.

One model per argument shape: validation and the schema a model reads cannot
drift apart. Unknown arguments are refused (a misspelt ``dry_run`` must never
write for real).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dynamic_prompt.core.keys import DEFAULT_NAME, MAX_NAME_LENGTH
from dynamic_prompt.core.modifier.forms import FORMS
from dynamic_prompt.core.text import MAX_NOTE_CHARS
from dynamic_prompt.mcp_server.common import NAME_PATTERN


def _name_field() -> Any:
    # The pattern is shown to clients but checked by validate_name, whose error
    # sentence is better than a regex mismatch report.
    return Field(
        DEFAULT_NAME,
        description=(
            "The prompt to work on. Letters, digits, '.', '_' and '-'. Default 'default' "
            "(the prompt in the original gem's keys prompt:active/prompt:backup)."
        ),
        json_schema_extra={"pattern": NAME_PATTERN, "maxLength": MAX_NAME_LENGTH, "minLength": 1},
    )


def _user_field() -> Any:
    return Field(
        None,
        description="Who makes the change, recorded in the changelog. Default: the server's configured user.",
    )


def _note_field() -> Any:
    return Field(
        "",
        description=(
            f"Why the change is made, in one line (at most {MAX_NOTE_CHARS} characters): kept in the changelog "
            "entry and shown by get_history."
        ),
    )


def _instruction_description() -> str:
    """``modify_prompt``'s ``instruction``: every form, what it does and an example, one line each."""
    lines = [
        f"- {' / '.join(map(_quoted, form.forms))}: {form.description}; e.g. {_quoted(form.example)}"
        for form in FORMS
    ]
    head, tail = "What to change, in plain words. Known forms:", "Join several instructions with ';'."
    return "\n".join([head, *lines, tail])


def _quoted(text: str) -> str:
    return f"'{text}'"


class Args(BaseModel):
    """Base of every tool's arguments."""

    # Unknown arguments are an error: a misspelt 'dry_run' must not write for real.
    model_config = ConfigDict(extra="forbid")


class NameArgs(Args):
    """Just the prompt name."""

    name: str = _name_field()


class NoArgs(Args):
    """No arguments."""


class LoadArgs(Args):
    """``load_prompt``."""

    source: str = Field(
        min_length=1,
        description=(
            "Where the prompt comes from: the prompt text itself, a file path on the server's machine "
            "(only inside the folders the operator allowed), or an http(s):// URL (only if the operator "
            "allowed URLs); the load_prompt description says what this server allows."
        ),
    )
    force: bool = Field(False, description="Replace the prompt if it already exists (the old text stays a version).")
    kind: Literal["auto", "file", "url", "text"] = Field(
        "auto",
        description=(
            "How to read 'source'. 'auto' decides: a single http(s) URL is fetched; a single line that looks "
            "like a path (starts with /, ~, ./ or ../, or contains a path separator) is read as a file; "
            "anything else is the text itself. 'text' forces the text reading (for a one-line prompt that "
            "looks like a path)."
        ),
    )
    name: str = _name_field()
    user_id: str | None = _user_field()
    note: str = _note_field()


class ModifyArgs(Args):
    """``modify_prompt``."""

    instruction: str = Field(
        min_length=1,
        # From the engine's registry of forms: the schema a model reads never drifts from what it parses.
        description=_instruction_description(),
    )
    user_id: str | None = _user_field()
    dry_run: bool = Field(False, description="Only show the diff the instruction would make; write nothing.")
    name: str = _name_field()
    note: str = _note_field()
    label: str | None = Field(
        None,
        description="Edit the version this label points at (e.g. 'staging') instead of production: the new "
                    "version only that label (and 'latest') point at; agents reading production are untouched.",
    )


class ChangeArgs(Args):
    """A change with only a name, an author and a note (``revert_prompt``)."""

    name: str = _name_field()
    user_id: str | None = _user_field()
    note: str = _note_field()


class RestoreArgs(Args):
    """``restore_version``."""

    version: int = Field(ge=1, description="The version to bring back (get_history shows each change's version).")
    name: str = _name_field()
    user_id: str | None = _user_field()
    note: str = _note_field()


class RevertChangeArgs(Args):
    """``revert_change``."""

    version: int = Field(
        ge=1,
        description="The version whose change to take out (the change from version-1 to version; get_history "
        "shows each change's version).",
    )
    name: str = _name_field()
    user_id: str | None = _user_field()
    note: str = _note_field()
    dry_run: bool = Field(False, description="Only show the diff the revert would make; write nothing.")


class RenameArgs(Args):
    """``rename_prompt``."""

    name: str = _name_field()
    new_name: str = Field(description="The prompt's new name (letters, digits, '.', '_' and '-'; not in use).")
    user_id: str | None = _user_field()
    note: str = _note_field()


class DuplicateArgs(Args):
    """``duplicate_prompt``."""

    name: str = _name_field()
    new_name: str = Field(description="The name of the new prompt (letters, digits, '.', '_' and '-'; not in use).")
    user_id: str | None = _user_field()
    note: str = _note_field()


class DiffArgs(Args):
    """``show_diff``."""

    name: str = _name_field()
    against_version: int | None = Field(
        None,
        ge=1,
        description="Compare with this version instead of the original.",
    )
    to_version: int | None = Field(
        None,
        ge=1,
        description="Compare against_version with this version instead of the active text (needs against_version).",
    )
    format: Literal["unified", "summary"] = Field(
        "unified", description="'unified' for a unified diff, 'summary' for short '~ / + / -' lines."
    )


class HistoryArgs(Args):
    """``get_history``."""

    limit: int = Field(10, ge=1, le=1000, description="How many entries to return, newest first.")
    name: str = _name_field()


class ClearArgs(Args):
    """``clear_prompts``: the confirmation is checked by the tool, to say what it needs."""

    name: str = _name_field()
    confirm: str | None = Field(
        None,
        description="Must be exactly 'yes, delete NAME' with the prompt's name, e.g. 'yes, delete default'.",
    )


def _label_field(description: str) -> Any:
    return Field(min_length=1, max_length=32, description=description,
                 json_schema_extra={"pattern": r"^[a-z0-9][a-z0-9._-]*$"})


def _confirm_field(phrase: str) -> Any:
    return Field(None, description=f"Must be exactly {phrase!r} with the names filled in; without it nothing moves.")


class ConfigArgs(Args):
    """``set_prompt_config``."""

    name: str = _name_field()
    config: dict[str, Any] = Field(
        description="The whole config to keep with the prompt's text, a JSON object (e.g. {\"model\": \"gpt-5\", "
                    "\"temperature\": 0.2, \"tools\": [\"search\"]}); {} clears it. It replaces the config as a whole.")
    label: str | None = Field(
        None, max_length=40,
        description="Set it on the version this label points at (e.g. 'staging') instead of production: a new version "
                    "only that label points at.")
    user_id: str | None = _user_field()
    note: str = _note_field()


class LabelArgs(Args):
    """``get_prompt_at_label``."""

    name: str = _name_field()
    label: str = _label_field("The label to read: 'production', 'latest', or one set with move_label (e.g. 'staging').")


class MoveLabelArgs(Args):
    """``move_label``: the confirmation is checked by the tool, to say what it needs."""

    name: str = _name_field()
    label: str = _label_field("The label to move ('production' promotes: every agent reading production serves it).")
    to: str = Field(min_length=1, max_length=40,
                    description="Where it should point: another label ('staging', 'production') or a version ('v7').")
    confirm: str | None = _confirm_field("yes, move LABEL of NAME")
    user_id: str | None = _user_field()
    note: str = _note_field()


class RolloutArgs(Args):
    """``start_rollout``."""

    name: str = _name_field()
    to: str | None = Field(None, max_length=40,
                           description="What to roll out: a label ('canary') or a version ('v7'). Leave out to "
                                       "change the running rollout's percentage.")
    percent: float = Field(gt=0, le=100, description="The share of production's agents that get it (0 < P <= 100).")
    confirm: str | None = _confirm_field("yes, roll out NAME")
    user_id: str | None = _user_field()
    note: str = _note_field()


class StopRolloutArgs(Args):
    """``stop_rollout``."""

    name: str = _name_field()
    outcome: Literal["abort", "promote"] = Field(
        description="'abort': every agent back on production; 'promote': the rolled-out version becomes production.")
    confirm: str | None = _confirm_field("yes, end the rollout of NAME")
    user_id: str | None = _user_field()
    note: str = _note_field()


def input_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of ``model`` as a tool's ``inputSchema``, without pydantic's noise.

    Drops the generated ``title`` keys and turns an optional ``X | None`` field
    into a plain ``X`` that may be left out: clients show these schemas to
    models, which read ``"type": "string"`` better than an ``anyOf`` with null.
    """
    schema = model.model_json_schema()
    schema.pop("title", None)
    schema.pop("description", None)  # the class docstring is for us; the tool's description is for models
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
        branches = [b for b in prop.get("anyOf", ()) if b.get("type") != "null"]
        if len(branches) == 1:
            del prop["anyOf"]
            for key, value in branches[0].items():
                prop.setdefault(key, value)
        if "default" in prop and prop["default"] is None:
            del prop["default"]
    schema["additionalProperties"] = False
    return schema


class VersionArgs(Args):
    """``get_version``."""

    name: str = _name_field()
    version: int = Field(..., ge=1, description="The version number (see get_history or list_labels).")


class SearchArgs(Args):
    """``search_history``."""

    query: str = Field(..., min_length=1, max_length=500,
                       description="Words to find (every one must match; 'word*' matches a prefix).")
    prompt: str | None = Field(None, description="Only this prompt (its name); default: every prompt.")
    since: str | None = Field(None, max_length=40,
                              description="Only since a date (2026-11-30) or an age (90m, 12h, 7d).")
    limit: int = Field(20, ge=1, le=100, description="How many results, best first.")
