"""Turning structured edits into new prompt text.

:func:`apply_edits` splits the text once, runs each edit on the lines and
joins once. An edit that cannot apply raises :class:`InstructionError` before
anything is returned, so a caller never sees a half-applied instruction. Each
edit touches only the lines it targets (plus the renumbering after a removed
rule, and the heading and blank lines a new section needs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier import notes, rules_edit
from dynamic_prompt.core.modifier.common import (
    append_block,
    arg,
    bullet_of,
    field_names,
    set_value,
    single_field,
)
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.messages import capitalize, clip, listing
from dynamic_prompt.core.modifier.parser import parse
from dynamic_prompt.core.modifier.rule_blocks import ITEM, PLAIN_RULES
from dynamic_prompt.core.modifier.sections import Outline, norm

Handler = Callable[[Lines, Mapping[str, str]], None]

EDIT_BUDGET = 10_000_000
"""The most work units one call may spend: each edit reads the whole prompt again, at a
cost of one unit per character plus LINE_WEIGHT per line (about 12 million units a second).

A 4 MB prompt takes one edit at a time, a 1 MB one of 20,000 lines six, a 10 KB one
of 200 lines 600. One edit alone is always allowed (each is bounded on its own)."""
LINE_WEIGHT = 30
MAX_GROWTH = 4 * 1024 * 1024
"""The most characters one replace may add (``replace "e" with <10,000 characters>`` on a
4 MB prompt would otherwise build a 4 GB text before anything could refuse it)."""
_SHOWN_LINES = 6


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply ``edits`` in order to ``text`` and return the new text.

    Raises:
        InstructionError: an edit cannot apply (no or several matching rules,
            absent replace target or field, unknown op, bad arguments), or
            the edits together would cost more than :data:`EDIT_BUDGET`.
            Nothing is applied then.
    """
    doc = Lines(text)
    if len(edits) > 1 and len(edits) * _cost(doc) > EDIT_BUDGET:
        raise _too_much(text, len(edits), EDIT_BUDGET // _cost(doc))
    spent = 0
    for done, edit in enumerate(edits):
        handler = _HANDLERS.get(edit.op)
        if handler is None:
            raise InstructionError(f"Unknown edit '{clip(str(edit.op))}'.", suggestions=sorted(_HANDLERS))
        # Counted again on the text as it is now: replaces may have made it bigger.
        spent += _cost(doc)
        if done and spent > EDIT_BUDGET:
            raise _too_much(text, len(edits), done)
        handler(doc, edit.args)
    return doc.text()


def _cost(doc: Lines) -> int:
    """What one edit costs on ``doc``, in work units (see :data:`EDIT_BUDGET`)."""
    return len(doc.text()) + LINE_WEIGHT * len(doc)


def _too_much(text: str, edits: int, fit: int) -> InstructionError:
    """The refusal: ``fit`` is how many of the edits the budget allows."""
    doc = Lines(text)
    at_once = max(1, fit)
    return InstructionError(
        f"{edits:,} edits at once on a prompt this big ({len(text):,} characters, {len(doc):,} lines) "
        f"is too much work; send at most {at_once:,} at a time."
    )


def _set_tone(doc: Lines, args: Mapping[str, str]) -> None:
    tone = capitalize(arg(args, "tone"))
    out = Outline(doc)
    field = single_field(out, "tone")
    if field is not None:
        set_value(doc, field, tone)
        return
    index, prefix = _tone_spot(out)
    doc.insert(index, [f"{prefix}Tone: {tone}"])


def _tone_spot(out: Outline) -> tuple[int, str]:
    """Where a missing Tone line goes: top of a personality/style section, else
    after the first heading's first paragraph (or the first paragraph)."""
    doc = out.doc
    section = out.find_heading(("personality", "persona", "style", "tone", "voice", "character"))
    if section is not None:
        start, end = out.body(section)
        if start < end and not doc.content(start).strip():
            start += 1
        return start, bullet_of(doc.content(start)) if start < end else ""
    n = len(doc)
    i = 0
    while i < n and not doc.content(i).strip():
        i += 1
    if i < n and out.is_heading(i):
        j = i + 1
        while j < n and not doc.content(j).strip():
            j += 1
        if j >= n or out.is_heading(j) or out.is_terminator(j) or out.in_code(j):
            return i + 1, ""
        i = j
    start = i
    while i < n and doc.content(i).strip() and not out.in_code(i) and not out.is_terminator(i):
        if ITEM.match(doc.content(i)) or PLAIN_RULES.fullmatch(doc.content(i)):
            return start, ""  # the first paragraph is a list: go above it, not into it
        i += 1
        if i < n and out.is_heading(i):
            break
    return i, ""


def _set_field(doc: Lines, args: Mapping[str, str]) -> None:
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
    set_value(doc, field, value)


def _replace(doc: Lines, args: Mapping[str, str]) -> None:
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
    # ``old`` is one line, so the whole text holds exactly the copies the lines do.
    growth = count * (len(new) - len(old))
    if growth > MAX_GROWTH:
        raise InstructionError(
            f"Replacing {count:,} copies of '{clip(old)}' would add {growth:,} characters to the prompt; "
            f"one instruction may add at most {MAX_GROWTH:,}."
        )
    for i, line in enumerate(doc.raw_lines()):
        if old in line:
            doc.set(i, doc.content(i).replace(old, new))


def _remove_line(doc: Lines, args: Mapping[str, str]) -> None:
    needle = arg(args, "text")
    out = Outline(doc)
    hits = out.lines_with(needle.lower(), code=True)
    if not hits:
        raise InstructionError(f"No line contains '{clip(needle)}'.")
    if len(hits) > 1:
        shown = [f"{i + 1}: {doc.content(i).strip()}" for i in hits[:_SHOWN_LINES]]
        picks = _line_picks(doc, hits[:_SHOWN_LINES])
        how = f'say which, e.g. "{picks[0]}"' if picks else "say which with more of the line's words"
        raise InstructionError(
            f"'{clip(needle)}' is on {len(hits):,} lines: {listing(shown, _SHOWN_LINES, total=len(hits))}; {how}.",
            suggestions=picks,
        )
    doc.delete(hits[0], hits[0] + 1)


def _line_picks(doc: Lines, hits: Sequence[int]) -> list[str]:
    """``remove line containing <the line>`` for each line whose whole text is on no other line."""
    low = doc.text().lower()
    picks = []
    for i in hits:
        line = doc.content(i).strip()
        # One copy in the whole text: only this line contains it (a line is never split).
        if not line or len(line) > 80 or low.count(line.lower()) != 1:
            continue
        for instruction in (f"remove line containing {line}", f'remove line containing "{line}"'):
            try:
                edits = parse(instruction)
            except InstructionError:
                continue
            if len(edits) == 1 and edits[0].op == "remove_line" and edits[0].args.get("text") == line:
                picks.append(instruction)
                break
    return picks


def _add_section(doc: Lines, args: Mapping[str, str]) -> None:
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


_HANDLERS: dict[str, Handler] = {
    "set_tone": _set_tone,
    "set_field": _set_field,
    "replace": _replace,
    "remove_line": _remove_line,
    "add_section": _add_section,
    "add_rule": rules_edit.add_rule,
    "remove_rule": rules_edit.remove_rule,
    "set_sentences": notes.set_sentences,
    "verbosity": notes.verbosity,
    "trait": notes.trait,
}
