"""What the change feed hears, as data: the flags it needs and the events that messages stand for (pure).

Kept apart from :mod:`dynamic_prompt.live.feed` (which owns the connections) so
the translation from what a server sends to a :class:`PromptEvent` reads, and is
tested, on its own.
"""

from __future__ import annotations

import json

from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core.keys import GEM_LAYOUT, KeyLayout
from dynamic_prompt.core.models import EventKind, PromptEvent

NEEDED_FLAGS = "K$gx"
"""Keyspace events (K) for string writes ($), DEL/RENAME (g) and expiry (x)."""

_ALIAS_A = "g$lshzxetd"  # what 'A' stands for in notify-keyspace-events

INVALIDATE_CHANNEL = "__redis__:invalidate"
"""Where RESP2 tracking delivers invalidations to the redirect target."""

TRACKING_PREFIX = "prompt:"
"""Every prompt key starts so (the gem's ``prompt:active`` and ``prompt:{name}:...``)."""


def merge_notify_flags(current: str, needed: str = NEEDED_FLAGS) -> str:
    """``current`` plus whatever of ``needed`` it lacks; never drops a flag.

    >>> merge_notify_flags("Ex")
    'ExK$g'
    >>> merge_notify_flags("AK")
    'AK'
    """
    have = set(current)
    if "A" in have:
        have |= set(_ALIAS_A)
    missing = "".join(f for f in needed if f not in have)
    return current + missing


def active_name(key: str, layout: KeyLayout = GEM_LAYOUT) -> str | None:
    """The prompt whose active text ``key`` is, else None (meta etc. change in the same step)."""
    parsed = layout.parse_key(key)
    return parsed[0] if parsed is not None and parsed[1] == "active" else None


SERVED_PARTS = frozenset({"active", "labels", "release"})
"""The keys whose change changes what an agent serves: the text, a label, a rollout or experiment."""


def served_name(key: str, layout: KeyLayout = GEM_LAYOUT) -> str | None:
    """The prompt whose served text ``key``'s change may change (its text, labels, release), else None."""
    parsed = layout.parse_key(key)
    return parsed[0] if parsed is not None and parsed[1] in SERVED_PARTS else None


def event_for_key(key: str, op: str, layout: KeyLayout = GEM_LAYOUT) -> PromptEvent | None:
    """The event a keyspace notification ``op`` on ``key`` stands for (None: nothing agents serve).

    A label move or a release change is a change of the prompt (every view of it is read
    again); only the active text's deletion is the prompt's.
    """
    parsed = layout.parse_key(key)
    if parsed is None or parsed[1] not in SERVED_PARTS:
        return None
    name, part = parsed
    if part == "active" and op in ("del", "expired", "evicted", "rename_from"):
        return PromptEvent(name, EventKind.DELETED)
    return PromptEvent(name, EventKind.CHANGED)


def event_for_channel(data: bytes) -> PromptEvent | None:
    """The event a message on the change channel stands for (None: not one of ours, or malformed)."""
    try:
        payload = json.loads(data)
        name = keymod.validate_name(payload["name"])
        version = int(payload.get("version") or 0)
    except Exception:  # noqa: BLE001 - anyone may publish anything on a channel
        return None
    # Version 0 is what a clear and a rename's old name announce: the prompt has no text now.
    gone = payload.get("action") == "clear" or ("version" in payload and version == 0)
    kind = EventKind.DELETED if gone else EventKind.CHANGED
    return PromptEvent(name, kind, version or None)
