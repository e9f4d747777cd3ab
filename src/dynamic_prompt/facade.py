"""``DynamicPrompt``: the synchronous API with the seed gem's method names.

It runs :class:`~dynamic_prompt.store.prompt_store.PromptStore` on a private event loop in
a daemon thread, so the logic exists once and the facade works the same from
plain scripts, threads, and code that already runs an event loop.
"""

from __future__ import annotations

import builtins
from typing import Any, TypeVar

from dynamic_prompt.core import diff as diffmod
from dynamic_prompt.core.config import Settings, load_settings
from dynamic_prompt.core.keys import DEFAULT_NAME, validate_name
from dynamic_prompt.core.models import ChangeEntry, PromptSummary, WriteResult
from dynamic_prompt.live.loop_thread import LoopThread
from dynamic_prompt.server import ServerTarget, resolve
from dynamic_prompt.store import PromptStore

T = TypeVar("T")


class DynamicPrompt:
    """Blocking access to one named prompt (``default``: the gem's keys).

    Args:
        redis_url: the server; ``None`` uses ``REDIS_URL``, the config file, or
            the shared embedded server.
        name: the prompt this instance works on (each method also takes ``name=``).
        settings: explicit settings instead of reading the config file.
        user_id: the default author of changes (default: the OS user).

    Example::

        dp = DynamicPrompt()
        dp.load("prompts/assistant.md")
        dp.modify("change tone to sarcastic", user_id="alice")
        print(dp.diff())
    """

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        name: str = DEFAULT_NAME,
        settings: Settings | None = None,
        user_id: str | None = None,
    ) -> None:
        self.name = validate_name(name)
        self.settings = settings or load_settings()
        if redis_url:
            self.settings = self.settings.with_url(redis_url, "argument")
        if user_id:
            from dataclasses import replace

            self.settings = replace(self.settings, user=user_id)
        self._target: ServerTarget | None = None
        self._store: PromptStore | None = None
        self._loop = LoopThread()

    # -- lifecycle --------------------------------------------------------------------

    @property
    def target(self) -> ServerTarget:
        """The resolved server (resolving starts the embedded one if needed)."""
        if self._target is None:
            self._target = resolve(self.settings)
        return self._target

    def _run(self, factory: Any) -> Any:
        async def call() -> Any:
            if self._store is None:
                self._store = PromptStore.connect(self.target, self.settings)
            return await factory(self._store)

        return self._loop.run(call())

    def close(self) -> None:
        """Close connections and stop the private loop thread."""
        if self._store is not None:
            store, self._store = self._store, None
            try:
                self._loop.run(store.aclose())
            except Exception:  # noqa: BLE001 - closing a dead link must not raise
                pass
        self._loop.stop()

    def __enter__(self) -> DynamicPrompt:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the seed's API ---------------------------------------------------------------

    def load(self, source: str, force: bool = False, *, name: str | None = None,
             user_id: str | None = None, note: str = "") -> str:
        """Load from a file path, http(s) URL or literal text; returns the loaded text."""
        result: WriteResult = self._run(
            lambda s: s.load(name or self.name, source, force=force, user=user_id, note=note)
        )
        return result.text

    def get_active(self, *, name: str | None = None) -> str | None:
        """The active prompt text, or ``None`` when there is none."""
        return self._run(lambda s: s.get_active(name or self.name))

    def modify(self, instruction: str, user_id: str | None = None, *, name: str | None = None,
               dry_run: bool = False, note: str = "") -> str:
        """Apply a plain-language instruction (``note``: why, kept in the changelog); returns the new text."""
        result: WriteResult = self._run(
            lambda s: s.modify(name or self.name, instruction, user=user_id, dry_run=dry_run, note=note)
        )
        return result.text

    def revert(self, *, name: str | None = None, user_id: str | None = None, note: str = "") -> str:
        """Make the original text active again; returns it."""
        return self._run(lambda s: s.revert(name or self.name, user=user_id, note=note)).text

    def diff(self, *, name: str | None = None) -> str:
        """The seed-style summary of changes from the original (``~``/``+``/``-`` lines)."""
        old, new = self._run(lambda s: s.diff(name or self.name))
        return "\n".join(diffmod.summary(old, new))

    def history(self, limit: int = 10, *, name: str | None = None) -> list[dict[str, Any]]:
        """The newest changelog entries as dicts (the gem's fields plus version/added/removed)."""
        entries: list[ChangeEntry] = self._run(lambda s: s.history(name or self.name, limit))
        return [e.to_dict() for e in entries]

    def clear(self, *, name: str | None = None) -> bool:
        """Delete the prompt with its original, versions and changelog."""
        return self._run(lambda s: s.clear(name or self.name))

    clear_all = clear

    # -- beyond the seed --------------------------------------------------------------

    def list(self) -> builtins.list[PromptSummary]:
        """Every prompt in the server."""
        return self._run(lambda s: s.list())

    def versions(self, *, name: str | None = None) -> builtins.list[int]:
        """Version numbers whose text is kept, newest first."""
        return self._run(lambda s: s.versions(name or self.name))

    def restore(self, version: int, *, name: str | None = None, user_id: str | None = None,
                note: str = "") -> str:
        """Make an earlier version active again (as a new version); returns its text."""
        return self._run(lambda s: s.restore(name or self.name, version, user=user_id, note=note)).text

    def revert_change(self, version: int, *, name: str | None = None, user_id: str | None = None,
                      note: str = "") -> str:
        """Take out only the change that made ``version``, keeping every later change; returns the new text.

        Raises :class:`~dynamic_prompt.core.errors.RevertConflictError` (writing nothing)
        when a later change rewrote the same lines.
        """
        return self._run(
            lambda s: s.revert_change(name or self.name, version, user=user_id, note=note)
        ).text

    def rename(self, new_name: str, *, name: str | None = None, user_id: str | None = None,
               note: str = "") -> str:
        """Give the prompt the name ``new_name`` with its whole history; returns the new name.

        An instance created for the old name follows it (its ``name`` becomes ``new_name``).
        """
        old = name or self.name
        self._run(lambda s: s.rename(old, new_name, user=user_id, note=note))
        if old == self.name:
            self.name = validate_name(new_name)
        return new_name

    def duplicate(self, new_name: str, *, name: str | None = None, user_id: str | None = None,
                  note: str = "") -> str:
        """Start prompt ``new_name`` from this prompt's active text; returns that text."""
        return self._run(
            lambda s: s.duplicate(name or self.name, new_name, user=user_id, note=note)
        ).text

    def set_active(self, text: str, expected_version: int | None = None, *,
                   name: str | None = None, user_id: str | None = None, note: str = "") -> int:
        """Save a manual edit if the prompt is still at ``expected_version``; returns the new version."""
        return self._run(
            lambda s: s.set_active(name or self.name, text, expected_version=expected_version,
                                   user=user_id, note=note)
        ).version

    def metadata(self, *, name: str | None = None) -> dict[str, Any]:
        """Version, size, token estimate, authors and keys of the prompt."""
        return self._run(lambda s: s.metadata(name or self.name))
