"""The key bar: the keys that matter, with help, palette and quit always in view.

Textual's footer lists bindings in focus order and drops what does not fit, which at
80 columns dropped Quit and Help. This bar puts the three keys that lead to every
other one first (F1 help, which scrolls; the palette, which lists every action by
name; quit), then the pane's own keys, then the dashboard's, as many as fit. Each key
is clickable. The keys shown are the keys as bound now (the keymap applied).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from dynamic_prompt.tui.actions import Action, Scope

KeyLookup = Callable[[Action], str]
"""The key an action is bound to now (after the keymap)."""


def key_label(key: str) -> str:
    """``ctrl+r`` -> ``^r``; ``shift+f3`` -> ``⇧f3``; the first of several keys."""
    first = key.split(",")[0]
    return first.replace("ctrl+", "^").replace("shift+", "⇧").replace("slash", "/")


class KeyBar(Static):
    """One line of ``key label`` pairs; :attr:`scope` says which pane's keys come first."""

    DEFAULT_CSS = """
    KeyBar { height: 1; background: $panel; color: $foreground; padding: 0 1; }
    """

    scope: reactive[Scope] = reactive(Scope.DASHBOARD)
    read_only: reactive[bool] = reactive(False)

    def __init__(self, actions: Sequence[Action], key_of: KeyLookup, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.actions = tuple(actions)
        self.key_of = key_of

    def _shown(self) -> list[Action]:
        first = [a for a in self.actions if a.scope is Scope.APP]
        local = [a for a in self.actions if a.scope is self.scope and self.scope is not Scope.DASHBOARD]
        general = [a for a in self.actions if a.scope is Scope.DASHBOARD and a.bar]
        rest = [a for a in local + general if not (self.read_only and a.writes)]
        return first + rest

    def render(self) -> Text:
        """As many keys as fit, the essential ones first."""
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        width = max(self.size.width, 1)
        for n, action in enumerate(self._shown()):
            piece = f"{key_label(self.key_of(action))} {action.description}"
            if text.cell_len + len(piece) + 2 > width and n >= 3:
                break
            if n:
                text.append("  ")
            click = Style(meta={"@click": f"app.run_key('{action.id}')"})
            text.append(key_label(self.key_of(action)), Style(bold=True, color="yellow") + click)
            text.append(f" {action.description}", click)
            if n == 2:
                text.append("  │", "dim")
        if self.read_only:
            text.append("  │ read-only", "bold red")
        return text
