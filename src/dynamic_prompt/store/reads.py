"""Every read of the store: a prompt's state, its history and versions, the listing, the fleet.

:class:`Reads` is owned by the :class:`~dynamic_prompt.store.PromptStore`. Reading a
prompt's state runs the STATE script, which also records a write made outside this
tool as a version of its own; everything else is a plain command or a bounded
script. Whatever another program stored is read bounded: a changelog entry is cut
to :data:`MAX_ENTRY_BYTES`, an active text over the size limit is named, not read.
"""

from __future__ import annotations

import builtins
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis.asyncio as aioredis

from dynamic_prompt.core import delta, prompt_config
from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core import labels as lab
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import (
    CorruptDataError,
    DynamicPromptError,
    PermissionDeniedError,
    PromptNotFoundError,
    VersionNotFoundError,
)
from dynamic_prompt.core.keys import valid_names
from dynamic_prompt.core.models import ChangeEntry, PromptMeta, PromptState, PromptSummary
from dynamic_prompt.core.text import estimate_tokens, human_size, line_count
from dynamic_prompt.server.kinds import index_names, scan_names
from dynamic_prompt.store import scripts
from dynamic_prompt.store.calls import ServerCalls
from dynamic_prompt.store.commit import Committer
from dynamic_prompt.store.fleet import AgentInfo, fleet_many_async

_ROW_FIELDS = ("version", "updated_at", "updated_by", "action")
"""The meta fields a listing row shows (HMGET: at 10,000 rows, parsing the whole hash showed)."""

ROWS_PER_CALL = 500
"""Prompts per listing script call on one server (a few milliseconds of the server's time)."""

RECONCILE_EVERY = 300.0
"""Seconds between keyspace scans for prompts the index misses (across every process)."""

MAX_ENTRY_BYTES = 64 * 1024
"""A changelog entry is read at most this long (ours are a few hundred bytes)."""


def as_text(value: bytes | str | None) -> str | None:
    """Bytes from Redis as text (other programs' bytes may not be UTF-8: shown, never re-encoded)."""
    if value is None or isinstance(value, str):
        return value
    return value.decode("utf-8", errors="replace")


def _meta(flat: Sequence[bytes]) -> PromptMeta:
    it = iter(flat)
    return PromptMeta.from_hash(
        {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in zip(it, it)}
    )


def _fields(values: Any) -> dict[str, str]:
    """An HMGET reply of :data:`_ROW_FIELDS` as a dict (a wrong-type meta reads as empty)."""
    if not isinstance(values, list):
        return {}
    return {f: (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))
            for f, v in zip(_ROW_FIELDS, values) if v is not None and v is not False}


def _refused(reply: Any) -> bool:
    return isinstance(reply, Exception) and ("NOPERM" in str(reply) or "no permissions" in str(reply).lower()
                                             or "unknown command" in str(reply).lower())


Row = tuple[int, dict[str, str], Any, Any]
"""A listing row as read: size, meta fields, the labels and release keys' values (or None)."""


def _row_reply(reply: Any) -> Row | None:
    """The ROW script's reply: ``None`` for no text, else (size, meta fields, labels, release)."""
    if not isinstance(reply, list) or not reply:
        return None
    size = reply[0] if isinstance(reply[0], int) else 0
    extra = [x if isinstance(x, bytes) else None for x in (list(reply[5:7]) + [None, None])[:2]]
    return size, _fields(reply[1:5]), extra[0], extra[1]


def listing_order(names: Iterable[str]) -> list[str]:
    """``default`` first, then the rest by name, case-blind."""
    return sorted(names, key=lambda n: (n != keymod.DEFAULT_NAME, n.lower()))


class Reads:
    """The store's reads, over one client."""

    def __init__(self, calls: ServerCalls, settings: Callable[[], Settings], committer: Committer) -> None:
        self._calls = calls
        self._settings = settings
        self._committer = committer
        client: aioredis.Redis = calls.client
        self._client = client
        self._state = client.register_script(scripts.STATE)
        self._history = client.register_script(scripts.HISTORY)
        self._row_sha = ""

    async def ping(self) -> float:
        """Round-trip time to the server in seconds."""
        start = time.perf_counter()
        await self._calls(lambda: self._client.ping())
        return time.perf_counter() - start

    async def state(self, name: str, *, with_backup: bool = True) -> PromptState:
        """A consistent snapshot of ``name``; an outside write seen here becomes a version."""
        k = self._calls.kind.layout.keys_for(name)
        args = [*self._committer.common_args(name), "1" if with_backup else "0", self._settings().max_bytes]
        try:
            reply = await self._calls(lambda: self._state(keys=list(k.writes()), args=args), prompt=name)
        except PermissionDeniedError:
            reply = await self._plain_state(k, with_backup)
        status = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        if status == "toobig":
            raise self._too_big(k, int(reply[1]))
        _, active, backup, meta = reply
        return PromptState(name, as_text(active), as_text(backup), _meta(meta))

    async def _plain_state(self, k: keymod.PromptKeys, with_backup: bool) -> list[Any]:
        """The state with plain commands: a read-only user without EVAL still reads."""
        size = await self._calls(lambda: self._client.strlen(k.active), key=k.active)
        if size > self._settings().max_bytes:
            return [b"toobig", size]
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.get(k.active)
            pipe.get(k.backup) if with_backup else pipe.exists(k.backup)
            pipe.hgetall(k.meta)
            active, backup, meta = await self._calls(lambda: pipe.execute(), prompt=k.name)
        return [b"ok", active, backup if with_backup else None, [x for pair in meta.items() for x in pair]]

    def _too_big(self, k: keymod.PromptKeys, size: int) -> CorruptDataError:
        return CorruptDataError(
            f"The key {k.active} holds {human_size(size)}, over the {human_size(self._settings().max_bytes)} "
            f"limit (another program wrote it); it is not read. Delete it with: dprompt clear --name {k.name}"
        )

    async def get_active(self, name: str) -> str | None:
        """The active text (a plain GET: the agents' read path), or ``None``."""
        k = self._calls.kind.layout.keys_for(name)
        size = await self._calls(lambda: self._client.strlen(k.active), key=k.active)
        if size > self._settings().max_bytes:
            raise self._too_big(k, size)
        return as_text(await self._calls(lambda: self._client.get(k.active), key=k.active))

    async def require(self, name: str) -> PromptState:
        """Like :meth:`state`, but a missing prompt is an error."""
        state = await self.state(name)
        if state.active is None:
            raise PromptNotFoundError(f"There is no prompt named {name!r}; load one first.")
        return state

    async def _changelog(self, name: str, limit: int) -> tuple[list[Any], list[int] | None]:
        """The newest ``limit`` raw entries, each cut to 64 KiB, with their real sizes (``None``
        when the user may not run EVAL: then a plain LRANGE, uncut; that user reads a server
        the operator trusts)."""
        k = self._calls.kind.layout.keys_for(name)
        try:
            flat = await self._calls(
                lambda: self._history(keys=[k.changelog], args=[0, limit - 1, MAX_ENTRY_BYTES]), key=k.changelog
            )
        except PermissionDeniedError:
            return await self._calls(lambda: self._client.lrange(k.changelog, 0, limit - 1), key=k.changelog), None
        return flat[::2], [int(size) for size in flat[1::2]]

    async def history(self, name: str, limit: int) -> list[ChangeEntry]:
        """The newest ``limit`` changelog entries, newest first (bad entries kept as ``unreadable``)."""
        if limit < 1:
            return []
        items, sizes = await self._changelog(name, limit)
        if sizes is None:
            return [ChangeEntry.from_json(item) for item in items]
        return [ChangeEntry.unreadable(as_text(item) or "", size) if size > MAX_ENTRY_BYTES
                else ChangeEntry.from_json(item) for item, size in zip(items, sizes)]

    async def changelog_raw(self, name: str, limit: int) -> list[str]:
        """The newest ``limit`` changelog entries as stored (JSON text), newest first.

        An entry bigger than 64 KiB comes back cut to that size (it then reads as
        ``unreadable``), so another program's huge entry costs a reader 64 KiB, not all of it.
        """
        if limit < 1:
            return []
        items, _ = await self._changelog(name, limit)
        return [as_text(item) or "" for item in items]

    async def versions(self, name: str) -> list[int]:
        """The version numbers whose text is kept (whole or as a delta), newest first."""
        k = self._calls.kind.layout.keys_for(name)
        raw = await self._calls(lambda: self._client.hkeys(k.versions), key=k.versions)
        numbers = set()
        for item in raw:
            field = as_text(item) or ""
            digits = field.removeprefix(delta.FIELD_PREFIX)
            if 0 < len(digits) <= 18 and digits.isascii() and digits.isdigit():
                numbers.add(int(digits))
        return sorted(numbers, reverse=True)

    async def version_configs(self, name: str, numbers: Sequence[int]) -> builtins.list[dict[str, Any]]:
        """The configs of versions ``numbers`` ({} for none), in one HMGET (core/prompt_config.py)."""
        if not numbers:
            return []
        k = self._calls.kind.layout.keys_for(name)
        fields = [f"c{n}" for n in numbers]
        raw = await self._calls(lambda: self._client.hmget(k.versions, fields), key=k.versions)
        return [prompt_config.read(item) for item in raw]

    async def version_text(self, name: str, number: int) -> str:
        """The full text of version ``number``."""
        text = (await self.version_texts(name, [number]))[0]
        if text is None:
            raise await self._no_version(name, number)
        return text

    async def version_texts(self, name: str, numbers: Sequence[int]) -> builtins.list[str | None]:
        """The texts of versions ``numbers`` (``None`` for one not kept), rebuilding deltas.

        One HMGET of each version's two possible fields; a delta's chain (at most
        :data:`~dynamic_prompt.core.delta.SNAPSHOT_EVERY` versions up to a full text) is
        fetched in one more.
        """
        k = self._calls.kind.layout.keys_for(name)
        fetched: dict[str, bytes | str | None] = {}

        async def fetch(fields: builtins.list[str]) -> None:
            fields = [f for f in dict.fromkeys(fields) if f not in fetched]
            if fields:
                raw = await self._calls(lambda: self._client.hmget(k.versions, fields), key=k.versions)
                fetched.update(zip(fields, raw))

        def pair(v: int) -> builtins.list[str]:
            return [str(v), f"{delta.FIELD_PREFIX}{v}"]

        await fetch([f for n in numbers for f in pair(n)])
        texts: dict[int, str | None] = {}
        for _ in range(3):
            missing = {v for n in numbers if (v := self._rebuild(n, fetched, texts)) is not None}
            if not missing:
                break
            await fetch([f for v in missing for u in range(v, v + delta.SNAPSHOT_EVERY + 1) for f in pair(u)])
        return [texts.get(n) for n in numbers]

    @staticmethod
    def _rebuild(number: int, fetched: dict[str, bytes | str | None], texts: dict[int, str | None]) -> int | None:
        """Fill ``texts[number]`` from ``fetched``; the version still needed, if a link is missing."""
        chain: builtins.list[delta.Delta] = []
        v = number
        while v not in texts:
            full, patch = f"{v}", f"{delta.FIELD_PREFIX}{v}"
            if full not in fetched or patch not in fetched:
                return v
            if fetched[full] is not None:
                texts[v] = as_text(fetched[full]) or ""
                break
            raw = fetched[patch]
            if raw is None:
                texts[v] = None
                break
            step = delta.parse(as_text(raw) or "")
            if step.base <= v or len(chain) > 4 * delta.SNAPSHOT_EVERY:
                raise CorruptDataError(f"Kept version {v}'s delta leans on version {step.base}, not a newer one.")
            chain.append(step)
            v = step.base
        text = texts[v]
        for i, step in enumerate(reversed(chain)):
            if text is None:
                raise CorruptDataError(f"Kept version {v} leans on a version that is no longer kept.")
            text = step.apply(text, check=i == len(chain) - 1)
        texts[number] = text
        return None

    async def version_pair(self, name: str, a: int, b: int) -> tuple[str, str]:
        """The texts of versions ``a`` and ``b``, read together; a version not kept is an error."""
        old, new = await self.version_texts(name, [a, b])
        if old is None or new is None:
            raise await self._no_version(name, a if old is None else b)
        return old, new

    async def change_texts(self, name: str, version: int) -> tuple[str, str]:
        """The texts before and after the change that made ``version`` (versions N-1 and N).

        Each refusal is one line: N not kept, N the first version (nothing came before
        it), or N-1 no longer kept (past the retention window).
        """
        before, after = await self.version_texts(name, [version - 1, version])
        if after is None:
            raise await self._no_version(name, version)
        if version == 1:
            raise VersionNotFoundError(
                f"Version 1 is the first version of {name!r}: there is no text before it to revert its "
                "change to (revert goes back to the original)."
            )
        if before is None:
            raise VersionNotFoundError(
                f"Prompt {name!r} no longer keeps version {version - 1} ({await self._kept(name)}), the text "
                f"before the change of v{version}, so that change cannot be reverted."
            )
        return before, after

    async def _kept(self, name: str) -> str:
        kept = await self.versions(name)
        return f"kept: {kept[-1]}-{kept[0]}" if kept else "none are kept"

    async def _no_version(self, name: str, number: int) -> VersionNotFoundError:
        return VersionNotFoundError(f"Prompt {name!r} has no version {number} ({await self._kept(name)}).")

    async def indexed(self) -> set[str]:
        """The names in the prompt index, and ``default`` where it is the gem's keys.

        The gem never writes the index, so its prompt is always a candidate; whether it
        has text is for the caller's read to say.
        """
        return await self._calls(lambda: index_names(self._client, self._calls.kind.layout), key=keymod.INDEX_KEY)

    async def list(self) -> builtins.list[PromptSummary]:
        """Every prompt in the index, with its row: one SMEMBERS and one pipelined read.

        Costs grow with the prompts, never with the rest of the keyspace: no scan.
        Prompts that other programs wrote and no dprompt process has seen yet join the
        index through :meth:`reconcile`.
        """
        found = await self.summaries(listing_order(await self.indexed()))
        return [row for row in found.values() if row is not None]

    async def reconcile(self, *, every: float = RECONCILE_EVERY, force: bool = False) -> builtins.list[str]:
        """Scan the keyspace for prompts the index misses and add them; the names added.

        At most once per ``every`` seconds across every process using this server (a
        lease key, :data:`~dynamic_prompt.core.keys.RECONCILE_KEY`), unless ``force``;
        an empty list when another process reconciled recently. A user who may not
        write the index still gets the names back (the listing shows them this once).
        """
        if not force:
            taken = await self._calls(
                lambda: self._client.set(keymod.RECONCILE_KEY, str(time.time()), nx=True, px=int(every * 1000)),
                key=keymod.RECONCILE_KEY)
            if not taken:
                return []
        known = await self.indexed()
        found = await self._calls(lambda: scan_names(self._calls.kind, self._client)) - known
        await self.adopt(found)
        return listing_order(found)

    async def adopt(self, names: Iterable[str]) -> None:
        """Put ``names`` (seen with text, written by another program) in the prompt index."""
        wanted = sorted(valid_names(names))
        if wanted:
            with contextlib.suppress(DynamicPromptError):  # a read-only user lists them all the same
                await self._calls(lambda: self._client.sadd(keymod.INDEX_KEY, *wanted), key=keymod.INDEX_KEY)

    async def summaries(self, names: Sequence[str]) -> dict[str, PromptSummary | None]:
        """The listing's row of each of ``names`` (``None`` for one without text), one round trip.

        One small script per prompt (its two keys: one slot), all pipelined: at 10,000
        prompts the client's cost per command dominates, and one command a row instead
        of three keeps the listing of 10,000 prompts near 100 ms. A user whose ACL has
        no EVAL gets the same rows from three plain commands a row.
        """
        ordered = list(dict.fromkeys(names))
        if not ordered:
            return {}
        try:
            replies = await self._row_replies(ordered)
            if any(isinstance(r, Exception) and "NOSCRIPT" in str(r) for r in replies):
                self._row_sha = ""  # the server forgot its scripts (a restart, SCRIPT FLUSH)
                replies = await self._row_replies(ordered)
            if replies and all(_refused(r) for r in replies):
                raise PermissionDeniedError("EVAL refused")
            rows = [_row_reply(r) for r in replies]
        except PermissionDeniedError:
            rows = await self._plain_rows(ordered)
        out: dict[str, PromptSummary | None] = {}
        for name, row in zip(ordered, rows):
            if row is None:
                out[name] = None
                continue
            size, meta, raw_labels, raw_release = row
            m = PromptMeta.from_hash(meta)
            out[name] = PromptSummary(name=name, version=m.version, size=size, updated_at=m.updated_at,
                                      updated_by=m.updated_by, action=m.action,
                                      # Most prompts have neither: no parse for them (10,000 rows).
                                      labels=lab.LabelSet.parse(raw_labels, m.version).named if raw_labels else {},
                                      release=lab.Release.parse(raw_release).summary() if raw_release else "")
        return out

    async def _row_replies(self, ordered: Sequence[str]) -> builtins.list[Any]:
        """The ROW script's reply for each name, in one pipeline.

        On one server a call takes :data:`ROWS_PER_CALL` prompts (EVALSHA: the text is not
        sent each time); on a cluster a call takes one prompt, whose two keys share a slot
        (EVAL: redis-py's cluster pipeline refuses EVALSHA; the server caches it all the same).
        """
        layout, sharded = self._calls.kind.layout, self._calls.kind.sharded
        if not sharded and not self._row_sha:
            loaded = await self._calls(lambda: self._client.script_load(scripts.ROW))
            self._row_sha = loaded.decode() if isinstance(loaded, bytes) else str(loaded)
        size = 1 if sharded else ROWS_PER_CALL
        batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
        async with self._client.pipeline(transaction=False) as pipe:
            for batch in batches:
                keys = [key for name in batch for k in (layout.keys_for(name),)
                        for key in (k.active, k.meta, k.labels, k.release)]
                if sharded:
                    pipe.eval(scripts.ROW, len(keys), *keys)
                else:
                    pipe.evalsha(self._row_sha, len(keys), *keys)
            replies = await self._calls(lambda: pipe.execute(raise_on_error=False))
        out: builtins.list[Any] = []
        for batch, reply in zip(batches, replies):
            out.extend(reply if isinstance(reply, list) and len(reply) == len(batch) else [reply] * len(batch))
        return out

    async def _plain_rows(self, ordered: Sequence[str]) -> builtins.list[Row | None]:
        """:meth:`summaries`' rows with plain commands (EXISTS, STRLEN, HMGET, GET, GET)."""
        async with self._client.pipeline(transaction=False) as pipe:
            for name in ordered:
                k = self._calls.kind.layout.keys_for(name)
                pipe.exists(k.active)
                pipe.strlen(k.active)
                pipe.hmget(k.meta, _ROW_FIELDS)
                pipe.get(k.labels)
                pipe.get(k.release)
            replies = await self._calls(lambda: pipe.execute(raise_on_error=False))
        rows: builtins.list[Row | None] = []
        for i in range(len(ordered)):
            exists, size, meta, raw_labels, raw_release = replies[5 * i : 5 * i + 5]
            if not exists or isinstance(exists, Exception):
                rows.append(None)
                continue
            rows.append((size if isinstance(size, int) else 0, _fields(meta),
                         raw_labels if isinstance(raw_labels, bytes) else None,
                         raw_release if isinstance(raw_release, bytes) else None))
        return rows

    async def fleet(self, names: Sequence[str] = ()) -> dict[str, builtins.list[AgentInfo]]:
        """The agents reading each of ``names`` (default: every indexed prompt, and any prompt
        agents announced although it has no text yet), marked behind or gone. No scan: agents
        add what they read to :data:`~dynamic_prompt.core.keys.FLEET_INDEX_KEY`."""
        wanted = [keymod.validate_name(n) for n in names]
        if not wanted:
            raw = await self._calls(lambda: self._client.smembers(keymod.FLEET_INDEX_KEY),
                                    key=keymod.FLEET_INDEX_KEY)
            wanted = listing_order(await self.indexed() | valid_names(raw))
        return await self._calls(lambda: fleet_many_async(self._client, wanted, layout=self._calls.kind.layout))

    async def metadata(self, name: str, server: str | None) -> dict[str, Any]:
        """A JSON-ready description of ``name``: version, size, tokens, authors, keys, server."""
        state = await self.state(name, with_backup=True)
        k = self._calls.kind.layout.keys_for(name)
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.llen(k.changelog)
            pipe.hlen(k.versions)
            log_len, kept = await self._calls(lambda: pipe.execute(), prompt=name)
        text = state.active or ""
        return {
            "name": name,
            "exists": state.exists,
            "version": state.version,
            "size_bytes": len(text.encode("utf-8")),
            "lines": line_count(text),
            "tokens_estimate": estimate_tokens(text),
            "modified_from_original": state.exists and state.active != state.backup,
            "updated_at": state.meta.updated_at,
            "updated_by": state.meta.updated_by,
            "last_action": state.meta.action,
            "source": state.meta.source,
            "changelog_entries": log_len,
            "versions_kept": kept,
            "keys": dict(zip(("active", "backup", "meta", "versions", "changelog"), k.all())),
            "server": server,
        }
