"""The prompt store: every read and write of prompts in Redis, behind one object.

:class:`PromptStore` is the asyncio API (the dashboard, the MCP server and the CLI
use it); :class:`~dynamic_prompt.facade.DynamicPrompt` is the synchronous facade
with the seed gem's method names, running this same code on a private event loop.
The store is composed of the parts it owns: :class:`~.reads.Reads`,
:class:`~.writes.Writes` (what text to write), :class:`~.manage.Manage` (whole
prompts: rename, duplicate, clear) and :class:`~.commit.Committer` (how a write
becomes one atomic script run), all sending commands through one
:class:`~.calls.ServerCalls`.

Every write takes ``note``: a person's one-line reason, kept in the changelog entry
(``ChangeEntry.note``). A bad note (a line break, control characters, over
:data:`~dynamic_prompt.core.text.MAX_NOTE_CHARS` characters) raises
:class:`~dynamic_prompt.core.errors.InvalidTextError` and writes nothing.
"""

from __future__ import annotations

import asyncio
import builtins
import getpass
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from dynamic_prompt.core import diff as diffmod
from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import DynamicPromptError
from dynamic_prompt.core.includes import dependents_of, parse_ref
from dynamic_prompt.core.labels import PRODUCTION
from dynamic_prompt.core.models import ChangeEntry, Edit, PromptState, PromptSummary, WriteResult
from dynamic_prompt.core.prompt_config import compared
from dynamic_prompt.core.prompt_config import read as read_config
from dynamic_prompt.core.text import estimate_tokens, validate_author
from dynamic_prompt.server import ServerTarget, async_client
from dynamic_prompt.store.calls import ServerCalls
from dynamic_prompt.store.commit import Committer
from dynamic_prompt.store.fleet import AgentInfo
from dynamic_prompt.store.includes import check_cycle, named_includes
from dynamic_prompt.store.labels import LabelOps, LabelState, MoveResult
from dynamic_prompt.store.manage import Manage
from dynamic_prompt.store.reads import Reads
from dynamic_prompt.store.recreate import Recreate, Recreation
from dynamic_prompt.store.sources import LoadedSource
from dynamic_prompt.store.writes import Writes

__all__ = ["Preview", "PromptStore", "default_user", "estimate_tokens"]


def default_user() -> str:
    """The OS user, the default author of changes."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - getuser raises various errors without a login
        return "unknown"


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


class PromptStore:
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
        calls = ServerCalls(client, target)
        # Lambdas, not values: settings replaced and a clock patched later still count.
        settings_now = lambda: self.settings  # noqa: E731
        committer = Committer(calls, settings_now, lambda: self.clock(), lambda: self.user)
        self._reads = Reads(calls, settings_now, committer)
        self._writes = Writes(calls, settings_now, committer, self._reads)
        self._manage = Manage(calls, settings_now, committer, self._reads, lambda: self.clock(), lambda: self.user)
        self._labels = LabelOps(calls, settings_now, committer, self._reads, lambda: self.clock(), lambda: self.user)
        committer.check_text = lambda name, text: check_cycle(name, text, self.part_text)
        self._labels.check_text = committer.check_text
        self._recreate = Recreate(calls, settings_now, committer)

    @classmethod
    def connect(cls, target: ServerTarget, settings: Settings | None = None, *,
                timeout: float = 10.0) -> PromptStore:
        """A store with its own client for ``target``; ``timeout`` bounds each reply (seconds)."""
        return cls(async_client(target, timeout=timeout), settings, target)

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()

    @property
    def user(self) -> str:
        """The author recorded when a call names none."""
        return validate_author(self.settings.user) if self.settings.user else default_user()

    @property
    def retries(self) -> int:
        """Lost races so far: derived writes that re-read and tried again."""
        return self._writes.retries

    # -- reads ------------------------------------------------------------------------

    async def ping(self) -> float:
        """Round-trip time to the server in seconds."""
        return await self._reads.ping()

    async def state(self, name: str = keymod.DEFAULT_NAME, *, with_backup: bool = True) -> PromptState:
        """A consistent snapshot of ``name``; an outside write seen here becomes a version."""
        return await self._reads.state(name, with_backup=with_backup)

    async def get_active(self, name: str = keymod.DEFAULT_NAME) -> str | None:
        """The active text (a plain GET: the agents' read path), or ``None``."""
        return await self._reads.get_active(name)

    async def require(self, name: str) -> PromptState:
        """Like :meth:`state`, but a missing prompt is an error."""
        return await self._reads.require(name)

    async def history(self, name: str = keymod.DEFAULT_NAME, limit: int = 10) -> list[ChangeEntry]:
        """The newest ``limit`` changelog entries, newest first (bad entries kept as ``unreadable``)."""
        return await self._reads.history(name, limit)

    async def changelog_raw(self, name: str, limit: int) -> builtins.list[str]:
        """The newest ``limit`` changelog entries as stored (JSON text, each cut to 64 KiB), newest first."""
        return await self._reads.changelog_raw(name, limit)

    async def import_text(self, name: str, text: str, config: Mapping[str, Any], *, expected_version: int,
                          source: str, user: str | None = None) -> WriteResult:
        """A text and config read from a file, as a new version (``import``) of an existing prompt.

        A prompt changed since ``expected_version`` raises :class:`ConflictError` and nothing is written.
        """
        return await self._writes.import_text(name, text, config, expected_version=expected_version,
                                              source=source, user=user)

    async def recreate(self, recreation: Recreation) -> WriteResult:
        """Put back a whole prompt Redis holds nothing of (recovery, an import into an empty server).

        Raises :class:`PromptExistsError`, writing nothing, when any key of the prompt is there.
        """
        return await self._recreate.recreate(recreation)

    async def names(self) -> builtins.list[str]:
        """Every prompt name in the index (and ``default`` where it is the gem's keys), sorted."""
        return sorted(await self._reads.indexed())

    async def versions(self, name: str = keymod.DEFAULT_NAME) -> list[int]:
        """The version numbers whose text is kept, newest first."""
        return await self._reads.versions(name)

    async def version_text(self, name: str, number: int) -> str:
        """The full text of version ``number``."""
        return await self._reads.version_text(name, number)

    async def version_texts(self, name: str, numbers: Sequence[int]) -> builtins.list[str | None]:
        """The texts of versions ``numbers`` in as few round trips as their deltas allow
        (``None`` for one not kept)."""
        return await self._reads.version_texts(name, numbers)

    async def list(self) -> list[PromptSummary]:
        """Every prompt in the index with its row (no keyspace scan; see :meth:`reconcile`)."""
        return await self._reads.list()

    async def reconcile(self, *, force: bool = False) -> builtins.list[str]:
        """Find prompts other programs wrote that the index misses, and index them.

        A keyspace scan, so at most once per five minutes across every process on the
        server unless ``force``; returns the names it added.
        """
        return await self._reads.reconcile(force=force)

    async def adopt(self, names: Sequence[str]) -> None:
        """Index prompts seen with text (by the change feed) that another program wrote."""
        await self._reads.adopt(names)

    async def summaries(self, names: Sequence[str]) -> dict[str, PromptSummary | None]:
        """The listing's row of each of ``names`` (``None`` for one without text), one round trip."""
        return await self._reads.summaries(names)

    async def fleet(self, names: Sequence[str] = ()) -> dict[str, builtins.list[AgentInfo]]:
        """The agents reading each of ``names`` (default: every prompt), marked behind or gone."""
        return await self._reads.fleet(names)

    async def metadata(self, name: str = keymod.DEFAULT_NAME) -> dict[str, Any]:
        """A JSON-ready description of ``name``: version, size, tokens, authors, keys, server."""
        return await self._reads.metadata(name, self.target.display if self.target else None)

    async def diff(self, name: str = keymod.DEFAULT_NAME, against: int | None = None) -> tuple[str, str]:
        """``(old, new)`` texts: the backup (or version ``against``) and the active text."""
        state = await self.require(name)
        old_config: Mapping[str, Any]
        if against is None:
            old, old_config = state.backup or "", read_config(state.meta.backup_config)
        else:
            old, old_config = await self.version_text(name, against), await self.version_config(name, against)
        return compared(old, old_config, state.active or "", state.config)

    async def versions_diff(self, name: str, a: int, b: int) -> tuple[str, str]:
        """``(old, new)``: the texts of versions ``a`` and ``b``, read together, each with its config
        below it when either has one (:func:`~dynamic_prompt.core.prompt_config.compared`).

        A version that is not kept raises :class:`~dynamic_prompt.core.errors.VersionNotFoundError`
        naming the versions that are.
        """
        old, new = await self._reads.version_pair(name, a, b)
        old_config, new_config = await self._reads.version_configs(name, [a, b])
        return compared(old, old_config, new, new_config)

    async def version_configs(self, name: str, numbers: Sequence[int]) -> builtins.list[dict[str, Any]]:
        """The configs of versions ``numbers`` ({} for one without), in one read."""
        return await self._reads.version_configs(name, numbers)

    # -- writes -----------------------------------------------------------------------

    async def load(self, name: str, source: str | LoadedSource, *, force: bool = False,
                   user: str | None = None, kind: str = "auto", note: str = "") -> WriteResult:
        """Load text from a file, URL or literal string; it becomes the active text and the backup.

        Refuses to replace an existing prompt unless ``force``; the replaced text
        stays restorable as a version.
        """
        return await self._writes.load(name, source, force=force, user=user, kind=kind, note=note)

    async def preview(self, name: str, instruction: str) -> Preview:
        """What ``instruction`` would do to ``name`` now, without writing."""
        state, new, edits = await self._writes.preview(name, instruction)
        return Preview(name, state.version, state.active or "", new, edits)

    async def modify(self, name: str, instruction: str, *, user: str | None = None,
                     dry_run: bool = False, base: PromptState | None = None, note: str = "",
                     label: str | None = None) -> WriteResult:
        """Apply a plain-language instruction; a lost race re-reads and re-applies it.

        An instruction that is not understood, whose target is absent or ambiguous,
        or that would change nothing (the message says why) raises
        :class:`~dynamic_prompt.core.errors.InstructionError` and changes nothing.
        ``base``: the prompt as the caller last read it, to start from without a read
        (a prompt changed since is found by the commit, and the instruction re-applied).
        """
        if label is not None and label != PRODUCTION:
            return await self._labels.modify(name, label, instruction, user=user, dry_run=dry_run, note=note)
        return await self._writes.modify(name, instruction, user=user, dry_run=dry_run, base=base, note=note)

    async def set_active(self, name: str, text: str, *, expected_version: int | None,
                         user: str | None = None, action: str = "edit", instruction: str = "",
                         note: str = "", label: str | None = None) -> WriteResult:
        """Save text written by hand, if the prompt is still at ``expected_version``.

        A prompt changed meanwhile raises :class:`~dynamic_prompt.core.errors.ConflictError`
        with the current version, so the caller can show the other change; nothing is
        overwritten. ``expected_version=None`` writes unconditionally (still as a new version).
        """
        if label is not None and label != PRODUCTION:
            return await self._labels.set_text(name, label, text, expected_version=expected_version, user=user,
                                               note=note)
        return await self._writes.set_active(name, text, expected_version=expected_version, user=user,
                                             action=action, instruction=instruction, note=note)

    async def revert(self, name: str = keymod.DEFAULT_NAME, *, user: str | None = None,
                     note: str = "") -> WriteResult:
        """Make the original (backup) text active again, as a new version (tries until it lands)."""
        return await self._writes.revert(name, user=user, note=note)

    async def revert_change(self, name: str, version: int, *, user: str | None = None, note: str = "",
                            dry_run: bool = False) -> WriteResult:
        """Take out the change that made ``version``, keeping every later change, as a new version.

        The inverse of the change from version N-1 to N is applied to the newest text
        (tries again against the newest version until it lands, like :meth:`revert`).
        Its changelog entry: action ``revert-change``, instruction ``revert the change
        of vN``, metadata ``{"reverted_version": N}``. ``dry_run`` computes the text
        (``WriteResult.text``, with ``previous`` the text now) and writes nothing.

        Raises:
            RevertConflictError: a later change touched the same lines; ``.regions``
                names each place (a :class:`~dynamic_prompt.core.models.ConflictRegion`),
                ``.reverted_version`` is N, ``.current_version`` the version it met.
                Nothing is written.
            VersionNotFoundError: version N is not kept, is the first version, or
                version N-1 is no longer kept (one line says which).
            PromptNotFoundError: the prompt has no text.
        """
        return await self._writes.revert_change(name, version, user=user, note=note, dry_run=dry_run)

    async def restore(self, name: str, version: int, *, user: str | None = None,
                      expected_version: int | None = None, note: str = "") -> WriteResult:
        """Make version ``version``'s text active again, as a new version.

        Tries again until it lands, unless ``expected_version`` is given: then a
        prompt changed meanwhile is a :class:`~dynamic_prompt.core.errors.ConflictError`.
        """
        return await self._writes.restore(name, version, user=user, expected_version=expected_version,
                                          note=note)

    async def set_config(self, name: str, config: Mapping[str, Any], *, expected_version: int | None = None,
                         user: str | None = None, note: str = "", label: str | None = None) -> WriteResult:
        """Give the prompt (or the version ``label`` points at) ``config``: a new version, same text.

        A version's config is a JSON object kept with its text (core/prompt_config.py):
        agents get it with the text, a diff of two versions shows it, a restore brings it
        back. A bad config raises :class:`~dynamic_prompt.core.prompt_config.PromptConfigError`
        and writes nothing; with ``expected_version`` a prompt (or label) moved meanwhile is
        a :class:`~dynamic_prompt.core.errors.ConflictError`.
        """
        if label is not None and label != PRODUCTION:
            return await self._labels.set_config(name, label, config, expected_version=expected_version,
                                                 user=user, note=note)
        return await self._writes.set_config(name, config, expected_version=expected_version, user=user, note=note)

    async def version_config(self, name: str, number: int) -> dict[str, Any]:
        """The config of version ``number`` ({} when it has none)."""
        return (await self.version_configs(name, [number]))[0]

    async def undo(self, name: str = keymod.DEFAULT_NAME, *, user: str | None = None,
                   note: str = "") -> WriteResult:
        """Return to the text before the last change (a change made meanwhile is a conflict)."""
        return await self._writes.undo(name, user=user, note=note)

    # -- whole prompts ------------------------------------------------------------------

    async def rename(self, name: str, new_name: str, *, user: str | None = None, note: str = "") -> WriteResult:
        """Give prompt ``name`` the name ``new_name``, keeping its whole history, in one atomic step.

        Versions, changelog (plus a ``rename`` entry), original and meta move along; the
        version number stays. Refuses (writing nothing): a missing prompt
        (:class:`~dynamic_prompt.core.errors.PromptNotFoundError`), a ``new_name`` with
        any key (:class:`~dynamic_prompt.core.errors.PromptExistsError`), the same
        name (:class:`~dynamic_prompt.core.errors.InvalidNameError`), a prompt another
        writer holds (:class:`~dynamic_prompt.core.errors.ConflictError`). The result
        names ``new_name`` with its text and version.
        """
        return await self._manage.rename(name, new_name, user=user, note=note)

    async def duplicate(self, name: str, new_name: str, *, user: str | None = None,
                        note: str = "") -> WriteResult:
        """A new prompt ``new_name`` starting from ``name``'s active text (its text and original).

        Its first entry is a ``duplicate`` saying where it came from (metadata
        ``duplicated_from``, ``from_version``). An existing ``new_name`` is refused.
        """
        return await self._manage.duplicate(name, new_name, user=user, note=note)

    async def clear(self, name: str = keymod.DEFAULT_NAME) -> bool:
        """Delete the prompt, its original, versions and changelog. True if anything was there."""
        return await self._manage.clear(name)

    async def active_texts(self, names: Sequence[str]) -> dict[str, str | None]:
        """The active texts of ``names`` (``None``: no text, or unreadable), read concurrently."""
        gate = asyncio.Semaphore(32)  # a listing of thousands must not open thousands of reads at once

        async def one(name: str) -> str | None:
            async with gate:
                try:
                    return await self.get_active(name)
                except DynamicPromptError:
                    return None

        texts = await asyncio.gather(*(one(n) for n in names))
        return dict(zip(names, texts))

    async def dependents(self, name: str, names: Sequence[str] | None = None) -> builtins.list[str]:
        """The prompts (of ``names``, default every listed one) whose render uses ``name``, transitively."""
        if names is None:
            names = [row.name for row in await self.list()]
        texts = await self.active_texts([n for n in names if n != name])
        graph = await asyncio.to_thread(lambda: {n: named_includes(t) for n, t in texts.items() if t})
        return dependents_of(name, graph)

    async def part_text(self, ref: str) -> str | None:
        """The text an include names (``safety``, ``safety@staging``, ``safety@v3``), or ``None``."""
        part = parse_ref(ref)
        if part.version is not None:
            return (await self._reads.version_texts(part.name, [part.version]))[0]
        if part.label == PRODUCTION:
            return await self._reads.get_active(part.name)
        try:
            return (await self._labels.text_at(part.name, part.label))[1]
        except DynamicPromptError:
            return None

    # -- labels, rollouts, experiments (store/labels.py) -------------------------------

    async def labels(self, name: str = keymod.DEFAULT_NAME) -> LabelState:
        """Where each label of ``name`` points, and its rollout and experiment."""
        return await self._labels.state(name)

    async def label_text(self, name: str, label: str) -> tuple[int, str]:
        """The version and text ``label`` (or ``vN``) points at."""
        return await self._labels.text_at(name, label)

    async def set_label(self, name: str, label: str, target: str, *, user: str | None = None,
                        note: str = "") -> MoveResult:
        """Point ``label`` at the version ``target`` (a label or ``vN``) names; ``production`` promotes."""
        return await self._labels.set(name, label, target, user=user, note=note)

    async def remove_label(self, name: str, label: str, *, user: str | None = None, note: str = "") -> MoveResult:
        """Remove ``label`` (not ``production`` or ``latest``)."""
        return await self._labels.remove(name, label, user=user, note=note)

    async def promote(self, name: str, target: str | None = None, *, user: str | None = None, note: str = "",
                      expected: int | None = None, source: str = "") -> MoveResult:
        """Point production at ``target``'s version (``None``: the rollout's); ends a rollout.

        ``expected``: production's version as the caller saw it (a move meanwhile is a
        conflict); ``source``: what the changelog says it came from (default: ``target``).
        """
        return await self._labels.promote(name, target, user=user, note=note, expected=expected, source=source)

    async def rollback(self, name: str, *, user: str | None = None, note: str = "") -> MoveResult:
        """Move production back where it was before its last promote."""
        return await self._labels.rollback(name, user=user, note=note)

    async def rollback_target(self, name: str) -> tuple[int, int]:
        """(production's version, the one a rollback would go back to); a LabelError if none."""
        return await self._labels.rollback_target(name)

    async def rollout(self, name: str, percent: object, target: str | None = None, *,
                      user: str | None = None, note: str = "") -> LabelState:
        """Serve ``target``'s version to ``percent`` % of production's agents (``None``: change the percent)."""
        return await self._labels.rollout(name, percent, target, user=user, note=note)

    async def abort_rollout(self, name: str, *, user: str | None = None, note: str = "") -> LabelState:
        """End the rollout: every agent reads production again."""
        return await self._labels.abort(name, user=user, note=note)

    async def experiment(self, name: str, variants: Sequence[str], *, user: str | None = None,
                         note: str = "") -> LabelState:
        """Start an experiment of weighted variants (``a=production:50``), sticky per caller key."""
        return await self._labels.experiment(name, variants, user=user, note=note)

    async def stop_experiment(self, name: str, *, user: str | None = None, note: str = "") -> LabelState:
        """End the experiment: everyone reads production again."""
        return await self._labels.stop(name, user=user, note=note)
