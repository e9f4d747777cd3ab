"""The commit: "write this text as a new version" as one atomic script run.

:class:`Committer` is owned by the :class:`~dynamic_prompt.store.PromptStore`: the
store decides *what* to write and hands a :class:`CommitRequest` over; the
committer builds the gem-format changelog entry, runs the commit script, waits its
turn while another writer holds the prompt's short lease, and recognises its own
write when the reply was lost and a retry came back as a conflict.

No error can follow a write that happened: the only command after the script, the
prompt index (a separate key, another cluster slot), reports a refusal as a warning
beside the write's success.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from dynamic_prompt.core import delta, prompt_config
from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import ConflictError, CorruptDataError, DynamicPromptError
from dynamic_prompt.core.models import ChangeEntry
from dynamic_prompt.core.text import human_size, validate_author, validate_note, validate_text
from dynamic_prompt.server.errors import FAILURES
from dynamic_prompt.store import scripts
from dynamic_prompt.store.calls import ServerCalls
from dynamic_prompt.store.offload import count_changes, make_delta

LEASE_MS = 2000
"""The lease expires by itself, so a writer that dies holding it blocks nobody for long."""


class CommitStatus(str, enum.Enum):
    """What the commit script did."""

    OK = "ok"
    """Written as a new version."""
    EXISTS = "exists"
    """A load without force found a prompt there."""
    CONFLICT = "conflict"
    """The prompt is not at the expected version."""
    MISSING = "missing"
    """The prompt has no text (never loaded, or cleared)."""
    NOCHANGE = "nochange"
    """The text is already what it would become."""
    LOCKED = "locked"
    """Another writer holds the prompt's lease (still, after waiting our turn)."""
    TOOBIG = "toobig"
    """Another program stored an active text over the size limit; nothing was touched."""
    NOVERSION = "noversion"
    """A move named a version that is not kept (promote)."""
    WHOLE = "whole"
    """A move named a version kept as a delta: run again with its text, to keep it whole."""


@dataclass(frozen=True)
class CommitRequest:
    """One text to write as a new version, and how.

    Attributes:
        text: the new active text.
        action: the changelog action (``load``, ``modify``, ``edit``, ``revert``, ...).
        user: the author (``None``: the store's default).
        expected: the version the text was derived from (``None``: any).
        instruction: what the changelog says was done.
        old_text: the text it replaces, for the +/- counts (``None``: a first load).
        mode: ``load`` (may create the prompt) or ``write`` (the prompt must exist).
        force: a load that may replace an existing prompt.
        set_backup: the text becomes the original too (a load).
        source: where a loaded text came from.
        metadata: extra fields of the changelog entry.
        lease: the write lease token this writer holds ("" for none).
        note: why, in the author's words (one line; "" for none): the entry's ``note``.
        config: the new version's config (``None``: production's carries over).
        old_config: the config it replaces, for the +/- counts (with ``config``).
    """

    text: str
    action: str
    user: str | None = None
    expected: int | None = None
    instruction: str = ""
    old_text: str | None = None
    mode: str = "write"
    force: bool = False
    set_backup: bool = False
    source: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    lease: str = ""
    note: str = ""
    config: Mapping[str, Any] | None = None
    old_config: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class CommitResult:
    """What one commit did: its status, the version it wrote or found, the entry, warnings."""

    status: CommitStatus
    version: int
    entry: ChangeEntry
    warnings: tuple[str, ...] = ()


class Committer:
    """Runs commits for one store (one client, one set of settings).

    Args:
        calls: the store's way of sending commands (error mapping, failover).
        settings: the store's current settings (retention, changelog cap, size limit).
        now: the clock write timestamps come from.
        default_user: the author when a request names none.
    """

    def __init__(
        self,
        calls: ServerCalls,
        settings: Callable[[], Settings],
        now: Callable[[], float],
        default_user: Callable[[], str],
    ) -> None:
        self._calls = calls
        self._settings = settings
        self._now = now
        self._default_user = default_user
        client: aioredis.Redis = calls.client
        self._client = client
        self._commit = client.register_script(scripts.COMMIT)
        self._release = client.register_script(scripts.RELEASE)
        self._take = client.register_script(scripts.TAKE_LEASE)
        self._compact_script = client.register_script(scripts.COMPACT)
        self._indexed: set[str] = set()
        """Prompts this process has put in the index (once per prompt and process)."""
        self.check_text: Callable[[str, str], Awaitable[None]] | None = None
        """Refuses a text before it is written (the store sets it: an include cycle, store/includes.py)."""

    def common_args(self, name: str) -> list[Any]:
        """The arguments every prompt script starts with."""
        return [
            repr(self._now()),
            self._settings().version_retention,
            self._settings().changelog_cap,
            self._calls.kind.layout.change_channel(name),
            name,
        ]

    async def commit(self, name: str, request: CommitRequest) -> CommitResult:
        """Run the commit script once for ``request`` (waiting out another writer's lease)."""
        k = self._calls.kind.layout.keys_for(name)
        text = validate_text(request.text, max_bytes=self._settings().max_bytes)
        if self.check_text is not None:
            await self.check_text(name, text)
        user = validate_author(request.user) if request.user is not None else self._default_user()
        note = validate_note(request.note)
        config = None if request.config is None else prompt_config.encode(request.config)
        if request.old_text is None:
            added, removed = text.count("\n") + (0 if text.endswith("\n") else 1), 0
        elif request.config is not None and request.old_config is not None:
            # A config change counts as changed lines below the text (core/prompt_config.py).
            added, removed = await count_changes(*prompt_config.compared(request.old_text, request.old_config,
                                                                          text, request.config))
        else:
            added, removed = await count_changes(request.old_text, text)
        entry = ChangeEntry(
            timestamp=int(self._now()),
            action=request.action,
            user_id=user,
            instruction=request.instruction,
            added=added,
            removed=removed,
            metadata=dict(request.metadata) or ({"source": request.source} if request.source else {}),
            note=note,
        )
        # Marks this write's changelog entry, so a commit whose reply was lost (and that
        # redis-py retried into a conflict) is recognised as done, not applied twice.
        write_id = f"{os.getpid()}-{random.getrandbits(64):x}"
        args = [
            *self.common_args(name),
            request.mode,
            "" if request.expected is None else str(request.expected),
            text,
            json.dumps({**entry.to_dict(), "write_id": write_id}),
            entry.user_id,
            request.action,
            request.source,
            "1" if request.set_backup else "0",
            "1" if request.force else "0",
            request.lease,
            self._settings().max_bytes,
            "0" if config is None else "1",
            config or "",
        ]
        status, version, _ = await self.run_leased(
            lambda: self._commit(keys=list(k.writes()), args=args), k.lock, name
        )
        if status is CommitStatus.CONFLICT and request.expected is not None and version > request.expected:
            landed = await self._landed(k, write_id, request.expected)
            if landed is not None:
                status, version = CommitStatus.OK, landed
        if status is CommitStatus.LOCKED:
            raise ConflictError(
                f"Prompt {name!r} is busy: another writer holds it; nothing was written.",
                expected_version=request.expected or 0,
                current_version=version,
            )
        if status is CommitStatus.TOOBIG:
            raise self.too_big(k, version)
        warnings = await self.index(name) if status is CommitStatus.OK else ()
        if status is CommitStatus.OK and request.old_text is not None:
            await self._compact(k, version, request.old_text, text)
        return CommitResult(status, version, entry, warnings)

    async def _compact(self, k: keymod.PromptKeys, version: int, old_text: str, text: str) -> None:
        """Keep version ``version - 1`` as a delta against the one just written (best effort).

        After the commit, so it is never part of the write: if it fails or loses a race
        the older version simply stays whole (the script checks both texts' hashes).
        """
        older = version - 1
        if delta.keeps_whole(older) or len(old_text.encode("utf-8")) < delta.MIN_BYTES:
            return
        patch = await make_delta(text, old_text, version)
        if len(patch) * 2 > len(old_text):
            return  # most of the text changed: a delta would save little
        with contextlib.suppress(*FAILURES, DynamicPromptError):
            await self._compact_script(keys=[k.versions, k.labels, k.release, k.meta], args=[
                older, delta.sha1(old_text), version, delta.sha1(text), patch])

    def too_big(self, k: keymod.PromptKeys, size: int) -> CorruptDataError:
        """The error for an active text another program made bigger than the size limit."""
        return CorruptDataError(
            f"The key {k.active} holds {human_size(size)}, over the "
            f"{human_size(self._settings().max_bytes)} limit (another program wrote it); nothing was "
            f"written. Delete it with: dprompt clear --name {k.name}"
        )

    async def run_leased(self, script: Callable[[], Awaitable[Any]], lock: str,
                         name: str) -> tuple[CommitStatus, int, list[Any]]:
        """Run a write script that answers ``[status, number, ...]``, waiting out another writer's lease.

        A script that finds the prompt's lease held by someone else answers ``locked``;
        it is run again once the lease is gone, for up to twice the lease's life.
        """
        give_up = time.monotonic() + 2 * LEASE_MS / 1000
        while True:
            reply = await self._calls(script, prompt=name)
            status = CommitStatus(reply[0].decode())
            if status is not CommitStatus.LOCKED or time.monotonic() > give_up:
                return status, int(reply[1]), list(reply[2:])
            # Another writer holds the lease for a moment: wait (cheaply) until it is free.
            while time.monotonic() < give_up:
                held: int = await self._calls(lambda: self._client.exists(lock), key=lock)
                if not held:
                    break
                await asyncio.sleep(random.uniform(0.0002, 0.001))

    async def index(self, name: str) -> tuple[str, ...]:
        """Put ``name`` in the prompt index after its write; a refusal is a warning, never an error.

        The index is a separate key (another slot in a cluster), so it cannot be part of
        the atomic write, and it must not be touched by a write that was refused. So it
        comes after a write that happened, and a refusal there (an ACL user limited to the
        prompt keys, an index of the wrong type) is reported beside the write's success:
        the listing still finds the prompt by its keys.
        """
        if name in self._indexed:
            return ()
        try:
            await self._calls(lambda: self._client.sadd(keymod.INDEX_KEY, name), key=keymod.INDEX_KEY)
        except DynamicPromptError as exc:
            return (f"The prompt index {keymod.INDEX_KEY} could not be updated ({exc}); the prompt is "
                    "still found by its keys.",)
        self._indexed.add(name)
        return ()

    def forget(self, name: str) -> None:
        """``name`` was cleared: put it in the index again on its next write."""
        self._indexed.discard(name)

    async def _landed(self, k: keymod.PromptKeys, write_id: str, expected: int) -> int | None:
        """The version our own write became, looking back through entries newer than ``expected``."""
        start = 0
        while True:
            raw = await self._calls(lambda: self._client.lrange(k.changelog, start, start + 63), key=k.changelog)
            for item in raw:
                try:
                    data = json.loads(item)
                    version = int(data.get("version") or 0)
                except (ValueError, TypeError, AttributeError):
                    continue
                if data.get("write_id") == write_id:
                    return version or None
                if version and version <= expected:
                    return None  # others keep writing: the list grows at the head
            if len(raw) < 64:
                return None
            start += 64

    async def take_lease(self, name: str, deadline: float) -> str:
        """Wait for and take the prompt's write lease; its token ("" if the deadline passed)."""
        token = f"{os.getpid()}-{random.getrandbits(64):x}"
        k = self._calls.kind.layout.keys_for(name)
        while time.monotonic() < deadline:
            taken = await self._calls(lambda: self._take(keys=[k.lock], args=[token, LEASE_MS]), key=k.lock)
            if taken:
                return token
            await asyncio.sleep(random.uniform(0.0002, 0.001))
        return ""

    async def release_lease(self, name: str, token: str) -> None:
        """Give the lease back if it is still ours (a failed or abandoned write)."""
        k = self._calls.kind.layout.keys_for(name)
        try:
            await self._release(keys=[k.lock], args=[token])
        except Exception:  # noqa: BLE001 - the lease expires by itself anyway
            pass
