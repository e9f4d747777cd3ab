"""Frozen value types shared by every layer (pure: no Redis, no UI)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from dynamic_prompt.core import prompt_config

_INT_LIMIT = 10**18


@dataclass(frozen=True, slots=True)
class LoadedSource:
    """Text read from a source, and what to record as its origin.

    ``source`` is ``"file:/abs/path"``, the URL without any user:password
    (and with secret query parameters masked), or ``"text"``.
    """

    text: str
    source: str


@dataclass(frozen=True, slots=True)
class Edit:
    """One structured change an instruction turns into, before it is applied.

    Attributes:
        op: the kind of edit: the ``op`` of one of the instruction forms, which
            the registry ``dynamic_prompt.core.modifier.forms.FORMS`` lists
            (``set_tone``, ``add_rule``...).
        args: the edit's parameters (strings), e.g. ``{"rule": "Never use emojis"}``.
        instruction: the instruction text this edit came from.
    """

    op: str
    args: Mapping[str, str] = field(default_factory=dict)
    instruction: str = ""

    def describe(self) -> str:
        """A short human description, e.g. ``add rule "Never use emojis"``."""
        if not self.args:
            return self.op.replace("_", " ")
        inner = ", ".join(f"{v}" for v in self.args.values())
        return f"{self.op.replace('_', ' ')}: {inner}"


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    """One changelog entry, as stored by this tool or by the Ruby gem.

    The gem writes ``{"timestamp", "action", "user_id", "instruction"}`` (load
    entries carry ``"metadata": {"source": ...}``); this tool adds ``version``,
    ``added`` and ``removed``, and ``note`` (a person's one-line reason, only when
    given: the gem's readers ignore fields they do not know). Entries other programs
    wrote badly are kept, as ``action="unreadable"`` with the raw text in ``raw``,
    never dropped.
    """

    timestamp: float
    action: str
    user_id: str = ""
    instruction: str = ""
    version: int | None = None
    added: int | None = None
    removed: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    raw: str | None = None
    note: str = ""
    """Why the change was made, as its author said it ("" when none was given)."""

    @classmethod
    def from_json(cls, raw: str | bytes) -> ChangeEntry:
        """Parse one changelog list item; never raises (bad items become ``unreadable``)."""
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            return cls(timestamp=0.0, action="unreadable", raw=raw)
        if not isinstance(data, dict):
            return cls(timestamp=0.0, action="unreadable", raw=raw)

        def num(value: Any) -> float:
            if isinstance(value, bool):
                return 0.0
            if isinstance(value, (int, float)):
                return float(value)
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    return 0.0
            return 0.0

        def opt_int(value: Any) -> int | None:
            # Counts and versions: anything beyond 18 digits is another program's junk
            # (and int() of over 4,300 digits raises in Python 3.11+).
            if isinstance(value, bool) or value is None:
                return None
            if isinstance(value, int):
                return value if abs(value) < _INT_LIMIT else None
            if isinstance(value, float) and value.is_integer() and abs(value) < _INT_LIMIT:
                return int(value)
            if isinstance(value, str):
                digits = value.strip()
                if 0 < len(digits.lstrip("-")) <= 18 and digits.lstrip("-").isdigit():
                    return int(digits)
            return None

        def text(value: Any) -> str:
            if value is None:
                return ""
            return value if isinstance(value, str) else json.dumps(value)

        metadata = data.get("metadata")
        return cls(
            timestamp=num(data.get("timestamp")),
            action=text(data.get("action")) or "unknown",
            user_id=text(data.get("user_id")),
            instruction=text(data.get("instruction")),
            version=opt_int(data.get("version")),
            added=opt_int(data.get("added")),
            removed=opt_int(data.get("removed")),
            metadata=metadata if isinstance(metadata, dict) else {},
            note=text(data.get("note")),
        )

    @classmethod
    def unreadable(cls, head: str, size: int) -> ChangeEntry:
        """An entry too big to read whole: its first bytes, and its real size in the instruction."""
        return cls(timestamp=0.0, action="unreadable", instruction=f"(an entry of {size:,} bytes, cut)",
                   raw=head[:200])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict in the gem's entry format (plus this tool's fields)."""
        out: dict[str, Any] = {
            "timestamp": int(self.timestamp) if float(self.timestamp).is_integer() else self.timestamp,
            "action": self.action,
            "user_id": self.user_id,
            "instruction": self.instruction,
        }
        if self.version is not None:
            out["version"] = self.version
        if self.added is not None:
            out["added"] = self.added
        if self.removed is not None:
            out["removed"] = self.removed
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        if self.raw is not None:
            out["raw"] = self.raw
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True)
class ConflictRegion:
    """One place where reverting a change meets a later change of the same lines.

    "old" is version N, the change being reverted; "new" is the current text.
    Line numbers are 1-based; a region of no lines (a place between lines) gives the
    number of the line it comes before. Line texts are shown without their newline
    (still text from a prompt: pass them through ``inert`` before a terminal).

    Attributes:
        old_start: the region's first line in version N.
        old_lines: version N's lines there (what the change wrote).
        new_start: the region's first line in the current text.
        new_lines: the current lines there (what later changes made of them).
        before_lines: version N-1's lines there (what the revert would bring back).
    """

    old_start: int
    old_lines: tuple[str, ...]
    new_start: int
    new_lines: tuple[str, ...]
    before_lines: tuple[str, ...]

    def describe(self, version: int) -> str:
        """One phrase for a message: ``v4 line 2 'Tone: Dry' is now line 3 'Tone: Sarcastic'``."""
        return f"v{version} {_span(self.old_start, self.old_lines)} is now {_span(self.new_start, self.new_lines)}"


def _span(start: int, lines: tuple[str, ...]) -> str:
    if not lines:
        return f"nothing at line {start}"
    first = lines[0] if len(lines[0]) <= 60 else lines[0][:57] + "..."
    where = f"line {start}" if len(lines) == 1 else f"lines {start}-{start + len(lines) - 1}"
    return f"{where} {first!r}" + (" ..." if len(lines) > 1 else "")


@dataclass(frozen=True, slots=True)
class PromptMeta:
    """What the meta hash says of a prompt."""

    version: int = 0
    updated_at: float = 0.0
    updated_by: str = ""
    action: str = ""
    source: str = ""
    content_hash: str = ""
    size: int = 0
    config: str = ""
    """Production's config as stored (canonical JSON, "" for none; see core/prompt_config.py)."""
    backup_config: str = ""
    """The original's config (what a revert to the original brings back)."""

    @classmethod
    def from_hash(cls, data: Mapping[str, str]) -> PromptMeta:
        """Build from an HGETALL reply (strings); missing or bad fields fall back to defaults."""

        def as_int(key: str) -> int:
            try:
                return int(data.get(key, "0") or 0)
            except ValueError:
                return 0

        def as_float(key: str) -> float:
            try:
                return float(data.get(key, "0") or 0)
            except ValueError:
                return 0.0

        return cls(
            version=as_int("version"),
            updated_at=as_float("updated_at"),
            updated_by=data.get("updated_by", ""),
            action=data.get("action", ""),
            source=data.get("source", ""),
            content_hash=data.get("hash", ""),
            size=as_int("size"),
            config=data.get("config", ""),
            backup_config=data.get("backup_config", ""),
        )


@dataclass(frozen=True, slots=True)
class PromptState:
    """A consistent snapshot of one prompt, read in one round trip.

    ``active`` is ``None`` when the prompt has no text (never loaded or cleared).
    """

    name: str
    active: str | None
    backup: str | None
    meta: PromptMeta

    @property
    def version(self) -> int:
        """The version number of ``active`` (0 when there is none)."""
        return self.meta.version

    @property
    def exists(self) -> bool:
        """True when the prompt has active text."""
        return self.active is not None

    @property
    def config(self) -> dict[str, Any]:
        """The active version's config ({} when none was set)."""
        return prompt_config.read(self.meta.config)

    def summary(self) -> PromptSummary | None:
        """This prompt's row in the listing (``None`` when it has no text)."""
        if self.active is None:
            return None
        return PromptSummary(self.name, self.meta.version, len(self.active.encode("utf-8", "replace")),
                             self.meta.updated_at, self.meta.updated_by, self.meta.action)


@dataclass(frozen=True, slots=True)
class PromptSummary:
    """One row of the prompt list: name, version, size, the last change, labels and release.

    ``labels`` are the movable labels other than production and latest (label -> version);
    ``release`` says in a few words what production serves beyond its text
    (``rollout v5 40%``, ``experiment a/b``), "" when nothing.
    """

    name: str
    version: int
    size: int
    updated_at: float
    updated_by: str
    action: str
    labels: Mapping[str, int] = field(default_factory=dict)
    release: str = ""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a mutation did: the new version (or why nothing changed)."""

    name: str
    version: int
    text: str
    changed: bool
    entry: ChangeEntry | None = None
    message: str = ""
    previous: str | None = None
    """For a modify: the text the instruction was applied to (the base of its diff)."""
    warnings: tuple[str, ...] = ()
    """Things that went wrong beside a write that happened (say them; the write stands)."""


class FeedMode(str, Enum):
    """How the change feed hears of changes. A ``str``: compares and formats as its value."""

    NOTIFICATIONS = "notifications"
    TRACKING = "tracking"
    CHANNEL = "channel"
    POLLING = "polling"
    DISCONNECTED = "disconnected"

    def __str__(self) -> str:
        return self.value


class EventKind(str, Enum):
    """What a :class:`PromptEvent` says (``PromptEvent.kind``). A ``str`` like :class:`FeedMode`."""

    CHANGED = "changed"
    DELETED = "deleted"
    RESYNC = "resync"
    """Events may have been missed: re-read everything."""
    MODE = "mode"
    """The feed's mode or reason changed (see ``PromptEvent.mode`` and :attr:`ChangeFeed.reason`)."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class PromptEvent:
    """A change seen on the feed: prompt ``name`` changed (``kind``) at ``version``.

    Events are hints: a consumer re-reads the keys. ``kind`` is an
    :class:`EventKind` (a ``str``: ``changed``, ``deleted``, ``resync`` when the feed
    (re)connected or may have missed events, ``mode`` when its mode changed; see ``mode``).
    """

    name: str | None
    kind: EventKind
    version: int | None = None
    mode: FeedMode | None = None
