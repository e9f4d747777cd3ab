"""Dialogs that ask for input: a file path, a new prompt."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static, TextArea

from dynamic_prompt.tui.screens.confirm import DIALOG_CSS


class PathScreen(ModalScreen[str | None]):
    """Ask for a file path; dismisses with it, or None."""

    DEFAULT_CSS = DIALOG_CSS.format(name="PathScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="path.cancel")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        """Title and path box."""
        with Vertical():
            yield Static(Text(self.title_text), classes="title")
            yield Input(placeholder="path to a text or markdown file", id="path")
            with Horizontal(classes="buttons"):
                yield Button("Load", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        value = self.query_one("#path", Input).value.strip()
        if value:
            self.dismiss(value)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without a path."""
        self.dismiss(None)


@dataclass(frozen=True)
class NewPrompt:
    """What the new-prompt dialog gathered: a name and either text or a file path."""

    name: str
    text: str = ""
    path: str = ""


class NewPromptScreen(ModalScreen[NewPrompt | None]):
    """Ask for a name and the text (typed, or a file path)."""

    DEFAULT_CSS = DIALOG_CSS.format(name="NewPromptScreen") + """
    NewPromptScreen TextArea { height: 12; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="new.cancel"),
        Binding("ctrl+s", "create", "Create", id="new.create"),
    ]

    def compose(self) -> ComposeResult:
        """Name, file path or text."""
        with Vertical():
            yield Static(Text("New prompt"), classes="title")
            yield Input(placeholder="name (letters, digits, . _ -)", id="name")
            yield Input(placeholder="file to load (or leave empty and type the text below)", id="path")
            yield TextArea("", id="text", soft_wrap=True)
            yield Static(Text(""), id="new-error")
            with Horizontal(classes="buttons"):
                yield Button("Create (ctrl+s)", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def show_error(self, message: str) -> None:
        """One line of what is wrong."""
        self.query_one("#new-error", Static).update(Text(message, style="bold red"))

    @on(Button.Pressed, "#ok")
    def action_create(self) -> None:
        """Close with the gathered values, if complete."""
        name = self.query_one("#name", Input).value.strip()
        path = self.query_one("#path", Input).value.strip()
        text = self.query_one("#text", TextArea).text
        if not name:
            self.show_error("Give the prompt a name.")
            return
        if not path and not text.strip():
            self.show_error("Give a file to load or type the text.")
            return
        self.dismiss(NewPrompt(name, text, path))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without creating anything."""
        self.dismiss(None)


class NameScreen(ModalScreen[str | None]):
    """Ask for a prompt name (duplicate to, rename to); dismisses with it, or None."""

    DEFAULT_CSS = DIALOG_CSS.format(name="NameScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="name.cancel")]

    def __init__(self, title: str, value: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value

    def compose(self) -> ComposeResult:
        """Title and name box."""
        with Vertical():
            yield Static(Text(self.title_text), classes="title")
            yield Input(self.value, placeholder="name (letters, digits, . _ -)", id="name")
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        value = self.query_one("#name", Input).value.strip()
        if value:
            self.dismiss(value)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without a name."""
        self.dismiss(None)
