"""What the dashboard shows right now, as one value the screen hands to its parts (pure).

The screen owns the view; the refresher reads what the view needs and the panes
draw it. A part never reads the screen's state: it is given a :class:`View`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DiffKind(str, enum.Enum):
    """What the diff pane compares."""

    BACKUP = "backup"
    """The original (the backup) against the active text."""
    VERSION = "version"
    """A kept version against the active text."""
    CHANGE = "change"
    """One change: the version before it against it."""
    PAIR = "pair"
    """Any two kept versions, older against newer."""


@dataclass(frozen=True)
class DiffSource:
    """The two sides of the diff pane (``a``/``b`` are version numbers where they matter)."""

    kind: DiffKind = DiffKind.BACKUP
    a: int = 0
    b: int = 0

    @classmethod
    def version(cls, number: int) -> DiffSource:
        """Version ``number`` against the active text."""
        return cls(DiffKind.VERSION, number)

    @classmethod
    def change(cls, number: int) -> DiffSource:
        """The change that made version ``number``."""
        return cls(DiffKind.CHANGE, number)

    @classmethod
    def pair(cls, a: int, b: int) -> DiffSource:
        """Version ``min(a, b)`` against version ``max(a, b)``."""
        return cls(DiffKind.PAIR, min(a, b), max(a, b))


BACKUP = DiffSource()


class DiffMode(str, enum.Enum):
    """How the diff pane lays a diff out."""

    UNIFIED = "unified"
    SPLIT = "split"


@dataclass(frozen=True)
class View:
    """The prompt shown, and what its diff pane compares.

    Attributes:
        name: the prompt every pane is about.
        source: what the diff pane compares.
        mode: unified or side by side.
        previewing: an instruction is typed: the diff pane shows its preview, which the
            instruction flow computes; the refresher leaves the pane alone meanwhile.
        label: the label the text pane shows (``production``: the active text). At another
            label the diff pane compares production with it, and instructions edit it.
    """

    name: str
    source: DiffSource = BACKUP
    mode: DiffMode = DiffMode.UNIFIED
    previewing: bool = False
    label: str = "production"

    @property
    def at_label(self) -> bool:
        """True when the text pane shows another label than production."""
        return self.label != "production"
