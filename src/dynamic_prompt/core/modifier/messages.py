"""Small helpers that keep error messages one short, readable line."""

from __future__ import annotations

from collections.abc import Sequence


def clip(text: str, limit: int = 60) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def listing(items: Sequence[str], limit: int = 10, total: int | None = None) -> str:
    """``a, b, c`` (at most ``limit`` items, then ``and N more``).

    ``total`` is how many there are when ``items`` holds only the first few.
    """
    shown = [clip(item) for item in items[:limit]]
    rest = (len(items) if total is None else total) - len(shown)
    if rest > 0:
        shown.append(f"and {rest:,} more")
    return ", ".join(shown)


def capitalize(text: str) -> str:
    """``text`` with its first letter upper case and the rest untouched.

    A first word that already has capitals of its own (``iOS``, ``eBay``,
    ``macOS``) is the user's spelling and is kept as typed.
    """
    first = text.split(maxsplit=1)[0] if text.strip() else text
    if first != first.lower():
        return text
    return text[:1].upper() + text[1:]
