"""What this dashboard's person changed, for their undo and redo (pure: no Redis, no screen).

Undo steps back through the person's own changes, newest first, by reverting just
that change (a colleague's or an agent's later changes stay); redo reverts the undo.
Each prompt has its own two stacks; a new change of the person's empties its redo
stack, as in every editor.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class _Stacks:
    done: list[int] = field(default_factory=list)
    undone: list[int] = field(default_factory=list)


class OwnChanges:
    """The versions this person wrote (to undo) and the undos they made (to redo), per prompt."""

    def __init__(self) -> None:
        self._by_prompt: dict[str, _Stacks] = {}

    def _stacks(self, name: str) -> _Stacks:
        return self._by_prompt.setdefault(name, _Stacks())

    def wrote(self, name: str, version: int) -> None:
        """The person wrote ``version`` of ``name`` (a new change: nothing is left to redo)."""
        stacks = self._stacks(name)
        stacks.done.append(version)
        stacks.undone.clear()

    def to_undo(self, name: str) -> int | None:
        """The version whose change undo would revert, if any."""
        done = self._stacks(name).done
        return done[-1] if done else None

    def to_redo(self, name: str) -> int | None:
        """The version (an undo) that redo would revert, if any."""
        undone = self._stacks(name).undone
        return undone[-1] if undone else None

    def undid(self, name: str, undo_version: int) -> None:
        """The person's last change was undone, as ``undo_version``."""
        stacks = self._stacks(name)
        stacks.done.pop()
        stacks.undone.append(undo_version)

    def redid(self, name: str, redo_version: int) -> None:
        """The last undo was reverted, as ``redo_version`` (which undo would revert next)."""
        stacks = self._stacks(name)
        stacks.undone.pop()
        stacks.done.append(redo_version)

    def renamed(self, old: str, new: str) -> None:
        """Prompt ``old`` is now called ``new`` (its history went with it)."""
        if old in self._by_prompt:
            self._by_prompt[new] = self._by_prompt.pop(old)

    def forget(self, name: str) -> None:
        """Prompt ``name`` was deleted."""
        self._by_prompt.pop(name, None)
