"""Make text from Redis safe to show on a terminal (pure).

Anyone can write a prompt: it may hold ANSI/OSC escape sequences (including
OSC 52 clipboard writes), other control characters, or bidi overrides that
reorder what a person sees. Shown on a terminal, every such character becomes
a visible, inert stand-in; newlines and tabs stay as they are.
"""

from __future__ import annotations

import re

# C0 controls except \t and \n, DEL, C1 controls, bidi embeddings/overrides/isolates,
# zero-width characters and the BOM, line/paragraph separators.
# A carriage return is harmless (and common) as part of a CRLF line end.
_UNSAFE = re.compile(
    "\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)

_NAMES = {"\x1b": "␛", "\r": "␍", "\x00": "␀", "\x7f": "␡"}


def _stand_in(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in _NAMES:
        return _NAMES[ch]
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control picture" of that character
    return f"<U+{code:04X}>"


def inert(text: str) -> str:
    """``text`` with every control, bidi and zero-width character made visible and harmless.

    >>> inert("a\\x1b[31mred")
    'a␛[31mred'
    >>> inert("x\\u202ey")
    'x<U+202E>y'
    """
    return _UNSAFE.sub(_stand_in, text)


def has_unsafe(text: str) -> bool:
    """True when :func:`inert` would change ``text``."""
    return _UNSAFE.search(text) is not None
