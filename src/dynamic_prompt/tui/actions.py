"""Every dashboard action as data: id, default key, where it works, what it does, whether it writes.

One table feeds the bindings (each with an ``id``, so the config file's
``[keymap]`` {id = "key"} rebinds it via ``App.set_keymap``), the key bar, the help
screen, the command palette (each action once) and the README's key table (a test
compares them).

Keys are chosen so that they work while the instruction input has the focus (where
the dashboard starts): the input keeps the keys a text box needs (ctrl+a/e/d/w/u/k,
ctrl+x/c/v, arrows) and its own undo and redo of typing (ctrl+z, ctrl+y) until it
has nothing left to undo; every other key reaches the dashboard.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from textual.binding import Binding, BindingType


class Scope(str, enum.Enum):
    """Where an action's key works."""

    APP = "app"
    """Everywhere (help, quit)."""
    DASHBOARD = "dashboard"
    """Anywhere on the dashboard, the instruction input included."""
    TIMELINE = "timeline"
    """In the changelog pane."""
    PROMPTS = "prompts"
    """In the prompt list."""


@dataclass(frozen=True)
class Action:
    """One thing a person can do in the dashboard.

    Attributes:
        id: the keymap id (``[keymap] revert = "ctrl+shift+r"``).
        key: the default key(s), comma-separated.
        action: the Textual action it runs on its scope's widget.
        description: the short label (key bar, footer).
        help: one line for the help screen and the palette.
        scope: where the key works.
        writes: it changes a prompt (refused in read-only mode).
        bar: shown in the key bar (the first ones fit at 80 columns).
    """

    id: str
    key: str
    action: str
    description: str
    help: str
    scope: Scope = Scope.DASHBOARD
    writes: bool = False
    bar: bool = True


APP_ACTIONS: tuple[Action, ...] = (
    Action("help", "f1", "help", "Help", "Show every key (scrolls)", Scope.APP),
    Action("palette", "ctrl+p", "command_palette", "Palette", "Every action by name", Scope.APP),
    Action("quit", "ctrl+q", "quit", "Quit", "Quit the dashboard", Scope.APP),
)

DASHBOARD_ACTIONS: tuple[Action, ...] = (
    Action("undo", "ctrl+z", "undo", "Undo", "Undo your last change (asks; later changes by others stay)",
           writes=True),
    Action("redo", "ctrl+y", "redo", "Redo", "Redo the change you undid (asks)", writes=True),
    Action("revert", "ctrl+r", "revert", "Revert", "Revert to the original text (asks)", writes=True),
    Action("restore", "ctrl+o", "restore", "Restore", "Restore the version picked in the changelog (asks)",
           writes=True),
    Action("edit", "ctrl+t", "edit", "Edit", "Edit the text by hand (asks before discarding; a change "
           "made meanwhile is shown)", writes=True),
    Action("find", "ctrl+f", "find", "Find", "Search the prompt text (F3 / shift+F3: next / previous)"),
    Action("instruct", "ctrl+g", "focus_instruction", "Instruct", "Go to the instruction input", bar=False),
    Action("load", "ctrl+l", "load", "Load", "Load a file into this prompt (asks before replacing)",
           writes=True, bar=False),
    Action("new", "ctrl+n", "new_prompt", "New", "Create a prompt from typed text or a file", writes=True,
           bar=False),
    Action("diff_view", "ctrl+s", "toggle_diff", "Split", "Side-by-side or unified diff", bar=False),
    Action("diff_backup", "ctrl+b", "diff_backup", "Vs original", "Diff against the original again", bar=False),
    Action("fleet", "f2", "toggle_fleet", "Fleet", "Show or hide the agents reading each prompt", bar=False),
    Action("find_next", "f3", "find_next", "Next", "Next match of the search", bar=False),
    Action("find_previous", "shift+f3", "find_previous", "Previous", "Previous match of the search", bar=False),
    Action("copy", "f4", "copy", "Copy", "Copy the active prompt to the clipboard", bar=False),
    Action("rendered", "f5", "toggle_rendered", "Rendered", "Show the prompt rendered beside its source (sample "
           "values from samples.json, or the last dprompt render's; a missing one is named)", bar=False),
    Action("wrap", "f6", "toggle_wrap", "Wrap", "Wrap long lines in the prompt and diff panes, or scroll them sideways", bar=False),
    Action("pane_previous", "f7,ctrl+pageup", "pane(-1)", "Pane ◀", "Previous pane (narrow terminals show "
           "one pane at a time)", bar=False),
    Action("pane_next", "f8,ctrl+pagedown", "pane(1)", "Pane ▶", "Next pane", bar=False),
    Action("label", "f9", "next_label", "Label", "Show the next label's text (production, latest, staging, ...): "
           "the diff compares it with production; instructions edit it", bar=False),
    Action("promote", "f10", "promote", "Promote", "Make the shown label's version (or the rollout's) production "
           "for every agent (asks, naming how many agents change)", writes=True, bar=False),
    Action("rollback", "shift+f10", "rollback", "Roll back", "Move production back where it was before its last "
           "promote (asks, naming how many agents change)", writes=True, bar=False),
    Action("search_archive", "f11", "search_archive", "Search archive", "Search the archive (every version and "
           "changelog entry this server had); Enter on a hit diffs that version against the active text",
           bar=False),
    Action("archive_stats", "f12", "archive_stats", "Archive stats", "The archive's counts: changes per day, per "
           "author and by action, the share of reverts and undos", bar=False),
)

TIMELINE_ACTIONS: tuple[Action, ...] = (
    Action("timeline.revert_change", "x", "revert_change", "Revert change", "Revert only this change, keeping "
           "the later ones (asks; a conflict is shown and nothing is written)", Scope.TIMELINE, writes=True),
    Action("timeline.show", "enter", "show_change", "Show", "Show the change this entry made", Scope.TIMELINE),
    Action("timeline.compare", "c", "compare", "Compare", "Diff this version against the active text, or "
           "against the marked one", Scope.TIMELINE),
    Action("timeline.mark", "m", "mark", "Mark", "Mark this version to compare another with", Scope.TIMELINE),
    Action("timeline.newest", "home", "newest", "Newest", "Back to the newest entry (follows new ones again)",
           Scope.TIMELINE),
    Action("timeline.filter", "slash", "filter", "Filter", "Filter the changelog by action, user or words",
           Scope.TIMELINE),
    Action("timeline.clear", "escape", "end_search", "Clear", "Close the filter and clear the mark",
           Scope.TIMELINE, bar=False),
)

PROMPT_LIST_ACTIONS: tuple[Action, ...] = (
    Action("prompts.duplicate", "d", "duplicate", "Duplicate", "Copy this prompt to a new name",
           Scope.PROMPTS, writes=True),
    Action("prompts.rename", "r", "rename", "Rename", "Rename this prompt (its history goes with it)",
           Scope.PROMPTS, writes=True),
    Action("prompts.delete", "delete", "delete", "Delete", "Delete this prompt with its versions and "
           "history (asks, names what goes)", Scope.PROMPTS, writes=True),
)

ALL_ACTIONS: tuple[Action, ...] = APP_ACTIONS + DASHBOARD_ACTIONS + TIMELINE_ACTIONS + PROMPT_LIST_ACTIONS
"""Every action, in the order the help screen and the README list them."""


SCOPE_NAMES = {
    Scope.APP: "anywhere",
    Scope.DASHBOARD: "dashboard",
    Scope.TIMELINE: "changelog",
    Scope.PROMPTS: "prompt list",
}
"""How the help screen, the palette and the README name where a key works."""


def markdown_table() -> str:
    """The README's key table, from :data:`ALL_ACTIONS` (a test keeps the README equal to it)."""
    rows = ["| key | where | what it does |", "|---|---|---|"]
    for action in ALL_ACTIONS:
        keys = " / ".join(f"`{k.strip()}`" for k in action.key.split(","))
        rows.append(f"| {keys} | {SCOPE_NAMES[action.scope]} | {action.help} |")
    return "\n".join(rows) + "\n"


def bindings(actions: tuple[Action, ...]) -> list[BindingType]:
    """Textual bindings for ``actions`` (all with ids, so a keymap can rebind them).

    The palette's key is Textual's own (``App.COMMAND_PALETTE_BINDING``): listed, not bound twice.
    """
    return [
        Binding(a.key, a.action, a.description, show=False, id=a.id, tooltip=a.help,
                priority=a.id in ("quit", "help"))
        for a in actions
        if a.id != "palette"
    ]


def by_id(action_id: str) -> Action:
    """The action with ``action_id``."""
    for action in ALL_ACTIONS:
        if action.id == action_id:
            return action
    raise KeyError(action_id)
