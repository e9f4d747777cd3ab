"""Messages from the dashboard's parts (workers) to the screen's handlers.

Workers never touch widgets: a part reads the store (or runs the pure engine) and
posts one of these; an ``@on`` handler on the dashboard screen owns the state change
and hands the data to the panes. Data flows one way: write -> feed event -> one read
-> these messages -> the panes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from textual.message import Message

from dynamic_prompt.core.models import ChangeEntry, PromptState, PromptSummary, WriteResult
from dynamic_prompt.store.labels import LabelState, MoveResult
from dynamic_prompt.tui.diffrows import DiffRows
from dynamic_prompt.tui.view import View


@dataclass
class FeedMode(Message):
    """The change feed's mode changed (notifications / tracking / channel / polling / disconnected)."""

    mode: str
    reason: str = ""


@dataclass
class Loaded(Message):
    """The shown prompt's state, read after a change (or because the view moved to it).

    ``changed`` are the 1-based lines that differ from the backup; ``flash`` the lines
    that changed since the text shown before (marked briefly).
    """

    state: PromptState
    changed: frozenset[int] = frozenset()
    flash: frozenset[int] = frozenset()


@dataclass
class LoadFailed(Message):
    """The prompt the view asked for could not be read (the screen stays where it was)."""

    name: str
    message: str


@dataclass
class ListLoaded(Message):
    """Every prompt in the server, for the list pane (a resync)."""

    summaries: Sequence[PromptSummary]


@dataclass
class RowsLoaded(Message):
    """The listing's rows of the prompts that changed (``None``: the prompt has no text now)."""

    rows: Mapping[str, PromptSummary | None]


@dataclass
class HistoryLoaded(Message):
    """The changelog of prompt ``name``, newest first."""

    name: str
    entries: Sequence[ChangeEntry]


@dataclass
class DiffReady(Message):
    """Rows for the diff pane, with a title saying what is compared.

    ``view`` is the view they were computed for, and ``instruction`` the previewed
    instruction for a preview: the screen draws them only if that is still what it
    shows (a slow diff must not overwrite a newer one).
    """

    title: str
    rows: DiffRows
    view: View
    kind: str = "normal"  # "normal" | "preview" | "change" | "version" | "pair"
    instruction: str = ""


@dataclass
class InstructionProblem(Message):
    """The typed instruction cannot be applied: why, and the candidates the engine named."""

    instruction: str
    message: str
    suggestions: Sequence[str] = field(default_factory=tuple)


@dataclass
class Applied(Message):
    """An instruction was applied."""

    instruction: str
    result: WriteResult


@dataclass
class Written(Message):
    """An action wrote (or found nothing to write): say so, and re-read if the feed is down."""

    result: WriteResult
    done: str
    """What was done, for the notification ("Reverted to the original")."""


@dataclass
class StoreFailed(Message):
    """A store call failed with a one-line message (shown as a notification)."""

    message: str


@dataclass
class LabelsLoaded(Message):
    """Where the labels of prompt ``name`` point, and its rollout or experiment."""

    name: str
    state: LabelState


@dataclass
class Moved(Message):
    """A label move (a promote, a rollback) landed."""

    result: MoveResult
    done: str
