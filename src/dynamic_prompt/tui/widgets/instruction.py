"""The instruction input: completions while typing, a note field, hints or problems below.

Keys typed in the input act on the input: ctrl+z and ctrl+y undo and redo the
typing itself (home, end and the usual editing keys are Textual's). Only when there
is no typing left to undo does ctrl+z reach the dashboard, whose undo asks before it
changes the live prompt. The line under the input wraps (up to three lines), so an
ambiguity's candidates and how to pick one are read whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Static

from dynamic_prompt.tui.render import safe
from dynamic_prompt.tui.suggester import InstructionSuggester

HISTORY = 200
"""Typing states kept for undo."""

MAX_NOTE = 500

HINTS = 4
"""Completions shown under the input."""


class UndoableInput(Input):
    """An input with its own undo and redo of what was typed (Textual's Input has none)."""

    BINDINGS = [
        Binding("ctrl+z", "undo_typing", "Undo typing", show=False, id="input.undo"),
        Binding("ctrl+y", "redo_typing", "Redo typing", show=False, id="input.redo"),
    ]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._undo: list[tuple[str, int]] = []
        self._redo: list[tuple[str, int]] = []
        self._last = (self.value, 0)
        self._restoring = False

    @on(Input.Changed)
    def _remember(self, event: Input.Changed) -> None:
        if self._restoring:
            self._restoring = False
        elif event.value != self._last[0]:
            self._undo.append(self._last)
            del self._undo[:-HISTORY]
            self._redo.clear()
        self._last = (event.value, self.cursor_position)

    def _set(self, state: tuple[str, int]) -> None:
        self._restoring = state[0] != self.value
        self.value = state[0]
        self.cursor_position = min(state[1], len(state[0]))
        self._last = (self.value, self.cursor_position)

    def action_undo_typing(self) -> None:
        """Undo the last typing; with nothing typed to undo, let the dashboard's undo have the key."""
        if not self._undo:
            raise SkipAction()
        self._redo.append((self.value, self.cursor_position))
        self._set(self._undo.pop())

    def action_redo_typing(self) -> None:
        """Redo undone typing; with none, let the dashboard's redo have the key."""
        if not self._redo:
            raise SkipAction()
        self._undo.append((self.value, self.cursor_position))
        self._set(self._redo.pop())

    def forget(self) -> None:
        """Start a fresh typing history (after an instruction was applied)."""
        self._undo.clear()
        self._redo.clear()
        self._last = (self.value, self.cursor_position)


class InstructionBar(Vertical):
    """Posts :class:`Typed` on every change and :class:`Apply` on Enter (in either field)."""

    DEFAULT_CSS = """
    InstructionBar { height: auto; }
    InstructionBar > Horizontal { height: 3; }
    InstructionBar #instruction-input { width: 1fr; }
    InstructionBar #note-input { width: 30%; max-width: 40; }
    InstructionBar > #instruction-hint { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    InstructionBar.-error > #instruction-hint { color: $error; }
    """

    class Typed(Message):
        """The instruction text changed (the screen debounces the preview)."""

        def __init__(self, value: str) -> None:
            super().__init__()
            self.value = value

    class Apply(Message):
        """Enter: apply this instruction, with this note."""

        def __init__(self, value: str, note: str = "") -> None:
            super().__init__()
            self.value = value
            self.note = note

    def __init__(self, text: Callable[[], str | None], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = text

    def compose(self) -> ComposeResult:
        """The instruction and note inputs, and the line under them."""
        with Horizontal():
            yield UndoableInput(
                placeholder="instruction, e.g. add rule: never use emojis   (Enter applies)",
                suggester=InstructionSuggester(self._text, self._completed),
                id="instruction-input",
            )
            yield UndoableInput(placeholder="note: why (optional)", id="note-input", max_length=MAX_NOTE)
        yield Static("", id="instruction-hint")

    @property
    def input(self) -> UndoableInput:
        """The instruction box."""
        return self.query_one("#instruction-input", UndoableInput)

    @property
    def note(self) -> UndoableInput:
        """The note box."""
        return self.query_one("#note-input", UndoableInput)

    def read_only(self) -> None:
        """Say in the input that instructions are previewed, not applied."""
        self.input.placeholder = "read-only: an instruction is previewed in the diff pane, never applied"
        self.note.display = False

    def show_hint(self, suggestions: Sequence[str]) -> None:
        """Show completions."""
        self.remove_class("-error")
        line = "  ·  ".join(safe(s) for s in suggestions[:4])
        self.query_one("#instruction-hint", Static).update(Text(line, overflow="ellipsis"))

    def show_error(self, message: str) -> None:
        """Show why the instruction cannot apply (the engine's message names the candidates
        once and how to pick one; it wraps rather than being cut at the pane's edge)."""
        self.add_class("-error")
        self.query_one("#instruction-hint", Static).update(Text(safe(message)))

    def clear(self) -> None:
        """Empty both inputs and the hint line."""
        self.input.value = ""
        self.note.value = ""
        self.input.forget()
        self.note.forget()
        self.show_hint(())

    @property
    def hint(self) -> str:
        """The hint line's text (for tests)."""
        content = self.query_one("#instruction-hint", Static).content
        return content.plain if isinstance(content, Text) else str(content)

    def _completed(self, value: str, found: list[str]) -> None:
        """The suggester's completions for ``value``: shown while it is still what is typed."""
        if value == self.input.value and value.strip() and not self.has_class("-error"):
            self.show_hint(found[:HINTS])

    @on(Input.Changed, "#instruction-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if not event.value.strip():
            self.show_hint(())
        else:
            self.remove_class("-error")  # a new instruction: the last one's problem no longer applies
        self.post_message(self.Typed(event.value))

    @on(Input.Changed, "#note-input")
    def _note_changed(self, event: Input.Changed) -> None:
        event.stop()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        instruction = self.input.value
        if instruction.strip():
            self.post_message(self.Apply(instruction, self.note.value.strip()))
