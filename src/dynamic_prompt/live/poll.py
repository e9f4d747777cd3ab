"""The change feed's last resort: compare prompts' content hashes between polls.

Used where neither keyspace notifications nor client tracking can be had (the
``channel`` and ``polling`` modes of :mod:`dynamic_prompt.live.feed`). Each poll
asks the server for the SHA-1 of every watched prompt's active text, one small
script per prompt (so one prompt's keys at a time: cluster-safe), all in one
pipelined round trip, and reports the prompts whose hash moved.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis.asyncio as aioredis

from dynamic_prompt.core.models import EventKind, PromptEvent
from dynamic_prompt.server.kinds import ServerKind, index_names, scan_names

HASH_SCRIPT = r"""
local v = redis.call('GET', KEYS[1])
if not v then return '' end
local out = redis.sha1hex(v)
for i = 2, #KEYS do
  local ok, x = pcall(redis.call, 'GET', KEYS[i])
  if ok and x then out = out .. ':' .. redis.sha1hex(x) else out = out .. ':' end
end
return out
"""
"""The SHA-1 of one prompt's active text ("" when it has none), as agents hash what they serve,
then of its labels and release (KEYS[2], KEYS[3]): a label move or a rollout is a change too."""


class HashPoll:
    """The hashes seen at the last poll; :meth:`poll` says which prompts changed since."""

    def __init__(self, kind: ServerKind) -> None:
        self._kind = kind
        self._hashes: dict[str, str] = {}

    def forget(self) -> None:
        """Start over (the feed reconnected: the next poll is a new baseline)."""
        self._hashes.clear()

    async def _names(self, client: aioredis.Redis, names: Iterable[str] | None) -> list[str]:
        if names is not None:
            return sorted(names)
        if not self._kind.sharded:
            # The index, not a scan: a poll a second must not cost a walk of a big keyspace.
            return sorted(await index_names(client, self._kind.layout))
        # One node of a cluster may not hold the index: it scans its own keys instead.
        return sorted(await scan_names(self._kind, client))

    async def poll(self, client: aioredis.Redis, names: Iterable[str] | None, *,
                   baseline: bool = False) -> list[PromptEvent]:
        """Hash ``names`` (``None``: every prompt found by a scan); the changes since the last poll.

        With ``baseline`` the hashes are only remembered: nothing is reported.
        """
        wanted = await self._names(client, names)
        seen: dict[str, str] = {}
        unseen: set[str] = set()
        if wanted:
            async with client.pipeline(transaction=False) as pipe:
                for name in wanted:
                    k = self._kind.layout.keys_for(name)
                    pipe.eval(HASH_SCRIPT, 3, k.active, k.labels, k.release)
                hashes = await pipe.execute(raise_on_error=not self._kind.sharded)
            for name, h in zip(wanted, hashes):
                if isinstance(h, Exception):
                    # One node of a cluster polled alone: MOVED says another node holds that
                    # prompt (and that node's poll sees it). Keep what we knew; report nothing.
                    unseen.add(name)
                    continue
                value = h.decode() if isinstance(h, bytes) else str(h)
                if value:
                    seen[name] = value
        for name in unseen:
            if name in self._hashes:
                seen[name] = self._hashes[name]
        changed = [n for n in sorted(set(self._hashes) | set(seen)) if self._hashes.get(n) != seen.get(n)]
        self._hashes = seen
        if baseline:
            return []
        return [PromptEvent(n, EventKind.DELETED if n not in seen else EventKind.CHANGED) for n in changed]
