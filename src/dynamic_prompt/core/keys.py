"""The Redis key layout (pure: no Redis here).

Every named prompt keeps its keys under one hash tag, ``prompt:{NAME}:...``, so
all of them sit in one cluster slot and one Lua script may touch them together.

The prompt named ``default`` is the one the original Ruby ``dynamic_prompt``
gem keeps in ``prompt:active`` / ``prompt:backup`` / ``prompt:changelog``.
Those three keys are used as they are, so agents still on the gem and this
tool share one prompt; the extra keys this tool needs (meta, versions) are
added beside them and the gem never looks at them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from dynamic_prompt.core.errors import InvalidNameError

DEFAULT_NAME = "default"
"""The prompt stored in the gem's single-prompt keys."""

INDEX_KEY = "dprompt:index"
"""A set of every prompt name this tool has written."""

CHANGE_CHANNEL = "dprompt:changes"
"""Pub/sub channel every write announces itself on (the fallback feed)."""

AGENTS_KEY_PREFIX = "dprompt:agents:"
"""Per-prompt hash of agent announcements (fleet view)."""

FLEET_INDEX_KEY = "dprompt:fleet"
"""A set of every prompt name agents have announced (the fleet view lists from it, not a scan)."""

RECONCILE_KEY = "dprompt:reconciled"
"""A lease: while it exists, no process scans the keyspace for prompts the index misses."""

MAX_NAME_LENGTH = 64

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_PARTS = "active|backup|meta|versions|changelog|labels|release"
_NAMESPACED_RE = re.compile(r"prompt:\{([^{}]+)\}:(" + _PARTS + r")\Z")
_GEM_RE = re.compile(r"prompt:(" + _PARTS + r")\Z")


def validate_name(name: object) -> str:
    """Return ``name`` if it is a usable prompt name, else raise :class:`InvalidNameError`.

    Names are 1-64 characters of letters, digits, ``.``, ``_`` and ``-``,
    starting with a letter or digit. That keeps them out of the hash-tag braces,
    key separators and glob characters, and readable in a terminal.
    """
    if name is not None and not isinstance(name, str):
        raise InvalidNameError(f"A prompt name must be text, not {type(name).__name__}.")
    if not name:
        raise InvalidNameError("A prompt name must not be empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"The prompt name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}."
        )
    if not _NAME_RE.match(name):
        shown = name.encode("unicode_escape").decode("ascii")
        raise InvalidNameError(
            f"Bad prompt name {shown!r}: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit."
        )
    return name


def valid_names(candidates: Iterable[bytes | str]) -> set[str]:
    """The candidates that are valid prompt names (bytes decoded; other programs' keys and
    index members may hold anything)."""
    names: set[str] = set()
    for raw in candidates:
        name = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        with contextlib.suppress(InvalidNameError):
            names.add(validate_name(name))
    return names


@dataclass(frozen=True, slots=True)
class PromptKeys:
    """The keys of one prompt.

    Attributes:
        name: the prompt's name.
        active: string, the text agents read.
        backup: string, the original text that ``revert`` returns to.
        meta: hash, version / updated_at / updated_by / hash / size / source.
        versions: hash, version number -> full text of that version.
        changelog: list of JSON entries, newest first.
        lock: string, a short write lease taken by writers that keep losing races.
        labels: string, JSON ``{label: version}`` of the movable labels other than
            ``production`` (which is ``active``), and ``latest``, the newest version a
            label edit made. A string, not a hash, so that a label move is a ``$``
            keyspace event every agent hears, like a write of the active text.
        release: string, JSON of how ``production`` is served beyond its text: a
            staged rollout and an experiment (``core/labels.py``).

    ``labels`` is apart from ``active``/``meta``/``release`` so that Redis ACL key
    patterns can let a user move every label but ``production`` (see the README).
    """

    name: str
    active: str
    backup: str
    meta: str
    versions: str
    changelog: str
    lock: str
    labels: str
    release: str

    def all(self) -> tuple[str, str, str, str, str]:
        """The keys in the order the Lua scripts take them."""
        return (self.active, self.backup, self.meta, self.versions, self.changelog)

    def writes(self) -> tuple[str, str, str, str, str, str, str, str]:
        """The keys a production write script takes: :meth:`all`, the lease, labels, release."""
        return (*self.all(), self.lock, self.labels, self.release)


@dataclass(frozen=True, slots=True)
class KeyLayout:
    """Where each prompt's keys live on one kind of server.

    On a standalone or Sentinel server the prompt named ``default`` is the gem's
    untagged ``prompt:active`` / ``prompt:backup`` / ``prompt:changelog``. In a
    cluster those hash to three different slots, so no script could write them
    together: there ``default`` is tagged like every other prompt,
    ``prompt:{default}:active`` and so on, and the untagged keys are not a prompt.

    Attributes:
        gem_default: whether ``default`` uses the gem's untagged keys.
    """

    gem_default: bool = True

    def keys_for(self, name: str) -> PromptKeys:
        """The key layout for ``name`` (validated)."""
        validate_name(name)
        prefix = "prompt:" if name == DEFAULT_NAME and self.gem_default else f"prompt:{{{name}}}:"
        return PromptKeys(
            name=name,
            active=prefix + "active",
            backup=prefix + "backup",
            meta=prefix + "meta",
            versions=prefix + "versions",
            changelog=prefix + "changelog",
            lock=prefix + "lock",
            labels=prefix + "labels",
            release=prefix + "release",
        )

    def parse_key(self, key: str) -> tuple[str, str] | None:
        """Map a key back to ``(prompt name, part)``, or ``None`` if it is not a prompt key.

        >>> GEM_LAYOUT.parse_key("prompt:{support}:active")
        ('support', 'active')
        >>> GEM_LAYOUT.parse_key("prompt:changelog")
        ('default', 'changelog')
        >>> TAGGED_LAYOUT.parse_key("prompt:{default}:active")
        ('default', 'active')
        """
        m = _NAMESPACED_RE.match(key)
        if m:
            name = m.group(1)
            if (name == DEFAULT_NAME and self.gem_default) or not _NAME_RE.match(name) \
                    or len(name) > MAX_NAME_LENGTH:
                return None
            return name, m.group(2)
        m = _GEM_RE.match(key)
        if m and self.gem_default:
            return DEFAULT_NAME, m.group(1)
        return None

    def change_channel(self, name: str) -> str:
        """The channel a write to ``name`` announces itself on.

        One server: :data:`CHANGE_CHANNEL` for every prompt. A cluster: the shard channel
        ``dprompt:changes:{NAME}`` (``SPUBLISH``), in the prompt's own slot, so the
        announcement stays on the node that holds the prompt instead of being sent to
        every node of the cluster.
        """
        validate_name(name)
        return CHANGE_CHANNEL if self.gem_default else f"{CHANGE_CHANNEL}:{{{name}}}"

    @property
    def active_patterns(self) -> tuple[str, ...]:
        """Glob patterns (SCAN / PSUBSCRIBE) that match every prompt's active key."""
        return ACTIVE_KEY_PATTERNS if self.gem_default else ("prompt:{*}:active",)


GEM_LAYOUT = KeyLayout(gem_default=True)
"""Standalone and Sentinel servers: ``default`` shares the gem's keys."""

TAGGED_LAYOUT = KeyLayout(gem_default=False)
"""Redis Cluster: every prompt, ``default`` included, under its own hash tag."""


def keys_for(name: str) -> PromptKeys:
    """The key layout for ``name`` (validated) on a standalone server; ``default`` maps to the gem's keys."""
    return GEM_LAYOUT.keys_for(name)


def parse_key(key: str) -> tuple[str, str] | None:
    """:meth:`KeyLayout.parse_key` on a standalone server.

    >>> parse_key("prompt:{support}:active")
    ('support', 'active')
    >>> parse_key("prompt:changelog")
    ('default', 'changelog')
    """
    return GEM_LAYOUT.parse_key(key)


ACTIVE_KEY_PATTERNS = ("prompt:active", "prompt:{*}:active")
"""Glob patterns (SCAN / PSUBSCRIBE) that match every prompt's active key."""


def agents_key(name: str) -> str:
    """Hash of agents announcing that they read ``name`` (fleet view)."""
    return AGENTS_KEY_PREFIX + validate_name(name)
