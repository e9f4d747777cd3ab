"""The exceptions the core raises.

Every error a person can cause (a bad name, an instruction the engine does not
understand, a file that is not text, a server that does not answer) is a
:class:`DynamicPromptError` whose message is one clear sentence, ready to print
on a single line. Nothing else should reach a user as a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dynamic_prompt.core.models import ConflictRegion


class DynamicPromptError(Exception):
    """Base of every error the library raises on purpose; ``str()`` is one line."""

    def __str__(self) -> str:
        text = super().__str__()
        # One line, always: a multi-line message would break CLI output and logs.
        return " ".join(text.split())


class InvalidNameError(DynamicPromptError, ValueError):
    """A prompt name that the key layout cannot hold safely."""


class PromptNotFoundError(DynamicPromptError, LookupError):
    """The named prompt has no active text in the server."""


class PromptExistsError(DynamicPromptError):
    """``load`` without ``force`` on a prompt that already has text."""


class VersionNotFoundError(DynamicPromptError, LookupError):
    """A version that was never written or is past the retention window."""


class ConflictError(DynamicPromptError):
    """Someone else wrote the prompt after the version this change started from.

    ``current_version`` is the version now in the server, so a caller can show
    the other change and offer reload or overwrite.
    """

    def __init__(self, message: str, *, expected_version: int, current_version: int) -> None:
        super().__init__(message)
        self.expected_version = expected_version
        self.current_version = current_version


class RevertConflictError(ConflictError):
    """Reverting the change of version N meets later changes of the same lines.

    ``regions`` names each place (see :class:`~dynamic_prompt.core.models.ConflictRegion`:
    line numbers and texts in version N and in the current text, and what the revert
    would bring back); ``reverted_version`` is N, ``current_version`` the version the
    revert was tried on. Nothing was written.
    """

    def __init__(self, regions: Sequence[ConflictRegion], *, reverted_version: int, current_version: int,
                 name: str = "") -> None:
        regions = tuple(regions)
        of = f" of {name!r}" if name else ""
        first = regions[0].describe(reverted_version) if regions else "no place named"
        more = len(regions) - 1
        extra = f", and {more} more place{'s' if more > 1 else ''}" if more else ""
        super().__init__(
            f"Cannot revert the change of v{reverted_version}{of}: a later change touched the same lines "
            f"({first}{extra}); nothing was written.",
            expected_version=reverted_version,
            current_version=current_version,
        )
        self.regions: tuple[ConflictRegion, ...] = regions
        self.reverted_version = reverted_version


class InstructionError(DynamicPromptError, ValueError):
    """An instruction that the engine does not understand or cannot apply.

    ``suggestions`` names the closest known instruction forms, or for an
    ambiguous or absent target the candidate rules/lines, so a person can
    correct the instruction.
    """

    def __init__(self, message: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.suggestions: tuple[str, ...] = tuple(suggestions)


class SourceError(DynamicPromptError):
    """A load source that cannot be read as prompt text (missing, binary, too big, ...)."""


class InvalidTextError(DynamicPromptError, ValueError):
    """Prompt text that cannot be stored: empty, too large, or not text."""


class ConnectionFailedError(DynamicPromptError, ConnectionError):
    """The Redis server cannot be reached or refused the connection."""


class ConfigError(DynamicPromptError):
    """A configuration value (URL, config file, option) that cannot be used."""


class CorruptDataError(DynamicPromptError):
    """A key holds something this tool cannot read (wrong type, bad encoding)."""


class PermissionDeniedError(DynamicPromptError, PermissionError):
    """The server refused the command for this user (ACL) or is read-only."""
