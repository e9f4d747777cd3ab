"""The person's actions on the dashboard: revert, undo, restore, edit, load, new.

Each write is a worker that asks first where a person would want to be asked
(revert, restore, replacing an existing prompt), calls the store once, and posts
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
from dynamic_prompt.core.errors import ConflictError, DynamicPromptError, PromptExistsError
from dynamic_prompt.core.keys import validate_name
from dynamic_prompt.core.models import PromptState
from dynamic_prompt.store import PromptStore
from dynamic_prompt.tui import diffrows
from dynamic_prompt.tui.messages import StoreFailed, Written
from dynamic_prompt.tui.render import safe
from dynamic_prompt.tui.screens.confirm import ConfirmScreen
from dynamic_prompt.tui.screens.editor import ConflictScreen, EditorScreen
from dynamic_prompt.tui.screens.forms import NewPromptScreen, PathScreen


def summary_text(old: str, new: str, limit: int = 8) -> Text:
    """What a write would change, in a few ``~ + -`` lines, for a confirmation."""
    lines = diffmod.summary(old, new)
    shown = [safe(line)[:100] for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f"... and {len(lines) - limit} more")
    return Text("\n".join(shown) or "(no visible change)")


@dataclass
class ShowPrompt(Message):
    """Point the dashboard at prompt ``name`` (a prompt was just created)."""

    name: str


class Actions(Widget):
    """Runs the person's writes as workers; posts Written, StoreFailed or ShowPrompt."""

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

    # -- writes -----------------------------------------------------------------------

    @work(exclusive=True, group="action", exit_on_error=False)
    async def revert(self, state: PromptState) -> None:
        """Revert to the original text, after asking."""
        if state.backup == state.active:
            self.app.notify("Already at the original; nothing to revert.", markup=False)
            return
        detail = summary_text(state.active or "", state.backup or "")
        if not await self._confirm(f"Revert {state.name} to the original text?", detail, "Revert"):
            return
        try:
            self.post_message(Written(await self.store.revert(state.name), "Reverted to the original"))
        except DynamicPromptError as exc:
            self._failed(exc)

    @work(exclusive=True, group="action", exit_on_error=False)
    async def undo(self, state: PromptState) -> None:
        """Go back to the text before the last change."""
        try:
            self.post_message(Written(await self.store.undo(state.name), "Undone"))
        except DynamicPromptError as exc:
            self._failed(exc)

    @work(exclusive=True, group="action", exit_on_error=False)
    async def restore(self, state: PromptState, version: int) -> None:
        """Restore ``version``, after asking (a change made meanwhile is a conflict)."""
        try:
            text = await self.store.version_text(state.name, version)
        except DynamicPromptError as exc:
            self._failed(exc)
            return
        detail = summary_text(state.active or "", text)
        if not await self._confirm(f"Restore version {version} of {state.name}?", detail, "Restore"):
            return
        try:
            result = await self.store.restore(state.name, version, expected_version=state.version)
            self.post_message(Written(result, f"Restored version {version}"))
        except DynamicPromptError as exc:
            self._failed(exc)

    @work(exclusive=True, group="action", exit_on_error=False)
    async def edit(self, state: PromptState) -> None:
        """Edit the text by hand; save only if nobody wrote meanwhile (or on request)."""
        name, base, text = state.name, state.version, state.active or ""
        while True:
            edited = await self.app.push_screen_wait(EditorScreen(name, base, text))
            if edited is None:
                return
            try:
                self.post_message(Written(await self.store.set_active(name, edited, expected_version=base), "Saved"))
                return
            except ConflictError as exc:
                choice, theirs, now = await self._conflict(name, base, exc)
            except DynamicPromptError as exc:
                self._failed(exc)
                text = edited
                continue
            if choice == "overwrite":
                try:
                    result = await self.store.set_active(name, edited, expected_version=now)
                    self.post_message(Written(result, "Saved over their change"))
                    return
                except DynamicPromptError as exc2:
                    self._failed(exc2)
                    text = edited
            elif choice == "reload":
                base, text = now, theirs
            else:
                text = edited

    async def _conflict(self, name: str, base: int, exc: ConflictError) -> tuple[str, str, int]:
        """Show their change since ``base``; returns (choice, their text, their version)."""
        current = await self.store.state(name, with_backup=False)
        theirs = current.active or ""
        try:
            started = await self.store.version_text(name, base)
        except DynamicPromptError:
            started = ""
        rows = await asyncio.to_thread(diffrows.build, started, theirs, "unified")
        choice = await self.app.push_screen_wait(ConflictScreen(str(exc), rows, current.version))
        return choice or "back", theirs, current.version

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
