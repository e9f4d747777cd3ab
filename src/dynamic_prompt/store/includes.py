"""Refusing an include cycle before it is written (``core/templates.py`` has the rules).

A write whose text includes other prompts is checked first: the parts it reaches are
read from the server (production, a label's version, or a pinned version), as far as
:data:`~dynamic_prompt.core.templates.MAX_INCLUDE_DEPTH`, and a chain that comes back to
a part already on it is refused in one line naming it; nothing is written. A text
without ``{% include`` costs nothing here, and a text that is not a valid template is
not refused (it is still text; rendering it says what is wrong).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from dynamic_prompt.core.errors import DynamicPromptError
from dynamic_prompt.core.includes import (
    MAX_INCLUDE_DEPTH,
    TemplateError,
    cycle_message,
    find_cycle,
    parse_ref,
)

_INCLUDE = re.compile(r"\{%-?\s*include\b")

Fetch = Callable[[str], Awaitable[str | None]]
"""A part's text as the server holds it now (``None``: no such prompt, label or version)."""


_NAMED = re.compile(r"""\{%-?\s*include\s+(["'])([^"'\n]{1,200})\1""")


def named_includes(text: str) -> tuple[str, ...]:
    """What ``text``'s include tags name, found by a scan (no parse): fast on any text.

    It may also count an include inside a ``{% raw %}`` block or a comment; for "which
    prompts use this one" counting one too many is the safe side.
    """
    if "include" not in text:
        return ()
    return tuple(dict.fromkeys(found.group(2).strip() for found in _NAMED.finditer(text)))


def includes_of(text: str) -> tuple[str, ...]:
    """The parts ``text`` includes (``()`` when it includes none, or is no valid template)."""
    if not _INCLUDE.search(text):
        return ()
    from dynamic_prompt.core.templates import Template  # jinja2 loads only for a text with an include

    try:
        return Template.parse(text).includes
    except TemplateError:
        return ()


async def gather_parts(ref: str, text: str, fetch: Fetch) -> dict[str, str | None]:
    """Part ``ref`` (whose text is ``text``) and every part it reaches, read through ``fetch``.

    Breadth first, as deep as :data:`MAX_INCLUDE_DEPTH` allows and one more (so a chain past
    the limit is seen), each part read once: what a synchronous renderer (the CLI's, MCP's)
    needs up front, and the graph :func:`check_cycle` walks.
    """
    parts: dict[str, str | None] = {ref: text}
    frontier = [text]
    for _ in range(MAX_INCLUDE_DEPTH + 1):
        refs = [str(parse_ref(r)) for body in frontier for r in includes_of(body)]
        frontier = []
        for part in refs:
            if part not in parts:
                body = parts[part] = await fetch(part)
                if body is not None:
                    frontier.append(body)
        if not frontier:
            break
    return parts


async def check_cycle(ref: str, text: str, fetch: Fetch) -> None:
    """Refuse (:class:`TemplateError`) writing ``text`` as part ``ref`` if that makes an include cycle."""
    if not includes_of(text):
        return

    async def readable(part: str) -> str | None:
        try:
            return await fetch(part)
        except DynamicPromptError:
            return None  # a part that cannot be read now includes nothing we can see

    parts = await gather_parts(ref, text, readable)
    chain = find_cycle(ref, lambda part: includes_of(parts[part] or "") if part in parts else ())
    if chain is not None:
        raise TemplateError(cycle_message(chain) + " Nothing was written.")
