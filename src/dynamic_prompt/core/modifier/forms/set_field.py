"""``set <Field> to <value>``: rewrite the value of a ``Field: value`` line."""

from __future__ import annotations

import re
from collections.abc import Mapping

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier.common import arg, field_names, set_value, single_field
from dynamic_prompt.core.modifier.completion import rank
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.forms.base import InstructionForm, Stub, StubKind
from dynamic_prompt.core.modifier.forms.tone import tone_value
from dynamic_prompt.core.modifier.matching import CASELESS, split_pair, unquote
from dynamic_prompt.core.modifier.messages import clip, listing
from dynamic_prompt.core.modifier.sections import Outline

_SET = re.compile(r"set\s+(?:the\s+)?(?=\S)", CASELESS)
_STUB = re.compile(r"set\b", CASELESS)
_TYPED = re.compile(r"set (?:the )?(?P<q>.*)")


def _match(piece: str) -> Edit | None:
    """``set Name to value`` / ``set Name: value``; ``set *Tone* to x`` is a tone change."""
    m = _SET.match(piece)
    if not m:
        return None
    rest = piece[m.end() :]
    pair = split_pair(rest, "to")
    if pair is None and re.search(r"[:=]", rest):
        name, _, value = re.split(r"([:=])", rest, maxsplit=1)
        pair = (name, unquote(value))
    if pair is None:
        return None
    name, value = unquote(pair[0]).strip(" *_:"), pair[1]
    if not name or not value.strip():
        return None
    if name.lower() == "tone":
        return Edit("set_tone", {"tone": tone_value(value)}, piece)
    return Edit("set_field", {"field": name, "value": value}, piece)


def set_field(doc: Lines, args: Mapping[str, str]) -> None:
    """Rewrite the one ``Field:`` line with a value; an absent field is an error that lists the fields."""
    name = arg(args, "field")
    value = arg(args, "value")
    out = Outline(doc)
    field = single_field(out, name, with_value=True)
    if field is None:
        names = field_names(out)
        raise InstructionError(
            f"No field '{clip(name)}' in the prompt. Fields: {listing(names) or 'none'}.",
            suggestions=names[:10],
        )
    set_value(out, field, value)


def _already(args: Mapping[str, str]) -> str:
    return f"{args.get('field', '')} is already {args.get('value', '')}"


def _complete(typed: str, text: str | None) -> list[str] | None:
    """The prompt's own fields (tone first), as ``set <Field> to <value>``."""
    if text is None:
        return None
    m = _TYPED.fullmatch(typed)
    if not m or " to " in m.group("q"):
        return None
    names = ["tone", *(n for n in field_names(Outline(Lines(text))) if n.lower() != "tone")]
    return [f"set {n} to <value>" if n != "tone" else "set tone to <tone>" for n in rank(m.group("q"), names)]


FORM = InstructionForm(
    op="set_field",
    forms=("set <Field> to <value>",),
    description="rewrites a `Field: value` line",
    example="set Format to plain text",
    match=_match,
    apply=set_field,
    noop_reason=_already,
    stubs=(Stub(_STUB, "Write set <Field> to <value>.", StubKind.START, "set Language"),),
    complete=_complete,
)
