"""Checks and measures of text about to be stored (pure).

One definition of each: what a storable prompt is (:func:`validate_text`), how
bytes from a file or URL become text (:func:`decode_bytes`), what an
author name may be (:func:`validate_author`), how many lines a text has
(:func:`line_count`, the diff's own reading), and how a size reads for a person.
"""

from __future__ import annotations

import unicodedata

from dynamic_prompt.core.errors import InvalidTextError, SourceError

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
"""The largest prompt accepted by default (UTF-8 bytes)."""

MAX_AUTHOR_CHARS = 100

MAX_NOTE_CHARS = 500
"""The longest change note: one line a person reads in the history."""

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\xff\xfe", b"\xfe\xff")


def human_size(n: int) -> str:
    """A byte count for a person: exact, plus a readable unit when large."""
    if n < 1024:
        return f"{n:,} bytes"
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit} ({n:,} bytes)"
    raise AssertionError("unreachable")


def validate_text(text: str, *, max_bytes: int = DEFAULT_MAX_BYTES, what: str = "Prompt text") -> str:
    """Return ``text`` if it can be stored as a prompt, else raise InvalidTextError.

    The one check for any text about to be stored: a ``str``, UTF-8 encodable
    (no lone surrogates), at most ``max_bytes`` once encoded, not empty or
    whitespace only, and without NUL characters. ``what`` names the text in
    the message ("File /x/p.md is empty.").
    """
    if not isinstance(text, str):
        raise InvalidTextError(f"{what} must be a string, not {type(text).__name__}.")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidTextError(
            f"{what} is not valid Unicode (a lone surrogate at character {exc.start})."
        ) from None
    if size > max_bytes:
        raise InvalidTextError(f"{what} is {human_size(size)}, over the {human_size(max_bytes)} limit.")
    if not text:
        raise InvalidTextError(f"{what} is empty.")
    if text.isspace():
        raise InvalidTextError(f"{what} is only whitespace.")
    nul = text.find("\x00")
    if nul >= 0:
        raise InvalidTextError(
            f"{what} contains a NUL character (at character {nul}); prompts must be plain text."
        )
    return text


def decode_bytes(data: bytes, *, what: str, max_bytes: int) -> str:
    """Decode ``data`` as strict UTF-8 text (a UTF-8 BOM is dropped).

    Raises SourceError naming ``what`` when ``data`` is over ``max_bytes``, is
    UTF-16/32, holds binary data (a NUL byte) or is not valid UTF-8, giving
    the byte offset of the first offending byte. Emptiness is not checked
    here: :func:`validate_text` does that for every source alike.
    """
    if len(data) > max_bytes:
        raise SourceError(f"{what} is over the {human_size(max_bytes)} limit.")
    if data.startswith(_UTF16_32_BOMS):
        raise SourceError(f"{what} is UTF-16 or UTF-32 text; save it as UTF-8.")
    offset = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    body = bytes(data[offset:])
    nul = body.find(b"\x00")
    try:
        text = body.decode("utf-8")
        bad = -1
    except UnicodeDecodeError as exc:
        bad = exc.start
    if nul >= 0:
        # A NUL byte means binary; report whichever bad byte comes first.
        first = nul if bad < 0 else min(nul, bad)
        raise SourceError(f"{what} is not UTF-8 text (binary data at byte {first + offset}).")
    if bad >= 0:
        raise SourceError(
            f"{what} is not UTF-8 text (byte 0x{body[bad]:02X} at byte {bad + offset} "
            "is not valid UTF-8; save it as UTF-8)."
        )
    return text


def validate_author(name: object) -> str:
    """Return ``name`` if it can be recorded as the author of a change, else one clear line.

    Authors go into every changelog entry, the gem's ``user_id`` included, and are
    shown in terminals: so text (not bytes a shell could not decode, which arrive as
    lone surrogates), no control characters, and at most 100 characters.
    """
    if not isinstance(name, str):
        raise InvalidTextError(f"The author must be text, not {type(name).__name__}.")
    shown = name.encode("unicode_escape").decode("ascii")[:60]
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidTextError(
            f"The author {shown!r} is not valid text (bytes that are not UTF-8?); use a plain name."
        ) from None
    if not name.strip():
        raise InvalidTextError("The author is empty; give a name, or leave it out for your OS user.")
    if len(name) > MAX_AUTHOR_CHARS:
        raise InvalidTextError(f"The author is {len(name)} characters long; the limit is {MAX_AUTHOR_CHARS}.")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise InvalidTextError(f"The author {shown!r} contains control characters; use a plain name.")
    return name


def validate_note(note: object) -> str:
    """Return ``note`` (a change's one-line reason, "" for none) if it can be recorded, else one clear line.

    Notes go into the changelog and are shown in terminals and history lines, so, like
    authors: text that is valid UTF-8, one line without control characters, and at most
    :data:`MAX_NOTE_CHARS` characters. Surrounding spaces are dropped; a note of only
    spaces is no note.
    """
    if not isinstance(note, str):
        raise InvalidTextError(f"The note must be text, not {type(note).__name__}.")
    shown = note.encode("unicode_escape").decode("ascii")[:60]
    try:
        note.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidTextError(
            f"The note {shown!r} is not valid text (bytes that are not UTF-8?); nothing was written."
        ) from None
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidTextError(
            f"The note is {len(note)} characters long; the limit is {MAX_NOTE_CHARS}; nothing was written."
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in note):
        raise InvalidTextError(
            f"The note {shown!r} contains a line break or control characters; write it as one plain line."
        )
    return note


def line_count(text: str) -> int:
    """How many lines ``text`` has, the way the diff reads it: ``"a\\nb\\n"`` and ``"a\\nb"`` are 2."""
    if not text:
        return 0
    return text.count("\n") + (0 if text.endswith("\n") else 1)


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters a token for English prose)."""
    return (len(text) + 3) // 4
