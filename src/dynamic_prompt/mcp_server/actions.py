"""What each tool does, over :class:`PromptStore`; the registry in :mod:`.tools` names them.

Each function takes the call's :class:`ToolContext` and validated arguments
and returns a :class:`ToolOutput`: text a model reads, plus JSON for
programs. Failures are raised as :class:`DynamicPromptError` (one sentence),
which :func:`dynamic_prompt.mcp_server.tools.call_tool` turns into tool errors.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from dynamic_prompt.core import diff as diffmod
from dynamic_prompt.core import labels as lab
from dynamic_prompt.core.errors import PromptNotFoundError
from dynamic_prompt.core.keys import validate_name
from dynamic_prompt.core.models import ChangeEntry, WriteResult
from dynamic_prompt.mcp_server.args import (
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
)
from dynamic_prompt.mcp_server.common import ToolContext, ToolFailure, ToolOutput, iso, prompt_uri
from dynamic_prompt.mcp_server.reading import read_for_model
from dynamic_prompt.store.labels import LabelState

T = TypeVar("T")


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


BIG = 64 * 1024
"""Texts longer than this are diffed in a worker thread: the server keeps answering meanwhile."""


async def _off_loop(work: Callable[[], T], size: int) -> T:
    """``work()``, in a worker thread when the texts are big (a diff of megabytes must not stall
    every other request of the server's event loop)."""
    return work() if size <= BIG else await asyncio.to_thread(work)


def _warned(text: str, data: dict[str, Any], result: WriteResult) -> ToolOutput:
    """The tool's answer, with what went wrong beside a write that happened (the write stands)."""
    if result.warnings:
        data["warnings"] = list(result.warnings)
        text = "\n".join([text, *(f"Warning: {w}" for w in result.warnings)])
    return ToolOutput(text, data)


async def list_prompts(ctx: ToolContext, _: NoArgs) -> ToolOutput:
    """Every stored prompt with version, size and last change."""
    prompts = await ctx.store.list()
    rows = [
        {
            "name": p.name,
            "uri": prompt_uri(p.name),
            "version": p.version,
            "size_bytes": p.size,
            "updated_at": iso(p.updated_at),
            "updated_by": p.updated_by or None,
            "last_action": p.action or None,
        }
        for p in prompts
    ]
    if not rows:
        return ToolOutput("No prompts are stored yet; load one with load_prompt.", {"prompts": []})
    lines = [
        f"{r['name']}: version {r['version']}, {r['size_bytes']:,} bytes, "
        f"last {r['last_action'] or 'change'} {r['updated_at'] or 'at an unknown time'}"
        f" by {r['updated_by'] or 'unknown'}"
        for r in rows
    ]
    return ToolOutput("\n".join(lines), {"prompts": rows})


async def load_prompt(ctx: ToolContext, a: LoadArgs) -> ToolOutput:
    """Load from a file, URL or literal text (as the operator's policy allows); refuses to replace unless ``force``."""
    name = validate_name(a.name)
    loaded = await read_for_model(ctx, a.source, a.kind)
    result = await ctx.store.load(name, loaded, force=a.force, user=a.user_id, note=a.note)
    recorded = (result.entry.metadata.get("source") if result.entry else None) or None
    data = {
        "name": name,
        "uri": prompt_uri(name),
        "version": result.version,
        "changed": result.changed,
        "loaded_size": _size(result.text),
        "source": recorded,
    }
    if not result.changed:
        return _warned(f"{result.message} Prompt {name!r} stays at version {result.version}.", data, result)
    origin = f" from {recorded}" if recorded else ""
    return _warned(
        f"Loaded prompt {name!r}{origin} as version {result.version} ({data['loaded_size']:,} bytes).", data, result
    )


async def get_active_prompt(ctx: ToolContext, a: NameArgs) -> ToolOutput:
    """The active text alone (the facts go in the JSON)."""
    name = validate_name(a.name)
    state = await ctx.store.state(name, with_backup=False)
    if state.active is None:
        raise PromptNotFoundError(f"There is no prompt named {name!r}; load one first.")
    # The text alone, so a model can use it as is; the facts go in the JSON.
    return ToolOutput(
        state.active,
        {
            "name": name,
            "uri": prompt_uri(name),
            "version": state.version,
            "size_bytes": _size(state.active),
            "updated_at": iso(state.meta.updated_at),
            "updated_by": state.meta.updated_by or None,
            "config": state.config,
        },
    )


async def set_prompt_config(ctx: ToolContext, a: ConfigArgs) -> ToolOutput:
    """Keep a new config with the prompt's text (a new version, the same text)."""
    name = validate_name(a.name)
    label = None if a.label in (None, "production") else a.label
    result = await ctx.store.set_config(name, a.config, user=a.user_id, note=a.note, label=label)
    where = f"label {label!r} of {name!r}" if label else f"prompt {name!r}"
    said = result.entry.instruction if result.entry is not None else ""
    text = (f"The config of {where} is now version {result.version} ({said})." if result.changed
            else result.message)
    return _warned(text, {"name": name, "label": label or "production", "version": result.version,
                          "changed": result.changed, "config": a.config}, result)


async def modify_prompt(ctx: ToolContext, a: ModifyArgs) -> ToolOutput:
    """Apply an instruction, or with ``dry_run`` only show its diff."""
    name = validate_name(a.name)
    if a.dry_run:
        preview = await ctx.store.preview(name, a.instruction)
        diff = await _off_loop(preview.unified, len(preview.old) + len(preview.new))
        return ToolOutput(
            f"Dry run: nothing was written. Prompt {name!r} (version {preview.version}) would change like this:\n"
            f"{diff}",
            {
                "name": name,
                "version": preview.version,
                "dry_run": True,
                "edits": [edit.describe() for edit in preview.edits],
                "diff": diff,
            },
        )
    if a.label is not None and a.label != "production":
        result = await ctx.store.modify(name, a.instruction, user=a.user_id, note=a.note, label=a.label)
        before = result.previous or ""
        changes = await _off_loop(lambda: diffmod.summary(before, result.text), len(before) + len(result.text))
        return _warned(
            "\n".join([*changes, f"Label {a.label!r} of {name!r} is now version {result.version}; production is "
                                 "unchanged (move_label with label 'production' promotes it)."]),
            {"name": name, "label": a.label, "version": result.version, "dry_run": False, "changes": changes},
            result,
        )
    result = await ctx.store.modify(name, a.instruction, user=a.user_id, note=a.note)
    before = result.previous or ""  # the text the instruction was applied to
    changes = await _off_loop(lambda: diffmod.summary(before, result.text), len(before) + len(result.text))
    entry = result.entry
    return _warned(
        "\n".join([*changes, f"Prompt {name!r} is now version {result.version}."]),
        {
            "name": name,
            "version": result.version,
            "dry_run": False,
            "changes": changes,
            "added_lines": entry.added if entry else None,
            "removed_lines": entry.removed if entry else None,
        },
        result,
    )


async def revert_prompt(ctx: ToolContext, a: ChangeArgs) -> ToolOutput:
    """Make the original text active again, as a new version."""
    name = validate_name(a.name)
    result = await ctx.store.revert(name, user=a.user_id, note=a.note)
    text = (
        f"Reverted prompt {name!r} to its original text: now version {result.version}."
        if result.changed
        else result.message
    )
    return _warned(text, {"name": name, "version": result.version, "changed": result.changed}, result)


async def restore_version(ctx: ToolContext, a: RestoreArgs) -> ToolOutput:
    """Make version ``a.version``'s text active again, as a new version."""
    name = validate_name(a.name)
    result = await ctx.store.restore(name, a.version, user=a.user_id, note=a.note)
    text = (
        f"Restored version {a.version} of prompt {name!r}: now version {result.version}."
        if result.changed
        else result.message
    )
    return _warned(
        text, {"name": name, "restored": a.version, "version": result.version, "changed": result.changed}, result
    )


async def revert_change(ctx: ToolContext, a: RevertChangeArgs) -> ToolOutput:
    """Take out the change that made ``a.version``, keeping every later change (or only preview it)."""
    name = validate_name(a.name)
    result = await ctx.store.revert_change(name, a.version, user=a.user_id, note=a.note, dry_run=a.dry_run)
    data: dict[str, Any] = {"name": name, "reverted": a.version, "version": result.version,
                            "changed": result.changed, "dry_run": a.dry_run}
    before = result.previous or ""
    size = len(before) + len(result.text)
    if a.dry_run and before != result.text:
        diff = await _off_loop(
            lambda: diffmod.unified(before, result.text, from_label=f"{name} v{result.version}",
                                    to_label=f"{name} without the change of v{a.version}"), size)
        data["diff"] = diff
        return ToolOutput(f"Dry run: nothing was written. Prompt {name!r} would change like this:\n{diff}", data)
    if not result.changed:
        return _warned(result.message, data, result)
    changes = await _off_loop(lambda: diffmod.summary(before, result.text), size)
    data["changes"] = changes
    return _warned(
        "\n".join([*changes, (f"Reverted the change of version {a.version} of prompt {name!r}, keeping later "
                              f"changes: now version {result.version}.")]),
        data, result,
    )


async def rename_prompt(ctx: ToolContext, a: RenameArgs) -> ToolOutput:
    """Give prompt ``a.name`` the name ``a.new_name``, with its whole history."""
    name, new_name = validate_name(a.name), validate_name(a.new_name)
    result = await ctx.store.rename(name, new_name, user=a.user_id, note=a.note)
    return _warned(f"Renamed prompt {name!r} to {new_name!r}, keeping its history: version {result.version}.",
                   {"name": new_name, "old_name": name, "version": result.version}, result)


async def duplicate_prompt(ctx: ToolContext, a: DuplicateArgs) -> ToolOutput:
    """Start prompt ``a.new_name`` from ``a.name``'s active text."""
    name, new_name = validate_name(a.name), validate_name(a.new_name)
    result = await ctx.store.duplicate(name, new_name, user=a.user_id, note=a.note)
    return _warned(f"Started prompt {new_name!r} from {name!r}'s active text: version {result.version}.",
                   {"name": new_name, "source": name, "version": result.version}, result)


async def show_diff(ctx: ToolContext, a: DiffArgs) -> ToolOutput:
    """The change since the original (or a version), or between two versions: unified diff or summary lines."""
    name = validate_name(a.name)
    if a.to_version is not None and a.against_version is None:
        raise ToolFailure("to_version needs against_version: the version to compare it with.")
    if a.to_version is not None and a.against_version is not None:
        old, new = await ctx.store.versions_diff(name, a.against_version, a.to_version)
        base, label, to_label = (f"version {a.against_version}", f"{name} v{a.against_version}",
                                 f"{name} v{a.to_version}")
    else:
        old, new = await ctx.store.diff(name, a.against_version)
        base = "the original" if a.against_version is None else f"version {a.against_version}"
        label = f"{name} original" if a.against_version is None else f"{name} v{a.against_version}"
        to_label = f"{name} active"
    data: dict[str, Any] = {"name": name, "against": a.against_version, "to": a.to_version, "changed": old != new}
    if old == new:
        what = f"version {a.to_version}" if a.to_version is not None else f"prompt {name!r}"
        return ToolOutput(f"No changes: {what} is the same as {base}.", data)
    size = len(old) + len(new)
    if a.format == "summary":
        lines = await _off_loop(lambda: diffmod.summary(old, new), size)
        data["summary"] = lines
        return ToolOutput("\n".join(lines), data)
    text = await _off_loop(lambda: diffmod.unified(old, new, from_label=label, to_label=to_label), size)
    data["diff"] = text
    return ToolOutput(text, data)


def _entry_line(entry: ChangeEntry) -> str:
    if entry.raw is not None:
        return f"(unreadable entry) {entry.raw[:120]}"
    parts = [iso(entry.timestamp) or "unknown time"]
    if entry.version:
        parts.append(f"v{entry.version}")
    parts.append(entry.action.upper())
    parts.append(f"by {entry.user_id or 'unknown'}")
    detail = entry.instruction or (f"source: {entry.metadata['source']}" if entry.metadata.get("source") else "")
    if entry.added is not None or entry.removed is not None:
        parts.append(f"(+{entry.added or 0}/-{entry.removed or 0} lines)")
    line = " ".join(parts)
    line = f"{line}: {detail}" if detail else line
    return f"{line} (note: {entry.note})" if entry.note else line


async def get_history(ctx: ToolContext, a: HistoryArgs) -> ToolOutput:
    """The changelog, newest first, one line per entry."""
    name = validate_name(a.name)
    entries = await ctx.store.history(name, a.limit)
    rows = [{**e.to_dict(), "time": iso(e.timestamp)} for e in entries]
    if not entries:
        return ToolOutput(f"No history for prompt {name!r}.", {"name": name, "entries": []})
    return ToolOutput("\n".join(_entry_line(e) for e in entries), {"name": name, "entries": rows})


def _confirmation_phrase(name: str) -> str:
    return f"yes, delete {name}"


async def clear_prompts(ctx: ToolContext, a: ClearArgs) -> ToolOutput:
    """Delete one prompt entirely, only with the exact confirmation phrase."""
    name = validate_name(a.name)
    phrase = _confirmation_phrase(name)
    if not a.confirm:
        raise ToolFailure(
            f"clear_prompts permanently deletes prompt {name!r} with every version and its changelog, "
            f"so it needs confirm set to \"{phrase}\"; nothing was deleted."
        )
    if a.confirm.strip() != phrase:
        raise ToolFailure(
            f"The confirmation does not match: to delete prompt {name!r} set confirm to exactly "
            f"\"{phrase}\"; nothing was deleted."
        )
    existed = await ctx.store.clear(name)
    text = (
        f"Deleted prompt {name!r} with its original, versions and changelog."
        if existed
        else f"There was no prompt named {name!r}; nothing to delete."
    )
    return ToolOutput(text, {"name": name, "deleted": existed})


async def get_metadata(ctx: ToolContext, a: NameArgs) -> ToolOutput:
    """The store's description of the prompt, as JSON."""
    name = validate_name(a.name)
    meta = await ctx.store.metadata(name)
    meta["updated_at"] = iso(float(meta.get("updated_at") or 0))
    meta["uri"] = prompt_uri(name)
    return ToolOutput(json.dumps(meta, indent=2, ensure_ascii=False), meta)


async def health_check(ctx: ToolContext, _: NoArgs) -> ToolOutput:
    """Ping the server; report latency, address, feed mode and prompt count."""
    rtt = await ctx.store.ping()
    count = len(await ctx.store.list())
    mode = ctx.feed_mode()
    data = {
        "status": "ok" if mode != "disconnected" else "degraded",
        "server": ctx.target.display,
        "origin": ctx.target.origin,
        "latency_ms": round(rtt * 1000, 3),
        "change_feed": mode,
        "prompts": count,
    }
    live = (
        f"live changes arrive via {mode}"
        if mode != "disconnected"
        else "the change feed is reconnecting, so live change notifications are paused"
    )
    return ToolOutput(
        f"OK: {data['server']} answers in {data['latency_ms']} ms; {count} prompt(s) stored; {live}.", data
    )


# -- labels and rollouts ------------------------------------------------------------------


def _release_data(state: LabelState) -> dict[str, Any]:
    data = json.loads(state.release.to_json())
    data.pop("pins", None)
    return data


def _confirmed(given: str | None, phrase: str, what: str) -> None:
    """Refuse, moving nothing, unless ``given`` is exactly ``phrase``."""
    if given is None or given.strip() != phrase:
        start = "needs" if given is None else "got a confirmation that does not match; it needs"
        raise ToolFailure(f"{what} {start} confirm set to exactly \"{phrase}\"; nothing was moved.")


async def list_labels(ctx: ToolContext, a: NameArgs) -> ToolOutput:
    """Where each label points, and the rollout or experiment."""
    name = validate_name(a.name)
    state = await ctx.store.labels(name)
    if not state.labels.production:
        raise PromptNotFoundError(f"There is no prompt named {name!r}; load one first.")
    lines = [f"{label}: v{version}" for label, version in state.labels.all().items()]
    release = _release_data(state)
    if state.release.rollout is not None:
        r = state.release.rollout
        lines.append(f"rollout: v{r.version} to {r.percent:g}% of production's agents (from v{r.base})")
    if state.release.experiment is not None:
        lines.append("experiment: " + ", ".join(f"{v.name}={v.target}:{v.weight}"
                                                 for v in state.release.experiment.variants))
    return ToolOutput("\n".join(lines), {"name": name, "labels": state.labels.all(), **release})


async def get_prompt_at_label(ctx: ToolContext, a: LabelArgs) -> ToolOutput:
    """The text a label points at (the text alone; the version in the JSON)."""
    name = validate_name(a.name)
    lab.validate_label(a.label)
    if a.label == lab.PRODUCTION:
        return await get_active_prompt(ctx, NameArgs(name=name))
    version, text = await ctx.store.label_text(name, a.label)
    config = await ctx.store.version_config(name, version)
    return ToolOutput(text, {"name": name, "label": a.label, "version": version, "uri": f"{prompt_uri(name)}/v/{version}",
                             "size_bytes": _size(text), "config": config})


async def move_label(ctx: ToolContext, a: MoveLabelArgs) -> ToolOutput:
    """Point a label at a version; 'production' promotes. Needs the confirmation phrase."""
    name = validate_name(a.name)
    label = lab.validate_label(a.label)
    _confirmed(a.confirm, f"yes, move {label} of {name}", "move_label")
    result = await ctx.store.set_label(name, label, a.to, user=a.user_id, note=a.note)
    if not result.changed:
        text = result.message
    elif label == lab.PRODUCTION:
        text = f"Production of {name!r} moved from v{result.previous} to v{result.version}: every agent reading it serves it now."
    else:
        text = f"Label {label!r} of {name!r} moved to v{result.version}" + (
            f" (from v{result.previous})." if result.previous else ".")
    return ToolOutput(text, {"name": name, "label": label, "version": result.version, "previous": result.previous or None,
                             "changed": result.changed})


async def start_rollout(ctx: ToolContext, a: RolloutArgs) -> ToolOutput:
    """Serve a version to a share of production's agents. Needs the confirmation phrase."""
    name = validate_name(a.name)
    _confirmed(a.confirm, f"yes, roll out {name}", "start_rollout")
    state = await ctx.store.rollout(name, a.percent, a.to, user=a.user_id, note=a.note)
    r = state.release.rollout
    assert r is not None
    return ToolOutput(f"Rolling out v{r.version} of {name!r} to {r.percent:g}% of the agents reading production "
                      "(by a stable hash of each agent's id). End it with stop_rollout.",
                      {"name": name, **_release_data(state)})


async def stop_rollout(ctx: ToolContext, a: StopRolloutArgs) -> ToolOutput:
    """Abort the rollout, or promote its version. Needs the confirmation phrase."""
    name = validate_name(a.name)
    _confirmed(a.confirm, f"yes, end the rollout of {name}", "stop_rollout")
    if a.outcome == "promote":
        result = await ctx.store.promote(name, user=a.user_id, note=a.note)
        return ToolOutput(f"Promoted: production of {name!r} is v{result.version} (was v{result.previous}); every "
                          "agent serves it now.", {"name": name, "version": result.version, "previous": result.previous})
    state = await ctx.store.abort_rollout(name, user=a.user_id, note=a.note)
    return ToolOutput(f"Aborted the rollout of {name!r}: every agent reads production (v{state.labels.production}) "
                      "again.", {"name": name, "version": state.labels.production})


async def get_version(ctx: ToolContext, a: VersionArgs) -> ToolOutput:
    """One kept version's text alone (its facts in the JSON)."""
    name = validate_name(a.name)
    text = await ctx.store.version_text(name, a.version)
    config = await ctx.store.version_config(name, a.version)
    return ToolOutput(text, {"name": name, "version": a.version, "uri": f"{prompt_uri(name)}/v/{a.version}",
                             "size_bytes": _size(text), "config": config})


async def search_history(ctx: ToolContext, a: SearchArgs) -> ToolOutput:
    """Every archived version and changelog entry matching the words, best first."""
    from dynamic_prompt.archive.db import Archive, default_path, parse_since
    from dynamic_prompt.archive.follower import server_id

    if a.prompt is not None:
        validate_name(a.prompt)
    since = parse_since(a.since) if a.since else None
    path = default_path(ctx.store.settings.archive)
    if not path.exists():
        raise ToolFailure("There is no archive to search yet: the operator runs `dprompt archive` (or opens the "
                          "dashboard) beside this server to keep every version and change.")

    def run() -> list[Any]:
        with Archive(path) as archive:
            return archive.search(a.query, server=server_id(ctx.store), name=a.prompt, since=since, limit=a.limit)

    hits = await asyncio.to_thread(run)
    rows = [h.as_dict() for h in hits]
    if not hits:
        return ToolOutput(f"Nothing in the archive matches {a.query!r}.", {"query": a.query, "results": []})
    lines = [f"{h.name} {'v' + str(h.version) if h.version is not None else '-'} "
             f"{iso(h.timestamp) or '-'} {'text' if h.kind == 'version' else h.action}: {h.snippet}" for h in hits]
    return ToolOutput("\n".join(lines), {"query": a.query, "results": rows})


async def get_fleet(ctx: ToolContext, a: NameArgs) -> ToolOutput:
    """The agents reading a prompt: what each serves and why."""
    name = validate_name(a.name)
    agents = (await ctx.store.fleet([name])).get(name, [])
    rows: list[dict[str, Any]] = [{"agent_id": x.agent_id, "version": x.version, "label": x.label, "served": x.served or None,
             "reads_per_s": round(x.reads_per_s, 1), "behind": x.behind, "gone": x.gone, "feed": x.mode,
             "seen_seconds_ago": round(x.age, 1)} for x in agents]
    if not rows:
        return ToolOutput(f"No agent has announced reading {name!r}.", {"name": name, "agents": []})
    lines = [f"{r['agent_id']}: v{r['version']} ({r['label']}{', ' + r['served'] if r['served'] else ''})"
             f"{', behind' if r['behind'] else ''}{', gone' if r['gone'] else ''}, {r['reads_per_s']} reads/s"
             for r in rows]
    return ToolOutput("\n".join(lines), {"name": name, "agents": rows})
