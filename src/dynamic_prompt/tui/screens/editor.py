"""Manual editing in a TextArea, and the conflict dialog when someone wrote meanwhile."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Static, TextArea

from dynamic_prompt.tui.diffrows import DiffRows
from dynamic_prompt.tui.screens.confirm import DIALOG_CSS, ConfirmScreen
from dynamic_prompt.tui.widgets.diff_view import DiffView


@dataclass(frozen=True)
class Edited:
    """What the editor gathered: the new text, and the note saying why."""

    text: str
    note: str = ""


class EditorScreen(ModalScreen[Edited | None]):
    """Edit ``text`` (version ``version`` of ``name``); dismisses with :class:`Edited`, or None.

    Esc with unsaved changes asks before throwing them away.
    """

    DEFAULT_CSS = """
    EditorScreen { align: center middle; }
    EditorScreen > Vertical { width: 95%; height: 95%; border: thick $accent; background: $surface; }
    EditorScreen .title { height: 1; padding: 0 1; text-style: bold; }
    EditorScreen TextArea { height: 1fr; }
    EditorScreen #editor-note { height: 3; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="editor.save"),
        Binding("escape", "cancel", "Cancel", id="editor.cancel", priority=True),
    ]

    def __init__(self, name: str, version: int, text: str, *, started: str | None = None) -> None:
        super().__init__()
        self.prompt_name = name
        self.version = version
        self.text = text
        self.started = text if started is None else started
        """What the person had before this editing session (their own text after a conflict)."""

    def compose(self) -> ComposeResult:
        """Title, the editor, the note, the footer."""
        with Vertical():
            yield Static(
                Text(f"Editing {self.prompt_name} (from v{self.version}): ctrl+s saves, Esc cancels"),
                classes="title",
            )
            yield TextArea(self.text, id="editor", soft_wrap=True, show_line_numbers=True, tab_behavior="indent")
            yield Input(placeholder="note: why this change (optional)", id="editor-note", max_length=500)
        yield Footer()

    def on_mount(self) -> None:
        """Start typing at once."""
        self.query_one("#editor", TextArea).focus()

    @property
    def edited(self) -> str:
        """The text as it is in the editor now."""
        return self.query_one("#editor", TextArea).text

    def action_save(self) -> None:
        """Close with the edited text and the note."""
        self.dismiss(Edited(self.edited, self.query_one("#editor-note", Input).value.strip()))

    @work(exclusive=True, group="editor-cancel")
    async def action_cancel(self) -> None:
        """Close without saving; with unsaved changes, ask first."""
        if self.edited == self.text:
            self.dismiss(None)
            return
        question = ConfirmScreen("Discard your changes?", "What you typed here is not saved anywhere.",
                                 "Discard")
        if await self.app.push_screen_wait(question):
            self.dismiss(None)


class ConflictScreen(ModalScreen[str]):
    """Someone changed the prompt while it was edited: show their change, ask what to do.

    Dismisses with ``"reload"`` (edit their text), ``"overwrite"`` (save mine
    anyway, as a new version) or ``"back"`` (keep editing mine).
    """

    DEFAULT_CSS = DIALOG_CSS.format(name="ConflictScreen") + """
    ConflictScreen > Vertical { width: 95%; height: 90%; }
    ConflictScreen DiffView { height: 1fr; }
    """
    BINDINGS = [
        Binding("r", "choose('reload')", "Reload theirs", id="conflict.reload"),
        Binding("o", "choose('overwrite')", "Overwrite", id="conflict.overwrite"),
        Binding("escape", "choose('back')", "Back to my edit", id="conflict.back"),
    ]

    def __init__(self, message: str, their_change: DiffRows, current_version: int) -> None:
        super().__init__()
        self.message = message
        self.their_change = their_change
        self.current_version = current_version

    def compose(self) -> ComposeResult:
        """What happened, their diff, the choices."""
        with Vertical():
            yield Static(Text(self.message), classes="title")
            yield Static(Text(f"Their change (now v{self.current_version}):"))
            yield DiffView(id="their-diff")
            with Horizontal(classes="buttons"):
                yield Button("Reload theirs (r)", id="reload")
                yield Button("Overwrite with mine (o)", variant="warning", id="overwrite")
                yield Button("Back to my edit (Esc)", id="back")

    def on_mount(self) -> None:
        """Draw their change."""
        self.query_one(DiffView).show(self.their_change, note="(their text is the same as where you started)")

    def action_choose(self, choice: str) -> None:
        """Close with ``choice``."""
        self.dismiss(choice)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "back")
