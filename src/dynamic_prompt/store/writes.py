"""The writes of a prompt's text: load, modify, manual edit, revert, restore, undo, revert one change.

:class:`Writes` is owned by the :class:`~dynamic_prompt.store.PromptStore`. It decides
what text to write; the :class:`~dynamic_prompt.store.commit.Committer` writes it.

Two kinds of write, two rules against concurrent writers:

* **Derived writes** (modify, revert, restore, revert_change) mean "make it so": a
  modify re-reads and re-applies its instruction, a revert makes the original active
  again, a restore version N's text, a revert_change takes the change of version N
  out of the newest text. When another writer lands first they simply try again against the
  newest version, and a writer that keeps losing queues for the prompt's short lease,
  so a person's revert wins even against a stream of automated modifies.
* **Writes from a version someone looked at** (a manual edit, undo, a restore with an
  ``expected_version``) report a real conflict instead: the person decides.

Every write takes a ``note`` (a person's one-line reason, recorded in the changelog
entry); a bad note is refused before anything is read or written.

Deleting, renaming and copying whole prompts are in :mod:`.manage`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core import modifier, prompt_config
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import (
    ConflictError,
    PromptExistsError,
    PromptNotFoundError,
    VersionNotFoundError,
)
from dynamic_prompt.core.models import Edit, PromptState, WriteResult
from dynamic_prompt.core.text import validate_note, validate_text
from dynamic_prompt.store import offload
from dynamic_prompt.store.calls import ServerCalls
from dynamic_prompt.store.commit import CommitRequest, CommitResult, CommitStatus, Committer
from dynamic_prompt.store.reads import Reads
from dynamic_prompt.store.sources import LoadedSource, read_source

RETRY_DEADLINE = 30.0
"""How long a derived write that keeps losing races tries again before giving up."""

LEASE_AFTER = 2
"""Lost races after which a writer takes the write lease, so it cannot starve."""


@dataclass(frozen=True)
class Derived:
    """What a derived write makes of the prompt as it is now."""

    text: str
    request: CommitRequest
    """The commit to run (its text, expected version and lease are filled in per attempt)."""


Derive = Callable[[PromptState], Awaitable[Derived]]


class Writes:
    """The store's writes, over the committer and the reads."""

    def __init__(self, calls: ServerCalls, settings: Callable[[], Settings], committer: Committer, reads: Reads) -> None:
        self._calls = calls
        self._settings = settings
        self._committer = committer
        self._reads = reads
        self.retries = 0
        """Lost races so far: derived writes that re-read and tried again."""

    # -- loading ----------------------------------------------------------------------

    async def load(self, name: str, source: str | LoadedSource, *, force: bool, user: str | None,
                   kind: str, note: str = "") -> WriteResult:
        """Load text from a file, URL or literal string; it becomes the active text and the backup."""
        keymod.validate_name(name)
        note = validate_note(note)
        loaded = (
            source
            if isinstance(source, LoadedSource)
            else await asyncio.to_thread(read_source, source, max_bytes=self._settings().max_bytes, kind=kind)
        )
        previous = await self._reads.state(name, with_backup=False)
        if previous.exists and not force:
            raise PromptExistsError(
                f"Prompt {name!r} already exists (version {previous.version}); use force to replace it."
            )
        done = await self._committer.commit(name, CommitRequest(
            loaded.text, "load", user=user, expected=previous.version if previous.exists else None,
            old_text=previous.active, mode="load", force=force, set_backup=True, source=loaded.source,
            note=note,
        ))
        if done.status is CommitStatus.EXISTS:
            raise PromptExistsError(
                f"Prompt {name!r} was created meanwhile (version {done.version}); use force to replace it."
            )
        if done.status is CommitStatus.CONFLICT:
            raise ConflictError(
                f"Prompt {name!r} changed while loading (now version {done.version}); try again.",
                expected_version=previous.version,
                current_version=done.version,
            )
        changed = done.status is CommitStatus.OK
        return WriteResult(
            name, done.version, loaded.text, changed, done.entry if changed else None,
            "" if changed else "The prompt already has this text.", warnings=done.warnings,
        )

    # -- derived writes: they try again against the newest version -----------------------

    async def modify(self, name: str, instruction: str, *, user: str | None, dry_run: bool,
                     base: PromptState | None = None, note: str = "") -> WriteResult:
        """Apply a plain-language instruction; a lost race re-reads and re-applies it.

        ``base`` is the prompt as the caller last read it (the dashboard's state): the
        first attempt applies the instruction to it without reading; if the prompt has
        moved on since, the commit says so and the instruction is re-applied to the newest.
        """
        note = validate_note(note)
        modifier.parse(instruction)  # a bad instruction fails before anything is read

        async def derive(state: PromptState) -> Derived:
            old = state.active or ""
            new = (await offload.modify_text(old, instruction)).text
            return Derived(new, CommitRequest(new, "modify", user=user, instruction=instruction.strip(),
                                              old_text=old, note=note))

        if dry_run:
            state = base if base is not None and base.exists else await self._reads.require(name)
            derived = await derive(state)
            validate_text(derived.text, max_bytes=self._settings().max_bytes)
            return WriteResult(name, state.version, derived.text, False, None, "dry run: nothing written",
                               previous=state.active)
        return await self._derived(name, derive, base=base)

    async def preview(self, name: str, instruction: str) -> tuple[PromptState, str, tuple[Edit, ...]]:
        """The prompt now, the text ``instruction`` makes of it, and its edits (nothing written)."""
        state = await self._reads.require(name)
        result = await offload.modify_text(state.active or "", instruction)
        return state, result.text, result.edits

    async def revert(self, name: str, *, user: str | None, note: str = "") -> WriteResult:
        """Make the original (backup) text active again, as a new version."""
        note = validate_note(note)

        async def derive(state: PromptState) -> Derived:
            if state.backup is None:
                raise PromptNotFoundError(f"Prompt {name!r} has no original to revert to.")
            return Derived(state.backup, CommitRequest(
                state.backup, "revert", user=user, old_text=state.active, note=note,
                config=prompt_config.read(state.meta.backup_config), old_config=state.config))

        return await self._derived(name, derive, same="Already at the original; nothing to revert.")

    async def revert_change(self, name: str, version: int, *, user: str | None, note: str = "",
                            dry_run: bool = False) -> WriteResult:
        """Take the change that made ``version`` out of the newest text, keeping every later change.

        Versions never change once written, so versions N-1 and N are read once; each
        attempt applies the inverse of their change to the prompt as it is then. A later
        change of the same lines raises
        :class:`~dynamic_prompt.core.errors.RevertConflictError` and writes nothing.
        """
        note = validate_note(note)
        keymod.validate_name(name)
        # The configs first: a prune between the reads then fails the texts' read (nothing written).
        config_before, config_after = await self._reads.version_configs(name, [version - 1, version])
        before, after = await self._reads.change_texts(name, version)

        async def derive(state: PromptState) -> Derived:
            current = state.active or ""
            text = await offload.revert_change(before, after, current, version=version, name=name,
                                               current_version=state.version)
            # The change may have set the config too (a config change, a restore): that goes back as well.
            config = prompt_config.reverted(config_before, config_after, state.config)
            return Derived(text, CommitRequest(
                text, "revert-change", user=user, instruction=f"revert the change of v{version}",
                metadata={"reverted_version": version}, old_text=current, note=note,
                config=config, old_config=state.config if config is not None else None,
            ))

        same = f"The change of v{version} is not in the current text any more; nothing to revert."
        if dry_run:
            state = await self._reads.require(name)
            derived = await derive(state)
            validate_text(derived.text, max_bytes=self._settings().max_bytes)
            message = same if _unchanged(state, derived.text, derived.request.config) else "dry run: nothing written"
            return WriteResult(name, state.version, derived.text, False, None, message, previous=state.active)
        return await self._derived(name, derive, same=same)

    async def restore(self, name: str, version: int, *, user: str | None,
                      expected_version: int | None = None, note: str = "") -> WriteResult:
        """Make version ``version``'s text active again, as a new version.

        With ``expected_version`` it is a write from a version someone looked at: a
        prompt changed meanwhile is a conflict. Without, it tries again until it lands.
        """
        note = validate_note(note)
        # The config first: a prune between the two reads then fails the text's read (nothing
        # written), never writes the text with no config.
        config = (await self._reads.version_configs(name, [version]))[0]
        text = await self._reads.version_text(name, version)
        request = CommitRequest(text, "restore", user=user, metadata={"from_version": version},
                                instruction=f"restore version {version}", note=note, config=config)
        same = f"Version {version} is already the active text."
        if expected_version is not None:
            state = await self._reads.require(name)
            if state.version != expected_version:
                raise ConflictError(
                    f"Prompt {name!r} is at version {state.version}, not {expected_version}.",
                    expected_version=expected_version, current_version=state.version,
                )
            if _unchanged(state, text, config):
                return WriteResult(name, state.version, text, False, None, same)
            return await self._once(name, state, _with(request, old_config=state.config))

        async def derive(state: PromptState) -> Derived:
            return Derived(text, _with(request, old_config=state.config))

        return await self._derived(name, derive, same=same)

    async def _derived(self, name: str, derive: Derive, *, same: str = "",
                       base: PromptState | None = None) -> WriteResult:
        """Read, derive, commit; on a lost race read again, after two losses under the lease.

        With ``base`` (a state the caller read), the first attempt starts from it.
        """
        deadline = time.monotonic() + RETRY_DEADLINE
        lease = ""
        attempt = 0
        try:
            while True:
                if attempt >= LEASE_AFTER and not lease:
                    # Lost twice: queue for the lease, and read only once we hold it.
                    lease = await self._committer.take_lease(name, deadline)
                if attempt == 0 and base is not None and base.exists and base.name == name:
                    state = base
                else:
                    state = await self._reads.require(name)
                derived = await derive(state)
                if same and _unchanged(state, derived.text, derived.request.config):
                    return WriteResult(name, state.version, derived.text, False, None, same)
                request = _with(derived.request, expected=state.version, lease=lease)
                done = await self._committer.commit(name, request)
                if done.status is CommitStatus.OK:
                    lease = ""  # the commit released it
                    return WriteResult(name, done.version, derived.text, True, done.entry,
                                       previous=state.active, warnings=done.warnings)
                if done.status is CommitStatus.NOCHANGE:
                    return WriteResult(name, done.version, derived.text, False, None,
                                       same or "Nothing to change: the text is the same.",
                                       warnings=done.warnings)
                if done.status is CommitStatus.MISSING:
                    raise PromptNotFoundError(f"Prompt {name!r} was cleared meanwhile.")
                if time.monotonic() > deadline:
                    raise ConflictError(
                        f"Prompt {name!r} kept changing for {RETRY_DEADLINE:.0f} s; nothing was written.",
                        expected_version=state.version,
                        current_version=done.version,
                    )
                attempt += 1
                self.retries += 1
                # Someone wrote first: back off a little, so retries spread out.
                await asyncio.sleep(random.uniform(0, 0.001 * min(attempt, 10)))
        finally:
            if lease:
                await self._committer.release_lease(name, lease)

    # -- writes from a version someone looked at: a conflict is reported -----------------

    async def set_active(self, name: str, text: str, *, expected_version: int | None, user: str | None,
                         action: str, instruction: str, note: str = "") -> WriteResult:
        """Save text written by hand, if the prompt is still at ``expected_version``."""
        note = validate_note(note)
        state = await self._reads.state(name, with_backup=False)
        done = await self._committer.commit(name, CommitRequest(
            text, action, user=user, expected=expected_version, instruction=instruction, old_text=state.active,
            mode="load" if not state.exists else "write", force=True, set_backup=not state.exists, note=note,
        ))
        return self._result(name, done, text, expected_version)

    async def import_text(self, name: str, text: str, config: Mapping[str, Any], *, expected_version: int,
                          source: str, user: str | None) -> WriteResult:
        """A text and config from a file (``dprompt import``) as a new version of an existing prompt.

        Written only if the prompt is still at ``expected_version`` (the version the import
        compared against), so a change made meanwhile is a conflict, not overwritten.
        """
        state = await self._reads.require(name)
        done = await self._committer.commit(name, CommitRequest(
            text, "import", user=user, expected=expected_version,
            instruction=f"imported from {source.removeprefix('import:')}",
            old_text=state.active, source=source, config=config, old_config=state.config,
            metadata={"source": source},
        ))
        return self._result(name, done, text, expected_version)

    async def undo(self, name: str, *, user: str | None, note: str = "") -> WriteResult:
        """Return to the text before the last change (the previous kept version)."""
        note = validate_note(note)
        state = await self._reads.require(name)
        older = [v for v in await self._reads.versions(name) if v < state.version]
        if not older:
            raise VersionNotFoundError(f"Prompt {name!r} has no earlier version to go back to.")
        config = (await self._reads.version_configs(name, [older[0]]))[0]  # first: see restore
        text = await self._reads.version_text(name, older[0])
        return await self._once(name, state, CommitRequest(
            text, "undo", user=user, metadata={"from_version": older[0]},
            instruction=f"undo to version {older[0]}", note=note, config=config, old_config=state.config,
        ))

    async def set_config(self, name: str, config: Mapping[str, Any], *, expected_version: int | None,
                         user: str | None, note: str = "") -> WriteResult:
        """Give the prompt ``config`` as a new version with the same text.

        With ``expected_version`` a prompt changed meanwhile is a conflict (someone edited
        the config they looked at); without, it lands on the newest version.
        """
        note = validate_note(note)
        prompt_config.encode(config)  # a bad config fails before anything is read

        async def derive(state: PromptState) -> Derived:
            change = prompt_config.describe(state.config, config)
            return Derived(state.active or "", CommitRequest(
                state.active or "", "config", user=user, instruction=f"config: {change}" if change else "config",
                note=note, config=config, old_config=state.config, old_text=state.active))

        same = "The config is already that; nothing was written."
        if expected_version is not None:
            state = await self._reads.require(name)
            derived = await derive(state)
            if _unchanged(state, derived.text, config):
                return WriteResult(name, state.version, derived.text, False, None, same)
            done = await self._committer.commit(name, _with(derived.request, expected=expected_version))
            return self._result(name, done, derived.text, expected_version)
        return await self._derived(name, derive, same=same)

    async def _once(self, name: str, state: PromptState, request: CommitRequest) -> WriteResult:
        done = await self._committer.commit(name, _with(request, expected=state.version, old_text=state.active))
        return self._result(name, done, request.text, state.version)

    @staticmethod
    def _result(name: str, done: CommitResult, text: str, expected: int | None) -> WriteResult:
        if done.status is CommitStatus.OK:
            return WriteResult(name, done.version, text, True, done.entry, warnings=done.warnings)
        if done.status is CommitStatus.NOCHANGE:
            return WriteResult(name, done.version, text, False, None, "Nothing to change: the text is the same.",
                               warnings=done.warnings)
        if done.status is CommitStatus.MISSING:
            raise PromptNotFoundError(f"There is no prompt named {name!r}.")
        raise ConflictError(
            f"Prompt {name!r} is at version {done.version}, not {expected}: someone changed it meanwhile.",
            expected_version=expected or 0,
            current_version=done.version,
        )


def _unchanged(state: PromptState, text: str, config: Mapping[str, Any] | None) -> bool:
    """True when writing ``text`` (and ``config``, unless ``None``: kept) would change nothing."""
    if text != state.active:
        return False
    return config is None or prompt_config.encode(config) == state.meta.config


def _with(request: CommitRequest, **changes: Any) -> CommitRequest:
    from dataclasses import replace

    return replace(request, **changes)
