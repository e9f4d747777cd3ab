"""The Lua scripts that make every write one atomic step on the server (sources in ``lua/``).

The write scripts take the keys of one prompt (active, backup, meta, versions,
changelog, lease: one hash tag, so one cluster slot) and first *adopt* any write
made outside this tool: when the active text's SHA-1 differs from the hash the meta
recorded, that text becomes a version of its own with an ``external`` entry.
Because the check and the record happen in one script, an outside write is
recorded exactly once, by whichever process sees it first.

A script is atomic against other clients but not transactional: a command refused
half-way (a key of the wrong type, an ACL rule) leaves the commands before it
applied. So every script checks the keys' types and, on Redis 7+, the user's
permission for each command it may run, *before* its first write
(``lua/prelude.lua``).
"""

from __future__ import annotations

from importlib import resources


def _source(name: str) -> str:
    return resources.files("dynamic_prompt.store").joinpath("lua", name).read_text("utf-8")


_ANNOUNCE = _source("announce.lua")
_PRELUDE = _ANNOUNCE + _source("prelude.lua")

STATE = _PRELUDE + _source("state.lua")
"""Read a prompt's state in one round trip (adopting outside writes first).

Returns ``['ok', active or nil, backup or nil, meta as a flat field/value list]``,
or ``['toobig', size]`` when the active text is over the size limit.
"""

COMMIT = _PRELUDE + _source("commit.lua")
"""Write a new version: check, write, bump, keep, log, announce; all or nothing.

Returns ``[status, version]``; see :class:`~dynamic_prompt.store.commit.CommitStatus`.
"""

RENAME = _PRELUDE + _source("rename.lua")
"""Move one prompt's keys to another name's (adopting an outside write first); all or nothing.

Returns ``[status, version, text]``; see :class:`~dynamic_prompt.store.manage.Manage.rename`.
"""

CLEAR = _PRELUDE + _source("clear.lua")
"""Delete every key of one prompt and announce it."""

RELEASE = _source("release.lua")
"""Delete the write lease ``KEYS[1]`` only if it still holds our token ``ARGV[1]``."""

TAKE_LEASE = _source("take_lease.lua")
"""Take the write lease ``KEYS[1]`` for token ``ARGV[1]`` for ``ARGV[2]`` ms (1 if taken)."""

HISTORY = _source("history.lua")
"""Changelog entries ``ARGV[1]..ARGV[2]``, each cut to ``ARGV[3]`` bytes, with their sizes."""

ROW = _source("row.lua")
"""Listing rows of the prompts whose (active, meta) key pairs it is given: per pair
``[size, version, updated_at, updated_by, action]``, or nil with no text."""

COMPACT = _source("compact.lua")
"""Replace a kept version's full text by a delta against the next, if both are unchanged."""

LABEL = _ANNOUNCE + _source("label.lua")
"""Move, remove or edit on a label other than production (labels, versions, changelog only).

Returns ``[status, version, previous]``; see :mod:`dynamic_prompt.store.labels`.
"""

PROMOTE = _PRELUDE + _source("promote.lua")
"""Point production (the active text) at a kept version; all or nothing."""

RELEASE_STATE = _PRELUDE + _source("release_state.lua")
"""Write a prompt's rollout and experiment (the release key) whole, against the one read."""

RECREATE = _PRELUDE + _source("recreate.lua")
"""Put back a whole prompt Redis no longer holds (text, original, versions, labels, changelog).

Returns ``['ok', version]``, or ``['exists', version]`` when any of its keys is there.
"""
