"""Every dashboard action as data: id, default key, description.

One table feeds the bindings (each with an ``id``, so ``settings.keymap``
{id: key} rebinds it via ``App.set_keymap``), the footer, the help screen and
the command palette.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class Action:
    """One action a person can take in the dashboard."""

    id: str
    key: str
    action: str
    description: str
    help: str
    show: bool = True


DASHBOARD_ACTIONS: tuple[Action, ...] = (
    Action("revert", "ctrl+r", "revert", "Revert", "Revert to the original text (asks first)"),
    Action("undo", "ctrl+z", "undo", "Undo", "Undo the last change"),
    Action("restore", "ctrl+o", "restore", "Restore", "Restore the version picked in the timeline (asks first)"),
    Action("edit", "ctrl+t", "edit", "Edit", "Edit the text by hand (saves with conflict detection)"),
    Action("load", "ctrl+l", "load", "Load", "Load a file into this prompt"),
    Action("new", "ctrl+n", "new_prompt", "New", "Create a new prompt from text or a file"),
    Action("search", "ctrl+f", "search", "Search", "Filter the changelog"),
    Action("copy", "ctrl+y", "copy", "Copy", "Copy the active prompt to the clipboard"),
    Action("diff_view", "ctrl+s", "toggle_diff", "Split/unified", "Toggle side-by-side / unified diff"),
    Action("diff_backup", "ctrl+b", "diff_backup", "Vs backup", "Diff against the backup (the original) again"),
    Action("instruct", "ctrl+g", "focus_instruction", "Instruct", "Go to the instruction input", show=False),
    Action("fleet", "f2", "toggle_fleet", "Fleet", "Show or hide the agents reading each prompt", show=False),
)

APP_ACTIONS: tuple[Action, ...] = (
    Action("help", "f1", "help", "Help", "Show the keys"),
    Action("quit", "ctrl+q", "quit", "Quit", "Quit the dashboard"),
)


def bindings(actions: tuple[Action, ...]) -> list[BindingType]:
    """Textual bindings for ``actions`` (all with ids, so a keymap can rebind them)."""
    return [
        Binding(a.key, a.action, a.description, show=a.show, id=a.id, tooltip=a.help, priority=a.id == "quit")
        for a in actions
    ]
