"""The fleet view: which agents read which prompt, at which version.

Layout: one hash per prompt, ``dprompt:agents:NAME`` (:func:`~dynamic_prompt.core.keys.agents_key`),
field = agent id, value = a JSON announcement::

    {"agent_id": "web-1:4242", "host": "web-1", "pid": 4242, "prompt": "support",
     "prompts": ["support"], "version": 7, "hash": "<sha1 of the text it serves>",
     "reads_per_s": 12.5, "interval": 5.0, "mode": "notifications", "stale": false,
     "last_seen": 1767225600.25}

Why a hash per prompt rather than a key per agent with ``EX``: the dashboard
reads one prompt's fleet with one HGETALL, with no SCAN over the keyspace and
no index to keep in step with expiring keys. Fields cannot expire on every
server we support (HEXPIRE is Redis 7.4+), so each value carries its own
``last_seen`` and ``interval``; readers prune entries long past their expiry
in the same script that reads them, and the whole hash has a TTL that every
announcement extends, so a fleet that went away entirely leaves nothing.

Both ``last_seen`` and "now" come from the server's ``TIME`` (inside the Lua
scripts), so clock skew between agent hosts and the dashboard cannot mark a
live agent gone.

An agent is *gone* when it has not announced for 3 of its intervals, and
*behind* when the text it serves is not the prompt's active text (compared by
SHA-1, so writes made outside this tool count too; by version when an agent
reported no hash).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis

from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core import labels as lab
from dynamic_prompt.core.keys import GEM_LAYOUT, KeyLayout

GONE_AFTER_INTERVALS = 3
"""An agent silent for this many announce intervals counts as gone."""

KEEP_GONE_SECONDS = 300.0
"""Gone agents stay visible this long (operators see who went away), then are pruned."""

ANNOUNCE_SCRIPT = r"""
-- KEYS[1]: the prompt's agents hash. ARGV: agent id, JSON (without last_seen), keep seconds
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local info = cjson.decode(ARGV[2])
info['last_seen'] = now
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(info))
local ttl = math.ceil((tonumber(info['interval']) or 5) * 3 + tonumber(ARGV[3]))
if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
return 1
"""
"""Write one announcement stamped with the server's clock; extend the hash's TTL."""

READ_SCRIPT = r"""
-- KEYS: agents hashes of one or more prompts (several only on one server: the keys span
-- slots). ARGV: keep seconds. Returns {now, flat hash of KEYS[1], flat hash of KEYS[2], ...},
-- pruning agents gone for longer than keep seconds.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local keep = tonumber(ARGV[1])
local out = {string.format('%.6f', now)}
for k = 1, #KEYS do
  local kind = redis.call('TYPE', KEYS[k])['ok']
  if kind ~= 'none' and kind ~= 'hash' then
    return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' holds a ' .. kind .. ', not a hash')
  end
  local flat = redis.call('HGETALL', KEYS[k])
  local kept = {}
  for i = 1, #flat, 2 do
    local ok, info = pcall(cjson.decode, flat[i + 1])
    local drop = false
    if ok and type(info) == 'table' then
      local seen = tonumber(info['last_seen']) or 0
      local interval = tonumber(info['interval']) or 5
      drop = now - seen > 3 * interval + keep
    end
    if drop then
      redis.call('HDEL', KEYS[k], flat[i])
    else
      kept[#kept + 1] = flat[i]
      kept[#kept + 1] = flat[i + 1]
    end
  end
  out[#out + 1] = kept
end
return out
"""
"""Read prompts' fleets with the server's time, pruning long-gone agents atomically."""

CURRENT_SCRIPT = r"""
-- KEYS: active, meta, labels and release of one or more prompts, in fours (one prompt per
-- call on a cluster). Returns {version, sha1 of the active text, labels, release} per prompt
-- (labels and release as stored, false when absent or not strings).
local function get(key)
  local ok, v = pcall(redis.call, 'GET', key)
  if ok and v then return v end
  return false
end
local out = {}
for i = 1, #KEYS, 4 do
  local v = redis.call('GET', KEYS[i])
  local version = redis.call('HGET', KEYS[i + 1], 'version') or '0'
  out[#out + 1] = {version, v and redis.sha1hex(v) or '', get(KEYS[i + 2]), get(KEYS[i + 3])}
end
return out
"""
"""What each prompt's agents should serve: production's version and hash, its labels and release."""

_CURRENT_KEYS = 4

FLEET_PER_CALL = 500
"""Prompts per fleet script call on one server (one a call on a cluster)."""


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """One agent reading one prompt, as its last announcement says.

    Attributes:
        agent_id: who (default ``host:pid``).
        prompt: the prompt this row is about.
        host: the agent's host name.
        pid: the agent's process id.
        version: the version of the text it serves (the current version when its
            text is the active text).
        content_hash: SHA-1 of the text it serves ("" if unknown).
        reads_per_s: its recent read rate of this prompt.
        last_seen: server time of its last announcement (epoch seconds).
        interval: seconds between its announcements.
        mode: its change feed's mode (notifications / channel / polling / disconnected).
        stale: it said it serves last known good text because Redis was unreachable.
        behind: the text it serves is not what it should serve: the prompt's active
            text, or the version of the label it reads, or the rolled-out version when
            it is in a staged rollout.
        gone: it has not announced for 3 intervals.
        age: seconds since ``last_seen`` (by the server's clock).
        label: the label it reads (``production`` unless it asked for another).
        served: why its text is not that label's own ("" when it is): ``rollout 40%``,
            ``experiment`` (per caller key: see ``variants``).
        variants: its serves per experiment variant.
    """

    agent_id: str
    prompt: str
    host: str
    pid: int
    version: int
    content_hash: str
    reads_per_s: float
    last_seen: float
    interval: float
    mode: str
    stale: bool
    behind: bool
    gone: bool
    age: float
    label: str = "production"
    served: str = ""
    variants: Mapping[str, int] = dataclasses.field(default_factory=dict)

    @property
    def state(self) -> str:
        """One word for the agent: ``gone``, ``behind``, ``stale`` or ``current`` (first that holds)."""
        if self.gone:
            return "gone"
        if self.behind:
            return "behind"
        return "stale" if self.stale else "current"

    @property
    def rate_now(self) -> float | None:
        """Its read rate as far as anyone can tell now: None once it is gone (its last
        announced rate would say it still reads)."""
        return None if self.gone else self.reads_per_s

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for ``--json`` output and the MCP server)."""
        return dataclasses.asdict(self)


def announcement(
    *,
    agent_id: str,
    host: str,
    pid: int,
    prompt: str,
    prompts: Iterable[str],
    version: int,
    content_hash: str,
    reads_per_s: float,
    interval: float,
    mode: str,
    stale: bool,
    label: str = "production",
    served: str = "",
    variants: Mapping[str, int] | None = None,
) -> str:
    """The JSON an agent announces for ``prompt`` (the server adds ``last_seen``).

    ``label`` is what it reads, ``served`` why its text is not that label's own (a
    rollout it is in, an experiment), ``variants`` its serves per experiment variant.
    """
    extra: dict[str, Any] = {}
    if label != "production":
        extra["label"] = label
    if served:
        extra["served"] = served
    if variants:
        extra["variants"] = dict(variants)
    return json.dumps(
        {
            "agent_id": agent_id,
            "host": host,
            "pid": pid,
            "prompt": prompt,
            "prompts": sorted(prompts),
            "version": version,
            "hash": content_hash,
            "reads_per_s": round(reads_per_s, 2),
            "interval": interval,
            "mode": mode,
            "stale": stale,
            **extra,
        }
    )


def _num(value: Any, default: float = 0.0) -> float:
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return default


def parse_fleet(
    name: str,
    now: float,
    flat: Mapping[str, str],
    current_version: int,
    current_hash: str,
    labels: lab.LabelSet | None = None,
    release: lab.Release | None = None,
) -> list[AgentInfo]:
    """Turn a fleet hash into rows, marking behind and gone (pure: no Redis).

    An agent reading another label should serve that label's version; one reading
    production while a rollout runs should serve the rolled-out version exactly when
    the rollout's hash includes it (the fleet computes that too, so an agent that
    missed the rollout, or its end, shows as behind). Serving an experiment's
    variant depends on each caller's key: such an agent is never "behind".

    Entries that are not JSON objects (someone else wrote the hash) are skipped.
    Rows come out live ones first, then by agent id.
    """
    labels = labels or lab.LabelSet(current_version)
    release = release or lab.Release()
    out: list[AgentInfo] = []
    for field, raw in flat.items():
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        interval = _num(data.get("interval"), 5.0) or 5.0
        last_seen = _num(data.get("last_seen"))
        version = int(_num(data.get("version")))
        content_hash = str(data.get("hash") or "")
        agent_id = str(data.get("agent_id") or field)
        label = str(data.get("label") or lab.PRODUCTION)
        served = str(data.get("served") or "")
        counts = data.get("variants")
        variants = {str(k): int(_num(v)) for k, v in counts.items()} if isinstance(counts, dict) else {}
        expected = _expected(name, agent_id, label, labels, release, current_version)
        if expected is None:
            serves_current = True  # an experiment's variant: it depends on each caller's key
        elif expected != current_version or label != lab.PRODUCTION:
            serves_current = version == expected
        elif content_hash and current_hash:
            serves_current = content_hash == current_hash
        else:
            serves_current = version >= current_version
        if serves_current and current_hash and expected == current_version and label == lab.PRODUCTION:
            # A text written outside this tool gets its version number only when a
            # dprompt process records it; the agent serves that version all the same.
            version = max(version, current_version)
        age = max(0.0, now - last_seen)
        out.append(
            AgentInfo(
                agent_id=agent_id,
                prompt=name,
                host=str(data.get("host") or ""),
                pid=int(_num(data.get("pid"))),
                version=version,
                content_hash=content_hash,
                reads_per_s=_num(data.get("reads_per_s")),
                last_seen=last_seen,
                interval=interval,
                mode=str(data.get("mode") or ""),
                stale=bool(data.get("stale")),
                behind=not serves_current,
                gone=age > GONE_AFTER_INTERVALS * interval,
                age=age,
                label=label,
                served=served,
                variants=variants,
            )
        )
    out.sort(key=lambda a: (a.gone, a.agent_id))
    return out


def _expected(name: str, agent_id: str, label: str, labels: lab.LabelSet, release: lab.Release,
              production: int) -> int | None:
    """The version an agent should serve (``None``: an experiment's, per caller key; 0: none)."""
    if label != lab.PRODUCTION:
        return labels.version_of(label) or 0
    rollout = release.rollout
    if rollout is not None and rollout.version != production and rollout.includes(name, agent_id):
        return rollout.version
    if release.experiment is not None:
        return None
    return production


def split(infos: Sequence[AgentInfo]) -> dict[int, int]:
    """Live agents per version they serve (a rollout's split), newest version first."""
    out: dict[int, int] = {}
    for info in infos:
        if not info.gone:
            out[info.version] = out.get(info.version, 0) + 1
    return dict(sorted(out.items(), reverse=True))


def _decode_flat(flat: Sequence[bytes]) -> dict[str, str]:
    it = iter(flat)
    return {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in zip(it, it)}


def _rows(name: str, now_raw: Any, flat: Sequence[bytes], current: Sequence[Any]) -> list[AgentInfo]:
    """The fleet of ``name`` from READ's ``now`` and flat hash and CURRENT's four values."""
    version_raw, hash_raw, labels_raw, release_raw = (list(current) + [None, None])[:_CURRENT_KEYS]
    version = int(_num((version_raw or b"0").decode("ascii", "replace")))
    current_hash = hash_raw.decode("ascii", "replace") if isinstance(hash_raw, bytes) else str(hash_raw or "")
    labels = lab.LabelSet.parse(labels_raw or None, version)
    release = lab.Release.parse(release_raw or None)
    return parse_fleet(name, float(now_raw), _decode_flat(flat), version, current_hash, labels, release)


def _current_keys(names: Sequence[str], layout: KeyLayout) -> list[str]:
    out: list[str] = []
    for name in names:
        k = layout.keys_for(name)
        out += [k.active, k.meta, k.labels, k.release]
    return out


def _batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def fleet_async(
    client: aioredis.Redis, name: str = keymod.DEFAULT_NAME, *, keep: float = KEEP_GONE_SECONDS,
    layout: KeyLayout = GEM_LAYOUT,
) -> list[AgentInfo]:
    """The agents reading ``name`` (one round trip), marked behind / gone.

    ``client`` must return bytes (``decode_responses=False``), as every client
    of :mod:`dynamic_prompt.server` does.
    """
    return (await fleet_many_async(client, [name], keep=keep, layout=layout))[name]


async def fleet_many_async(
    client: aioredis.Redis, names: Iterable[str], *, keep: float = KEEP_GONE_SECONDS,
    layout: KeyLayout = GEM_LAYOUT,
) -> dict[str, list[AgentInfo]]:
    """:func:`fleet_async` for several prompts in one round trip (one pipeline; on a cluster
    redis-py splits it by node, each command naming one key)."""
    ordered = list(dict.fromkeys(names))
    if not ordered:
        return {}
    # Two round trips: every prompt's agents, then the served version and hash of only
    # the prompts that have agents. On one server a call takes FLEET_PER_CALL prompts
    # (EVALSHA); on a cluster it names one prompt's keys, one slot (EVAL: redis-py's
    # cluster pipeline refuses EVALSHA).
    cluster = isinstance(client, aioredis.RedisCluster)
    size = 1 if cluster else FLEET_PER_CALL
    read, current = client.register_script(READ_SCRIPT), client.register_script(CURRENT_SCRIPT)

    async def queue(pipe: Any, script: Any, keys: list[str], args: list[str]) -> None:
        if cluster:
            pipe.eval(script.script, len(keys), *keys, *args)
        else:
            await script(keys=keys, args=args, client=pipe)

    batches = _batches(ordered, size)
    async with client.pipeline(transaction=False) as pipe:
        for batch in batches:
            await queue(pipe, read, [keymod.agents_key(n) for n in batch], [repr(keep)])
        replies = await pipe.execute()
    busy = [(name, reply[0], flat) for batch, reply in zip(batches, replies)
            for name, flat in zip(batch, reply[1:]) if flat]
    out: dict[str, list[AgentInfo]] = {name: [] for name in ordered}
    if busy:
        chunks = _batches(busy, size)
        async with client.pipeline(transaction=False) as pipe:
            for chunk in chunks:
                await queue(pipe, current, _current_keys([name for name, _, _ in chunk], layout), [])
            currents = await pipe.execute()
        for chunk, pairs in zip(chunks, currents):
            for (name, now_raw, flat), pair in zip(chunk, pairs):
                out[name] = _rows(name, now_raw, flat, pair)
    return out


def fleet(client: redis.Redis, name: str = keymod.DEFAULT_NAME, *, keep: float = KEEP_GONE_SECONDS,
          layout: KeyLayout = GEM_LAYOUT) -> list[AgentInfo]:
    """The blocking form of :func:`fleet_async`."""
    agents, keys = keymod.agents_key(name), _current_keys([name], layout)
    if isinstance(client, redis.RedisCluster):
        # redis-py's blocking cluster pipeline takes no EVAL: two calls (the agents' hash
        # and the prompt's keys are in different slots anyway).
        reply, pairs = client.eval(READ_SCRIPT, 1, agents, repr(keep)), client.eval(CURRENT_SCRIPT, _CURRENT_KEYS, *keys)
    else:
        with client.pipeline(transaction=False) as pipe:
            pipe.eval(READ_SCRIPT, 1, agents, repr(keep))
            pipe.eval(CURRENT_SCRIPT, _CURRENT_KEYS, *keys)
            reply, pairs = pipe.execute()
    return _rows(name, reply[0], reply[1], pairs[0])
