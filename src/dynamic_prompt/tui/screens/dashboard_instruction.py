"""The instruction input's flow: suggestions, a debounced preview, apply on Enter.

A preview writes nothing: it shows what the instruction would do in the diff
pane. An error or an ambiguous target is shown next to the input (one line,
with the candidates) and nothing changes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from textual import work

from dynamic_prompt.core.errors import DynamicPromptError, InstructionError
from dynamic_prompt.tui import diffrows
from dynamic_prompt.tui.messages import Applied, DiffReady, InstructionProblem
from dynamic_prompt.tui.suggester import completions
from dynamic_prompt.tui.widgets.instruction import InstructionBar

if TYPE_CHECKING:
    from textual.timer import Timer

    from dynamic_prompt.core.models import PromptState
    from dynamic_prompt.store import PromptStore

PREVIEW_DELAY = 0.25
"""Seconds of quiet typing before the instruction is previewed."""


class InstructionFlow:
    """Instruction handlers mixed into the dashboard screen.

    Handlers use Textual's ``on_<message>`` names: ``@on`` decorators are only
    collected on message-pump classes, and this mixin is not one.
    """

    if TYPE_CHECKING:
        store: PromptStore
        current: str
        state: PromptState | None
        instruction: str
        diff_mode: str
        _diff_generation: int
        _preview_timer: Timer | None

        @property
        def instruction_bar(self) -> InstructionBar: ...
        def _active_text(self) -> str | None: ...
        def reload_diff(self) -> Any: ...
        def request_refresh(self, name: str | None = None, *, everything: bool = False) -> None: ...
        def set_timer(
            self, delay: float, callback: Any = None, *, name: str | None = None, pause: bool = False
        ) -> Timer: ...
        def post_message(self, message: Any) -> bool: ...
        def notify(self, message: str, **kwargs: Any) -> None: ...

    def on_instruction_bar_typed(self, message: InstructionBar.Typed) -> None:
        self.instruction = message.value
        if self._preview_timer is not None:
            self._preview_timer.stop()
        if not message.value.strip():
            self.instruction_bar.show_hint(())
            self.reload_diff()
            return
        self.instruction_bar.show_hint(completions(message.value, self._active_text(), 4))
        self._preview_timer = self.set_timer(PREVIEW_DELAY, lambda: self._preview(self.instruction))

    @work(exclusive=True, group="preview", exit_on_error=False)
    async def _preview(self, instruction: str) -> None:
        """Show what ``instruction`` would do, in the diff pane (nothing is written)."""
        if not instruction.strip() or self.state is None or not self.state.exists:
            return
        self._diff_generation += 1
        generation = self._diff_generation
        try:
            preview = await self.store.preview(self.current, instruction)
        except DynamicPromptError as exc:
            self.post_message(_problem(instruction, exc))
            return
        rows = await asyncio.to_thread(diffrows.build, preview.old, preview.new, self.diff_mode)
        self.post_message(DiffReady(f"Preview: {instruction.strip()[:60]}", rows, generation, "preview"))

    def on_instruction_bar_apply(self, message: InstructionBar.Apply) -> None:
        self.apply_instruction(message.value)

    @work(exclusive=True, group="apply", exit_on_error=False)
    async def apply_instruction(self, instruction: str) -> None:
        """Apply ``instruction`` to the current prompt (Enter in the input)."""
        try:
            result = await self.store.modify(self.current, instruction)
        except DynamicPromptError as exc:
            self.post_message(_problem(instruction, exc))
            return
        self.post_message(Applied(instruction, result.version))

    def on_instruction_problem(self, message: InstructionProblem) -> None:
        if message.instruction != self.instruction:
            return  # the person has typed on since
        self.instruction_bar.show_error(message.message, message.suggestions)

    def on_applied(self, message: Applied) -> None:
        self.instruction = ""
        self.instruction_bar.clear()
        self.notify(f"v{message.version}: {message.instruction.strip()[:80]}", markup=False)
        self.request_refresh(self.current)


def _problem(instruction: str, exc: DynamicPromptError) -> InstructionProblem:
    """The one-line problem to show under the input (with candidates, if the engine named any)."""
    suggestions = exc.suggestions if isinstance(exc, InstructionError) else ()
    return InstructionProblem(instruction, str(exc), suggestions)
