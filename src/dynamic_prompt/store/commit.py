"""The write path under every mutation: one commit script run, leases, lost replies.

:class:`WritePath` is the part of :class:`~dynamic_prompt.store.prompt_store.PromptStore`
that turns "write this text as a new version" into one atomic commit on the
server: it builds the gem-format changelog entry, runs the commit script,
waits its turn while another writer holds the prompt's short lease, and
recognises its own write when the reply was lost and a retry came back as a
conflict. The store decides *what* to write; this module only writes it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from dynamic_prompt.core import diff as diffmod
from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import ConflictError
from dynamic_prompt.core.models import ChangeEntry
from dynamic_prompt.store.sources import validate_text

T = TypeVar("T")

LEASE_MS = 2000
"""The lease expires by itself, so a writer that dies holding it blocks nobody for long."""


class WritePath:
    """Commit mechanics shared by every mutation of :class:`PromptStore`."""

    client: aioredis.Redis
    settings: Settings
    clock: Callable[[], float]
    _commit: AsyncScript
    _release: AsyncScript
    _indexed: set[str]

    @property
    def user(self) -> str:  # pragma: no cover - defined by the store
        raise NotImplementedError

    async def _call(self, factory: Callable[[], Awaitable[T]], key_hint: str = "") -> T:  # pragma: no cover
        raise NotImplementedError

    def _common_args(self, name: str) -> list[Any]:  # pragma: no cover
        raise NotImplementedError

    async def _write(
        self,
        name: str,
        text: str,
        *,
        action: str,
        user: str | None,
        expected: int | None,
        instruction: str = "",
        old_text: str | None = None,
        mode: str = "write",
        force: bool = False,
        set_backup: bool = False,
        source: str = "",
        metadata: dict[str, Any] | None = None,
        lease: str = "",
    ) -> tuple[str, int, ChangeEntry]:
        """Run the commit script once; returns its status and the version it saw or wrote."""
        k = keymod.keys_for(name)
        validate_text(text, max_bytes=self.settings.max_bytes)
        added, removed = diffmod.count_changes(old_text or "", text) if old_text is not None else (
            text.count("\n") + 1,
            0,
        )
        entry = ChangeEntry(
            timestamp=int(self.clock()),
            action=action,
            user_id=user or self.user,
            instruction=instruction,
            added=added,
            removed=removed,
            metadata=metadata or ({"source": source} if source else {}),
        )
        # Marks this write's changelog entry, so a commit whose reply was lost (and that
        # redis-py retried into a conflict) is recognised as done, not applied twice.
        write_id = f"{os.getpid()}-{random.getrandbits(64):x}"
        args = [
            *self._common_args(name),
            mode,
            "" if expected is None else str(expected),
            text,
            json.dumps({**entry.to_dict(), "write_id": write_id}),
            entry.user_id,
            action,
            source,
            "1" if set_backup else "0",
            "1" if force else "0",
            lease,
        ]
        give_up = time.monotonic() + 2 * LEASE_MS / 1000
        while True:
            status, version = await self._call(
                lambda: self._commit(keys=[*k.all(), k.lock], args=args), name
            )
            status = status.decode()
            if status != "locked" or time.monotonic() > give_up:
                break
            # Another writer holds the lease for a moment: wait (cheaply) until it is free.
            while time.monotonic() < give_up:
                held: int = await self._call(lambda: self.client.exists(k.lock))
                if not held:
                    break
                await asyncio.sleep(random.uniform(0.0002, 0.001))
        if status == "conflict" and expected is not None and int(version) > expected:
            landed = await self._landed(k, write_id, expected)
            if landed is not None:
                status, version = "ok", landed
        if status == "locked":
            raise ConflictError(
                f"Prompt {name!r} is busy: another writer holds it; nothing was written.",
                expected_version=expected or 0,
                current_version=int(version),
            )
        if status == "ok" and name not in self._indexed:
            # The index is a separate key (another slot in a cluster): idempotent, after the
            # fact, and once per prompt and process. It only speeds up list(), which also
            # finds prompts by their active keys, so a long-lived writer (the dashboard, an
            # MCP server) saves a round trip on every later write.
            await self._call(lambda: self.client.sadd(keymod.INDEX_KEY, name))
            self._indexed.add(name)
        return status, int(version), entry

    async def _landed(self, k: keymod.PromptKeys, write_id: str, expected: int) -> int | None:
        """The version our own write became, looking back through entries newer than ``expected``."""
        start = 0
        while True:
            raw = await self._call(lambda: self.client.lrange(k.changelog, start, start + 63), k.name)
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

    async def _take_lease(self, name: str, deadline: float) -> str:
        """Wait for and take the prompt's write lease; its token ("" if the deadline passed)."""
        token = f"{os.getpid()}-{random.getrandbits(64):x}"
        k = keymod.keys_for(name)
        while time.monotonic() < deadline:
            if await self._call(lambda: self.client.set(k.lock, token, nx=True, px=LEASE_MS), name):
                return token
            await asyncio.sleep(random.uniform(0.0002, 0.001))
        return ""

    async def _release_lease(self, name: str, token: str) -> None:
        """Give the lease back if it is still ours (a failed or abandoned modify)."""
        k = keymod.keys_for(name)
        try:
            await self._release(keys=[k.lock], args=[token])
        except Exception:  # noqa: BLE001 - the lease expires by itself anyway
            pass

