"""The instruction input's work: a preview while typing, the write on Enter.

A preview costs the server nothing: the instruction is applied to the text the
screen already shows, by the pure engine, in a thread, and the diff pane gets the
result. Enter writes once: the store applies the instruction to that same state
and commits it (a prompt changed meanwhile is found by the commit, and the
instruction re-applied to the newest text). A problem (an unknown instruction, an
ambiguous rule) is one message with the engine's candidates; nothing changes.
"""

from __future__ import annotations

import asyncio

from textual import work
from textual.widget import Widget

from dynamic_prompt.core import modifier
from dynamic_prompt.core.errors import DynamicPromptError, InstructionError
from dynamic_prompt.core.models import PromptState
from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui import diffrows
from dynamic_prompt.tui.messages import Applied, DiffReady, InstructionProblem
from dynamic_prompt.tui.view import View


def problem(instruction: str, exc: DynamicPromptError) -> InstructionProblem:
    """The message to show under the input (with candidates, if the engine named any)."""
    suggestions = exc.suggestions if isinstance(exc, InstructionError) else ()
    return InstructionProblem(instruction, str(exc), suggestions)


class InstructionFlow(Widget):
    """Previews and applies instructions; posts DiffReady, Applied or InstructionProblem."""

    DEFAULT_CSS = "InstructionFlow { display: none; }"

    def __init__(self, store: PromptStore) -> None:
        super().__init__(id="instruction-flow")
        self.store = store

    @work(exclusive=True, group="preview", exit_on_error=False)
    async def preview(self, state: PromptState, instruction: str, view: View) -> None:
        """Show in the diff pane what ``instruction`` would do to ``state`` (nothing is written)."""
        if not instruction.strip() or state.active is None:
            return
        try:
            result = await asyncio.to_thread(modifier.modify_text, state.active, instruction)
        except DynamicPromptError as exc:
            self.post_message(problem(instruction, exc))
            return
        rows = await asyncio.to_thread(diffrows.build, state.active, result.text, view.mode)
        self.post_message(DiffReady(f"Preview: {instruction.strip()[:60]}", rows, view, "preview", instruction))

    @work(exclusive=True, group="apply", exit_on_error=False)
    async def apply(self, state: PromptState, instruction: str, note: str = "", label: str = "production") -> None:
        """Write ``instruction`` applied to ``state`` (Enter in the input), with the person's ``note``.

        At another label than production it edits that label's version (a new version only
        the label points at); production and its agents are untouched.
        """
        try:
            if label != "production":
                result = await self.store.modify(state.name, instruction, note=note, label=label)
            else:
                result = await self.store.modify(state.name, instruction, base=state, note=note)
        except DynamicPromptError as exc:
            self.post_message(problem(instruction, exc))
            return
        self.post_message(Applied(instruction, result))
