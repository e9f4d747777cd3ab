"""The open prompt as a template: what it includes, what uses it, and its render.

:class:`Composer` works for the prompt pane and the instruction preview:

- ``follow``: after the shown prompt is read (or a part it includes changed), it reads
  every part the prompt reaches, renders it with the sample values
  (:mod:`dynamic_prompt.core.samples`; strict, so a missing variable is one line naming
  it), and counts the prompts whose render uses this one (transitively). It posts
  :class:`Composed`.
- ``preview``: what an edit of a fragment does to every prompt that uses it: each
  dependent's render before and after, as one diff per dependent
  (:func:`dependents_diff`, called from the instruction preview).

Which prompts use which is kept per prompt and version, so after the first count only
prompts that changed are read again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from textual import work
from textual.message import Message
from textual.widget import Widget

from dynamic_prompt.core import samples
from dynamic_prompt.core.errors import DynamicPromptError
from dynamic_prompt.core.models import PromptState
from dynamic_prompt.store import PromptStore
from dynamic_prompt.store.includes import gather_parts, named_includes
from dynamic_prompt.tui import diffrows
from dynamic_prompt.tui.diffrows import DiffRows
from dynamic_prompt.tui.view import DiffMode

MAX_COUNTED = 5000
"""Listings larger than this are not read through to count a prompt's users (said so)."""

CHUNK = 200
"""Prompts read at a time when counting a prompt's users."""

MAX_PREVIEWED = 25
"""Dependents whose render diff an edit's preview shows (all are counted)."""


@dataclass(frozen=True)
class Composition:
    """The open prompt as a template."""

    name: str
    version: int
    templated: bool = False
    includes: tuple[str, ...] = ()
    """Every part it reaches (``safety``, ``tone@staging``), nearest first."""
    used_by: tuple[str, ...] = ()
    """Every prompt whose render uses it, directly or through another part."""
    counted: bool = True
    """False when the listing was too large to read through (``used_by`` is then empty)."""
    rendered: str | None = None
    """The render with the sample values (``None``: not a template, or it failed)."""
    problem: str = ""
    """Why it did not render (a missing variable, named), or what is wrong with the samples."""
    values_from: str = ""
    """Where the sample values came from, in a few words."""

    def line(self) -> str:
        """One line for the prompt pane: includes, users ("" when neither)."""
        parts = []
        if self.includes:
            parts.append("includes " + ", ".join(self.includes[:6]) + (" …" if len(self.includes) > 6 else ""))
        if not self.counted:
            parts.append(f"used by: not counted (over {MAX_COUNTED:,} prompts)")
        elif self.used_by:
            shown = ", ".join(self.used_by[:4]) + (f" and {len(self.used_by) - 4} more" if len(self.used_by) > 4 else "")
            parts.append(f"used by {len(self.used_by)} prompt{'s' if len(self.used_by) != 1 else ''}: {shown}")
        return " · ".join(parts)


class Composed(Message):
    """The :class:`Composition` of the open prompt, as just read."""

    def __init__(self, composition: Composition) -> None:
        super().__init__()
        self.composition = composition


@dataclass
class _Uses:
    """What each listed prompt includes, by the version it was read at."""

    refs: dict[str, tuple[int, tuple[str, ...]]] = field(default_factory=dict)


class Composer(Widget):
    """Reads includes, users and renders for the screen; posts :class:`Composed`."""

    DEFAULT_CSS = "Composer { display: none; }"

    def __init__(self, store: PromptStore, samples_file: Path | None = None) -> None:
        super().__init__(id="composer")
        self.store = store
        self.samples_file = samples_file
        self._uses = _Uses()
        self._dirty: set[str] = set()
        """Prompts reported changed and not read since."""

    def follow(self, state: PromptState, label: str, listed: dict[str, int],
               changed: frozenset[str] = frozenset()) -> None:
        """Compose ``state`` (read at ``label``) against the prompts ``listed`` (name -> version).

        ``changed``: prompts the feed reported since. They are read again even at the same
        version (an outside write keeps the number until a dprompt records it), and stay to be
        read until a compose has read them (a newer compose may cancel this one).
        """
        self._dirty.update(changed)
        self._follow(state, label, listed)

    @work(exclusive=True, group="compose", exit_on_error=False)
    async def _follow(self, state: PromptState, label: str, listed: dict[str, int]) -> None:
        if state.active is None:
            return
        try:
            composition = await self.compose_state(state, label, listed)
        except DynamicPromptError as exc:
            composition = Composition(state.name, state.version, problem=str(exc))
        self.post_message(Composed(composition))

    async def compose_state(self, state: PromptState, label: str, listed: dict[str, int]) -> Composition:
        """The :class:`Composition` of ``state`` (no message)."""
        text = state.active or ""
        ref = state.name if label == "production" else f"{state.name}@{label}"
        used_by, counted = await self.used_by(state.name, listed)
        from dynamic_prompt.core.templates import Renderer, TemplateError, is_template

        if not is_template(text):
            return Composition(state.name, state.version, False, (), tuple(used_by), counted)
        parts = await gather_parts(ref, text, self.store.part_text)
        includes = tuple(r for r in parts if r != ref)
        try:
            values, origin = (await asyncio.to_thread(samples.load, self.samples_file)).for_prompt(state.name)
        except samples.SamplesError as exc:
            return Composition(state.name, state.version, True, includes, tuple(used_by), counted,
                               problem=str(exc))
        try:
            done = await asyncio.to_thread(Renderer(parts.get).render, ref, values, strict=True, text=text)
        except TemplateError as exc:
            return Composition(state.name, state.version, True, includes, tuple(used_by), counted,
                               problem=str(exc), values_from=origin)
        return Composition(state.name, state.version, True, includes, tuple(used_by), counted, done.text,
                           values_from=origin)

    async def used_by(self, name: str, listed: dict[str, int]) -> tuple[list[str], bool]:
        """The prompts whose render uses ``name`` (reading only those changed since last asked)."""
        if len(listed) > MAX_COUNTED:
            return [], False
        refs = self._uses.refs
        stale = [n for n, v in listed.items() if n not in refs or refs[n][0] != v or n in self._dirty]
        for start in range(0, len(stale), CHUNK):
            # A chunk at a time (held texts stay bounded), scanned off the event loop (a scan
            # of many texts, up to 4 MB each, must not stall a frame).
            chunk = stale[start:start + CHUNK]
            texts = await self.store.active_texts(chunk)
            found = await asyncio.to_thread(lambda: {n: named_includes(texts.get(n) or "") for n in chunk})
            for n in chunk:
                refs[n] = (listed[n], found[n])
                self._dirty.discard(n)
        for gone in set(refs) - set(listed):
            del refs[gone]
        from dynamic_prompt.core.includes import dependents_of

        return dependents_of(name, {n: r for n, (_, r) in refs.items() if n != name}), True

    async def dependents_diff(self, ref: str, new_text: str, dependents: Sequence[str],
                              mode: DiffMode) -> list[tuple[str, DiffRows]]:
        """Each dependent's render before and after part ``ref``'s text becomes ``new_text`` (lenient).

        ``ref`` is the part edited: ``safety`` (its production) or ``safety@staging``; a
        dependent that includes another label or version of it renders the same after.
        """
        from dynamic_prompt.core.templates import Renderer, TemplateError

        try:
            loaded = await asyncio.to_thread(samples.load, self.samples_file)
        except samples.SamplesError:
            loaded = samples.Samples()
        sections: list[tuple[str, DiffRows]] = []
        for dependent in dependents[:MAX_PREVIEWED]:
            text = await self.store.part_text(dependent)
            if text is None:
                continue
            before = await gather_parts(dependent, text, self.store.part_text)
            after = dict(before)
            if ref in after:
                after[ref] = new_text
            values = loaded.for_prompt(dependent)[0]

            def both(before: dict[str, str | None] = before, after: dict[str, str | None] = after,
                     dependent: str = dependent, values: dict[str, object] = values) -> tuple[str, str]:
                try:
                    old = Renderer(before.get).render(dependent, values, strict=False).text
                    new = Renderer(after.get).render(dependent, values, strict=False).text
                except TemplateError as exc:
                    return str(exc), str(exc)
                return old, new

            old, new = await asyncio.to_thread(both)
            rows = await asyncio.to_thread(diffrows.build, old, new, mode)
            sections.append((f"render of {dependent}", rows))
        return sections
