"""The prompt store: every read and write of prompts in Redis.

:class:`PromptStore` is the asyncio implementation (the dashboard and the MCP
server use it); :class:`DynamicPrompt` in :mod:`dynamic_prompt.facade` is the
synchronous facade with the seed gem's method names, running this same code on
a private event loop, so the logic lives in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis import exceptions as rexc

from dynamic_prompt.core import diff as diffmod
from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core import modifier
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import (
    ConflictError,
    DynamicPromptError,
    InstructionError,
    PermissionDeniedError,
    PromptExistsError,
    PromptNotFoundError,
    VersionNotFoundError,
)
from dynamic_prompt.core.models import (
    ChangeEntry,
    Edit,
    PromptMeta,
    PromptState,
    PromptSummary,
    WriteResult,
)
from dynamic_prompt.server import ServerTarget, async_client, sentinel
from dynamic_prompt.server.errors import UNREACHABLE, library_error
from dynamic_prompt.store import scripts
from dynamic_prompt.store.commit import WritePath
from dynamic_prompt.store.fleet import AgentInfo, fleet_many_async
from dynamic_prompt.store.sources import LoadedSource, read_source, validate_text

T = TypeVar("T")

_FAILURES: tuple[type[BaseException], ...] = (rexc.RedisError, *UNREACHABLE)

RETRY_DEADLINE = 30.0
"""How long a modify that keeps losing races re-reads and re-applies before giving up."""

LEASE_AFTER = 2
"""Lost races after which a writer takes the write lease, so it cannot starve."""

def default_user() -> str:
    """The OS user, the default author of changes."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - getuser raises various errors without a login
        return "unknown"


def _valid_names(candidates: Iterable[str]) -> set[str]:
    """The candidates that are valid prompt names (other programs' keys may hold anything)."""
    names: set[str] = set()
    for name in candidates:
        with contextlib.suppress(DynamicPromptError):
            names.add(keymod.validate_name(name))
    return names


def _listing_order(names: Iterable[str]) -> list[str]:
    """``default`` first, then the rest by name, case-blind."""
    return sorted(names, key=lambda n: (n != keymod.DEFAULT_NAME, n.lower()))


def _text(value: bytes | str | None) -> str | None:
    # Text written by other programs may not be UTF-8; it is shown, never re-encoded
    # back (copies between keys happen in Lua, byte for byte).
    if value is None or isinstance(value, str):
        return value
    return value.decode("utf-8", errors="replace")


def _meta(flat: Sequence[bytes]) -> PromptMeta:
    it = iter(flat)
    return PromptMeta.from_hash(
        {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in zip(it, it)}
    )


@dataclass(frozen=True)
class Preview:
    """What an instruction would do, without writing: the edits and both texts."""

    name: str
    version: int
    old: str
    new: str
    edits: tuple[Edit, ...]

    def unified(self) -> str:
        """The change as a unified diff."""
        return diffmod.unified(self.old, self.new, from_label=f"v{self.version}", to_label="new")


class PromptStore(WritePath):
    """Async access to every prompt in one Redis server.

    Args:
        client: an asyncio redis-py client with ``decode_responses=False``.
        settings: retention, caps, size limit and the default user.
        target: the server the client talks to (for messages; optional).
    """

    clock: Callable[[], float] = staticmethod(time.time)
    """Where write timestamps come from (tests stop it for stable screenshots)."""

    def __init__(
        self,
        client: aioredis.Redis,
        settings: Settings | None = None,
        target: ServerTarget | None = None,
    ) -> None:
        self.client = client
        self.settings = settings or Settings()
        self.target = target
        self._state = client.register_script(scripts.STATE)
        self._commit = client.register_script(scripts.COMMIT)
        self._clear = client.register_script(scripts.CLEAR)
        self._release = client.register_script(scripts.RELEASE)
        self.retries = 0
        """Lost races so far: modifies that re-read and re-applied their instruction."""
        self._indexed: set[str] = set()
        """Prompts this store has put in the index (see WritePath._write)."""

    @classmethod
    def connect(cls, target: ServerTarget, settings: Settings | None = None) -> PromptStore:
        """A store with its own client for ``target``."""
        return cls(async_client(target), settings, target)

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()

    @property
    def user(self) -> str:
        """The author recorded when a call names none."""
        return self.settings.user or default_user()

    # -- plumbing ---------------------------------------------------------------------

    async def _call(self, factory: Callable[[], Awaitable[T]], key_hint: str = "") -> T:
        """Run one server call, turning redis-py errors into one-line library errors."""
        try:
            return await factory()
        except _FAILURES as exc:
            if not (sentinel.stale_master_error(exc) and sentinel.is_sentinel_client(self.client)):
                raise library_error(exc, self._where(), key_hint) from None
        # A Sentinel failover: an old master refused (refusals come before any write, so
        # nothing was written there). Ask where the master is now and try once more.
        await sentinel.rediscover(self.client)
        try:
            return await factory()
        except _FAILURES as exc:
            raise library_error(exc, self._where(), key_hint) from None

    def _where(self) -> str:
        return f"the Redis server at {self.target.display}" if self.target else "the Redis server"

    def _common_args(self, name: str) -> list[Any]:
        return [
            repr(self.clock()),
            self.settings.version_retention,
            self.settings.changelog_cap,
            keymod.CHANGE_CHANNEL,
            name,
        ]

    # -- reads ------------------------------------------------------------------------

    async def ping(self) -> float:
        """Round-trip time to the server in seconds."""
        start = time.perf_counter()
        await self._call(lambda: self.client.ping())
        return time.perf_counter() - start

    async def state(self, name: str = keymod.DEFAULT_NAME, *, with_backup: bool = True) -> PromptState:
        """A consistent snapshot of ``name``; an outside write seen here becomes a version."""
        k = keymod.keys_for(name)
        try:
            reply = await self._call(
                lambda: self._state(keys=list(k.all()), args=[*self._common_args(name), "1" if with_backup else "0"]),
                name,
            )
        except PermissionDeniedError:
            # A read-only user without EVAL (or SCRIPT LOAD) still reads, with plain commands.
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.get(k.active)
                pipe.get(k.backup) if with_backup else pipe.exists(k.backup)
                pipe.hgetall(k.meta)
                reply = await self._call(lambda: pipe.execute(), name)
            if not with_backup:
                reply[1] = None
            reply[2] = [x for pair in reply[2].items() for x in pair]
        active, backup, meta = reply
        return PromptState(name, _text(active), _text(backup), _meta(meta))

    async def get_active(self, name: str = keymod.DEFAULT_NAME) -> str | None:
        """The active text (a plain GET: the agents' read path), or ``None``."""
        k = keymod.keys_for(name)
        return _text(await self._call(lambda: self.client.get(k.active), name))

    async def require(self, name: str) -> PromptState:
        """Like :meth:`state`, but a missing prompt is an error."""
        state = await self.state(name)
        if state.active is None:
            raise PromptNotFoundError(f"There is no prompt named {name!r}; load one first.")
        return state

    async def history(self, name: str = keymod.DEFAULT_NAME, limit: int = 10) -> list[ChangeEntry]:
        """The newest ``limit`` changelog entries, newest first (bad entries kept as ``unreadable``)."""
        if limit < 1:
            return []
        k = keymod.keys_for(name)
        raw = await self._call(lambda: self.client.lrange(k.changelog, 0, limit - 1), name)
        return [ChangeEntry.from_json(item) for item in raw]

    async def versions(self, name: str = keymod.DEFAULT_NAME) -> list[int]:
        """The version numbers whose text is kept, newest first."""
        k = keymod.keys_for(name)
        raw = await self._call(lambda: self.client.hkeys(k.versions), name)
        numbers = []
        for item in raw:
            try:
                numbers.append(int(item))
            except ValueError:
                continue
        return sorted(numbers, reverse=True)

    async def version_text(self, name: str, number: int) -> str:
        """The full text of version ``number``."""
        k = keymod.keys_for(name)
        raw = await self._call(lambda: self.client.hget(k.versions, str(number)), name)
        if raw is None:
            kept = await self.versions(name)
            span = f"kept: {kept[-1]}-{kept[0]}" if kept else "none are kept"
            raise VersionNotFoundError(f"Prompt {name!r} has no version {number} ({span}).")
        return _text(raw) or ""

    async def fleet(self, names: Sequence[str] = ()) -> dict[str, list[AgentInfo]]:
        """The agents reading each of ``names`` (default: every stored prompt, and any
        prompt agents announce although it has no text yet), marked behind or gone."""
        wanted = [keymod.validate_name(n) for n in names]
        if not wanted:
            found = {p.name for p in await self.list()}
            prefix = keymod.AGENTS_KEY_PREFIX
            found |= _valid_names(key[len(prefix):] for key in await self._scan(prefix + "*"))
            wanted = _listing_order(found)
        return await self._call(lambda: fleet_many_async(self.client, wanted))

    async def _scan(self, pattern: str) -> list[str]:
        """Every key matching ``pattern`` (SCAN, a page at a time)."""
        keys: list[str] = []
        cursor = 0
        while True:
            page: tuple[int, list[bytes | str]] = await self._call(
                lambda c=cursor: self.client.scan(c, match=pattern, count=1000)  # type: ignore[misc]
            )
            cursor, found = page
            keys += [_text(key) or "" for key in found]
            if cursor == 0:
                return keys

    async def list(self) -> list[PromptSummary]:
        """Every prompt in the server: indexed ones and any found by their active key."""
        indexed = await self._call(lambda: self.client.smembers(keymod.INDEX_KEY))
        names = _valid_names(_text(raw) or "" for raw in indexed)
        for pattern in keymod.ACTIVE_KEY_PATTERNS:
            for key in await self._scan(pattern):
                parsed = keymod.parse_key(key)
                if parsed:
                    names.add(parsed[0])
        ordered = _listing_order(names)
        async with self.client.pipeline(transaction=False) as pipe:
            for name in ordered:
                k = keymod.keys_for(name)
                pipe.exists(k.active)
                pipe.strlen(k.active)
                pipe.hgetall(k.meta)
            replies = await self._call(lambda: pipe.execute(raise_on_error=False))
        out = []
        for i, name in enumerate(ordered):
            exists, size, meta = replies[3 * i : 3 * i + 3]
            if not exists or isinstance(exists, Exception):
                continue
            m = PromptMeta.from_hash(
                {a.decode(): b.decode("utf-8", "replace") for a, b in meta.items()}
                if isinstance(meta, dict)
                else {}
            )
            out.append(
                PromptSummary(
                    name=name,
                    version=m.version,
                    size=size if isinstance(size, int) else 0,
                    updated_at=m.updated_at,
                    updated_by=m.updated_by,
                    action=m.action,
                )
            )
        return out

    async def metadata(self, name: str = keymod.DEFAULT_NAME) -> dict[str, Any]:
        """A JSON-ready description of ``name``: version, size, tokens, authors, server."""
        state = await self.state(name, with_backup=True)
        k = keymod.keys_for(name)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.llen(k.changelog)
            pipe.hlen(k.versions)
            log_len, kept = await self._call(lambda: pipe.execute(), name)
        text = state.active or ""
        return {
            "name": name,
            "exists": state.exists,
            "version": state.version,
            "size_bytes": len(text.encode("utf-8")),
            "lines": text.count("\n") + 1 if text else 0,
            "tokens_estimate": estimate_tokens(text),
            "modified_from_original": state.exists and state.active != state.backup,
            "updated_at": state.meta.updated_at,
            "updated_by": state.meta.updated_by,
            "last_action": state.meta.action,
            "source": state.meta.source,
            "changelog_entries": log_len,
            "versions_kept": kept,
            "keys": dict(zip(("active", "backup", "meta", "versions", "changelog"), k.all())),
            "server": self.target.display if self.target else None,
        }

    # -- writes -----------------------------------------------------------------------

    async def load(
        self,
        name: str,
        source: str | LoadedSource,
        *,
        force: bool = False,
        user: str | None = None,
        kind: str = "auto",
    ) -> WriteResult:
        """Load text from a file, URL or literal string; it becomes the active text and the backup.

        Refuses to replace an existing prompt unless ``force``; the replaced text
        stays restorable as a version.
        """
        keymod.validate_name(name)
        loaded = (
            source
            if isinstance(source, LoadedSource)
            else await asyncio.to_thread(
                read_source, source, max_bytes=self.settings.max_bytes, kind=kind
            )
        )
        previous = await self.state(name, with_backup=False)
        if previous.exists and not force:
            raise PromptExistsError(
                f"Prompt {name!r} already exists (version {previous.version}); use force to replace it."
            )
        status, version, entry = await self._write(
            name,
            loaded.text,
            action="load",
            user=user,
            expected=previous.version if previous.exists else None,
            old_text=previous.active,
            mode="load",
            force=force,
            set_backup=True,
            source=loaded.source,
        )
        if status == "exists":
            raise PromptExistsError(
                f"Prompt {name!r} was created meanwhile (version {version}); use force to replace it."
            )
        if status == "conflict":
            raise ConflictError(
                f"Prompt {name!r} changed while loading (now version {version}); try again.",
                expected_version=previous.version,
                current_version=version,
            )
        changed = status == "ok"
        return WriteResult(
            name, version, loaded.text, changed, entry if changed else None,
            "" if changed else "The prompt already has this text.",
        )

    async def preview(self, name: str, instruction: str) -> Preview:
        """What ``instruction`` would do to ``name`` now, without writing."""
        edits = modifier.parse(instruction)
        state, old, new = await self._applied(name, edits)
        return Preview(name, state.version, old, new, tuple(edits))

    async def _applied(self, name: str, edits: Sequence[Edit]) -> tuple[PromptState, str, str]:
        """The prompt as it is now, its text, and the text ``edits`` make of it."""
        state = await self.require(name)
        old = state.active or ""
        new = modifier.apply_edits(old, edits)
        if new == old:
            raise InstructionError("The instruction changes nothing.")
        return state, old, new

    async def modify(
        self, name: str, instruction: str, *, user: str | None = None, dry_run: bool = False
    ) -> WriteResult:
        """Apply a plain-language instruction; a lost race re-reads and re-applies it.

        An instruction that is not understood, or whose target is absent or
        ambiguous, raises :class:`InstructionError` and changes nothing.
        """
        edits = modifier.parse(instruction)
        deadline = time.monotonic() + RETRY_DEADLINE
        lease = ""
        attempt = 0
        try:
            while True:
                if attempt >= LEASE_AFTER and not lease:
                    # Lost twice: queue for the lease, and read only once we hold it.
                    lease = await self._take_lease(name, deadline)
                state, old, new = await self._applied(name, edits)
                if dry_run:
                    validate_text(new, max_bytes=self.settings.max_bytes)
                    return WriteResult(name, state.version, new, False, None, "dry run: nothing written",
                                       previous=old)
                status, version, entry = await self._write(
                    name,
                    new,
                    action="modify",
                    user=user,
                    expected=state.version,
                    instruction=instruction.strip(),
                    old_text=old,
                    lease=lease,
                )
                if status == "ok":
                    lease = ""  # the commit released it
                    return WriteResult(name, version, new, True, entry, previous=old)
                if status == "missing":
                    raise PromptNotFoundError(f"Prompt {name!r} was cleared meanwhile.")
                if time.monotonic() > deadline:
                    raise ConflictError(
                        f"Prompt {name!r} kept changing under this instruction for "
                        f"{RETRY_DEADLINE:.0f} s; nothing was written.",
                        expected_version=state.version,
                        current_version=version,
                    )
                attempt += 1
                self.retries += 1
                # Someone wrote first: back off a little, so retries spread out.
                await asyncio.sleep(random.uniform(0, 0.001 * min(attempt, 10)))
        finally:
            if lease:
                await self._release_lease(name, lease)

    async def set_active(
        self,
        name: str,
        text: str,
        *,
        expected_version: int | None,
        user: str | None = None,
        action: str = "edit",
        instruction: str = "",
    ) -> WriteResult:
        """Save text written by hand, if the prompt is still at ``expected_version``.

        A prompt changed meanwhile raises :class:`ConflictError` with the current
        version, so the caller can show the other change; nothing is overwritten.
        ``expected_version=None`` writes unconditionally (still as a new version).
        """
        state = await self.state(name, with_backup=False)
        status, version, entry = await self._write(
            name,
            text,
            action=action,
            user=user,
            expected=expected_version,
            instruction=instruction,
            old_text=state.active,
            mode="load" if not state.exists else "write",
            force=True,
            set_backup=not state.exists,
        )
        return self._result(name, status, version, text, entry, expected_version)

    def _result(
        self, name: str, status: str, version: int, text: str, entry: ChangeEntry, expected: int | None
    ) -> WriteResult:
        if status == "ok":
            return WriteResult(name, version, text, True, entry)
        if status == "nochange":
            return WriteResult(name, version, text, False, None, "Nothing to change: the text is the same.")
        if status == "missing":
            raise PromptNotFoundError(f"There is no prompt named {name!r}.")
        raise ConflictError(
            f"Prompt {name!r} is at version {version}, not {expected}: someone changed it meanwhile.",
            expected_version=expected or 0,
            current_version=version,
        )

    async def revert(self, name: str = keymod.DEFAULT_NAME, *, user: str | None = None) -> WriteResult:
        """Make the original (backup) text active again, as a new version."""
        state = await self.require(name)
        if state.backup is None:
            raise PromptNotFoundError(f"Prompt {name!r} has no original to revert to.")
        if state.backup == state.active:
            return WriteResult(name, state.version, state.active or "", False, None,
                               "Already at the original; nothing to revert.")
        return await self._restore_text(name, state, state.backup, "revert", user, {})

    async def restore(self, name: str, version: int, *, user: str | None = None,
                      expected_version: int | None = None) -> WriteResult:
        """Make version ``version``'s text active again, as a new version."""
        text = await self.version_text(name, version)
        state = await self.require(name)
        if expected_version is not None and state.version != expected_version:
            raise ConflictError(
                f"Prompt {name!r} is at version {state.version}, not {expected_version}.",
                expected_version=expected_version, current_version=state.version,
            )
        if text == state.active:
            return WriteResult(name, state.version, text, False, None,
                               f"Version {version} is already the active text.")
        return await self._restore_text(name, state, text, "restore", user,
                                        {"from_version": version}, instruction=f"restore version {version}")

    async def undo(self, name: str = keymod.DEFAULT_NAME, *, user: str | None = None) -> WriteResult:
        """Return to the text before the last change (the previous kept version)."""
        state = await self.require(name)
        older = [v for v in await self.versions(name) if v < state.version]
        if not older:
            raise VersionNotFoundError(f"Prompt {name!r} has no earlier version to go back to.")
        text = await self.version_text(name, older[0])
        return await self._restore_text(name, state, text, "undo", user, {"from_version": older[0]},
                                        instruction=f"undo to version {older[0]}")

    async def _restore_text(self, name: str, state: PromptState, text: str, action: str,
                            user: str | None, metadata: dict[str, Any], instruction: str = "") -> WriteResult:
        status, version, entry = await self._write(
            name, text, action=action, user=user, expected=state.version,
            old_text=state.active, metadata=metadata, instruction=instruction,
        )
        return self._result(name, status, version, text, entry, state.version)

    async def clear(self, name: str = keymod.DEFAULT_NAME) -> bool:
        """Delete the prompt, its original, versions and changelog. True if anything was there."""
        k = keymod.keys_for(name)
        deleted = await self._call(
            lambda: self._clear(keys=list(k.all()), args=[keymod.CHANGE_CHANNEL, name]), name
        )
        self._indexed.discard(name)
        await self._call(lambda: self.client.srem(keymod.INDEX_KEY, name))
        return int(deleted) > 0

    async def diff(self, name: str = keymod.DEFAULT_NAME, against: int | None = None) -> tuple[str, str]:
        """``(old, new)`` texts: the backup (or version ``against``) and the active text."""
        state = await self.require(name)
        old = state.backup or "" if against is None else await self.version_text(name, against)
        return old, state.active or ""


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters a token for English prose)."""
    return (len(text) + 3) // 4

