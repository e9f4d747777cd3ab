"""Put a whole prompt back where Redis holds nothing of it: recovery and imports into an empty server.

One Lua script (``lua/recreate.lua``) writes the text, the original, the kept versions,
the labels and the changelog, under the version number the prompt had, and announces the
change so agents and dashboards pick it up. It refuses, before any write, when any key of
the prompt is there: what Redis holds is someone's data and is never overwritten.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core import prompt_config
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import DynamicPromptError, InvalidTextError, PromptExistsError
from dynamic_prompt.core.models import ChangeEntry, WriteResult
from dynamic_prompt.store import scripts
from dynamic_prompt.store.calls import ServerCalls
from dynamic_prompt.store.commit import Committer


@dataclass(frozen=True)
class Recreation:
    """A whole prompt to put back.

    ``entries`` are raw changelog entries (JSON text), newest first; the first is
    usually the one that says why it came back (``recover``, ``import``).
    ``kept`` are more versions to keep beside ``version`` (number -> text, config), such
    as the ones ``labels`` point at.
    """

    name: str
    version: int
    text: str
    original: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    original_config: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    updated_at: float = 0.0
    updated_by: str = ""
    action: str = "recover"
    kept: Mapping[int, tuple[str, Mapping[str, Any]]] = field(default_factory=dict)
    labels: Mapping[str, int] = field(default_factory=dict)
    entries: Sequence[str] = ()


class Recreate:
    """The store's one write of a whole prompt."""

    def __init__(self, calls: ServerCalls, settings: Callable[[], Settings], committer: Committer) -> None:
        self._calls = calls
        self._settings = settings
        self._committer = committer
        self._script = calls.client.register_script(scripts.RECREATE)

    async def recreate(self, r: Recreation) -> WriteResult:
        """Write ``r`` if Redis holds nothing of its prompt; :class:`PromptExistsError` if it does."""
        name = keymod.validate_name(r.name)
        limit = self._settings().max_bytes
        for text in (r.text, r.original or "", *(t for t, _ in r.kept.values())):
            if len(text.encode("utf-8", "surrogatepass")) > limit:
                raise InvalidTextError(f"A text of {name!r} is over the {limit:,}-byte limit; raise max_bytes.")
        layout = self._calls.kind.layout
        k = layout.keys_for(name)
        fields: dict[str, str] = {}
        for number, (text, config) in r.kept.items():
            if number == r.version:
                continue
            fields[str(number)] = text
            if config:
                fields[f"c{number}"] = prompt_config.encode(config)
        labels = {label: n for label, n in r.labels.items() if n == r.version or n in r.kept}
        meta = {"updated_at": r.updated_at, "updated_by": r.updated_by, "action": r.action}
        cap = self._settings().changelog_cap
        args = [layout.change_channel(name), name, str(r.version), r.text, r.original or "",
                "1" if r.original is not None else "0",
                prompt_config.encode(r.config) if r.config else "",
                prompt_config.encode(r.original_config) if r.original_config else "",
                r.source, json.dumps(meta), json.dumps(fields) if fields else "{}",
                json.dumps(labels, sort_keys=True) if labels else "", json.dumps(list(r.entries)), cap]
        reply = await self._calls(lambda: self._script(keys=[*k.all(), k.lock, k.labels], args=args), prompt=name)
        status = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        if status == "exists":
            raise PromptExistsError(f"Prompt {name!r} exists in Redis; it is left as it is.")
        warnings: tuple[str, ...] = ()
        with contextlib.suppress(DynamicPromptError):
            warnings = await self._committer.index(name)
        entry = ChangeEntry.from_json(r.entries[0]) if r.entries else None
        return WriteResult(name, int(reply[1]), r.text, True, entry, warnings=warnings)
