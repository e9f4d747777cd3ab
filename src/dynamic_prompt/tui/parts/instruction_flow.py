"""The instruction input's work: a preview while typing, the write on Enter.

A preview costs the server nothing: the instruction is applied to the text the
screen already shows, by the pure engine, in a thread, and the diff pane gets the
result (with, for a prompt others include, each one's render before and after).
``config model=gpt-5`` changes the version's config instead of its text. Enter
writes once: the store applies the instruction to that same state and commits it (a prompt changed meanwhile is found by the commit, and the
instruction re-applied to the newest text). A problem (an unknown instruction, an
ambiguous rule) is one message with the engine's candidates; nothing changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from textual import work
from textual.widget import Widget

from dynamic_prompt.core import modifier, prompt_config
from dynamic_prompt.core.errors import DynamicPromptError, InstructionError
from dynamic_prompt.core.models import PromptState
from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui import diffrows
from dynamic_prompt.tui.messages import Applied, DiffReady, InstructionProblem, StoreFailed
from dynamic_prompt.tui.parts.composer import Composer
from dynamic_prompt.tui.view import View


def problem(instruction: str, exc: DynamicPromptError) -> InstructionProblem:
    """The message to show under the input (with candidates, if the engine named any)."""
    suggestions = exc.suggestions if isinstance(exc, InstructionError) else ()
    return InstructionProblem(instruction, str(exc), suggestions)


class InstructionFlow(Widget):
    """Previews and applies instructions; posts DiffReady, Applied or InstructionProblem."""

    DEFAULT_CSS = "InstructionFlow { display: none; }"

    def __init__(self, store: PromptStore, composer: Composer) -> None:
        super().__init__(id="instruction-flow")
        self.store = store
        self.composer = composer

    @work(exclusive=True, group="preview", exit_on_error=False)
    async def preview(self, state: PromptState, instruction: str, view: View,
                      dependents: Sequence[str] = ()) -> None:
        """Show in the diff pane what ``instruction`` would do to ``state`` (nothing is written).

        ``config ...`` previews the config's change. When other prompts use this one
        (``dependents``), the preview adds each one's render before and after, so an edit
        of a shared fragment shows what it does to every prompt it reaches.
        """
        if not instruction.strip() or state.active is None:
            return
        title = f"Preview: {instruction.strip()[:60]}"
        try:
            config = prompt_config.instruction(instruction, state.config)
            if config is not None:
                old, new = prompt_config.compared(state.active, state.config, state.active, config)
                rows = await asyncio.to_thread(diffrows.build, old, new, view.mode)
                self.post_message(DiffReady(title, rows, view, "preview", instruction))
                return
            result = await asyncio.to_thread(modifier.modify_text, state.active, instruction)
        except DynamicPromptError as exc:
            self.post_message(problem(instruction, exc))
            return
        rows = await asyncio.to_thread(diffrows.build, state.active, result.text, view.mode)
        if dependents and result.text != state.active:
            ref = state.name if not view.at_label else f"{state.name}@{view.label}"
            try:
                sections = await self.composer.dependents_diff(ref, result.text, dependents, view.mode)
            except DynamicPromptError as exc:
                self.post_message(StoreFailed(str(exc)))
                sections = []
            changes = sum(1 for _, part in sections if not part.empty)
            more = f", the first {len(sections)} shown" if len(sections) < len(dependents) else ""
            title = (f"Preview, {changes} of {len(dependents)} prompts using it change{more}: "
                     f"{instruction.strip()[:50]}")
            rows = diffrows.combine([(state.name, rows), *sections], view.mode)
        self.post_message(DiffReady(title, rows, view, "preview", instruction))

    @work(exclusive=True, group="apply", exit_on_error=False)
    async def apply(self, state: PromptState, instruction: str, note: str = "", label: str = "production") -> None:
        """Write ``instruction`` applied to ``state`` (Enter in the input), with the person's ``note``.

        At another label than production it edits that label's version (a new version only
        the label points at); production and its agents are untouched.
        """
        try:
            config = prompt_config.instruction(instruction, state.config)
            at = None if label == "production" else label
            if config is not None:
                result = await self.store.set_config(state.name, config, expected_version=state.version,
                                                     note=note, label=at)
            elif at is not None:
                result = await self.store.modify(state.name, instruction, note=note, label=at)
            else:
                result = await self.store.modify(state.name, instruction, base=state, note=note)
        except DynamicPromptError as exc:
            self.post_message(problem(instruction, exc))
            return
        self.post_message(Applied(instruction, result))
