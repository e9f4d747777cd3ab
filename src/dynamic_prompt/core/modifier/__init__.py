"""The instruction engine: plain instructions -> structured edits -> new prompt text.

Pure text in, text out: no Redis, no UI. ``modify_text`` is the one call most
code needs; ``parse`` and ``apply_edits`` let a caller preview the edits (for a
diff) before storing anything, and ``suggest`` completes half-typed
instructions. The kinds of instruction are declared in :mod:`.forms`, one
module each.

    >>> modify_text("Tone: Friendly\\n", "change tone to sarcastic").text
    'Tone: Sarcastic\\n'
"""

from __future__ import annotations

from dataclasses import dataclass

from dynamic_prompt.core.errors import InstructionError
from dynamic_prompt.core.models import Edit
from dynamic_prompt.core.modifier.apply import apply_edits
from dynamic_prompt.core.modifier.common import field_names
from dynamic_prompt.core.modifier.doc import Lines
from dynamic_prompt.core.modifier.forms import BY_OP, FORMS, InstructionForm
from dynamic_prompt.core.modifier.forms.base import READS_THAT_WAY
from dynamic_prompt.core.modifier.parser import KNOWN_FORMS, MAX_LENGTH, parse
from dynamic_prompt.core.modifier.sections import Outline
from dynamic_prompt.core.modifier.suggest import suggest

__all__ = [
    "FORMS",
    "KNOWN_FORMS",
    "MAX_LENGTH",
    "InstructionForm",
    "ModifyResult",
    "apply_edits",
    "fields",
    "modify_text",
    "parse",
    "rules",
    "suggest",
]


@dataclass(frozen=True, slots=True)
class ModifyResult:
    """The new text and the edits that produced it (for the changelog and the diff)."""

    text: str
    edits: tuple[Edit, ...]


def modify_text(text: str, instruction: str) -> ModifyResult:
    """Apply a plain instruction to a prompt's text.

    Raises:
        InstructionError: the instruction is not understood, cannot apply, or
            would leave the text exactly as it was (a no-op is reported, so it
            is never stored as a new version).
    """
    edits = parse(instruction)
    new = apply_edits(text, edits)
    if new == text:
        raise InstructionError(f"The instruction changes nothing: {_noop_reason(edits)}.")
    return ModifyResult(new, tuple(edits))


def rules(text: str) -> list[str]:
    """The texts (without numbers or bullets) of the prompt's rules, in order.

    Raises:
        InstructionError: the rules blocks have more than
            ``rule_blocks.MAX_RULES`` list lines.
    """
    outline = Outline(Lines(text))
    return [item.text for block in outline.rules_blocks() for item in block.items]


def fields(text: str) -> list[str]:
    """The names of the prompt's ``Name: value`` lines, in order, each once."""
    return field_names(Outline(Lines(text)))


def _noop_reason(edits: list[Edit]) -> str:
    """Why an instruction changed nothing, for the error message (each form says it for its edits)."""
    if len(edits) != 1:
        return "together the edits leave the prompt as it was"
    form = BY_OP.get(edits[0].op)
    return form.noop_reason(edits[0].args) if form is not None else READS_THAT_WAY
