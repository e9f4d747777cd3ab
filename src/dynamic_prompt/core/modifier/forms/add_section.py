"""``add section <Title>: <text>``: append a section in the prompt's own style."""

from __future__ import annotations

import re
from collections.abc import Mapping

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier.common import append_block, arg
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.forms.base import InstructionForm, Stub, StubKind
from dynamic_prompt.core.modifier.matching import CASELESS, OPEN_CLOSE, split_pair, unquote
from dynamic_prompt.core.modifier.messages import clip
from dynamic_prompt.core.modifier.sections import Outline, norm

_SECTION = re.compile(r"add\s+(?:a\s+)?(?:new\s+)?section\b(?:\s*:)?\s*", CASELESS)
_STUB = re.compile(r"add\s+(?:a\s+)?(?:new\s+)?section\s*:?", CASELESS)
_STUB_START = re.compile(r"add\s+(?:a\s+)?(?:new\s+)?section\b", CASELESS)


def _match(piece: str) -> Edit | None:
    """``add section Title: text``, ``add section "Title" with text`` or ``add section Title with text``."""
    m = _SECTION.match(piece)
    if not m:
        return None
    rest = piece[m.end() :]
    title = body = None
    closer = OPEN_CLOSE.get(rest[:1])
    end = rest.find(closer, 1) if closer else -1
    if closer and end > 0:
        after = re.match(r"\s*(?::|with\b|-)\s*", rest[end + 1 :], CASELESS)
        if after:
            title, body = rest[1:end], rest[end + 1 + after.end() :]
    elif ":" in rest:
        title, _, body = rest.partition(":")
    else:
        pair = split_pair(rest, "with")
        if pair:
            title, body = pair
    if title is None or body is None or not title.strip(" #") or not unquote(body):
        return None
    return Edit("add_section", {"title": title.strip(" #"), "text": unquote(body)}, piece)


def add_section(doc: Lines, args: Mapping[str, str]) -> None:
    """Append ``## Title`` (or a ``▛///▞ TITLE … :: ∎`` block) with the text.

    A section with that title already there is an error.
    """
    title = arg(args, "title").strip("# ")
    raw_text = args.get("text")
    if not isinstance(raw_text, str) or not raw_text.strip():
        raise InstructionError("The new section needs some text.")
    # Other code may pass several lines of text; instructions never do.
    body = [line.rstrip() for line in raw_text.strip().splitlines()]
    if not title:
        raise InstructionError("The new section needs a title.")
    out = Outline(doc)
    if any(h.title == norm(title) for h in out.headings):
        raise InstructionError(f"There is already a section '{clip(title)}'.")
    if out.uses_blocks():
        append_block(doc, [f"▛///▞ {title.upper()}", *body, ":: ∎"])
    else:
        append_block(doc, [f"## {title}", "", *body])


FORM = InstructionForm(
    op="add_section",
    forms=("add section <Title>: <text>",),
    description="appends a section in the prompt's own style",
    example="add section Privacy: Never share personal data.",
    match=_match,
    apply=add_section,
    stubs=(
        Stub(_STUB, "Say the section's title and text.", StubKind.WHOLE, "add section:"),
        Stub(_STUB_START, "Write add section Title: text.", StubKind.START, "add section Title"),
    ),
)
