"""Helpers every edit uses: checked arguments, field updates, appending blocks."""

from __future__ import annotations

import re
from collections.abc import Mapping

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.messages import clip
from dynamic_prompt.core.modifier.sections import Field, Outline, norm


def arg(args: Mapping[str, str], key: str, *, empty_ok: bool = False, strip: bool = True) -> str:
    """One argument of an edit, checked: a single line, and not empty unless allowed."""
    value = args.get(key) if isinstance(args, Mapping) else None
    if not isinstance(value, str):
        raise InstructionError(f"The edit has no '{key}'.")
    if "\n" in value or "\r" in value:
        raise InstructionError(f"The edit's '{key}' must be one line.")
    if strip:
        value = value.strip()
    if not value and not empty_ok:
        raise InstructionError(f"The edit's '{key}' is empty.")
    return value


def single_field(out: Outline, name: str, *, with_value: bool = False) -> Field | None:
    """The one ``name:`` line of the prompt, None if absent; several is an error."""
    target = norm(name)
    if not target:
        return None
    found = [
        f for f in out.fields(target.split()[0]) if norm(f.name) == target and (f.value or not with_value)
    ]
    if len(found) > 1:
        where = ", ".join(str(f.index + 1) for f in found[:10])
        raise InstructionError(
            f"'{clip(name)}' is set on {len(found)} lines ({where}); use replace to say which.",
            suggestions=[out.doc.content(f.index).strip() for f in found[:10]],
        )
    return found[0] if found else None


def set_value(out: Outline, field: Field, value: str) -> None:
    """Replace a field's value, keeping its label and markup as written.

    Raises:
        InstructionError: the value holds part of a template tag that goes on past the line
            (a tag in the value is replaced with it only when it is whole).
    """
    doc = out.doc
    if out.tags.cut_by_rewrite(field.index, field.value_at):
        raise InstructionError(
            f"The value of '{clip(field.name)}' on line {field.index + 1} runs into a template tag that goes "
            "on past the line; changing it would break the tag, so nothing was changed."
        )
    line = doc.content(field.index)
    if field.value:
        doc.set(field.index, line[: field.value_at] + value)
    else:
        doc.set(field.index, line.rstrip() + " " + value)


def bullet_of(line: str) -> str:
    """The indent and bullet a line starts with (``"- "``), or ``""``."""
    m = re.match(r"[ \t]*[-*+][ \t]+", line)
    return m.group(0) if m else ""


def append_block(doc: Lines, block: list[str]) -> None:
    """Append lines at the end, after a blank line when the text does not end with one."""
    last = len(doc) - 1
    sep = [""] if last >= 0 and doc.content(last).strip() else []
    doc.insert(len(doc), sep + block)


def field_names(out: Outline) -> list[str]:
    """The names of the prompt's ``Name: value`` lines, first spelling of each."""
    seen: dict[str, str] = {}
    for f in out.fields():
        if f.value:
            seen.setdefault(norm(f.name), f.name)
    return list(seen.values())
