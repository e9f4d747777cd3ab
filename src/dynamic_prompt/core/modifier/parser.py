"""Instruction text -> structured :class:`Edit` values.

An instruction is one or more pieces separated by ``;`` or new lines (a ``;``
inside double quotes belongs to the quoted text). Each piece matches one known
form; verbs are case-insensitive and the user's own words keep their casing.
Every pattern is anchored at the start of a piece and has at most one
unbounded run before a literal, so a 10,000-character instruction is parsed in
linear time.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rapidfuzz import fuzz, utils

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier.messages import clip

MAX_LENGTH = 10_000

KNOWN_FORMS: tuple[str, ...] = (
    "change tone to <tone>",
    "set tone to <tone>",
    "add rule: <text>",
    "remove rule about <topic>",
    "remove rule <n>",
    "default <n> sentences",
    "make more verbose",
    "make less verbose",
    "be more <trait>",
    "be less <trait>",
    'replace "<old>" with "<new>"',
    "set <Field> to <value>",
    "remove line containing <text>",
    "add section <Title>: <text>",
)

_I = re.IGNORECASE
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_OPEN_CLOSE = {'"': '"', "'": "'", "“": "”", "‘": "’"}
_WORDS = {
    w: str(n)
    for n, w in enumerate(["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"], 1)
}
_N = r"(\d{1,9}|" + "|".join(_WORDS) + r")"

_TONE = re.compile(r"(?:change|set|make|switch)\s+(?:the\s+)?tone\s+(?:to\s+|=\s*|:\s*)(?P<v>\S.*)", _I)
_ADD_RULE = re.compile(r"add\s+(?:a\s+)?(?:new\s+)?rules?\b(?:\s*:)?\s*(?P<v>\S.*)", _I)
_REMOVE_LINE = re.compile(
    r"(?:remove|delete|drop)\s+(?:the\s+)?lines?\s+(?:that\s+contains?|containing|with|mentioning)\s+(?P<v>\S.*)",
    _I,
)
_REMOVE_RULE = re.compile(
    r"(?:remove|delete|drop)\s+(?:the\s+)?rules?\b(?:\s*(?:about|on|regarding|concerning|for)\b|\s*:)?\s*(?P<v>\S.*)",
    _I,
)
_RULE_NUMBER = re.compile(r"(?:number\s*|no\.?\s*|#)?(\d{1,9})\.?", _I)
_SENTENCES = (
    re.compile(
        r"(?:set\s+(?:the\s+)?)?default(?:\s+(?:response\s+)?length)?(?:\s+to\b|\s*[:=])?\s*" + _N + r"\s+sentences?\.?",
        _I,
    ),
    re.compile(r"(?:respond|answer|reply)\s+in\s+" + _N + r"\s+sentences?(?:\s+by\s+default)?\.?", _I),
)
_VERBOSE = re.compile(
    r"(?:(?:make|be)\s+(?:it\s+|(?:the\s+)?(?:answers|responses|replies|prompt)\s+)?)?(more|less)\s+verbose\.?", _I
)
_TRAIT = re.compile(r"be\s+(?:a\s+(?:bit|little)\s+|much\s+|slightly\s+)?(more|less)\s+(?P<v>\S.*)", _I)
_REPLACE = re.compile(r"replace\s+(?:all\s+)?", _I)
_CHANGE_QUOTED = re.compile(r"change\s+(?=[\"“'‘])", _I)
_SECTION = re.compile(r"add\s+(?:a\s+)?(?:new\s+)?section\b(?:\s*:)?\s*", _I)
_SET = re.compile(r"set\s+(?:the\s+)?(?=\S)", _I)

# Pieces that name a form but leave out its argument: a precise hint beats
# "unknown instruction".
_STUBS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"add\s+(?:a\s+)?(?:new\s+)?rules?\s*:?", _I), "Say the rule to add.", "add rule: <text>"),
    (
        re.compile(r"(?:remove|delete|drop)\s+(?:the\s+)?rules?(?:\s+(?:about|on|regarding|concerning|for))?\s*:?", _I),
        "Say which rule to remove.",
        "remove rule about <topic>",
    ),
    (re.compile(r"(?:change|set)\s+(?:the\s+)?tone(?:\s+to)?\s*:?", _I), "Say which tone.", "change tone to <tone>"),
    (re.compile(r"be\s+(?:more|less)", _I), "Say which trait.", "be more <trait>"),
    (re.compile(r"(?:remove|delete|drop)\s+(?:the\s+)?lines?(?:\s+containing)?", _I), "Say which line.",
     "remove line containing <text>"),
    (re.compile(r"add\s+(?:a\s+)?(?:new\s+)?section\s*:?", _I), "Say the section's title and text.",
     "add section <Title>: <text>"),
)
_STUB_PREFIXES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"replace\b", _I), 'Write replace "old" with "new".', 'replace "<old>" with "<new>"'),
    (re.compile(r"add\s+(?:a\s+)?(?:new\s+)?section\b", _I), "Write add section Title: text.",
     "add section <Title>: <text>"),
    (re.compile(r"set\b", _I), "Write set <Field> to <value>.", "set <Field> to <value>"),
    (re.compile(r"(?:default|respond\s+in)\b", _I), "Write default <n> sentences, with n a number.",
     "default <n> sentences"),
)


def parse(instruction: str) -> list[Edit]:
    """Turn an instruction into edits, one per ``;``- or line-separated piece.

    Raises:
        InstructionError: the instruction is empty, longer than 10,000
            characters, holds control characters, or has a piece that matches
            no known form (``suggestions`` then names the closest forms).
    """
    if not isinstance(instruction, str):
        raise InstructionError("The instruction must be text.")
    if not instruction.strip():
        raise InstructionError("The instruction is empty.")
    if len(instruction) > MAX_LENGTH:
        raise InstructionError(
            f"The instruction is too long ({len(instruction):,} characters; the limit is {MAX_LENGTH:,})."
        )
    if _CONTROL.search(instruction):
        raise InstructionError("The instruction contains control characters.")
    pieces = split_pieces(instruction)
    if not pieces:
        raise InstructionError("The instruction is empty.")
    return [parse_piece(piece) for piece in pieces]


def split_pieces(instruction: str) -> list[str]:
    """Split on new lines and on ``;`` outside double quotes; drop blank pieces."""
    pieces: list[str] = []
    for line in re.split(r"\r\n|\r|\n", instruction):
        start = i = 0
        unmatched: set[str] = set()  # quote marks with no closer later on this line
        while i < len(line):
            ch = line[i]
            if (ch == '"' or ch == "“") and ch not in unmatched:
                j = line.find(_OPEN_CLOSE[ch], i + 1)
                if j == -1:
                    unmatched.add(ch)
                else:
                    i = j
            elif ch == ";":
                pieces.append(line[start:i])
                start = i + 1
            i += 1
        pieces.append(line[start:])
    return [p.strip() for p in pieces if p.strip()]


def parse_piece(piece: str) -> Edit:
    """One piece (no ``;`` or new line) -> one edit."""
    for stub, message, form in _STUBS:
        if stub.fullmatch(piece):
            raise InstructionError(f"{message} Write {form}.", suggestions=[form])
    for matcher in _MATCHERS:
        edit = matcher(piece)
        if edit is not None:
            return edit
    for prefix, message, form in _STUB_PREFIXES:
        if prefix.match(piece):
            raise InstructionError(message, suggestions=[form])
    raise InstructionError(f"Unknown instruction '{clip(piece)}'.", suggestions=closest_forms(piece))


def closest_forms(text: str, limit: int = 3) -> list[str]:
    """The known forms nearest to ``text``, best first.

    A form's fixed words (before its first ``<placeholder>``) are compared with
    the same length of ``text`` (catches typos in the verb), and the whole form
    with rapidfuzz WRatio (catches reordered or partial wording).
    """
    low = " ".join(text[:200].lower().split())

    def score(form: str) -> float:
        fixed = form.split("<", 1)[0].lower()
        # The verb decides the form, so its score leads; WRatio breaks ties.
        return fuzz.ratio(low[: len(fixed)], fixed) + 0.5 * fuzz.WRatio(low, form, processor=utils.default_process)

    ranked = sorted(KNOWN_FORMS, key=lambda f: -score(f))
    return ranked[:limit]


def unquote(text: str) -> str:
    """``"x"`` -> ``x`` (also single and curly quotes); anything else stripped as is."""
    text = text.strip()
    if len(text) >= 2 and text[0] in _OPEN_CLOSE and text[-1] == _OPEN_CLOSE[text[0]]:
        return text[1:-1]
    return text


def split_pair(rest: str, sep: str) -> tuple[str, str] | None:
    """``"A" with "B"`` / ``A with B`` -> (A, B); quoted A may contain the separator."""
    closer = _OPEN_CLOSE.get(rest[:1])
    if closer is not None:
        m = re.compile(re.escape(closer) + r"\s*" + sep + r"\b\s*", _I).search(rest, 1)
        if m:
            return rest[1 : m.start()], unquote(rest[m.end() :])
    # (?<!\s) starts the match at the beginning of a run of spaces: one try per run.
    m = re.compile(r"(?<!\s)\s+" + sep + r"\s+", _I).search(rest)
    if not m or not rest[: m.start()].strip():
        return None
    return rest[: m.start()].strip(), unquote(rest[m.end() :])


def _one(op: str, pattern: re.Pattern[str], key: str, clean: Callable[[str], str] = unquote) -> Callable[[str], Edit | None]:
    def match(piece: str) -> Edit | None:
        m = pattern.fullmatch(piece)
        if not m:
            return None
        value = clean(m.group("v"))
        if not value.strip():
            raise InstructionError(f"The instruction '{clip(piece)}' has an empty value.")
        return Edit(op, {key: value}, piece)

    return match


def _tone_value(text: str) -> str:
    return unquote(text.strip().rstrip(".!")).strip()


def _remove_rule(piece: str) -> Edit | None:
    m = _REMOVE_RULE.fullmatch(piece)
    if not m:
        return None
    topic = unquote(m.group("v"))
    number = _RULE_NUMBER.fullmatch(topic.strip())
    if number:
        return Edit("remove_rule", {"number": number.group(1)}, piece)
    return Edit("remove_rule", {"about": topic}, piece)


def _sentences(piece: str) -> Edit | None:
    for pattern in _SENTENCES:
        m = pattern.fullmatch(piece)
        if m:
            raw = m.group(1).lower()
            return Edit("set_sentences", {"sentences": _WORDS.get(raw, raw)}, piece)
    return None


def _verbosity(piece: str) -> Edit | None:
    m = _VERBOSE.fullmatch(piece)
    return Edit("verbosity", {"direction": m.group(1).lower()}, piece) if m else None


def _trait(piece: str) -> Edit | None:
    m = _TRAIT.fullmatch(piece)
    if not m:
        return None
    name = unquote(m.group("v").strip().rstrip(".!")).strip()
    direction = m.group(1).lower()
    if name.lower() == "verbose":
        return Edit("verbosity", {"direction": direction}, piece)
    if not name:
        raise InstructionError("Say which trait.", suggestions=["be more <trait>"])
    return Edit("trait", {"direction": direction, "trait": name}, piece)


def _replace(piece: str) -> Edit | None:
    m = _REPLACE.match(piece) or _CHANGE_QUOTED.match(piece)
    if not m:
        return None
    pair = split_pair(piece[m.end() :], "with" if m.re is _REPLACE else "to")
    if pair is None:
        return None
    old, new = pair
    if not old:
        raise InstructionError("Say what to replace.", suggestions=['replace "<old>" with "<new>"'])
    return Edit("replace", {"old": old, "new": new}, piece)


def _section(piece: str) -> Edit | None:
    m = _SECTION.match(piece)
    if not m:
        return None
    rest = piece[m.end() :]
    title = body = None
    closer = _OPEN_CLOSE.get(rest[:1])
    end = rest.find(closer, 1) if closer else -1
    if closer and end > 0:
        after = re.match(r"\s*(?::|with\b|-)\s*", rest[end + 1 :], _I)
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


def _set_field(piece: str) -> Edit | None:
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
        return Edit("set_tone", {"tone": _tone_value(value)}, piece)
    return Edit("set_field", {"field": name, "value": value}, piece)


_MATCHERS: tuple[Callable[[str], Edit | None], ...] = (
    _one("set_tone", _TONE, "tone", _tone_value),
    _one("add_rule", _ADD_RULE, "rule"),
    _one("remove_line", _REMOVE_LINE, "text"),
    _remove_rule,
    _sentences,
    _verbosity,
    _trait,
    _replace,
    _section,
    _set_field,
)
