"""What the archive holds and answers, as plain values (no SQLite, no Redis here)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def sha(text: str) -> str:
    """The content hash the archive and the export name texts by (SHA-256 of the UTF-8 bytes)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ArchivedVersion:
    """One version's text as the archive kept it.

    ``number`` is the version number Redis gave it. One number can appear with two texts:
    after Redis lost everything and a prompt was made again, or for a text another program
    wrote over production without a new number (``outside``).
    """

    name: str
    number: int
    text: str
    config: Mapping[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0
    updated_by: str = ""
    outside: bool = False
    archived_at: float = 0.0


@dataclass(frozen=True)
class ArchivedChange:
    """One changelog entry as the archive kept it: the fields people search, and the raw JSON."""

    name: str
    timestamp: float
    action: str
    user_id: str
    instruction: str
    note: str
    version: int | None
    raw: str


@dataclass(frozen=True)
class ArchivedPrompt:
    """What the archive last saw of a prompt as a whole: its original, labels and source."""

    name: str
    original: str | None
    labels: Mapping[str, int]
    source: str
    last_version: int
    seen_at: float
    gone_at: float | None = None
    """When it was deleted on purpose (``dprompt clear``, a DEL seen by an archiver), if it was."""
    original_config: Mapping[str, Any] = field(default_factory=dict)
    """The original's own config (what a revert to the original brings back)."""


@dataclass(frozen=True)
class SearchHit:
    """One search result: a version's text or a changelog entry, with the matching snippet."""

    kind: str
    """``version`` (a version's text matched) or ``change`` (a changelog entry's words matched)."""
    name: str
    version: int | None
    snippet: str
    """The matching part with the matched words between ``[`` and ``]``."""
    timestamp: float
    action: str = ""
    user_id: str = ""
    rank: float = 0.0
    """FTS5's bm25: lower is a better match."""

    def as_dict(self) -> dict[str, Any]:
        """The hit as JSON-ready data (``--json``)."""
        return {"kind": self.kind, "name": self.name, "version": self.version, "snippet": self.snippet,
                "timestamp": self.timestamp, "action": self.action, "user_id": self.user_id,
                "rank": round(self.rank, 4)}


@dataclass(frozen=True)
class Stats:
    """Counts over the archived changelog (of one prompt or all)."""

    changes: int
    per_day: list[tuple[str, int]]
    """``(YYYY-MM-DD, count)``, oldest first, every day from the first change to the last."""
    per_author: list[tuple[str, int]]
    per_action: list[tuple[str, int]]
    most_edited: list[tuple[str, int]]
    reverts: int
    """Reverts, undos, restores and rollbacks: changes that took a change back."""
    versions: int
    prompts: int

    @property
    def revert_share(self) -> float:
        """Reverts and undos as a share of all changes (0 when there are none)."""
        return self.reverts / self.changes if self.changes else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The stats as JSON-ready data (``--json``)."""
        return {"changes": self.changes, "versions": self.versions, "prompts": self.prompts,
                "reverts": self.reverts, "revert_share": round(self.revert_share, 4),
                "per_day": dict(self.per_day), "per_author": dict(self.per_author),
                "per_action": dict(self.per_action), "most_edited": dict(self.most_edited)}


TAKE_BACKS = ("revert", "undo", "restore", "rollback", "revert_change", "abort")
"""Changelog actions that take an earlier change back (the stats' revert share)."""
