"""Labels, promotion, rollouts and experiments of a prompt (the data in ``core/labels.py``).

:class:`LabelOps` is owned by the :class:`~dynamic_prompt.store.PromptStore`. Three
scripts write, each one atomic step, and they are split by the keys they touch so that
a Redis ACL can tell them apart:

* ``lua/label.lua``: move or remove a label other than ``production``, or edit on one
  (a new version only that label and ``latest`` point at). It names the labels key,
  the versions and the changelog, never the active text, meta or release.
* ``lua/promote.lua``: point ``production`` (the active text, what the gem reads) at a
  kept version. It names every key of the prompt.
* ``lua/release_state.lua``: write the rollout and experiment (the release key).

A labelled version, production's, and a version a release serves by number are kept
whole and never pruned; pointing at one kept as a delta first rebuilds its text here and
hands it to the script, which stores it whole.

A label edit does not prune old versions (it may not touch what production's writer
owns); the next write on production applies the retention, labelled versions excepted.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dynamic_prompt.core import labels as lab
from dynamic_prompt.core import modifier, prompt_config
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import (
    ConflictError,
    CorruptDataError,
    PermissionDeniedError,
    PromptNotFoundError,
    VersionNotFoundError,
)
from dynamic_prompt.core.models import ChangeEntry, WriteResult
from dynamic_prompt.core.text import validate_author, validate_note, validate_text
from dynamic_prompt.store import offload, scripts
from dynamic_prompt.store.calls import ServerCalls
from dynamic_prompt.store.commit import CommitStatus, Committer
from dynamic_prompt.store.reads import Reads

RETRY_DEADLINE = 30.0
"""How long an edit on a label that keeps losing races tries again."""


@dataclass(frozen=True)
class LabelState:
    """A prompt's labels and release, read together.

    Attributes:
        name: the prompt.
        labels: where each label points (production is the active text's version).
        release: the rollout and experiment, if any.
        raw_release: the release key's stored JSON (``None``: none), to write against.
    """

    name: str
    labels: lab.LabelSet
    release: lab.Release
    raw_release: bytes | None = None

    @property
    def release_sha(self) -> str:
        """SHA-1 of the stored release JSON ("" when there is none), as the script compares it."""
        return hashlib.sha1(self.raw_release).hexdigest() if self.raw_release is not None else ""


@dataclass(frozen=True)
class MoveResult:
    """What a label move did: the label, from which version to which, and the entry."""

    name: str
    label: str
    version: int
    previous: int
    changed: bool
    message: str = ""
    entry: ChangeEntry | None = None


class LabelOps:
    """The store's label, promote, rollout and experiment operations."""

    def __init__(self, calls: ServerCalls, settings: Callable[[], Settings], committer: Committer,
                 reads: Reads, now: Callable[[], float], user: Callable[[], str]) -> None:
        self._calls = calls
        self._settings = settings
        self._committer = committer
        self._reads = reads
        self._now = now
        self._user = user
        client = calls.client
        self._client = client
        self.check_text: Callable[[str, str], Awaitable[None]] | None = None
        """Refuses a text before a label edit writes it (an include cycle); set by the store."""
        self._label = client.register_script(scripts.LABEL)
        self._promote = client.register_script(scripts.PROMOTE)
        self._release = client.register_script(scripts.RELEASE_STATE)

    # -- reads ------------------------------------------------------------------------

    async def state(self, name: str) -> LabelState:
        """The labels and release of ``name`` (a prompt without any has production only)."""
        k = self._calls.kind.layout.keys_for(name)

        async def read() -> list[Any]:
            async with self._client.pipeline(transaction=not self._calls.kind.sharded) as pipe:
                pipe.hget(k.meta, "version")
                pipe.get(k.labels)
                pipe.get(k.release)
                pipe.exists(k.active)
                return list(await pipe.execute(raise_on_error=False))

        version, raw_labels, raw_release, exists = await self._calls(read, prompt=name)
        for reply in (version, exists):
            if isinstance(reply, Exception):
                raise reply
        # Another program's labels or release key of another type reads as none: production stands.
        raw_labels = raw_labels if isinstance(raw_labels, bytes) else None
        raw_release = raw_release if isinstance(raw_release, bytes) else None
        digits = version.decode("ascii", "replace") if isinstance(version, bytes) else str(version or "")
        production = int(digits) if exists and 0 < len(digits) <= 18 and digits.isdigit() else 0
        return LabelState(name, lab.LabelSet.parse(raw_labels, production), lab.Release.parse(raw_release),
                          raw_release)

    async def resolve(self, name: str, target: str) -> int:
        """The version ``target`` names: a label (``production``, ``latest``, ``staging``) or ``vN``/``N``."""
        text = str(target).strip()
        if text.lower().lstrip("v").isdigit():
            return lab.parse_version(text)
        label = lab.validate_label(text)
        found = (await self.state(name)).labels.version_of(label)
        if found is None:
            raise lab.LabelError(f"Prompt {name!r} has no label {label!r} (see: dprompt label list {name}).")
        return found

    async def text_at(self, name: str, label: str) -> tuple[int, str]:
        """The version and text ``label`` points at."""
        version = await self.resolve(name, label)
        return version, await self._reads.version_text(name, version)

    # -- moving labels ----------------------------------------------------------------

    def _entry(self, action: str, instruction: str, user: str | None, note: str, **metadata: Any) -> str:
        entry = ChangeEntry(timestamp=int(self._now()), action=action,
                            user_id=validate_author(user) if user is not None else self._user(),
                            instruction=instruction, metadata=metadata, note=validate_note(note))
        data = entry.to_dict()
        data["metadata"] = dict(metadata)
        return json.dumps(data)

    async def _run_label(self, name: str, op: str, label: str, *, version: int | None = None,
                         text: str = "", entry: str, hint: int = 0, expected: int | None = None,
                         config: str | None = None) -> list[Any]:
        k = self._calls.kind.layout.keys_for(name)
        args: list[str | int] = [op, repr(self._now()), self._settings().changelog_cap, self._calls.kind.layout.change_channel(name),
                name, label, "" if version is None else str(version), text, entry, str(hint),
                "" if expected is None else str(expected), "0" if config is None else "1", config or ""]
        reply = await self._calls(lambda: self._label(keys=[k.labels, k.versions, k.changelog], args=args),
                                  prompt=name)
        return [reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0]), *(int(x) for x in reply[1:])]

    async def set(self, name: str, label: str, target: str, *, user: str | None = None,
                  note: str = "") -> MoveResult:
        """Point ``label`` at the version ``target`` names (``production``: :meth:`promote`)."""
        if lab.validate_label(label) == lab.PRODUCTION:
            return await self.promote(name, target, user=user, note=note)
        label = lab.settable(label)
        version = await self.resolve(name, target)
        before = (await self.state(name)).labels.named.get(label)
        entry = self._entry("label", f"label {label} -> v{version}", user, note, label=label, to=version)
        status, got, previous = await self._run_label(name, "set", label, version=version, entry=entry)
        if status == "whole":
            text = await self._reads.version_text(name, version)
            status, got, previous = await self._run_label(name, "set", label, version=version, text=text, entry=entry)
        if status == "noversion":
            raise VersionNotFoundError(f"Prompt {name!r} has no version {version}; nothing was moved.")
        if status == "nochange":
            return MoveResult(name, label, version, version, False, f"{label} already points at v{version}.")
        return MoveResult(name, label, got, previous or (before or 0), True,
                          entry=ChangeEntry.from_json(entry))

    async def remove(self, name: str, label: str, *, user: str | None = None, note: str = "") -> MoveResult:
        """Remove ``label`` (its version stays kept while retention allows)."""
        label = lab.settable(label)
        experiment = (await self.state(name)).release.experiment
        if experiment is not None and any(v.target == label for v in experiment.variants):
            raise lab.LabelError(f"The experiment on {name!r} serves label {label!r}: stop it first "
                                 f"(dprompt experiment {name} --stop); nothing was removed.")
        entry = self._entry("label", f"remove label {label}", user, note, label=label, to=None)
        status, version, _ = await self._run_label(name, "rm", label, entry=entry)
        if status == "missing":
            raise lab.LabelError(f"Prompt {name!r} has no label {label!r}; nothing was removed.")
        return MoveResult(name, label, 0, version, True, entry=ChangeEntry.from_json(entry))

    # -- editing on a label -----------------------------------------------------------

    async def modify(self, name: str, label: str, instruction: str, *, user: str | None = None,
                     dry_run: bool = False, note: str = "") -> WriteResult:
        """Apply an instruction to the version ``label`` points at: a new version only it (and latest) point at."""
        modifier.parse(instruction)
        validate_note(note)

        async def derive(text: str) -> str:
            return (await offload.modify_text(text, instruction)).text

        return await self._derived(name, label, derive, action="modify", instruction=instruction.strip(),
                                   user=user, note=note, dry_run=dry_run)

    async def set_text(self, name: str, label: str, text: str, *, expected_version: int | None,
                       user: str | None = None, note: str = "") -> WriteResult:
        """Save text written by hand on ``label``, if the label still points at ``expected_version``."""
        validate_note(note)

        async def derive(_: str) -> str:
            return text

        return await self._derived(name, label, derive, action="edit", instruction="", user=user, note=note,
                                   expected=expected_version)

    async def set_config(self, name: str, label: str, config: Mapping[str, Any], *, expected_version: int | None,
                         user: str | None = None, note: str = "") -> WriteResult:
        """Give the version ``label`` points at a new config: a new version with its text, only it (and latest) point at."""
        validate_note(note)
        prompt_config.encode(config)

        async def derive(text: str) -> str:
            return text

        return await self._derived(name, label, derive, action="config", instruction="config", user=user,
                                   note=note, expected=expected_version, config=config)

    async def _derived(self, name: str, label: str, derive: Callable[[str], Awaitable[str]], *, action: str,
                       instruction: str, user: str | None, note: str, dry_run: bool = False,
                       expected: int | None = None, config: Mapping[str, Any] | None = None) -> WriteResult:
        label = lab.validate_label(label)
        if label in lab.RESERVED:
            raise lab.LabelError(f"An edit on {label!r} is an edit of the prompt itself: leave out --label.")
        deadline = time.monotonic() + RETRY_DEADLINE
        while True:
            state = await self.state(name)
            if not state.labels.production:
                raise PromptNotFoundError(f"There is no prompt named {name!r}; load one first.")
            base = state.labels.named.get(label)
            if base is None:
                raise lab.LabelError(
                    f"Prompt {name!r} has no label {label!r}: make one with dprompt label set {name} {label} production."
                )
            if expected is not None and base != expected:
                raise ConflictError(f"Label {label!r} of {name!r} moved to v{base} meanwhile; nothing was written.",
                                    expected_version=expected, current_version=base)
            old = await self._reads.version_text(name, base)
            new = validate_text(await derive(old), max_bytes=self._settings().max_bytes)
            if self.check_text is not None and not dry_run:
                await self.check_text(f"{name}@{label}", new)
            if dry_run:
                return WriteResult(name, base, new, False, None, "dry run: nothing written", previous=old)
            if config is None:
                added, removed = await offload.count_changes(old, new)
                said = instruction
            else:
                old_config = (await self._reads.version_configs(name, [base]))[0]
                added, removed = await offload.count_changes(*prompt_config.compared(old, old_config, new, config))
                change = prompt_config.describe(old_config, config)
                said = f"config: {change}" if change else instruction
            entry = json.loads(self._entry(action, said, user, note, label=label))
            entry.update(added=added, removed=removed)
            status, version, _ = await self._run_label(
                name, "commit", label, text=new, entry=json.dumps(entry), hint=state.labels.production, expected=base,
                config=None if config is None else prompt_config.encode(config))
            if status == "ok":
                warnings = await self._committer.index(name)
                return WriteResult(name, version, new, True, ChangeEntry.from_json(json.dumps({**entry, "version": version})),
                                   previous=old, warnings=warnings)
            if status == "nochange":
                return WriteResult(name, base, new, False, None, "Nothing to change: the text is the same.")
            if status == "missing":
                raise lab.LabelError(f"Label {label!r} of {name!r} was removed meanwhile; nothing was written.")
            if expected is not None or time.monotonic() > deadline:
                raise ConflictError(f"Label {label!r} of {name!r} moved to v{version} meanwhile; nothing was written.",
                                    expected_version=base, current_version=version)
            await asyncio.sleep(0.001)  # another edit on the label landed first: apply to it

    # -- production -------------------------------------------------------------------

    async def promote(self, name: str, target: str | None = None, *, user: str | None = None, note: str = "",
                      expected: int | None = None, source: str = "") -> MoveResult:
        """Point production at the version ``target`` names; ``None``: the running rollout's version.

        A rollout ends when production moves (its agents read production again); an
        experiment goes on. ``expected``: production's version as the caller saw it (a
        person's confirmation): a move meanwhile is a conflict.
        """
        state = await self.state(name)
        if target is None:
            if state.release.rollout is None:
                raise lab.LabelError(f"Prompt {name!r} has no rollout to promote: name a label or version.")
            version, source = state.release.rollout.version, state.release.rollout.source or f"v{state.release.rollout.version}"
        else:
            version, source = await self.resolve(name, target), source or str(target).strip()
        entry = self._entry("promote", f"production -> v{version} ({source})", user, note,
                            label=lab.PRODUCTION, to=version, source=source)
        k = self._calls.kind.layout.keys_for(name)

        async def run(text: str) -> tuple[CommitStatus, int, int]:
            # A rollout ends with the move, decided in the script from the release as it is
            # then; an experiment goes on reading the new production.
            args = [*self._committer.common_args(name), version, text, entry,
                    json.loads(entry)["user_id"], "" if expected is None else str(expected),
                    self._settings().max_bytes]
            status, number, rest = await self._committer.run_leased(
                lambda: self._promote(keys=list(k.writes()), args=args), k.lock, name)
            return status, number, int(rest[0]) if rest else 0

        try:
            status, number, previous = await run("")
            if status is CommitStatus.WHOLE:
                status, number, previous = await run(await self._reads.version_text(name, version))
        except PermissionDeniedError:
            raise PermissionDeniedError(
                f"This Redis user may not move production of {name!r} (its ACL keeps the active text to the "
                "release user); nothing was written."
            ) from None
        return self._promoted(name, status, number, previous, version, expected, entry)

    def _promoted(self, name: str, status: CommitStatus, number: int, previous: int, version: int,
                  expected: int | None, entry: str) -> MoveResult:
        value = status.value
        if value == "ok":
            done = ChangeEntry.from_json(json.dumps({**json.loads(entry), "version": number}))
            return MoveResult(name, lab.PRODUCTION, number, previous, True, entry=done)
        if value == "nochange":
            return MoveResult(name, lab.PRODUCTION, number, number, False, f"production already is v{number}.")
        if value == "missing":
            raise PromptNotFoundError(f"There is no prompt named {name!r}; load one first.")
        if value == "noversion":
            raise VersionNotFoundError(f"Prompt {name!r} has no version {version}; nothing was moved.")
        if value == "conflict":
            raise ConflictError(f"Production of {name!r} moved to v{number} meanwhile; nothing was written.",
                                expected_version=expected or 0, current_version=number)
        if value == "toobig":
            raise CorruptDataError(f"The active text of {name!r} is over the size limit; nothing was written.")
        raise ConflictError(f"Prompt {name!r} is busy: another writer holds it; nothing was written.",
                            expected_version=expected or 0, current_version=number)

    async def rollback_target(self, name: str) -> tuple[int, int]:
        """(production's version now, the version it had before its last promote), or :class:`LabelError`."""
        state = await self.state(name)
        for entry in await self._reads.history(name, self._settings().changelog_cap):
            if entry.action == "promote" and entry.version == state.labels.production:
                before = entry.metadata.get("from")
                if isinstance(before, int) and not isinstance(before, bool) and before > 0:
                    return state.labels.production, before
                break
            if entry.metadata.get("label") not in (None, lab.PRODUCTION):
                continue  # a move of, or an edit on, another label: production stayed where it was
            if entry.action not in ("label", "rollout", "abort", "experiment", "stop") and entry.version:
                break
        raise lab.LabelError(f"Production of {name!r} did not come from a promote: nothing to roll back "
                             "(undo or restore go back through its own writes).")

    async def rollback(self, name: str, *, user: str | None = None, note: str = "") -> MoveResult:
        """Move production back where it was before its last promote."""
        current, before = await self.rollback_target(name)
        return await self.promote(name, f"v{before}", user=user, note=note, expected=current, source="rollback")

    # -- rollouts and experiments ------------------------------------------------------

    async def _write_release(self, name: str, state: LabelState, release: lab.Release, action: str,
                             instruction: str, user: str | None, note: str, **metadata: Any) -> LabelState:
        k = self._calls.kind.layout.keys_for(name)
        entry = self._entry(action, instruction, user, note, **metadata)
        pins = release.pins()

        async def run(texts: list[str]) -> list[Any]:
            args = [*self._committer.common_args(name), release.to_json() if release.active else "",
                    state.release_sha, entry, json.dumps(pins), json.dumps(texts)]
            reply = await self._calls(lambda: self._release(keys=list(k.writes()), args=args), prompt=name)
            return [reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0]), int(reply[1])]

        pin: int | None = None
        try:
            status, pin = await run([""] * len(pins))
            if status == "whole":
                # A pinned version is kept as a delta: send every pin's text, to be stored whole.
                texts = await self._reads.version_texts(name, pins)
                status, pin = await run([t or "" for t in texts])
        except PermissionDeniedError:
            raise PermissionDeniedError(
                f"This Redis user may not change how production of {name!r} is served (its ACL keeps rollouts "
                "and experiments to the release user); nothing was written."
            ) from None
        if status == "missing":
            raise PromptNotFoundError(f"There is no prompt named {name!r}; load one first.")
        if status == "noversion":
            raise VersionNotFoundError(f"Prompt {name!r} has no version {pin}; nothing was written.")
        if status == "conflict":
            raise ConflictError(f"The rollout or experiment of {name!r} changed meanwhile; nothing was written.",
                                expected_version=state.labels.production, current_version=state.labels.production)
        return await self.state(name)

    async def rollout(self, name: str, percent: object, target: str | None = None, *,
                      user: str | None = None, note: str = "") -> LabelState:
        """Serve the version ``target`` names to ``percent`` % of production's agents; no target: change the running one's percent."""
        share = lab.check_percent(percent)
        state = await self.state(name)
        if not state.labels.production:
            raise PromptNotFoundError(f"There is no prompt named {name!r}; load one first.")
        if state.release.experiment is not None:
            raise lab.LabelError(f"Prompt {name!r} runs an experiment: stop it before a rollout (dprompt experiment {name} --stop).")
        current = state.release.rollout
        if target is None:
            if current is None:
                raise lab.LabelError(f"Prompt {name!r} has no rollout: say what to roll out with --to LABEL|VERSION.")
            version, source = current.version, current.source
        else:
            version, source = await self.resolve(name, target), str(target).strip()
        if version == state.labels.production:
            raise lab.LabelError(f"v{version} is production already: nothing to roll out.")
        author = validate_author(user) if user is not None else self._user()
        rollout = lab.Rollout(version, share, source, current.base if current and current.version == version
                              else state.labels.production, author, self._now())
        return await self._write_release(
            name, state, lab.Release(rollout, None), "rollout", f"rollout v{version} ({source}) to {share:g}%",
            user, note, to=version, percent=share, source=source)

    async def abort(self, name: str, *, user: str | None = None, note: str = "") -> LabelState:
        """End the rollout: every agent reads production again."""
        state = await self.state(name)
        if state.release.rollout is None:
            raise lab.LabelError(f"Prompt {name!r} has no rollout to abort.")
        r = state.release.rollout
        return await self._write_release(name, state, lab.Release(None, state.release.experiment), "abort",
                                         f"abort the rollout of v{r.version} at {r.percent:g}%", user, note,
                                         to=r.version, percent=r.percent)

    async def experiment(self, name: str, variants: Sequence[str], *, user: str | None = None,
                         note: str = "") -> LabelState:
        """Serve weighted variants (``a=production:50``) to production's readers, sticky per caller key."""
        parsed = [lab.Variant.parse(v) for v in variants]
        author = validate_author(user) if user is not None else self._user()
        experiment = lab.Experiment.build(secrets.token_hex(4), parsed, author, self._now())
        state = await self.state(name)
        if not state.labels.production:
            raise PromptNotFoundError(f"There is no prompt named {name!r}; load one first.")
        if state.release.rollout is not None:
            raise lab.LabelError(f"Prompt {name!r} has a rollout: promote or abort it before an experiment.")
        if state.release.experiment is not None:
            raise lab.LabelError(f"Prompt {name!r} runs an experiment already: stop it first.")
        for variant in parsed:
            if variant.pinned_version is None:
                await self.resolve(name, variant.target)  # an unknown label is refused now, not at read time
            else:
                await self._reads.version_text(name, variant.pinned_version)
        spec = ", ".join(f"{v.name}={v.target}:{v.weight}" for v in parsed)
        return await self._write_release(name, state, lab.Release(None, experiment), "experiment",
                                         f"experiment {spec}", user, note, variants=spec)

    async def stop(self, name: str, *, user: str | None = None, note: str = "") -> LabelState:
        """End the experiment: every caller gets production again."""
        state = await self.state(name)
        if state.release.experiment is None:
            raise lab.LabelError(f"Prompt {name!r} has no experiment to stop.")
        return await self._write_release(name, state, lab.Release(state.release.rollout, None), "stop",
                                         "stop the experiment", user, note)


__all__ = ["LabelOps", "LabelState", "MoveResult"]
