"""What one instruction form declares: :class:`InstructionForm` and its :class:`Stub` hints."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.matching import Matcher

Handler = Callable[[Lines, Mapping[str, str]], None]
"""Applies one edit's arguments to the prompt's lines, in place; raises InstructionError when it cannot."""
NoopReason = Callable[[Mapping[str, str]], str]
"""An edit's arguments -> why it changed nothing (the end of "The instruction changes nothing: ...")."""
Completer = Callable[[str, str | None], list[str] | None]
"""(what was typed, lower case with single spaces; the prompt if known) -> whole-instruction
completions, best first, or None when the typed text is not this form's (the next form is asked)."""

READS_THAT_WAY = "the prompt already reads that way"
"""The no-op reason of a form that has no more precise one."""


def reads_that_way(args: Mapping[str, str]) -> str:
    """The default no-op reason: :data:`READS_THAT_WAY`."""
    return READS_THAT_WAY


class StubKind(Enum):
    """When a stub is checked, and how its hint reads."""

    WHOLE = "whole"
    """The whole piece, before any form is tried; the hint ends "Write <form>."."""
    START = "start"
    """The piece's start, after no form matched; the hint is the stub's message alone."""


@dataclass(frozen=True, slots=True)
class Stub:
    """A piece that names a form but leaves out (or garbles) its argument -> a precise hint.

    A precise hint beats "unknown instruction": ``add rule`` alone gets
    "Say the rule to add. Write add rule: <text>.".
    """

    pattern: re.Pattern[str]
    message: str
    kind: StubKind
    example: str
    """A piece this stub catches (the tests check each one)."""

    def catches(self, piece: str) -> bool:
        """True when ``piece`` is this stub's (whole, or starting with it, by :attr:`kind`)."""
        if self.kind is StubKind.WHOLE:
            return self.pattern.fullmatch(piece) is not None
        return self.pattern.match(piece) is not None

    def error(self, hint: str) -> InstructionError:
        """The refusal, with ``hint`` (the form as a person types it) as the one suggestion."""
        message = f"{self.message} Write {hint}." if self.kind is StubKind.WHOLE else self.message
        return InstructionError(message, suggestions=[hint])


@dataclass(frozen=True, slots=True)
class InstructionForm:
    """Everything about one kind of instruction, in one place (see :mod:`.forms` for the registry).

    Attributes:
        op: the :class:`~dynamic_prompt.core.models.Edit` op this form's edits carry.
        forms: the wordings as a person types them, placeholders in ``<>``
            (``"change tone to <tone>"``); the first is the hint errors give.
        description: what it does, in one line for people (the README table's right column).
        example: an instruction of this form that applies to the sample prompts.
        match: one piece -> the edit, or None when the piece is not this form's.
            It may return an edit of another form's op (``be more verbose`` is
            a verbosity edit) and may raise InstructionError for a piece that
            is this form's but cannot be one (an empty value).
        apply: applies an edit of :attr:`op` to the prompt's lines.
        noop_reason: why an edit of :attr:`op` left the prompt as it was.
        stubs: pieces that name this form but leave out its argument.
        complete: completions for a half-typed instruction of this form, if it has any.
    """

    op: str
    forms: tuple[str, ...]
    description: str
    example: str
    match: Matcher
    apply: Handler
    noop_reason: NoopReason = reads_that_way
    stubs: tuple[Stub, ...] = ()
    complete: Completer | None = None

    @property
    def hint(self) -> str:
        """The wording errors suggest for this form: the first of :attr:`forms`."""
        return self.forms[0]
