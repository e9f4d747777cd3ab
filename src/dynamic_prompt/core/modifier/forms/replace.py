"""``replace "<old>" with "<new>"``: literal, case-sensitive replacement of copies outside template tags."""

from __future__ import annotations

import re
from collections.abc import Mapping

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier.common import arg
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.forms.base import InstructionForm, Stub, StubKind
from dynamic_prompt.core.modifier.matching import CASELESS, split_pair
from dynamic_prompt.core.modifier.messages import clip
from dynamic_prompt.core.modifier.template_tags import TemplateTags, replace_at

MAX_GROWTH = 4 * 1024 * 1024
"""The most characters one replace may add (``replace "e" with <10,000 characters>`` on a
4 MB prompt would otherwise build a 4 GB text before anything could refuse it)."""

_HINT = 'replace "<old>" with "<new>"'
_REPLACE = re.compile(r"replace\s+(?:all\s+)?", CASELESS)
_CHANGE_QUOTED = re.compile(r"change\s+(?=[\"“'‘])", CASELESS)
_STUB = re.compile(r"replace\b", CASELESS)


def _match(piece: str) -> Edit | None:
    """``replace A with B``, or ``change "A" to B`` (a quoted A is what tells it from a tone change)."""
    m = _REPLACE.match(piece) or _CHANGE_QUOTED.match(piece)
    if not m:
        return None
    pair = split_pair(piece[m.end() :], "with" if m.re is _REPLACE else "to")
    if pair is None:
        return None
    old, new = pair
    if not old:
        raise InstructionError("Say what to replace.", suggestions=[_HINT])
    return Edit("replace", {"old": old, "new": new}, piece)


def replace(doc: Lines, args: Mapping[str, str]) -> None:
    """Replace every copy of ``old`` with ``new``; an absent ``old`` is an error that points at its casing.

    In a template, copies inside a tag are left alone (``replace "if" with "when"`` must not
    turn ``{% if vip %}`` into ``{% when vip %}``); a copy that holds whole tags replaces them
    as typed. When every copy is inside a tag, the refusal says how to replace the tag.
    """
    old = arg(args, "old", strip=False)
    new = arg(args, "new", empty_ok=True, strip=False)
    text = doc.text()
    count = text.count(old)
    if not count:
        message = f"'{clip(old)}' is not in the prompt."
        at = text.lower().find(old.lower()) if len(text.lower()) == len(text) else -1
        hint = [text[at : at + len(old)]] if at >= 0 else []
        if hint:
            message += f" Replace is case-sensitive: the prompt has '{clip(hint[0])}'."
        raise InstructionError(message, suggestions=hint)
    tags = TemplateTags(doc)
    if tags:
        _replace_around_tags(doc, tags, old, new)
        return
    # ``old`` is one line, so the whole text holds exactly the copies the lines do.
    _check_growth(count, old, new)
    for i, line in enumerate(doc.raw_lines()):
        if old in line:
            doc.set(i, doc.content(i).replace(old, new))


def _check_growth(count: int, old: str, new: str) -> None:
    growth = count * (len(new) - len(old))
    if growth > MAX_GROWTH:
        raise InstructionError(
            f"Replacing {count:,} copies of '{clip(old)}' would add {growth:,} characters to the prompt; "
            f"one instruction may add at most {MAX_GROWTH:,}."
        )


def _replace_around_tags(doc: Lines, tags: TemplateTags, old: str, new: str) -> None:
    """Replace the copies of ``old`` that are not inside a template tag (see :func:`replace`)."""
    found: list[tuple[int, list[int]]] = []
    for i, line in enumerate(doc.raw_lines()):
        if old in line:
            positions = tags.replaceable(i, doc.content(i), old)
            if positions:
                found.append((i, positions))
    if not found:
        text = doc.text()
        at = text.find(old)
        s, e = tags.overlapping(at, at + len(old))[0]
        tag = text[s:e]
        raise InstructionError(
            f"Every copy of '{clip(old)}' is inside a template tag or runs into one, such as {clip(tag)}; "
            "replace edits the text around the tags, so to change a tag, replace the whole tag.",
            suggestions=[tag] if "\n" not in tag else [],
        )
    _check_growth(sum(len(positions) for _, positions in found), old, new)
    for i, positions in found:
        doc.set(i, replace_at(doc.content(i), old, new, positions))


def _already(args: Mapping[str, str]) -> str:
    return "the new text is the same as the old"


FORM = InstructionForm(
    op="replace",
    forms=(_HINT,),
    description="literal replacement (never inside a template tag)",
    example='replace "Atlas" with "Acme"',
    match=_match,
    apply=replace,
    noop_reason=_already,
    stubs=(Stub(_STUB, 'Write replace "old" with "new".', StubKind.START, "replace foo"),),
)
