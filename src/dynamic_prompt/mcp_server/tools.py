"""The MCP tools: the seed server's methods, plus listing, restoring, reverting one change, rename, duplicate.

Each tool is a :class:`ToolSpec`: a pydantic model for its arguments (see
:mod:`.args`; the input schema is generated from it), a description written
for a model choosing tools, MCP annotations, and an async function over
:class:`PromptStore` (see :mod:`.actions`).

Every failure a caller can cause comes back as an MCP tool error
(``isError: true``) whose text is one clear sentence; nothing raises out of
:func:`call_tool`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp import types
from pydantic import ValidationError

from dynamic_prompt.core.errors import DynamicPromptError, InstructionError
from dynamic_prompt.mcp_server import actions
from dynamic_prompt.mcp_server.args import (
    Args,
    ChangeArgs,
    ClearArgs,
    ConfigArgs,
    DiffArgs,
    DuplicateArgs,
    HistoryArgs,
    LabelArgs,
    LoadArgs,
    ModifyArgs,
    MoveLabelArgs,
    NameArgs,
    NoArgs,
    RenameArgs,
    RestoreArgs,
    RevertChangeArgs,
    RolloutArgs,
    SearchArgs,
    StopRolloutArgs,
    VersionArgs,
    input_schema,
)
from dynamic_prompt.mcp_server.common import ToolContext, ToolOutput
from dynamic_prompt.mcp_server.policy import describe
from dynamic_prompt.store.sources import SourcePolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its wire description and the function that runs it."""

    name: str
    title: str
    description: str
    args: type[Args]
    run: Callable[[ToolContext, Any], Awaitable[ToolOutput]]
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    open_world: bool = False
    reads_sources: bool = False
    """Reads files or URLs as the operator's policy allows: its description says what that is."""
    schema: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", input_schema(self.args))

    def to_mcp(self, policy: SourcePolicy) -> types.Tool:
        """The ``tools/list`` entry, for a server that reads sources under ``policy``."""
        description = f"{self.description} {describe(policy)}" if self.reads_sources else self.description
        return types.Tool(
            name=self.name,
            title=self.title,
            description=description,
            input_schema=self.schema,
            annotations=types.ToolAnnotations(
                title=self.title,
                read_only_hint=self.read_only,
                destructive_hint=self.destructive,
                idempotent_hint=self.idempotent,
                # Out into the world only where URLs may be fetched.
                open_world_hint=self.open_world and (not self.reads_sources or policy.fetches_urls),
            ),
        )


_READ = {"read_only": True, "idempotent": True}

TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            "list_prompts",
            "List prompts",
            "List every system prompt stored in the Redis server, with its version, size and last change. "
            "Each prompt is also readable as the resource prompt://NAME.",
            NoArgs,
            actions.list_prompts,
            **_READ,
        ),
        ToolSpec(
            "load_prompt",
            "Load a prompt",
            "Load a system prompt from literal text, a file path or an http(s) URL, as far as the operator "
            "allows files and URLs (a refusal names what the operator could allow). It becomes the prompt's "
            "active text and its original (what revert_prompt returns to). An existing prompt is only "
            "replaced with force=true, and the replaced text stays restorable as a version.",
            LoadArgs,
            actions.load_prompt,
            idempotent=True,
            open_world=True,
            reads_sources=True,
        ),
        ToolSpec(
            "get_active_prompt",
            "Get the active prompt",
            "Return the active text of a prompt (the system prompt agents read on every call). "
            "The version and last author are in the structured result.",
            NameArgs,
            actions.get_active_prompt,
            **_READ,
        ),
        ToolSpec(
            "modify_prompt",
            "Modify a prompt",
            "Change a prompt with a plain-language instruction and save the result as a new version, "
            "e.g. 'change tone to sarcastic', 'add rule: never use emojis', 'remove rule about emojis', "
            "'default 2 sentences', 'make less verbose', 'be more concise' (join several with ';'). "
            "An instruction that is not understood, or whose rule is absent or ambiguous, changes nothing "
            "and the error names the closest forms or candidates. dry_run=true previews the diff only.",
            ModifyArgs,
            actions.modify_prompt,
        ),
        ToolSpec(
            "set_prompt_config",
            "Set a prompt's config",
            "Keep a JSON config (model, temperature, tools, anything the agents need) with a prompt's text, as a "
            "new version with the same text: agents get it with the text, show_diff shows it, restore_version brings "
            "an older one back. get_active_prompt returns the current one. A config that is not a JSON object of "
            "plain values (or over 64 KB) changes nothing.",
            ConfigArgs,
            actions.set_prompt_config,
            idempotent=True,
        ),
        ToolSpec(
            "revert_prompt",
            "Revert to the original",
            "Make a prompt's original text (what load_prompt stored) active again, as a new version. "
            "Nothing is lost: every earlier version stays restorable with restore_version.",
            ChangeArgs,
            actions.revert_prompt,
            idempotent=True,
        ),
        ToolSpec(
            "restore_version",
            "Restore a version",
            "Make an earlier version's text active again, as a new version. get_history shows the version "
            "each change produced.",
            RestoreArgs,
            actions.restore_version,
            idempotent=True,
        ),
        ToolSpec(
            "revert_change",
            "Revert one change",
            "Take out the change that made one version (from version-1 to version), keeping every change made "
            "after it, as a new version: e.g. undo version 5's tone change while keeping the rules added in "
            "versions 6 and 7. If a later change touched the same lines, nothing is written and the error names "
            "them (compare with show_diff). dry_run=true previews the diff only.",
            RevertChangeArgs,
            actions.revert_change,
        ),
        ToolSpec(
            "rename_prompt",
            "Rename a prompt",
            "Give a prompt a new name, keeping its original, every kept version and its changelog (plus a rename "
            "entry), in one atomic step. Agents reading the old name find no text there afterwards. Refuses, "
            "writing nothing, when the prompt does not exist or the new name is taken.",
            RenameArgs,
            actions.rename_prompt,
            destructive=True,
        ),
        ToolSpec(
            "duplicate_prompt",
            "Duplicate a prompt",
            "Start a new prompt from an existing prompt's active text (its text and its original); its first "
            "changelog entry says where it came from. Refuses, writing nothing, when the new name is taken.",
            DuplicateArgs,
            actions.duplicate_prompt,
        ),
        ToolSpec(
            "show_diff",
            "Show changes",
            "Show what changed in a prompt since its original, since a given version (against_version), or "
            "between two versions (against_version and to_version): a unified diff, or short summary lines "
            "('~ changed', '+ added', '- removed').",
            DiffArgs,
            actions.show_diff,
            **_READ,
        ),
        ToolSpec(
            "get_history",
            "Get the changelog",
            "List a prompt's changelog, newest first: time, version, action (load, modify, revert, restore, "
            "revert-change, edit, rename, duplicate, ...), author, the instruction or source, and the note "
            "the author gave, if any.",
            HistoryArgs,
            actions.get_history,
            **_READ,
        ),
        ToolSpec(
            "clear_prompts",
            "Delete a prompt",
            "Permanently delete one prompt with its original, every stored version and its changelog. "
            "Requires confirm set to exactly 'yes, delete NAME' (NAME being the prompt's name); without it "
            "nothing is deleted. Other prompts are not touched.",
            ClearArgs,
            actions.clear_prompts,
            destructive=True,
            idempotent=True,
        ),
        ToolSpec(
            "get_metadata",
            "Get prompt metadata",
            "Describe a prompt without its text: version, size in bytes and lines, a token estimate, "
            "whether it differs from the original, the last change (when, who, what), its source, changelog "
            "length, versions kept, its Redis keys and the server (password masked).",
            NameArgs,
            actions.get_metadata,
            **_READ,
        ),
        ToolSpec(
            "list_labels",
            "List a prompt's labels",
            "List where each label of a prompt points: 'production' (what agents read by default), 'latest' (the "
            "newest version) and any other (e.g. 'staging'), plus a running staged rollout or experiment.",
            NameArgs,
            actions.list_labels,
            **_READ,
        ),
        ToolSpec(
            "get_prompt_at_label",
            "Get a prompt at a label",
            "Return the text a label of a prompt points at (e.g. 'staging' or 'latest'; 'production' is the active "
            "text). The version is in the structured result.",
            LabelArgs,
            actions.get_prompt_at_label,
            **_READ,
        ),
        ToolSpec(
            "get_version",
            "Get a version",
            "Return the text of one kept version of a prompt (see get_history for the numbers). The config is in "
            "the structured result; the same text is the resource prompt://NAME/v/N.",
            VersionArgs,
            actions.get_version,
            **_READ,
        ),
        ToolSpec(
            "search_history",
            "Search the history",
            "Search every archived version's text and every changelog entry (instructions, notes, authors) of "
            "this server's prompts, best first, with the matching snippet and the version.",
            SearchArgs,
            actions.search_history,
            **_READ,
        ),
        ToolSpec(
            "get_fleet",
            "Agents reading a prompt",
            "List the agents reading a prompt: the version each serves and why (label, rollout, experiment), "
            "whether one is behind, and its read rate. The same is the resource prompt://NAME/fleet.",
            NameArgs,
            actions.get_fleet,
            **_READ,
        ),
        ToolSpec(
            "move_label",
            "Move a label",
            "Point a label of a prompt at a version ('v7') or at where another label points ('staging'). Moving "
            "'production' promotes: every agent reading the prompt serves that version at once. Requires confirm "
            "set to exactly 'yes, move LABEL of NAME'; without it nothing moves. The move is in the changelog.",
            MoveLabelArgs,
            actions.move_label,
            destructive=True,
            idempotent=True,
        ),
        ToolSpec(
            "start_rollout",
            "Start or change a staged rollout",
            "Serve a version (a label's or 'v7') to a percentage of the agents reading production, chosen by a "
            "stable hash of each agent's id; called again without 'to', it changes the percentage (raising it only "
            "adds agents). Requires confirm set to exactly 'yes, roll out NAME'.",
            RolloutArgs,
            actions.start_rollout,
            destructive=True,
            idempotent=True,
        ),
        ToolSpec(
            "stop_rollout",
            "End a staged rollout",
            "End a prompt's rollout: outcome 'abort' puts every agent back on production, 'promote' makes the "
            "rolled-out version production for every agent. Requires confirm set to exactly 'yes, end the rollout "
            "of NAME'.",
            StopRolloutArgs,
            actions.stop_rollout,
            destructive=True,
        ),
        ToolSpec(
            "health_check",
            "Health check",
            "Check that the Redis server holding the prompts answers: round-trip time, its address (password "
            "masked), how live changes are watched (notifications, channel, polling or disconnected) and how "
            "many prompts are stored.",
            NoArgs,
            actions.health_check,
            **_READ,
        ),
    )
}


def list_tools(policy: SourcePolicy, *, writes: bool = True) -> list[types.Tool]:
    """Every tool, as ``tools/list`` returns them on a server reading sources under ``policy``
    (``writes=False``: only the ones that read, for a read-only token)."""
    return [spec.to_mcp(policy) for spec in TOOLS.values() if writes or spec.read_only]


def _argument_error(tool: str, exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "arguments"
    if first["type"] == "missing":
        problem = "is required"
    elif first["type"] == "extra_forbidden":
        problem = "is not an argument of this tool"
    else:
        problem = f"is not valid ({first['msg'].rstrip('.')})"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"Bad arguments for {tool}: '{where}' {problem}{more}."


def _error(message: str) -> types.CallToolResult:
    # One line, always: clients show this to a model or a person as is.
    return types.CallToolResult(content=[types.TextContent(text=" ".join(message.split()))], is_error=True)


async def call_tool(ctx: ToolContext, name: str, arguments: Mapping[str, Any] | None, *,
                    may_write: bool = True) -> types.CallToolResult:
    """Run tool ``name``; every failure becomes a tool error (``isError``) with one sentence.

    ``may_write``: false for a read-only token over HTTP; a tool that writes is then refused
    before its arguments are even read.
    """
    spec = TOOLS.get(name)
    if spec is None:
        return _error(f"There is no tool named {name!r}; the tools are: {', '.join(TOOLS)}.")
    if not may_write and not spec.read_only:
        return _error(f"This token may read but not write: {name} changes prompts. Ask the operator for a "
                      "token with access = \"write\".")
    try:
        args = spec.args.model_validate(dict(arguments or {}))
    except ValidationError as exc:
        return _error(_argument_error(name, exc))
    try:
        out = await spec.run(ctx, args)
    except InstructionError as exc:
        message = str(exc)
        if exc.suggestions:
            # Each suggestion without its own final stop, so the sentence ends in one.
            message += " Try: " + "; ".join(s.rstrip(" .") for s in exc.suggestions[:4]) + "."
        return _error(message)
    except DynamicPromptError as exc:
        return _error(str(exc))
    except Exception:  # noqa: BLE001 - the last guard: a tool error, never a dead server
        log.exception("tool %s failed", name)
        return _error(f"{name} failed unexpectedly; the server's log (stderr) has the details.")
    return types.CallToolResult(content=[types.TextContent(text=out.text)], structured_content=out.data)
