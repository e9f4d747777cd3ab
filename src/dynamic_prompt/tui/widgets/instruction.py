"""The instruction input: completions while typing, one line of hints or errors below."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from dynamic_prompt.tui.render import safe
from dynamic_prompt.tui.suggester import InstructionSuggester


class InstructionBar(Vertical):
    """Posts :class:`Typed` on every change and :class:`Apply` on Enter."""

    DEFAULT_CSS = """
    InstructionBar { height: auto; }
    InstructionBar > Input { height: 3; }
    InstructionBar > #instruction-hint { height: 1; padding: 0 1; color: $text-muted; }
    InstructionBar.-error > #instruction-hint { color: $error; }
    """

    class Typed(Message):
        """The instruction text changed (the screen debounces the preview)."""

        def __init__(self, value: str) -> None:
            super().__init__()
            self.value = value

    class Apply(Message):
        """Enter: apply this instruction."""

        def __init__(self, value: str) -> None:
            super().__init__()
            self.value = value

    def __init__(self, text: Callable[[], str | None], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = text

    def compose(self) -> ComposeResult:
        """The input and the hint line."""
        yield Input(
            placeholder="instruction, e.g. add rule: never use emojis   (Enter applies)",
            suggester=InstructionSuggester(self._text),
            id="instruction-input",
        )
        yield Static("", id="instruction-hint")

    @property
    def input(self) -> Input:
        """The text box."""
        return self.query_one("#instruction-input", Input)

    def show_hint(self, suggestions: Sequence[str]) -> None:
        """Show completions (one line)."""
        self.remove_class("-error")
        line = "  ·  ".join(safe(s) for s in suggestions[:4])
        self.query_one("#instruction-hint", Static).update(Text(line, no_wrap=True, overflow="ellipsis"))

    def show_error(self, message: str, candidates: Sequence[str] = ()) -> None:
        """Show why the instruction cannot apply, with the candidates (one line)."""
        self.add_class("-error")
        line = safe(message)
        if candidates:
            line += "  candidates: " + " | ".join(safe(c) for c in candidates[:6])
        self.query_one("#instruction-hint", Static).update(Text(line, no_wrap=True, overflow="ellipsis"))

    def clear(self) -> None:
        """Empty the input and the hint line."""
        self.input.value = ""
        self.show_hint(())

    @property
    def hint(self) -> str:
        """The hint line's text (for tests)."""
        content = self.query_one("#instruction-hint", Static).content
        return content.plain if isinstance(content, Text) else str(content)

    @on(Input.Changed, "#instruction-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Typed(event.value))

    @on(Input.Submitted, "#instruction-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.post_message(self.Apply(event.value))
