"""Yes/no confirmation and the help screen."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from dynamic_prompt.tui.actions import Action

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 90; max-width: 95%; height: auto; max-height: 90%;
    border: thick $accent; background: $surface; padding: 1 2;
}}
{name} .title {{ text-style: bold; margin-bottom: 1; }}
{name} .buttons {{ height: auto; align-horizontal: right; margin-top: 1; }}
{name} Button {{ margin-left: 2; }}
"""


class ConfirmScreen(ModalScreen[bool]):
    """Ask ``question``; dismisses with True (y / Enter on Yes) or False (n / Escape)."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmScreen")
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, detail: Text | str = "", yes: str = "Yes") -> None:
        super().__init__()
        self.title_text = title
        self.detail = detail
        self.yes = yes

    def compose(self) -> ComposeResult:
        """Title, detail, buttons."""
        with Vertical():
            yield Static(Text(self.title_text), classes="title")
            if self.detail:
                yield Static(self.detail if isinstance(self.detail, Text) else Text(self.detail))
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", variant="warning", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        """Cancel is the safe default."""
        self.query_one("#no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        """Close with ``answer``."""
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class HelpScreen(ModalScreen[None]):
    """The keys, as currently bound (after the keymap)."""

    DEFAULT_CSS = DIALOG_CSS.format(name="HelpScreen")
    BINDINGS = [Binding("escape,q,f1", "dismiss", "Close", id="help.close")]

    def __init__(self, rows: Sequence[tuple[str, Action]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        """A table of key, action, description."""
        table = Table(box=None, show_header=True, header_style="bold", expand=True)
        table.add_column("key")
        table.add_column("action")
        table.add_column("what it does")
        for key, action in self.rows:
            table.add_row(Text(key), Text(action.id), Text(action.help))
        for key, what in (
            ("enter", "in the list: show that prompt; in the timeline: show that change's diff"),
            ("c", "in the timeline: diff the active text against that version"),
            ("tab", "next pane"),
            ("ctrl+p", "command palette (every action, by name)"),
        ):
            table.add_row(Text(key), Text(""), Text(what))
        with Vertical():
            yield Static(Text("dynamic-prompt dashboard: keys"), classes="title")
            yield Static(table)
            yield Static(Text("Esc closes. Keys can be changed in config.toml under [keymap] (id = \"key\")."),
                         classes="title")

    async def action_dismiss(self, result: None = None) -> None:
        """Close."""
        self.dismiss(None)
