"""The person's actions on the dashboard: undo and redo, revert, restore, edit, prompts.

Each write is a worker that asks first (every write that changes the live prompt
asks, naming what changes), calls the store once, and posts
:class:`~dynamic_prompt.tui.messages.Written`. The panes are not touched here: the
change comes back through the feed, as every change by anyone does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.message import Message
from textual.widget import Widget

from dynamic_prompt.core import diff as diffmod
from dynamic_prompt.core import labels as lab
from dynamic_prompt.core import prompt_config
from dynamic_prompt.core.errors import ConflictError, DynamicPromptError, PromptExistsError
from dynamic_prompt.core.keys import validate_name
from dynamic_prompt.core.models import PromptState, WriteResult
from dynamic_prompt.store import PromptStore
from dynamic_prompt.store.labels import LabelState
from dynamic_prompt.tui import diffrows
from dynamic_prompt.tui.messages import Moved, StoreFailed, Written
from dynamic_prompt.tui.render import safe
from dynamic_prompt.tui.screens.confirm import ConfirmScreen
from dynamic_prompt.tui.screens.editor import ConflictScreen, EditorScreen
from dynamic_prompt.tui.screens.forms import NameScreen, NewPromptScreen, PathScreen
from dynamic_prompt.tui.view import DiffMode


def summary_text(old: str, new: str, limit: int = 8) -> Text:
    """What a write would change, in a few ``~ + -`` lines, for a confirmation."""
    lines = diffmod.summary(old, new)
    shown = [safe(line)[:100] for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f"... and {len(lines) - limit} more")
    return Text("\n".join(shown) or "(no visible change)")


@dataclass
class ShowPrompt(Message):
    """Point the dashboard at prompt ``name`` (a prompt was just created or renamed)."""

    name: str


@dataclass
class Undone(Message):
    """An undo (or a redo) of the person's own change ``reverted`` landed (``result``)."""

    result: WriteResult
    reverted: int
    redo: bool = False


@dataclass
class Renamed(Message):
    """Prompt ``old`` is now ``new`` (or was deleted: ``new`` is "")."""

    old: str
    new: str


class Actions(Widget):
    """Runs the person's writes as workers; posts Written, Undone, Renamed, ShowPrompt or StoreFailed."""

    DEFAULT_CSS = "Actions { display: none; }"

    def __init__(self, store: PromptStore) -> None:
        super().__init__(id="actions")
        self.store = store

    async def _confirm(self, title: str, detail: Text | str = "", yes: str = "Yes") -> bool:
        screen = ConfirmScreen(title, detail, yes)
        # mypy does not solve push_screen_wait's type variable for a ModalScreen[bool].
        return bool(await self.app.push_screen_wait(screen))  # type: ignore[arg-type]

    def _failed(self, exc: DynamicPromptError) -> None:
        self.post_message(StoreFailed(str(exc)))

    async def _texts(self, name: str, version: int) -> tuple[str, str] | None:
        """(the text before ``version``'s change, the text it made), or None (said why)."""
        try:
            after = await self.store.version_text(name, version)
            older = [v for v in await self.store.versions(name) if v < version]
            before = await self.store.version_text(name, older[0]) if older else ""
            configs = await self.store.version_configs(name, [older[0] if older else 0, version])
        except DynamicPromptError as exc:
            self._failed(exc)
            return None
        # Each with its config below it when either has one: a config change shows as one.
        return prompt_config.compared(before, configs[0], after, configs[1])

    # -- reverting ----------------------------------------------------------------------

    @work(exclusive=True, group="action", exit_on_error=False)
    async def revert(self, state: PromptState) -> None:
        """Revert to the original text, after asking."""
        original = prompt_config.read(state.meta.backup_config)
        if state.backup == state.active and original == state.config:
            self.app.notify("Already at the original; nothing to revert.", markup=False)
            return
        detail = summary_text(*prompt_config.compared(state.active or "", state.config, state.backup or "", original))
        if not await self._confirm(f"Revert {state.name} to the original text?", detail, "Revert"):
            return
        try:
            self.post_message(Written(await self.store.revert(state.name), "Reverted to the original"))
        except DynamicPromptError as exc:
            self._failed(exc)

    @work(exclusive=True, group="action", exit_on_error=False)
    async def revert_change(self, state: PromptState, version: int, *, undo: bool = False,
                            redo: bool = False) -> None:
        """Revert only the change that made ``version`` (later changes stay), after asking.

        ``undo``/``redo``: the person's own undo or redo (the question says so).
        """
        texts = await self._texts(state.name, version)
        if texts is None:
            return
        before, after = texts
        verb = "Redo" if redo else "Undo" if undo else "Revert"
        what = "your undone change" if redo else "your change" if undo else "the change"
        title = f"{verb} {what} v{version} of {state.name}? (changes made after it stay)"
        if not await self._confirm(title, summary_text(after, before), verb):
            return
        try:
            # The entry already says "revert the change of vN"; an undo or redo says which it was.
            note = verb.lower() if undo or redo else ""
            result = await self.store.revert_change(state.name, version, note=note)
        except ConflictError as exc:
            self.post_message(StoreFailed(f"Nothing was written: {exc}"))
            return
        except DynamicPromptError as exc:
            self._failed(exc)
            return
        if undo or redo:
            self.post_message(Undone(result, version, redo=redo))
        else:
            self.post_message(Written(result, f"Reverted the change of v{version}"))

    @work(exclusive=True, group="action", exit_on_error=False)
    async def restore(self, state: PromptState, version: int) -> None:
        """Restore ``version``, after asking (a change made meanwhile is a conflict)."""
        try:
            text = await self.store.version_text(state.name, version)
            config = await self.store.version_config(state.name, version)
        except DynamicPromptError as exc:
            self._failed(exc)
            return
        detail = summary_text(*prompt_config.compared(state.active or "", state.config, text, config))
        if not await self._confirm(f"Restore version {version} of {state.name}?", detail, "Restore"):
            return
        try:
            result = await self.store.restore(state.name, version, expected_version=state.version)
            self.post_message(Written(result, f"Restored version {version}"))
        except DynamicPromptError as exc:
            self._failed(exc)

    # -- editing ------------------------------------------------------------------------

    @work(exclusive=True, group="action", exit_on_error=False)
    async def edit(self, state: PromptState) -> None:
        """Edit the text by hand; save only if nobody wrote meanwhile (or on request)."""
        name, base, text = state.name, state.version, state.active or ""
        while True:
            edited = await self.app.push_screen_wait(EditorScreen(name, base, text))
            if edited is None:
                return
            try:
                result = await self.store.set_active(name, edited.text, expected_version=base, note=edited.note)
                self.post_message(Written(result, "Saved"))
                return
            except ConflictError as exc:
                choice, theirs, now = await self._conflict(name, base, exc)
            except DynamicPromptError as exc:
                self._failed(exc)
                text = edited.text
                continue
            if choice == "overwrite":
                try:
                    result = await self.store.set_active(name, edited.text, expected_version=now, note=edited.note)
                    self.post_message(Written(result, "Saved over their change"))
                    return
                except DynamicPromptError as exc2:
                    self._failed(exc2)
                    text = edited.text
            elif choice == "reload":
                base, text = now, theirs
            else:
                text = edited.text

    async def _conflict(self, name: str, base: int, exc: ConflictError) -> tuple[str, str, int]:
        """Show their change since ``base``; returns (choice, their text, their version)."""
        current = await self.store.state(name, with_backup=False)
        theirs = current.active or ""
        try:
            started = await self.store.version_text(name, base)
        except DynamicPromptError:
            started = ""
        rows = await asyncio.to_thread(diffrows.build, started, theirs, DiffMode.UNIFIED)
        choice = await self.app.push_screen_wait(ConflictScreen(str(exc), rows, current.version))
        return choice or "back", theirs, current.version

    # -- loading and prompts ----------------------------------------------------------

    @work(exclusive=True, group="action", exit_on_error=False)
    async def load(self, name: str) -> None:
        """Load a file into prompt ``name`` (asks before replacing existing text)."""
        path = await self.app.push_screen_wait(PathScreen(f"Load a file into {name}"))
        if path:
            await self._load(name, path, "auto")

    async def _load(self, name: str, source: str, kind: str) -> bool:
        try:
            result = await self.store.load(name, source, kind=kind)
        except PromptExistsError as exc:
            if not await self._confirm(
                f"{name} already has text. Replace it?",
                f"{exc}\nThe current text stays restorable from the changelog.", "Replace",
            ):
                return False
            try:
                result = await self.store.load(name, source, kind=kind, force=True)
            except DynamicPromptError as exc2:
                self._failed(exc2)
                return False
        except DynamicPromptError as exc:
            self._failed(exc)
            return False
        self.post_message(Written(result, f"Loaded into {name}"))
        return True

    @work(exclusive=True, group="action", exit_on_error=False)
    async def new_prompt(self) -> None:
        """Create a prompt from typed text or a file, then show it."""
        new = await self.app.push_screen_wait(NewPromptScreen())
        if new is None:
            return
        try:
            name = validate_name(new.name)
        except DynamicPromptError as exc:
            self._failed(exc)
            return
        source, kind = (new.path, "auto") if new.path else (new.text, "text")
        if await self._load(name, source, kind):
            self.post_message(ShowPrompt(name))

    @work(exclusive=True, group="action", exit_on_error=False)
    async def duplicate(self, name: str) -> None:
        """Copy prompt ``name`` to a new name (asked for), then show the copy."""
        new = await self.app.push_screen_wait(NameScreen(f"Duplicate {name} as", f"{name}-copy"))
        if not new:
            return
        try:
            result = await self.store.duplicate(name, validate_name(new))
        except DynamicPromptError as exc:
            self._failed(exc)
            return
        self.post_message(Written(result, f"Duplicated {name} as {new}"))
        self.post_message(ShowPrompt(new))

    @work(exclusive=True, group="action", exit_on_error=False)
    async def rename(self, name: str) -> None:
        """Rename prompt ``name`` (its history goes with it); agents reading the old name lose it."""
        new = await self.app.push_screen_wait(NameScreen(f"Rename {name} to (agents that read {name!r} "
                                                         "will find nothing under that name)", name))
        if not new or new == name:
            return
        try:
            result = await self.store.rename(name, validate_name(new))
        except DynamicPromptError as exc:
            self._failed(exc)
            return
        self.post_message(Renamed(name, new))
        self.post_message(Written(result, f"Renamed {name} to {new}"))

    @work(exclusive=True, group="action", exit_on_error=False)
    async def delete(self, name: str) -> None:
        """Delete prompt ``name`` with everything it has, after asking and naming what goes."""
        try:
            meta = await self.store.metadata(name)
        except DynamicPromptError as exc:
            self._failed(exc)
            return
        detail = (f"Its text (v{meta['version']}, {meta['size_bytes']:,} bytes), its original, "
                  f"{meta['versions_kept']} kept versions and {meta['changelog_entries']} changelog entries "
                  "are deleted. This cannot be undone; agents reading it will find nothing.")
        if not await self._confirm(f"Delete prompt {name}?", detail, "Delete"):
            return
        try:
            existed = await self.store.clear(name)
        except DynamicPromptError as exc:
            self._failed(exc)
            return
        self.app.notify(f"Deleted {name}." if existed else f"There was no prompt named {name}.", markup=False)
        self.post_message(Renamed(name, ""))

    # -- labels ---------------------------------------------------------------------------

    async def _live_agents(self, name: str) -> int:
        found = await self.store.fleet([name])
        return sum(1 for agent in found.get(name, []) if not agent.gone)

    @work(exclusive=True, group="action", exit_on_error=False)
    async def promote(self, name: str, label: str, labels: LabelState) -> None:
        """Make ``label``'s version (at production: the rollout's) production, after asking.

        The question names the versions, the live agents that change, and what changes in
        the text; the write expects production where the question saw it.
        """
        rollout = labels.release.rollout
        if label != lab.PRODUCTION:
            version, source = labels.labels.version_of(label), label
        elif rollout is not None:
            version, source = rollout.version, f"the rollout's v{rollout.version} ({rollout.percent:g}%)"
        else:
            self.app.notify("f9 shows a label to promote (or start a rollout: dprompt rollout).", markup=False)
            return
        current = labels.labels.production
        if version is None:
            self.app.notify(f"Label {label!r} is gone.", severity="warning", markup=False)
            return
        if version == current and rollout is None:
            self.app.notify(f"{label} is production already (v{version}).", markup=False)
            return
        try:
            old, new = await self.store.versions_diff(name, current, version)
            agents = await self._live_agents(name)
        except DynamicPromptError as exc:
            self._failed(exc)
            return
        ends = "; the rollout ends" if rollout is not None else ""
        gem = " (and the gem's prompt:active)" if name == "default" and self.store.target is not None \
            and self.store.target.kind.layout.gem_default else ""
        detail = Text(f"{agents} live agent{'s' if agents != 1 else ''} reading production{gem} will serve "
                      f"v{version} instead of v{current}{ends}.\n\n")
        detail.append_text(summary_text(old, new))
        what = source if label == lab.PRODUCTION else f"{source} (v{version})"  # a rollout's names its version
        if not await self._confirm(f"Promote {what} to production of {name}?", detail, "Promote"):
            return
        try:
            result = await self.store.promote(name, f"v{version}", expected=current, source=source)
        except DynamicPromptError as exc:
            self._failed(exc)
            return
        self.post_message(Moved(result, f"Promoted {source}"))

    @work(exclusive=True, group="action", exit_on_error=False)
    async def rollback(self, name: str) -> None:
        """Move production back where it was before its last promote, after asking."""
        try:
            current, before = await self.store.rollback_target(name)
            old, new = await self.store.versions_diff(name, current, before)
            agents = await self._live_agents(name)
        except DynamicPromptError as exc:
            self._failed(exc)
            return
        detail = Text(f"{agents} live agent{'s' if agents != 1 else ''} reading production will serve v{before} "
                      f"instead of v{current}.\n\n")
        detail.append_text(summary_text(old, new))
        if not await self._confirm(f"Roll production of {name} back from v{current} to v{before}?", detail,
                                   "Roll back"):
            return
        try:
            result = await self.store.promote(name, f"v{before}", expected=current, source="rollback")
        except DynamicPromptError as exc:
            self._failed(exc)
            return
        self.post_message(Moved(result, "Rolled back"))
