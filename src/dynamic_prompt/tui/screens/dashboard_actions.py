"""The person's actions on the dashboard: revert, undo, restore, edit, load, new, copy, ...

Each write is a worker that asks first where the issue says so (revert,
restore, replacing an existing prompt), calls the store once, and reports one
line. The panes are not touched here: the change comes back through the feed
(and a direct refresh request, in case the feed is down).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work

from dynamic_prompt.core import diff as diffmod
from dynamic_prompt.core.errors import (
    ConflictError,
    DynamicPromptError,
    PromptExistsError,
)
from dynamic_prompt.core.keys import validate_name
from dynamic_prompt.core.models import PromptState, WriteResult
from dynamic_prompt.tui import diffrows
from dynamic_prompt.tui.render import safe
from dynamic_prompt.tui.screens.confirm import ConfirmScreen
from dynamic_prompt.tui.screens.editor import ConflictScreen, EditorScreen
from dynamic_prompt.tui.screens.forms import NewPromptScreen, PathScreen

if TYPE_CHECKING:
    from dynamic_prompt.store import PromptStore
    from dynamic_prompt.tui.app import DashboardApp
    from dynamic_prompt.tui.widgets.instruction import InstructionBar
    from dynamic_prompt.tui.widgets.timeline import Timeline


def _summary_text(old: str, new: str, limit: int = 8) -> Text:
    lines = diffmod.summary(old, new)
    shown = [safe(line)[:100] for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f"... and {len(lines) - limit} more")
    return Text("\n".join(shown) or "(no visible change)")


class DashboardActions:
    """Action handlers mixed into :class:`~dynamic_prompt.tui.screens.dashboard.DashboardScreen`."""

    if TYPE_CHECKING:
        app: DashboardApp
        store: PromptStore
        current: str
        state: PromptState | None
        diff_source: tuple[str, int] | None
        diff_mode: str
        @property
        def timeline(self) -> Timeline: ...
        @property
        def instruction_bar(self) -> InstructionBar: ...

        def notify(self, message: str, **kwargs: Any) -> None: ...
        def request_refresh(self, name: str | None = None, *, everything: bool = False) -> None: ...
        def reload_diff(self) -> Any: ...
        def focus_prompt(self, name: str) -> None: ...

    # -- helpers ----------------------------------------------------------------------

    def _require_state(self) -> PromptState | None:
        if self.state is None or not self.state.exists:
            self.notify(f"There is no prompt named {self.current!r} yet: load a file or create one.",
                        severity="warning", markup=False)
            return None
        return self.state

    async def _confirm(self, title: str, detail: Text | str = "", yes: str = "Yes") -> bool:
        screen = ConfirmScreen(title, detail, yes)
        # mypy does not solve push_screen_wait's type variable for a ModalScreen[bool].
        return bool(await self.app.push_screen_wait(screen))  # type: ignore[arg-type]

    def _report(self, result: WriteResult, done: str) -> None:
        if result.changed:
            self.notify(f"{done}: now v{result.version}.", markup=False)
        else:
            self.notify(result.message or "Nothing changed.", markup=False)
        self.request_refresh(result.name)

    def _failed(self, exc: DynamicPromptError) -> None:
        self.notify(str(exc), severity="error", markup=False)

    # -- writes -----------------------------------------------------------------------

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_revert(self) -> None:
        """Revert to the original text, after asking."""
        state = self._require_state()
        if state is None:
            return
        if state.backup == state.active:
            self.notify("Already at the original; nothing to revert.", markup=False)
            return
        detail = _summary_text(state.active or "", state.backup or "")
        if not await self._confirm(f"Revert {state.name} to the original text?", detail, "Revert"):
            return
        try:
            self._report(await self.store.revert(state.name), "Reverted to the original")
        except DynamicPromptError as exc:
            self._failed(exc)

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_undo(self) -> None:
        """Go back to the text before the last change."""
        if self._require_state() is None:
            return
        try:
            self._report(await self.store.undo(self.current), "Undone")
        except DynamicPromptError as exc:
            self._failed(exc)

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_restore(self) -> None:
        """Restore the version picked in the timeline, after asking."""
        state = self._require_state()
        if state is None:
            return
        entry = self.timeline.selected
        if entry is None or entry.version is None:
            self.notify("Pick a changelog entry with a version first (the timeline, below).",
                        severity="warning", markup=False)
            return
        try:
            text = await self.store.version_text(state.name, entry.version)
        except DynamicPromptError as exc:
            self._failed(exc)
            return
        detail = _summary_text(state.active or "", text)
        if not await self._confirm(f"Restore version {entry.version} of {state.name}?", detail, "Restore"):
            return
        try:
            result = await self.store.restore(state.name, entry.version, expected_version=state.version)
            self._report(result, f"Restored version {entry.version}")
        except DynamicPromptError as exc:
            self._failed(exc)

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_edit(self) -> None:
        """Edit the text by hand; save only if nobody wrote meanwhile (or on request)."""
        state = self._require_state()
        if state is None:
            return
        name, base, text = state.name, state.version, state.active or ""
        while True:
            edited = await self.app.push_screen_wait(EditorScreen(name, base, text))
            if edited is None:
                return
            try:
                self._report(await self.store.set_active(name, edited, expected_version=base), "Saved")
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
                    self._report(result, "Saved over their change")
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
    async def action_load(self) -> None:
        """Load a file into the current prompt (asks before replacing existing text)."""
        path = await self.app.push_screen_wait(PathScreen(f"Load a file into {self.current}"))
        if path:
            await self._load(self.current, path, "auto")

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
        self._report(result, f"Loaded into {name}")
        return True

    @work(exclusive=True, group="action", exit_on_error=False)
    async def action_new_prompt(self) -> None:
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
            self.focus_prompt(name)

    # -- no writes --------------------------------------------------------------------

    def action_copy(self) -> None:
        """Copy the active prompt to the clipboard."""
        state = self._require_state()
        if state is not None and state.active is not None:
            self.app.copy_to_clipboard(state.active)
            self.notify(f"Copied {state.name} v{state.version} ({len(state.active):,} characters).",
                        markup=False)

    def action_search(self) -> None:
        """Open the changelog filter."""
        self.timeline.start_search()

    def action_toggle_diff(self) -> None:
        """Switch between unified and side-by-side diffs."""
        self.diff_mode = "split" if self.diff_mode == "unified" else "unified"
        self.reload_diff()

    def action_diff_backup(self) -> None:
        """Diff against the original again."""
        self.diff_source = None
        self.reload_diff()

    def action_focus_instruction(self) -> None:
        """Move to the instruction input."""
        self.instruction_bar.input.focus()
