"""What an agent serves of one prompt: its label, its rollout, its experiment (no IO here).

The near cache holds one entry per *view*: a prompt read at ``production`` (the
default, keyed by the prompt's name, as before labels existed) or at another label
(keyed ``NAME@LABEL``: ``@`` is never part of a prompt name). A read of a view is:

1. one round trip of four plain reads of the prompt (:func:`queue_reads`): the active
   text, production's version and config (one ``HMGET`` of meta), the labels key and the
   release key;
2. when the view needs a version's text beyond the active one (a label, a rollout this
   agent is in, an experiment's variants), one ``HMGET`` of the kept versions: each
   version's text and its config (:func:`version_fields`).

:func:`plan` turns the first replies into the versions step 2 needs, :func:`finish`
into the :class:`~dynamic_prompt.live.cache.CacheEntry` served. An experiment's entry
carries every variant (:class:`Arm`), so picking one per caller key is a hash and a
bisect in memory. Any event for the prompt (its text, a label, a release) drops every
view of it; the next fetch rebuilds them.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dynamic_prompt.core import labels as lab
from dynamic_prompt.core import prompt_config
from dynamic_prompt.core.keys import KeyLayout
from dynamic_prompt.live.cache import EMPTY_CONFIG, Arm, CacheEntry

SEP = "@"
"""Between a prompt's name and its label in a view's cache key."""

READS_PER_PROMPT = 4
"""Replies :func:`queue_reads` adds per prompt."""

VIEW_SCRIPT = """
local function get(key)
  local ok, v = pcall(redis.call, 'GET', key)
  if ok and v then return v end
  return false
end
return {redis.call('GET', KEYS[1]) or false, redis.call('HMGET', KEYS[2], 'version', 'config', 'hash'),
  get(KEYS[3]), get(KEYS[4])}
"""
"""The four reads of one prompt in one command (a cluster: one slot, redirected as a whole)."""


def view_key(name: str, label: str | None) -> str:
    """The cache key of ``name`` read at ``label`` (``production``/``None``: the name itself)."""
    if label is None or label == lab.PRODUCTION:
        return name
    return name + SEP + label


def split_view(key: str) -> tuple[str, str]:
    """``(name, label)`` of a view's cache key."""
    name, _, label = key.partition(SEP)
    return name, label or lab.PRODUCTION


def queue_reads(pipe: Any, layout: KeyLayout, name: str) -> None:
    """Add the first step's reads of ``name`` to ``pipe`` (:data:`READS_PER_PROMPT` replies)."""
    k = layout.keys_for(name)
    pipe.get(k.active)
    pipe.hmget(k.meta, ["version", "config", "hash"])
    pipe.get(k.labels)
    pipe.get(k.release)


def first_replies(flat: Sequence[Any]) -> list[Any]:
    """One prompt's four pipeline replies (``raise_on_error=False``), checked.

    The active text and version must read (their errors are raised, as before labels);
    a labels or release key another program filled with the wrong type reads as none,
    so it can never stop an agent from serving production.
    """
    for reply in flat[:2]:
        if isinstance(reply, Exception):
            raise reply
    return [None if isinstance(x, Exception) else x for x in flat]


def script_keys(layout: KeyLayout, name: str) -> list[str]:
    """The keys :data:`VIEW_SCRIPT` takes for ``name``."""
    k = layout.keys_for(name)
    return [k.active, k.meta, k.labels, k.release]


def script_reply(reply: Any) -> list[Any]:
    """:data:`VIEW_SCRIPT`'s reply as four values (a trailing nil is dropped by Lua; ``False`` is nil)."""
    items = [None if x is False else x for x in list(reply or [])]
    return (items + [None] * READS_PER_PROMPT)[:READS_PER_PROMPT]


def version_fields(versions: Sequence[int]) -> list[str]:
    """The fields step 2 reads for ``versions``: each one's text, then each one's config."""
    return [str(v) for v in versions] + [f"c{v}" for v in versions]


def version_replies(versions: Sequence[int], raw: Sequence[Any]) -> dict[int, tuple[bytes | None, bytes | None]]:
    """Step 2's reply (of :func:`version_fields`) as version -> (text, config)."""
    n = len(versions)
    return {v: (raw[i], raw[n + i]) for i, v in enumerate(versions)}


def _config(raw: bytes | None) -> Mapping[str, Any]:
    return prompt_config.read(raw) if raw else EMPTY_CONFIG


def _text(raw: bytes | str) -> str:
    return raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw


def _number(raw: bytes | None) -> int:
    try:
        return int(raw or 0) if raw is None or len(raw) <= 18 else 0
    except ValueError:
        return 0


@dataclass(frozen=True)
class Plan:
    """A view after the first step: what it serves, and which versions' texts it needs."""

    key: str
    name: str
    label: str
    active: bytes | None
    production: int
    config: bytes | None
    """Production's config as stored (``None``: none)."""
    version: int | None
    """The version served when it is not the active text (a label, a rollout), else ``None``."""
    served: str
    """Why: "" (production), ``rollout 40%``, ``label staging``, ``experiment``."""
    experiment: lab.Experiment | None
    arms: tuple[tuple[str, int | None], ...]
    """An experiment's variants: name and version (``None``: production's active text)."""

    def needs(self) -> list[int]:
        """The kept versions whose texts step 2 must read."""
        wanted = [] if self.version is None else [self.version]
        wanted += [v for _, v in self.arms if v is not None]
        return sorted(set(wanted))


def plan(key: str, replies: Sequence[Any], agent_id: str) -> Plan:
    """What view ``key`` serves to agent ``agent_id``, from :func:`queue_reads`' four replies."""
    name, label = split_view(key)
    active, raw_meta, raw_labels, raw_release = replies
    raw_version, config, raw_hash = ((list(raw_meta) + [None] * 3)[:3] if isinstance(raw_meta, (list, tuple))
                                     else (None, None, None))
    production = _number(raw_version) if active is not None else 0
    labels = lab.LabelSet.parse(raw_labels, production)

    def kept(version: int) -> int | None:
        # Production's version number serves the active text, unless another program (redis-cli,
        # the gem) wrote the text since and no dprompt has recorded it as a version yet: then
        # that number's kept text is what a label or a pinned variant on it means.
        if version != production:
            return version
        if raw_hash is not None and active is not None and hashlib.sha1(active).hexdigest() != _text(raw_hash):
            return version
        return None

    if label != lab.PRODUCTION:
        found = labels.version_of(label)
        if found is None or active is None:
            return Plan(key, name, label, None, production, config, -1, f"label {label}", None, ())
        # latest on production's number is the newest text: the active one, whoever wrote it.
        version = (None if found == production else found) if label == lab.LATEST else kept(found)
        return Plan(key, name, label, active, production, config, version, f"label {label}", None, ())
    release = lab.Release.parse(raw_release) if active is not None else lab.Release()
    rollout = release.rollout
    if rollout is not None and rollout.version != production and rollout.includes(name, agent_id):
        return Plan(key, name, label, active, production, config, rollout.version, f"rollout {rollout.percent:g}%", None, ())
    experiment = release.experiment
    if experiment is not None:
        arms: list[tuple[str, int | None]] = []
        for variant in experiment.variants:
            target = variant.pinned_version
            if target is None:
                target = labels.version_of(variant.target)
                if target is None:
                    experiment = None  # a variant's label was removed: serve production, safely
                    break
            arms.append((variant.name, None if variant.target == lab.PRODUCTION and target == production
                         else kept(target)))
        if experiment is not None:
            return Plan(key, name, label, active, production, config, None, "experiment", experiment, tuple(arms))
    return Plan(key, name, label, active, production, config, None, "", None, ())


Stored = tuple[bytes | None, bytes | None]
"""A kept version as step 2 read it: its text and its config (``None`` for either: none)."""


def _entry(raw: bytes | None, version: int, seq: int, label: str, served: str, config: bytes | None) -> CacheEntry:
    if raw is None:
        return CacheEntry(None, version, "", seq, label, served)
    return CacheEntry(raw.decode("utf-8", "replace"), version, hashlib.sha1(raw).hexdigest(), seq, label, served,
                      config=_config(config))


def finish(p: Plan, texts: dict[int, Stored], seq: int, agent_id: str) -> CacheEntry:
    """The entry view ``p`` serves, given the versions' texts and configs step 2 read."""
    if p.version == -1:
        return CacheEntry(None, 0, "", seq, p.label, p.served)  # no such label: nothing to serve
    if p.version is not None:
        raw, config = texts.get(p.version, (None, None))
        if raw is None:
            # The rollout's or label's version is gone (someone deleted it): production, flagged.
            if p.label != lab.PRODUCTION:
                return CacheEntry(None, 0, "", seq, p.label, p.served)
            return _entry(p.active, p.production, seq, p.label, "", p.config)
        return _entry(raw, p.version, seq, p.label, p.served, config)
    if p.experiment is not None:
        arms = []
        for arm_name, version in p.arms:
            raw, config = (p.active, p.config) if version is None else texts.get(version, (None, None))
            if raw is None:
                return _entry(p.active, p.production, seq, p.label, "", p.config)
            one = _entry(raw, version or p.production, seq, p.label, f"experiment {arm_name}", config)
            arms.append(Arm(arm_name, one))
        bounds = tuple(p.experiment.thresholds())
        own = arms[bisect.bisect_right(bounds, lab.bucket(p.name, p.experiment.id, agent_id))].entry
        return CacheEntry(own.text, own.version, own.content_hash, seq, p.label, own.served,
                          tuple(arms), bounds, p.experiment.id, lab.seed(p.name, p.experiment.id), own.config)
    return _entry(p.active, p.production, seq, p.label, "", p.config)


def pick(entry: CacheEntry, key: str) -> Arm:
    """The experiment arm caller ``key`` gets (the entry must have arms): one CRC and a bisect."""
    return entry.arms[bisect.bisect_right(entry.bounds, lab.bucket_after(entry.seed, key))]


def read_sync(client: Any, layout: KeyLayout, sharded: bool, key: str, agent_id: str, seq: int) -> CacheEntry:
    """View ``key`` read now with a blocking client (a reader thread's first read)."""
    name = split_view(key)[0]
    if sharded:
        first = script_reply(client.eval(VIEW_SCRIPT, 4, *script_keys(layout, name)))
    else:
        with client.pipeline(transaction=True) as pipe:
            queue_reads(pipe, layout, name)
            first = first_replies(pipe.execute(raise_on_error=False))
    p = plan(key, first, agent_id)
    wanted = p.needs()
    texts: dict[int, Stored] = {}
    if wanted:
        texts = version_replies(wanted, client.hmget(layout.keys_for(name).versions, version_fields(wanted)))
    return finish(p, texts, seq, agent_id)
