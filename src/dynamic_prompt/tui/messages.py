"""Messages between the change feed, the workers and the dashboard's handlers.

Workers never touch widgets: they post one of these, and an ``@on`` handler on
the dashboard screen owns the state change. Feed messages for one prompt
``can_replace`` an older pending one, so a burst of writes (text, meta and
changelog keys) costs one refresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from textual.message import Message

from dynamic_prompt.core.models import ChangeEntry, PromptState, PromptSummary
from dynamic_prompt.tui.diffrows import DiffRows


class PromptChanged(Message):
    """The feed saw prompt ``name`` change (or be deleted)."""

    def __init__(self, name: str, deleted: bool = False) -> None:
        super().__init__()
        self.name = name
        self.deleted = deleted

    def can_replace(self, message: Message) -> bool:
        """A newer change of the same prompt makes a pending one redundant."""
        return isinstance(message, PromptChanged) and message.name == self.name


class Resync(Message):
    """The feed (re)connected: re-read everything."""

    def can_replace(self, message: Message) -> bool:
        """A resync covers any pending resync or change."""
        return isinstance(message, (Resync, PromptChanged))


class FeedMode(Message):
    """The feed's mode changed (notifications / channel / polling / disconnected)."""

    def __init__(self, mode: str, reason: str = "") -> None:
        super().__init__()
        self.mode = mode
        self.reason = reason


@dataclass
class Loaded(Message):
    """The current prompt's state, read by a worker.

    ``changed`` are the 1-based lines that differ from the backup; ``flash`` the
    lines that changed since the text shown before (marked briefly).
    """

    state: PromptState
    changed: frozenset[int] = frozenset()
    flash: frozenset[int] = frozenset()


@dataclass
class ListLoaded(Message):
    """Every prompt in the server, for the list pane."""

    summaries: Sequence[PromptSummary]


@dataclass
class HistoryLoaded(Message):
    """The changelog of prompt ``name``, newest first."""

    name: str
    entries: Sequence[ChangeEntry]


@dataclass
class DiffReady(Message):
    """Rows for the diff pane, with a title saying what is compared.

    ``generation`` orders requests: the pane ignores an answer older than the
    last one it drew (a slow diff must not overwrite a newer one).
    """

    title: str
    rows: DiffRows
    generation: int
    kind: str = "normal"  # "normal" | "preview" | "change" | "version"


@dataclass
class InstructionProblem(Message):
    """The typed instruction cannot be applied: one line, and candidates."""

    instruction: str
    message: str
    suggestions: Sequence[str] = field(default_factory=tuple)


@dataclass
class Applied(Message):
    """An instruction was applied (the input clears)."""

    instruction: str
    version: int


@dataclass
class StoreFailed(Message):
    """A store call failed with a one-line message (shown as a notification)."""

    message: str
