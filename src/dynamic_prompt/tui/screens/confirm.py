"""Yes/no confirmation and the help screen."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from dynamic_prompt.tui.actions import SCOPE_NAMES, Action

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


WIDE_HELP = 110
"""Terminal columns from which the help also shows each key's keymap id."""


class HelpScreen(ModalScreen[None]):
    """Every key, as currently bound (after the keymap), in a box that scrolls."""

    DEFAULT_CSS = DIALOG_CSS.format(name="HelpScreen") + """
    HelpScreen > Vertical { height: 90%; }
    HelpScreen VerticalScroll { height: 1fr; }
    """
    BINDINGS = [Binding("escape,q,f1", "dismiss", "Close", id="help.close")]

    def __init__(self, rows: Sequence[tuple[str, Action]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        """A table of key, where it works, what it does."""
        # The keymap ids take room a small terminal needs for the descriptions.
        with_ids = self.app.size.width >= WIDE_HELP
        table = Table(box=None, show_header=True, header_style="bold", expand=True)
        table.add_column("key", no_wrap=True)
        table.add_column("where", no_wrap=True)
        table.add_column("what it does", ratio=1)
        if with_ids:
            table.add_column("keymap id", no_wrap=True, style="dim")
        for key, action in self.rows:
            cells = [Text("\n".join(k.strip() for k in key.split(","))), Text(SCOPE_NAMES[action.scope]),
                     Text(action.help)]
            table.add_row(*cells, *([Text(action.id)] if with_ids else []))
        with Vertical():
            yield Static(Text("Keys  (arrows or the mouse scroll; Esc closes)"),
                         classes="title")
            with VerticalScroll(id="help-scroll"):
                yield Static(table)
            yield Static(Text("Keys can be changed in config.toml under [keymap] (id = \"key\"; the ids are "
                              "listed here in a terminal of 110 columns or more); ctrl+p finds any action by name."))

    def on_mount(self) -> None:
        """The list scrolls with the arrows at once."""
        self.query_one("#help-scroll", VerticalScroll).focus()

    async def action_dismiss(self, result: None = None) -> None:
        """Close."""
        self.dismiss(None)

