"""What a template includes, as data (pure, and no jinja2: the store checks writes with it).

An include names a prompt, optionally at a label or a kept version: ``safety``,
``safety@staging``, ``safety@v3``. :func:`find_cycle` walks what parts include, up to
:data:`MAX_INCLUDE_DEPTH`, and names a chain that comes back on itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from dynamic_prompt.core.errors import DynamicPromptError


class TemplateError(DynamicPromptError):
    """A template that does not parse, or a render that cannot complete: one line, nothing written."""


MAX_INCLUDE_DEPTH = 8
"""Includes of includes this deep at most (a deeper chain is refused, as a cycle is)."""

_REF = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,63})(?:@(?P<at>[a-z0-9][a-z0-9._-]{0,31}))?\Z")


@dataclass(frozen=True)
class PartRef:
    """What an include names: a prompt, at a label (``production`` by default) or at a version."""

    name: str
    label: str = "production"
    version: int | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@v{self.version}"
        return self.name if self.label == "production" else f"{self.name}@{self.label}"


def parse_ref(ref: str) -> PartRef:
    """``safety``, ``safety@staging`` or ``safety@v3``; :class:`TemplateError` for anything else."""
    found = _REF.match(ref.strip())
    if found is None:
        raise TemplateError(f"Bad include {ref!r}: name a prompt, optionally @label or @vN (\"safety@staging\").")
    at = found.group("at")
    if at and re.fullmatch(r"v[0-9]{1,18}", at) and int(at[1:]) > 0:
        return PartRef(found.group("name"), "production", int(at[1:]))
    return PartRef(found.group("name"), at or "production")


def find_cycle(start: str, includes_of: Callable[[str], Sequence[str]]) -> list[str] | None:
    """A chain of includes from ``start`` back to a part already on it, or one deeper than the limit.

    ``includes_of(ref)`` says what the part ``ref`` includes (``()`` for a missing part).
    Returns the chain (``["a", "b", "a"]``) or ``None``.
    """
    path: list[str] = []

    def walk(ref: str) -> list[str] | None:
        if ref in path:
            return [*path[path.index(ref):], ref]
        if len(path) > MAX_INCLUDE_DEPTH:
            return [*path, ref]
        path.append(ref)
        for child in includes_of(ref):
            found = walk(str(parse_ref(child)))
            if found is not None:
                return found
        path.pop()
        return None

    return walk(start)


def cycle_message(chain: list[str]) -> str:
    """The one line that refuses ``chain`` (a cycle, or a chain past the depth limit)."""
    if chain[0] == chain[-1]:
        return f"Include cycle: {' -> '.join(chain)}."
    return f"Includes nest deeper than {MAX_INCLUDE_DEPTH}: {' -> '.join(chain)}."




def dependents_of(name: str, includes: Mapping[str, Sequence[str]]) -> list[str]:
    """The prompts whose render uses prompt ``name``: those that include it, and those that include them.

    ``includes`` maps each prompt's name to what its text includes (as written: ``safety``,
    ``safety@staging``...); any label or version of ``name`` counts. Sorted, ``name`` left out.
    """
    users: dict[str, set[str]] = {}
    for prompt, refs in includes.items():
        for ref in refs:
            try:
                users.setdefault(parse_ref(ref).name, set()).add(prompt)
            except TemplateError:
                continue  # another program's junk include names nothing
    found: set[str] = set()
    frontier = [name]
    while frontier:
        frontier = [u for part in frontier for u in users.get(part, ()) if u not in found and u != name]
        found.update(frontier)
    return sorted(found)
