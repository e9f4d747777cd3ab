"""``dprompt recover``: put back every prompt Redis lost, from the archive.

A prompt comes back at its last archived version, under the same number, with its
original, the labels whose versions the archive holds, its changelog (the newest
``changelog_cap`` entries) and one ``recover`` entry saying where it came from. The write
is one script per prompt that refuses if Redis holds any key of it, so a prompt that is
there (someone wrote it again after the loss) is left exactly as it is. Agents and
dashboards pick the recovered prompt up live: the write announces itself like any other.

A prompt deleted on purpose while an archiver listened (``dprompt clear``) is left out
unless named with ``--name``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from dynamic_prompt.archive.db import Archive
from dynamic_prompt.archive.follower import server_id
from dynamic_prompt.core.errors import DynamicPromptError, PromptExistsError
from dynamic_prompt.store.prompt_store import PromptStore
from dynamic_prompt.store.recreate import Recreation


@dataclass(frozen=True)
class Outcome:
    """What recovery did (or, in a dry run, would do) for one prompt."""

    name: str
    status: str
    """``recovered`` / ``would recover`` / ``exists`` (left alone) / ``deleted`` (left out) / ``failed``."""
    version: int = 0
    size: int = 0
    labels: tuple[str, ...] = ()
    entries: int = 0
    message: str = ""

    def line(self) -> str:
        """One line for the terminal."""
        if self.status in ("recovered", "would recover"):
            labels = f", labels {', '.join(self.labels)}" if self.labels else ""
            return (f"{self.name:<24} {self.status} at v{self.version} ({self.size:,} bytes, "
                    f"{self.entries} changelog entries{labels})")
        return f"{self.name:<24} {self.status}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (``--json``)."""
        return {"name": self.name, "status": self.status, "version": self.version, "size": self.size,
                "labels": list(self.labels), "entries": self.entries, "message": self.message}


async def recover(store: PromptStore, archive: Archive, *, names: Sequence[str] = (), dry_run: bool = False,
                  server: str | None = None) -> list[Outcome]:
    """Put back each archived prompt of this server (or ``names``) that Redis holds nothing of.

    ``server``: whose archived rows to read (default: the server ``store`` writes to), for
    recovering onto a new server from an old one's archive.
    """
    source_server = server or server_id(store)
    known = await asyncio.to_thread(archive.names, source_server)
    wanted = list(names) or known
    out = []
    for name in wanted:
        out.append(await _one(store, archive, source_server, name, known, dry_run=dry_run, named=bool(names)))
    return out


async def _one(store: PromptStore, archive: Archive, server: str, name: str, known: Sequence[str], *,
               dry_run: bool, named: bool) -> Outcome:
    if name not in known:
        return Outcome(name, "failed", message="the archive holds nothing of it for this server")
    latest = await asyncio.to_thread(archive.latest, server, name)
    prompt = await asyncio.to_thread(archive.prompt, server, name)
    if latest is None:
        return Outcome(name, "failed", message="the archive holds no version of it")
    if prompt is not None and prompt.gone_at is not None and not named:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(prompt.gone_at))
        return Outcome(name, "deleted", latest.number,
                       message=f"deleted on purpose on {when}; `--name {name}` brings it back")
    try:
        holds = await _holds_anything(store, name)
    except DynamicPromptError as exc:
        return Outcome(name, "failed", message=str(exc))
    if holds:
        return Outcome(name, "exists", latest.number, message="Redis holds it; left as it is")
    cap = store.settings.changelog_cap
    entries = await asyncio.to_thread(archive.changes, server, name, max(cap - 1, 0))
    labels = dict(prompt.labels) if prompt is not None else {}
    kept = {}
    for number in sorted(set(labels.values()) - {latest.number}):
        version = await asyncio.to_thread(archive.version, server, name, number)
        if version is not None:
            kept[number] = (version.text, version.config)
    restored = sorted(label for label, n in labels.items() if n == latest.number or n in kept)
    size = len(latest.text.encode("utf-8", "replace"))
    if dry_run:
        return Outcome(name, "would recover", latest.number, size, tuple(restored), len(entries) + 1)
    entry = {"timestamp": int(store.clock()), "action": "recover", "user_id": store.user,
             "instruction": f"recovered from the archive at v{latest.number}", "version": latest.number,
             "metadata": {"source": f"archive:{archive.path}"}}
    original = prompt.original if prompt is not None else None
    original_config = dict(prompt.original_config) if prompt is not None and original is not None else {}
    recreation = Recreation(
        name, latest.number, latest.text, original if original is not None else latest.text, latest.config,
        original_config, prompt.source if prompt is not None else "", store.clock(), store.user, "recover",
        kept, {label: labels[label] for label in restored}, [json.dumps(entry, ensure_ascii=False), *entries])
    try:
        await store.recreate(recreation)
    except PromptExistsError:
        return Outcome(name, "exists", latest.number, message="Redis holds it (written meanwhile); left as it is")
    except DynamicPromptError as exc:
        return Outcome(name, "failed", latest.number, message=str(exc))
    return Outcome(name, "recovered", latest.number, size, tuple(restored), len(entries) + 1)


async def _holds_anything(store: PromptStore, name: str) -> bool:
    # A plain GET first: the state read makes a text another program wrote (the gem's own keys)
    # a version, writing meta, versions and a changelog entry to a prompt that must stay as it is.
    if await store.get_active(name) is not None:
        return True
    state = await store.state(name, with_backup=False)
    if state.active is not None or state.meta.version:
        return True
    if await store.versions(name):
        return True
    return bool(await store.changelog_raw(name, 1))
