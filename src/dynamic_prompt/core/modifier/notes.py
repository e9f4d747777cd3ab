"""Length, verbosity and trait edits: change the line that says it, else add one.

Each of these edits first looks for the line that already states the setting
(``Default: 3-4 sentences``, ``Verbosity: medium``, ``- Be more concise.``)
and changes it in place, so repeating or reversing an instruction never piles
up contradictory lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.modifier.common import append_block, arg, bullet_of, set_value, single_field
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.sections import Outline, norm

_NUMBER_WORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
_NUM = r"(?:\d{1,6}|" + _NUMBER_WORDS + r")"
# "3 sentences", "3-4 sentences", "three to four SENTENCES"
_SENTENCES = re.compile(
    r"\b" + _NUM + r"(?:[ \t]*(?:-|–|—|to)[ \t]*" + _NUM + r")?[ \t]+(?P<word>sentences?)\b",
    re.IGNORECASE,
)
_DEFAULT = re.compile(r"\bdefault\b", re.IGNORECASE)
TRAIT_NOTE = re.compile(r"(?P<pre>[ \t]*(?:[-*+][ \t]+)?)be[ \t]+(?P<dir>more|less)[ \t]+(?P<trait>\S.*)", re.IGNORECASE)
_SCALE = ("low", "medium", "high")
_SCALE_ALIASES = {"moderate": "medium", "normal": "medium", "balanced": "medium"}
_VERBOSITY_NOTES = {"more": "more detailed than default", "less": "briefer than default"}
# Headings of the section where length settings belong.
_STYLE_WORDS = ("style", "format", "formatting", "response", "responses", "output", "length", "answers")


def set_sentences(doc: Lines, args: Mapping[str, str]) -> None:
    """Set the default answer length: rewrite the line that states it, else add one."""
    raw = arg(args, "sentences")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise InstructionError("The default length must be a number of sentences from 1 to 1000.")
    n = int(raw)
    out = Outline(doc)
    changed = False
    for i in out.lines_with("sentence"):
        line = doc.content(i)
        defaults = [m.start() for m in _DEFAULT.finditer(line)]
        if not defaults:
            field = out.field_at(i)
            if field is None or "length" not in norm(field.name):
                continue
            defaults = [field.value_at]
        matches = list(_SENTENCES.finditer(line))
        if not matches:
            continue
        # "Never more than 8 sentences; 3 by default": change the one next to "default".
        m = min(matches, key=lambda m: min(abs(m.start() - d) for d in defaults))
        doc.set(i, line[: m.start()] + f"{n} {_sentence_word(m.group('word'), n)}" + line[m.end() :])
        changed = True
    if not changed:
        _add_setting(doc, out, f"Default: {n} {_sentence_word('sentences', n)}")


def _sentence_word(like: str, n: int) -> str:
    """``sentence``/``sentences`` for ``n``, in the casing of ``like``."""
    word = "sentence" if n == 1 else "sentences"
    if like.isupper():
        return word.upper()
    return word.capitalize() if like[:1].isupper() else word


def verbosity(doc: Lines, args: Mapping[str, str]) -> None:
    """Step a ``Verbosity:`` line (low/medium/high), else set a single verbosity note."""
    direction = arg(args, "direction").lower()
    if direction not in _VERBOSITY_NOTES:
        raise InstructionError("Verbosity goes 'more' or 'less'.")
    out = Outline(doc)
    field = single_field(out, "verbosity")
    if field is None:
        _add_setting(doc, out, f"Verbosity: {_VERBOSITY_NOTES[direction]}")
        return
    value = field.value.strip(" .*_")
    level = _SCALE_ALIASES.get(value.lower(), value.lower())
    if level in _SCALE:
        step = 1 if direction == "more" else -1
        new = _SCALE[max(0, min(len(_SCALE) - 1, _SCALE.index(level) + step))]
        if new == level:
            return  # already at the end of the scale: reported as a no-op
        new = new.upper() if value.isupper() else new.capitalize() if value[:1].isupper() else new
    else:
        new = _VERBOSITY_NOTES[direction]
    set_value(out, field, new)


def trait(doc: Lines, args: Mapping[str, str]) -> None:
    """Add ``- Be more X.``, or flip an existing ``Be less X.`` note instead of contradicting it."""
    direction = arg(args, "direction").lower()
    if direction not in ("more", "less"):
        raise InstructionError("A trait goes 'more' or 'less'.")
    name = arg(args, "trait").rstrip(" .!")
    if not name:
        raise InstructionError("Say which trait.")
    key = " ".join(name.lower().split())
    note = f"Be {direction} {name}."
    out = Outline(doc)
    for i in out.lines_with("be "):
        m = TRAIT_NOTE.fullmatch(doc.content(i))
        if not m or " ".join(m.group("trait").lower().split()).rstrip(" .!") != key:
            continue
        if m.group("dir").lower() != direction:
            doc.set(i, m.group("pre") + note)
        return  # same note already there: a no-op, reported by modify_text
    section = out.find_heading(("adjustments", "adjustment"))
    if section is None:
        if out.uses_blocks():
            append_block(doc, ["▛///▞ ADJUSTMENTS", f"- {note}", ":: ∎"])
        else:
            append_block(doc, ["## Adjustments", "", f"- {note}"])
        return
    start, end = out.body(section)
    last = out.last_content(start, end)
    if last is None:
        doc.insert(out.tags.past_tags(start), [f"- {note}"])
    else:
        at = out.tags.level_of(section.index, last + 1, doc)
        doc.insert(at, [f"{bullet_of(doc.content(last)) or '- '}{note}"])


def _add_setting(doc: Lines, out: Outline, line: str) -> None:
    """Add a setting line next to the other settings.

    In a style/format section it goes after the section's last ``Name: value``
    line (else after its last line); otherwise after the run of setting lines
    that holds ``Tone:``; otherwise at the end. In a template, lines of tags only
    do not end the run, and the new line goes at the template level of the
    section's heading (of the prompt's top level, for the run): past the end tag
    of a block the settings end inside, so the setting always applies.
    """
    section = out.find_heading(_STYLE_WORDS)
    if section is not None:
        start, end = out.body(section)
        last = out.last_content(start, end)
        settings = [i for i in range(start, end) if out.field_at(i) is not None and not out.in_code(i)]
        anchor = settings[-1] if settings else last
        if anchor is None:
            doc.insert(out.tags.past_tags(start), [line])
        else:
            at = out.tags.level_of(section.index, anchor + 1, doc)
            doc.insert(at, [bullet_of(doc.content(anchor)) + line])
        return
    tones = [f for f in out.fields("tone") if norm(f.name) == "tone"]
    if tones:
        anchor = tones[0].index
        while (after := _next_setting(out, anchor)) is not None:
            anchor = after
        doc.insert(out.tags.level_of(-1, anchor + 1, doc), [bullet_of(doc.content(anchor)) + line])
        return
    append_block(doc, [line])


def _next_setting(out: Outline, index: int) -> int | None:
    """The setting line right after line ``index`` (lines of template tags only between), or None."""
    i = index + 1
    while out.is_tag_line(i):
        i += 1
    if i < len(out.doc) and out.field_at(i) is not None and not out.in_code(i):
        return i
    return None
