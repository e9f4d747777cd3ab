"""The change feed: keyspace notifications -> typed :class:`PromptEvent` s, and proof it still hears.

Notifications are hints, not data: every (re)subscribe emits a ``resync``
event so consumers re-read the keys. The feed merges the flags it needs into
the server's ``notify-keyspace-events`` (keeping flags other apps set), and
proves at every watchdog ping that it still hears:

* **Flags.** One ``CONFIG GET notify-keyspace-events`` on the command
  connection per ping: if another program removed a flag we need, the feed
  merges them back, emits a ``resync`` (writes in between made no event) and
  says so in :attr:`ChangeFeed.reason`.
* **Flushes.** FLUSHDB/FLUSHALL make no keyspace event. The subscriber
  connection turns on server-assisted client-side caching redirected to
  itself (``CLIENT TRACKING ON REDIRECT <its own id>``, then ``SUBSCRIBE
  __redis__:invalidate``, under RESP2); a flush then arrives as an
  invalidation with a null key, which becomes a ``resync``.

Where CONFIG is refused (managed Redis, ``rename-command CONFIG ""``, an ACL
user with ``-config``) but CLIENT TRACKING is allowed, the feed runs in
``tracking`` mode: ``BCAST PREFIX prompt:`` invalidations report every write
by anyone (redis-cli, the Ruby gem) within a round trip. Where tracking is
refused too, it falls back to the change channel every write of this tool
publishes in its atomic step plus a slow poll of content hashes (``channel``),
and where pub/sub is unavailable as well, it polls alone (``polling``). A ping
watchdog catches a link that died silently; a lost connection is retried
with backoff.

What the servers send, verified on Valkey 8.1 and Redis 7.0 (RESP2; the same on both):

* The subscriber connection may be its own redirect target; both deliver to it
  as ``message __redis__:invalidate <keys>``, even for a channel it did not
  subscribe to (we subscribe anyway, as documented).
* SET / DEL / expiry: keyspace events ``set`` / ``del`` / ``expired``; BCAST
  tracking: the key, in a one-element array (an expiry sends it again).
* MULTI/EXEC or a Lua script writing several keys: one keyspace event per key;
  BCAST: one message listing every key the script or transaction wrote.
* FLUSHDB, FLUSHALL, FLUSHDB ASYNC: no keyspace event at all; one tracking
  message with a nil payload, to every tracking client, BCAST or not, even for
  a flush of an *other* (even empty) database: tracking does not know
  databases, so that costs us a spurious resync (a re-read), never a wrong text.
* A write in another database: no keyspace event on ours (the channel names the
  db); BCAST: the key, again because tracking ignores databases (a spurious hint).
* Default (non-BCAST) tracking on a connection that reads no key: only the
  flush messages. ``notifications`` mode uses it to hear flushes at no cost per write.
* ``CONFIG SET notify-keyspace-events``: nothing is sent (hence the per-ping check).
* SWAPDB: nothing from either mechanism: a blind spot (until the next resync).

Cluster note: keyspace notifications and tracking are node-local, so on a cluster
one such feed runs on each primary (:mod:`dynamic_prompt.live.cluster_feed`), and in
``channel`` mode it hears the shard channels of the prompts its node holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rexc

from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core.models import EventKind, FeedMode, PromptEvent
from dynamic_prompt.live.feed_events import (
    INVALIDATE_CHANNEL,
    NEEDED_FLAGS,
    TRACKING_PREFIX,
    event_for_channel,
    event_for_key,
    merge_notify_flags,
    served_name,
)
from dynamic_prompt.live.poll import HashPoll
from dynamic_prompt.server import ServerTarget, async_client

__all__ = [
    "MODE_CHANNEL", "MODE_DISCONNECTED", "MODE_NOTIFICATIONS", "MODE_POLLING", "MODE_TRACKING",
    "NEEDED_FLAGS", "ChangeFeed", "EventKind", "FeedMode", "merge_notify_flags",
]

log = logging.getLogger(__name__)

# The names other modules import (kept as aliases of the enum members).
MODE_NOTIFICATIONS = FeedMode.NOTIFICATIONS
MODE_TRACKING = FeedMode.TRACKING
MODE_CHANNEL = FeedMode.CHANNEL
MODE_POLLING = FeedMode.POLLING
MODE_DISCONNECTED = FeedMode.DISCONNECTED

Callback = Callable[[PromptEvent], Awaitable[None] | None]

class _Replan(Exception):
    """The session's mode no longer holds (CONFIG became refused): start a new session now."""


def _first_line(exc: BaseException, limit: int = 60) -> str:
    return str(exc).splitlines()[0][:limit] if str(exc) else type(exc).__name__


def _feed_client(target: ServerTarget, timeout: float) -> aioredis.Redis:
    """:func:`~dynamic_prompt.server.async_client` with ``retries=0``, speaking RESP2.

    redis-py 8 speaks RESP3 by default, where tracking invalidations become
    push messages it keeps to itself; under RESP2 they reach the subscriber
    as ordinary messages on ``__redis__:invalidate``.
    """
    return async_client(target, timeout=timeout, retries=0, protocol=2)


class ChangeFeed:
    """Watches one server and calls back with :class:`PromptEvent` s until stopped.

    Args:
        target: the server.
        ping_interval: seconds between watchdog pings (and flag checks) on the subscription link.
        ping_timeout: seconds without a pong before the link counts as dead.
        poll_interval: seconds between polls in channel/polling mode.
        names: prompt names to poll (polling needs to know them); ``None`` polls
            every prompt found by SCAN.
    """

    def __init__(
        self,
        target: ServerTarget,
        *,
        ping_interval: float = 1.0,
        ping_timeout: float = 3.0,
        poll_interval: float = 1.0,
        names: Iterable[str] | None = None,
    ) -> None:
        self.target = target
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.poll_interval = poll_interval
        self.names = set(names) if names is not None else None
        self.mode: FeedMode = FeedMode.DISCONNECTED
        self.reason = ""
        """Why the mode is what it is, or what the feed last had to repair (one line)."""
        self._stop = asyncio.Event()
        self._poller = HashPoll(target.kind)
        self.shard_names: set[str] = set()
        """On one node of a cluster: the prompts it holds, whose shard channels to hear."""
        self._session_reason = ""

    def stop(self) -> None:
        """Ask :meth:`run` to return."""
        self._stop.set()

    async def _emit(self, callback: Callback, event: PromptEvent) -> None:
        result = callback(event)
        if asyncio.iscoroutine(result):
            await result

    async def _resync(self, callback: Callback) -> None:
        await self._emit(callback, PromptEvent(None, EventKind.RESYNC))

    async def _set_mode(self, callback: Callback, mode: FeedMode, reason: str = "") -> None:
        if mode != self.mode or reason != self.reason:
            self.mode, self.reason = mode, reason
            await self._emit(callback, PromptEvent(None, EventKind.MODE, mode=mode))

    async def run(self, callback: Callback) -> None:
        """Deliver events to ``callback`` until :meth:`stop`; never raises on server faults."""
        backoff = 0.1
        while not self._stop.is_set():
            client = _feed_client(self.target, max(self.ping_timeout, 2.0))
            try:
                await self._session(client, callback)
                backoff = 0.1
            except _Replan as exc:
                log.info("change feed: %s; subscribing again", exc)
                backoff = 0.0  # the server answers: the next session starts at once
            except (rexc.ConnectionError, rexc.TimeoutError, OSError, asyncio.TimeoutError) as exc:
                await self._set_mode(callback, FeedMode.DISCONNECTED, type(exc).__name__)
            except rexc.RedisError as exc:
                await self._set_mode(callback, FeedMode.DISCONNECTED, _first_line(exc, 80))
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()
            if self._stop.is_set():
                break
            if backoff:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), backoff)
            backoff = min(max(backoff, 0.05) * 2, 5.0)

    # -- setting up a session ---------------------------------------------------------

    async def _read_flags(self, client: aioredis.Redis) -> str:
        # Keys come back as bytes (decode_responses=False); accept str too.
        reply: dict[Any, Any] = dict(await client.config_get("notify-keyspace-events"))
        current = reply.get(b"notify-keyspace-events") or reply.get("notify-keyspace-events") or b""
        return current.decode() if isinstance(current, bytes) else str(current)

    async def _enable_notifications(self, client: aioredis.Redis) -> tuple[bool, str]:
        try:
            current = await self._read_flags(client)
            merged = merge_notify_flags(current)
            if merged != current:
                await client.config_set("notify-keyspace-events", merged)
            return True, ""
        except rexc.ResponseError as exc:
            # Managed servers rename or forbid CONFIG; say so and fall back.
            return False, "CONFIG refused: " + _first_line(exc)

    async def _start_tracking(self, pubsub: Any, *, bcast: bool) -> str:
        """Turn tracking on for the subscriber connection, redirected to itself; "" or why not.

        Before any SUBSCRIBE: a RESP2 connection in pub/sub mode takes no other
        command. Redirecting to itself ties tracking to the subscription's
        lifetime: no second connection whose silent death would leave us deaf.
        """
        await pubsub.connect()
        conn = pubsub.connection
        try:
            await conn.send_command("CLIENT", "ID")
            own_id = await conn.read_response()
            scope = ["BCAST", "PREFIX", TRACKING_PREFIX] if bcast else []
            await conn.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", own_id, *scope)
            await conn.read_response()
        except rexc.ResponseError as exc:
            return "CLIENT TRACKING refused: " + _first_line(exc)
        return ""

    async def _subscribe(self, pubsub: Any, *, pattern: str = "", channel: str = "") -> None:
        if pattern:
            await pubsub.psubscribe(pattern)
        else:
            await pubsub.subscribe(channel)
        await self._confirm_subscribed(pubsub)

    async def _subscribe_shards(self, pubsub: Any) -> None:
        """On a cluster node: the shard channels of the prompts this node holds (SSUBSCRIBE).

        A shard channel takes no pattern, so the names come from the cluster feed, which
        knows which prompts (watched, or indexed) live on this node.
        """
        layout = self.target.kind.layout
        for name in sorted(self.shard_names):
            await pubsub.ssubscribe(layout.change_channel(name))
            await self._confirm_subscribed(pubsub)

    async def _session(self, client: aioredis.Redis, callback: Callback) -> None:
        await client.ping()
        notify_ok, reason = await self._enable_notifications(client)
        db = int(client.connection_pool.connection_kwargs.get("db", 0) or 0)
        pubsub = client.pubsub()
        try:
            # Notifications hear every write; tracking is then needed for flushes only.
            untracked = await self._start_tracking(pubsub, bcast=not notify_ok)
            try:
                if not untracked:
                    try:
                        await self._subscribe(pubsub, channel=INVALIDATE_CHANNEL)
                    except rexc.ResponseError as exc:
                        untracked = "tracking channel refused: " + _first_line(exc)
                if notify_ok:
                    await self._subscribe(pubsub, pattern=f"__keyspace@{db}__:prompt:*")
                elif untracked:
                    # (On a cluster nobody publishes here; it keeps the link's pings answered.)
                    await self._subscribe(pubsub, channel=keymod.CHANGE_CHANNEL)
                    await self._subscribe_shards(pubsub)
            except rexc.ResponseError as exc:
                await self._poll_only(client, callback, "pub/sub refused: " + _first_line(exc))
                return
            mode = FeedMode.NOTIFICATIONS if notify_ok else FeedMode.CHANNEL if untracked else FeedMode.TRACKING
            if untracked and notify_ok:
                untracked = "flushes go unseen: " + untracked
            self._session_reason = "; ".join(r for r in (reason, untracked) if r)
            await self._set_mode(callback, mode, self._session_reason)
            self._poller.forget()
            poll = mode == FeedMode.CHANNEL
            if poll:
                # The poll's baseline is taken before the resync, so a write landing
                # after the consumer's re-read is still a change the next poll sees.
                await self._poll(client, callback, emit=False)
            await self._resync(callback)
            await self._listen(client, pubsub, callback, poll=poll)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _confirm_subscribed(self, pubsub: Any) -> None:
        """Wait for the (P)SUBSCRIBE confirmation.

        A server that refuses pub/sub (renamed command, ACL) answers with an
        error in the reply stream, not to the send: without this wait the error
        surfaced in :meth:`_listen`, the feed counted it as a dead link and
        reconnected forever instead of falling back to polling. Other messages
        read meanwhile are dropped: the resync that follows covers them.
        """
        deadline = time.monotonic() + self.ping_timeout
        while time.monotonic() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=0.1)
            if message is not None and message["type"] in ("subscribe", "psubscribe", "ssubscribe"):
                return
        raise rexc.TimeoutError("the server did not confirm the subscription")

    # -- a live session ---------------------------------------------------------------

    async def _listen(self, client: aioredis.Redis, pubsub: Any, callback: Callback, *, poll: bool) -> None:
        last_pong = time.monotonic()
        last_ping = 0.0
        last_poll = time.monotonic()  # the session took the baseline poll just now
        while not self._stop.is_set():
            now = time.monotonic()
            if now - last_ping >= self.ping_interval:
                await pubsub.ping()
                last_ping = now
                if await self.target.kind.link_moved(client, pubsub.connection):
                    raise rexc.ConnectionError("the server moved (a failover)")
                if self.mode == FeedMode.NOTIFICATIONS:
                    await self._check_flags(client, callback)
            if now - last_pong > self.ping_timeout:
                raise rexc.ConnectionError("no pong from the server: the link is dead")
            if poll and now - last_poll >= self.poll_interval:
                await self._poll(client, callback)
                last_poll = now
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message is None:
                continue
            last_pong = time.monotonic()  # any traffic proves the link is alive
            await self._dispatch(client, callback, message)

    async def _dispatch(self, client: aioredis.Redis, callback: Callback, message: dict[str, Any]) -> None:
        kind = message["type"]
        event: PromptEvent | None = None
        if kind == "pmessage":
            channel = message["channel"].decode("utf-8", "replace")
            key = channel.split(":", 1)[1] if ":" in channel else ""
            event = event_for_key(key, message["data"].decode("utf-8", "replace"), self.target.kind.layout)
        elif kind == "message" and message["channel"] == INVALIDATE_CHANNEL.encode():
            await self._invalidated(client, callback, message["data"])
        elif kind in ("message", "smessage"):
            event = event_for_channel(message["data"])
        if event is not None:
            await self._emit(callback, event)

    async def _invalidated(self, client: aioredis.Redis, callback: Callback, keys: list[bytes] | None) -> None:
        """A tracking invalidation: ``None`` is a flush (of any database), else the keys written."""
        if keys is None:
            await self._resync(callback)
            return
        layout = self.target.kind.layout
        names = sorted({n for k in keys if (n := served_name(k.decode("utf-8", "replace"), layout))})
        if not names:
            return
        # Tracking says "written", not how: one EXISTS round trip tells changed from deleted.
        async with client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.exists(layout.keys_for(name).active)
            found = await pipe.execute()
        for name, there in zip(names, found):
            await self._emit(callback, PromptEvent(name, EventKind.CHANGED if there else EventKind.DELETED))

    async def _check_flags(self, client: aioredis.Redis, callback: Callback) -> None:
        """Prove notifications still flow: another client may have cleared the flags we need."""
        try:
            current = await asyncio.wait_for(self._read_flags(client), self.ping_timeout)
            merged = merge_notify_flags(current)
            if merged == current:
                return
            await asyncio.wait_for(client.config_set("notify-keyspace-events", merged), self.ping_timeout)
        except rexc.ResponseError as exc:
            # CONFIG was allowed when the session began and is not now: choose a mode again.
            raise _Replan("CONFIG refused: " + _first_line(exc)) from None
        # Merged back (others' flags kept); writes made meanwhile sent no event.
        repaired = f"notify-keyspace-events was {current!r} (changed by another client): restored"
        reason = "; ".join(r for r in (repaired, self._session_reason) if r)
        await self._set_mode(callback, FeedMode.NOTIFICATIONS, reason)
        await self._resync(callback)

    # -- polling ----------------------------------------------------------------------

    async def _poll_only(self, client: aioredis.Redis, callback: Callback, reason: str) -> None:
        await self._set_mode(callback, FeedMode.POLLING, reason)
        await self._poll(client, callback, emit=False)  # baseline first (see _session)
        await self._resync(callback)
        while not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.poll_interval)
            if self._stop.is_set():
                return
            await self._poll(client, callback)

    async def _poll(self, client: aioredis.Redis, callback: Callback, *, emit: bool = True) -> None:
        """Compare every watched prompt's content hash with the last poll's; emit the changes."""
        for event in await self._poller.poll(client, self.names, baseline=not emit):
            await self._emit(callback, event)
