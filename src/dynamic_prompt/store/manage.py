"""Prompts as a whole: rename, duplicate, clear (so nobody needs redis-cli for them).

:class:`Manage` is owned by the :class:`~dynamic_prompt.store.PromptStore`.

* **rename** moves every key (text, original, meta, versions, changelog, labels, release) to the
  new name's in one Lua script (``lua/rename.lua``), which first records an outside
  write as a version, logs a ``rename`` entry, and refuses before any write when the
  new name has any key, the prompt is missing, or a writer holds its lease. A rename
  names two hash tags (and the gem's ``default`` keys have none), so the script names
  both prompts' keys: it is atomic where they all live on one node, which holds for
  a single server and for Sentinel (one primary). A cluster would refuse the script
  (keys in two slots) before it ran, so nothing half-moved can come of it either.
* **duplicate** reads the source once and creates the copy with one commit: a new
  prompt whose text and original are the source's active text, with a ``duplicate``
  entry saying where it came from. A target that exists is refused by the commit.
* **clear** deletes the five keys in one script.

The prompt index (another key) is updated after the script and a refusal there is a
warning beside the write's success, as for every write.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import replace

from redis.crc import key_slot

from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import (
    ConflictError,
    DynamicPromptError,
    InvalidNameError,
    PromptExistsError,
    PromptNotFoundError,
)
from dynamic_prompt.core.models import ChangeEntry, WriteResult
from dynamic_prompt.core.text import validate_author, validate_note
from dynamic_prompt.store import scripts
from dynamic_prompt.store.calls import ServerCalls
from dynamic_prompt.store.commit import CommitRequest, CommitStatus, Committer
from dynamic_prompt.store.reads import Reads, as_text


class Manage:
    """The store's writes of whole prompts, over the committer and the reads."""

    def __init__(self, calls: ServerCalls, settings: Callable[[], Settings], committer: Committer, reads: Reads,
                 now: Callable[[], float], default_user: Callable[[], str]) -> None:
        self._calls = calls
        self._settings = settings
        self._committer = committer
        self._reads = reads
        self._now = now
        self._default_user = default_user
        self._clear = calls.client.register_script(scripts.CLEAR)
        self._rename = calls.client.register_script(scripts.RENAME)

    async def rename(self, name: str, new_name: str, *, user: str | None, note: str = "") -> WriteResult:
        """Give ``name`` the name ``new_name`` with its whole history; refuses an existing ``new_name``."""
        old, new = self._calls.kind.layout.keys_for(name), self._calls.kind.layout.keys_for(new_name)
        if name == new_name:
            raise InvalidNameError(f"Prompt {name!r} is already named {new_name!r}; give another name.")
        if self._calls.kind.sharded and key_slot(old.active.encode()) != key_slot(new.active.encode()):
            # The move is one script over both prompts' keys; a cluster runs a script on one slot.
            raise InvalidNameError(
                f"On a cluster {name!r} and {new_name!r} live in different slots, so the rename cannot be "
                f"one atomic step; nothing was changed. Keep the history under the old name, or start "
                f"the new one with: dprompt duplicate {name} {new_name}"
            )
        note = validate_note(note)
        author = validate_author(user) if user is not None else self._default_user()
        entry = ChangeEntry(timestamp=int(self._now()), action="rename", user_id=author,
                            instruction=f"renamed from {name!r}", metadata={"renamed_from": name}, note=note)
        args = [*self._committer.common_args(name), new_name, json.dumps(entry.to_dict()), author,
                self._settings().max_bytes]
        status, number, rest = await self._committer.run_leased(
            lambda: self._rename(keys=[*old.writes(), *new.writes()], args=args), old.lock, name
        )
        if status is CommitStatus.MISSING:
            raise PromptNotFoundError(f"There is no prompt named {name!r}; nothing to rename.")
        if status is CommitStatus.EXISTS:
            if number:
                raise PromptExistsError(
                    f"Prompt {new_name!r} already exists; rename refuses to replace it (nothing was changed)."
                )
            raise PromptExistsError(
                f"Prompt {new_name!r} already has keys (a history without text); clear it first with: "
                f"dprompt clear --name {new_name} (nothing was changed)."
            )
        if status is CommitStatus.LOCKED:
            raise ConflictError(f"Prompt {name!r} is busy: another writer holds it; nothing was renamed.",
                                expected_version=number, current_version=number)
        if status is CommitStatus.TOOBIG:
            raise self._committer.too_big(old, number)
        warnings = await self._reindex(name, new_name)
        return WriteResult(new_name, number, as_text(rest[0]) or "", True, replace(entry, version=number),
                           f"Renamed {name!r} to {new_name!r}.", warnings=warnings)

    async def _reindex(self, name: str, new_name: str) -> tuple[str, ...]:
        """The index after a rename: the new name in, the old one out (a refusal is a warning)."""
        self._committer.forget(name)
        self._committer.forget(new_name)
        warnings = await self._committer.index(new_name)
        try:
            await self._calls(lambda: self._calls.client.srem(keymod.INDEX_KEY, name), key=keymod.INDEX_KEY)
        except DynamicPromptError as exc:
            warnings += ((f"The prompt index {keymod.INDEX_KEY} still lists {name!r} ({exc}); the listing "
                          "skips a name without text."),)
        return warnings

    async def duplicate(self, name: str, new_name: str, *, user: str | None, note: str = "") -> WriteResult:
        """A new prompt ``new_name`` whose text and original are ``name``'s active text now (with its config)."""
        keymod.validate_name(new_name)
        note = validate_note(note)
        state = await self._reads.require(name)
        text = state.active or ""
        source = f"prompt:{name}@v{state.version}"
        done = await self._committer.commit(new_name, CommitRequest(
            text, "duplicate", user=user, instruction=f"duplicate of {name!r} v{state.version}",
            mode="load", set_backup=True, source=source, note=note, config=state.config,
            metadata={"source": source, "duplicated_from": name, "from_version": state.version},
        ))
        if done.status is CommitStatus.EXISTS:
            raise PromptExistsError(
                f"Prompt {new_name!r} already exists; duplicate refuses to replace it (nothing was changed)."
            )
        return WriteResult(new_name, done.version, text, True, done.entry,
                           f"Duplicated {name!r} v{state.version} as {new_name!r}.", warnings=done.warnings)

    async def clear(self, name: str) -> bool:
        """Delete the prompt with its original, versions and changelog; True if anything was there."""
        k = self._calls.kind.layout.keys_for(name)
        deleted = await self._calls(
            lambda: self._clear(keys=[*k.all(), k.labels, k.release], args=[self._calls.kind.layout.change_channel(name), name]), prompt=name
        )
        self._committer.forget(name)
        # After the delete, and never an error: the index is a hint (the listing skips a
        # name without text), and an error here would follow a delete that happened.
        with contextlib.suppress(DynamicPromptError):
            await self._calls(lambda: self._calls.client.srem(keymod.INDEX_KEY, name), key=keymod.INDEX_KEY)
        return int(deleted) > 0
