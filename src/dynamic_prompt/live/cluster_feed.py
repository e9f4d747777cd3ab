"""The change feed of a Redis Cluster: one :class:`~dynamic_prompt.live.feed.ChangeFeed` per primary.

Keyspace notifications and client tracking are node-local: a write is announced
only by the node that holds its slot. So :class:`ClusterFeed` runs one feed on
each primary (each merges its flags into that node's ``notify-keyspace-events``,
hears flushes by tracking, falls back to tracking, the channel or polling on its
own), passes their events on, and reports the worst of their modes. Every
``topology_interval`` it asks the cluster which primaries serve slots; when the
set changed (a replica promoted, a node added or removed) it starts over on the
new set, and every new node feed begins with a ``resync``, so writes made during
the change are re-read, not missed. A slot migrated between two existing
primaries changes nothing to listen to: both are heard already.

Where a node refuses both CONFIG and CLIENT TRACKING, its feed hears our writes on
the shard channels (``SSUBSCRIBE dprompt:changes:{NAME}``, published in each write's
script) of the prompts that node holds: the watched ones for an agent, every indexed
one for the dashboard. A shard channel has no pattern form, so a prompt watched later
restarts the feed (with a resync) to hear its channel too.

:func:`feed_for` picks the feed for a target, so callers never ask which kind it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any, Protocol

from redis import exceptions as rexc

from dynamic_prompt.core.models import EventKind, FeedMode, PromptEvent
from dynamic_prompt.live.feed import Callback, ChangeFeed
from dynamic_prompt.server import ServerTarget, async_client
from dynamic_prompt.server import cluster as clustermod
from dynamic_prompt.server.kinds import index_names

log = logging.getLogger(__name__)

_WORST_LAST = (FeedMode.NOTIFICATIONS, FeedMode.TRACKING, FeedMode.CHANNEL, FeedMode.POLLING,
               FeedMode.DISCONNECTED)


class Feed(Protocol):
    """What every change feed offers its consumers."""

    mode: FeedMode
    reason: str
    names: set[str] | None

    async def run(self, callback: Callback) -> None:
        """Deliver events until :meth:`stop`."""
        ...

    def stop(self) -> None:
        """Ask :meth:`run` to return."""
        ...


class ClusterFeed:
    """Watches every primary of a cluster; the same interface as :class:`ChangeFeed`.

    Args:
        target: the cluster.
        topology_interval: seconds between checks of which primaries serve slots.
        options: passed to each node's :class:`ChangeFeed` (ping and poll intervals).
        names: prompt names to poll in polling modes (shared by every node's feed).
    """

    def __init__(self, target: ServerTarget, *, names: Iterable[str] | None = None,
                 topology_interval: float = 1.0, **options: Any) -> None:
        self.target = target
        self.names: set[str] | None = set(names) if names is not None else None
        self.mode: FeedMode = FeedMode.DISCONNECTED
        self.reason = ""
        self.topology_interval = topology_interval
        self.ping_timeout = float(options.get("ping_timeout", 3.0))
        self._options = options
        self._stop = asyncio.Event()
        self._feeds: dict[tuple[str, int], ChangeFeed] = {}
        self._synced: set[tuple[str, int]] = set()
        self.primaries: list[tuple[str, int]] = []
        """The primaries listened to now (tests and the status line read it)."""

    def stop(self) -> None:
        """Ask :meth:`run` to return (and every node's feed with it)."""
        self._stop.set()
        for feed in self._feeds.values():
            feed.stop()

    async def _emit(self, callback: Callback, event: PromptEvent) -> None:
        result = callback(event)
        if asyncio.iscoroutine(result):
            await result

    async def _set_mode(self, callback: Callback, mode: FeedMode, reason: str) -> None:
        if (mode, reason) != (self.mode, self.reason):
            self.mode, self.reason = mode, reason
            await self._emit(callback, PromptEvent(None, EventKind.MODE, mode=mode))

    async def _node_modes_changed(self, callback: Callback) -> None:
        feeds = self._feeds
        if not feeds:
            return
        # A node counts once it has resynced: until then its consumers may still hold text
        # from before it listened, so the cluster is not "live" yet.
        mode = max((f.mode if address in self._synced else FeedMode.DISCONNECTED
                    for address, f in feeds.items()), key=_WORST_LAST.index)
        reasons = [f"{host}:{port}: {f.reason}" for (host, port), f in sorted(feeds.items()) if f.reason]
        await self._set_mode(callback, mode, "; ".join(reasons))

    async def run(self, callback: Callback) -> None:
        """Deliver events to ``callback`` until :meth:`stop`; never raises on server faults."""
        backoff = 0.1
        while not self._stop.is_set():
            client = async_client(self.target, timeout=max(self.ping_timeout, 2.0), retries=0)
            try:
                ranges = await asyncio.wait_for(clustermod.slot_ranges(client), self.ping_timeout * 2)  # type: ignore[arg-type]
                await self._listen(client, ranges, callback)
                backoff = 0.1
            except (rexc.RedisError, OSError, asyncio.TimeoutError, IndexError) as exc:
                text = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
                await self._set_mode(callback, FeedMode.DISCONNECTED, text)
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()
            if self._stop.is_set():
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), backoff)
            backoff = min(backoff * 2, 5.0)

    async def _shard_names(self, client: Any) -> set[str]:
        """The prompts whose shard channels to hear: the watched ones, else every indexed one."""
        if self.names is not None:
            return set(self.names)
        return await asyncio.wait_for(index_names(client, self.target.kind.layout), self.ping_timeout)

    async def _listen(self, client: Any, ranges: list[tuple[int, int, str, int]], callback: Callback) -> None:
        """One feed per primary, until the set of primaries changes (or :meth:`stop`)."""
        primaries = sorted({(host, port) for _, _, host, port in ranges})
        self.primaries = primaries
        self._feeds = {}
        watched = await self._shard_names(client)
        layout = self.target.kind.layout
        for address in primaries:
            feed = ChangeFeed(self.target.node(*address), **self._options)
            feed.names = self.names  # one set: a name watched later is polled on every node
            feed.shard_names = {n for n in watched if clustermod.holder(ranges, layout.keys_for(n).active) == address}
            self._feeds[address] = feed

        self._synced = set()

        def relay_for(address: tuple[str, int]) -> Callback:
            async def relay(event: PromptEvent) -> None:
                if event.kind is EventKind.MODE:
                    if self._feeds[address].mode is FeedMode.DISCONNECTED:
                        self._synced.discard(address)  # it will resync when it is back
                    await self._node_modes_changed(callback)
                    return
                await self._emit(callback, event)
                if event.kind is EventKind.RESYNC and address not in self._synced:
                    self._synced.add(address)
                    await self._node_modes_changed(callback)
            return relay

        tasks = [asyncio.create_task(feed.run(relay_for(address)), name=f"dprompt-feed-{address[0]}:{address[1]}")
                 for address, feed in self._feeds.items()]
        try:
            while not self._stop.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.topology_interval)
                if self._stop.is_set():
                    return
                now = await asyncio.wait_for(clustermod.primaries(client), self.ping_timeout * 2)
                if now != primaries:
                    log.info("cluster feed: primaries changed from %s to %s", primaries, now)
                    return
                if self.mode is FeedMode.CHANNEL and self.names is not None and self.names != watched:
                    return  # a prompt watched since: start over, hearing its shard channel too
        finally:
            for feed in self._feeds.values():
                feed.stop()
            await asyncio.gather(*tasks, return_exceptions=True)


def feed_for(target: ServerTarget, **options: Any) -> Feed:
    """The change feed for ``target``: one feed per primary on a cluster, else one."""
    if target.is_cluster:
        return ClusterFeed(target, **options)
    return ChangeFeed(target, **options)


__all__ = ["ClusterFeed", "Feed", "feed_for"]
