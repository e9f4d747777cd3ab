"""The change feed: keyspace notifications -> typed :class:`PromptEvent` s.

Notifications are hints, not data: every (re)subscribe emits a ``resync``
event so consumers re-read the keys. The feed merges the flags it needs into
the server's ``notify-keyspace-events`` (keeping flags other apps set). Where
CONFIG is refused (managed Redis, ACL) it says so and falls back to the
change channel every write of this tool publishes in its atomic step, plus a
slow poll of content hashes so outside writes are still seen; where pub/sub
is unavailable too, it polls alone. A ping watchdog catches a link that died
silently, and a lost connection is retried with backoff.

Cluster note: keyspace notifications are node-local; this feed subscribes on
the one node it is connected to.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rexc

from dynamic_prompt.core import keys as keymod
from dynamic_prompt.core.models import PromptEvent
from dynamic_prompt.server import ServerTarget, async_client, sentinel

log = logging.getLogger(__name__)

NEEDED_FLAGS = "K$gx"
"""Keyspace events (K) for string writes ($), DEL/RENAME (g) and expiry (x)."""

_ALIAS_A = "g$lshzxetd"  # what 'A' stands for in notify-keyspace-events

MODE_NOTIFICATIONS = "notifications"
MODE_CHANNEL = "channel"
MODE_POLLING = "polling"
MODE_DISCONNECTED = "disconnected"

Callback = Callable[[PromptEvent], Awaitable[None] | None]

_POLL_SCRIPT = r"""
local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v then out[i] = redis.sha1hex(v) else out[i] = '' end
end
return out
"""


def merge_notify_flags(current: str, needed: str = NEEDED_FLAGS) -> str:
    """``current`` plus whatever of ``needed`` it lacks; never drops a flag.

    >>> merge_notify_flags("Ex")
    'ExK$g'
    >>> merge_notify_flags("AK")
    'AK'
    """
    have = set(current)
    if "A" in have:
        have |= set(_ALIAS_A)
    missing = "".join(f for f in needed if f not in have)
    return current + missing


def _event_for_key(key: str, op: str) -> PromptEvent | None:
    parsed = keymod.parse_key(key)
    if parsed is None:
        return None
    name, part = parsed
    if part != "active":
        # meta/changelog/versions change in the same step as active; one event is enough.
        return None
    if op in ("del", "expired", "evicted", "rename_from"):
        return PromptEvent(name, "deleted")
    return PromptEvent(name, "changed")


def _event_for_channel(data: bytes) -> PromptEvent | None:
    try:
        payload = json.loads(data)
        name = keymod.validate_name(payload["name"])
        version = int(payload.get("version") or 0)
    except Exception:  # noqa: BLE001 - anyone may publish anything on a channel
        return None
    kind = "deleted" if payload.get("action") == "clear" else "changed"
    return PromptEvent(name, kind, version or None)


class ChangeFeed:
    """Watches one server and calls back with :class:`PromptEvent` s until stopped.

    Args:
        target: the server.
        ping_interval: seconds between watchdog pings on the subscription link.
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
        self.mode = MODE_DISCONNECTED
        self.reason = ""
        self._stop = asyncio.Event()
        self._hashes: dict[str, str] = {}

    def stop(self) -> None:
        """Ask :meth:`run` to return."""
        self._stop.set()

    async def _emit(self, callback: Callback, event: PromptEvent) -> None:
        result = callback(event)
        if asyncio.iscoroutine(result):
            await result

    async def _set_mode(self, callback: Callback, mode: str, reason: str = "") -> None:
        if mode != self.mode or reason != self.reason:
            self.mode, self.reason = mode, reason
            await self._emit(callback, PromptEvent(None, "mode", mode=mode))

    async def run(self, callback: Callback) -> None:
        """Deliver events to ``callback`` until :meth:`stop`; never raises on server faults."""
        backoff = 0.1
        while not self._stop.is_set():
            client = async_client(self.target, timeout=max(self.ping_timeout, 2.0), retries=0)
            try:
                await self._session(client, callback)
                backoff = 0.1
            except (rexc.ConnectionError, rexc.TimeoutError, OSError, asyncio.TimeoutError) as exc:
                await self._set_mode(callback, MODE_DISCONNECTED, type(exc).__name__)
            except rexc.RedisError as exc:
                await self._set_mode(callback, MODE_DISCONNECTED, str(exc).splitlines()[0][:80])
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()
            if self._stop.is_set():
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), backoff)
            backoff = min(backoff * 2, 5.0)

    async def _enable_notifications(self, client: aioredis.Redis) -> tuple[bool, str]:
        try:
            # Keys come back as bytes (decode_responses=False); accept str too.
            reply: dict[Any, Any] = dict(await client.config_get("notify-keyspace-events"))
            current = reply.get(b"notify-keyspace-events") or reply.get("notify-keyspace-events") or b""
            current = current.decode() if isinstance(current, bytes) else str(current)
            merged = merge_notify_flags(current)
            if merged != current:
                await client.config_set("notify-keyspace-events", merged)
            return True, ""
        except rexc.ResponseError as exc:
            # Managed servers rename or forbid CONFIG; say so and fall back.
            return False, "CONFIG refused: " + str(exc).splitlines()[0][:60]

    async def _session(self, client: aioredis.Redis, callback: Callback) -> None:
        await client.ping()
        notify_ok, reason = await self._enable_notifications(client)
        db = int(client.connection_pool.connection_kwargs.get("db", 0) or 0)
        pubsub = client.pubsub()
        try:
            try:
                if notify_ok:
                    await pubsub.psubscribe(f"__keyspace@{db}__:prompt:*")
                else:
                    await pubsub.subscribe(keymod.CHANGE_CHANNEL)
                await self._confirm_subscribed(pubsub)
            except rexc.ResponseError as exc:
                await self._poll_only(client, callback, "pub/sub refused: " + str(exc)[:60])
                return
            mode = MODE_NOTIFICATIONS if notify_ok else MODE_CHANNEL
            await self._set_mode(callback, mode, reason)
            self._hashes.clear()
            if not notify_ok:
                # The poll's baseline is taken before the resync, so a write landing
                # after the consumer's re-read is still a change the next poll sees.
                await self._poll(client, callback, emit=False)
            await self._emit(callback, PromptEvent(None, "resync"))
            await self._listen(client, pubsub, callback, poll=not notify_ok)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _confirm_subscribed(self, pubsub: Any) -> None:
        """Wait for the (P)SUBSCRIBE confirmation.

        A server that refuses pub/sub (renamed command, ACL) answers with an
        error in the reply stream, not to the send: without this wait the error
        surfaced in :meth:`_listen`, the feed counted it as a dead link and
        reconnected forever instead of falling back to polling.
        """
        deadline = time.monotonic() + self.ping_timeout
        while time.monotonic() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=0.1)
            if message is not None and message["type"] in ("subscribe", "psubscribe"):
                return
        raise rexc.TimeoutError("the server did not confirm the subscription")

    async def _listen(self, client: aioredis.Redis, pubsub: Any, callback: Callback, *, poll: bool) -> None:
        last_pong = time.monotonic()
        last_ping = 0.0
        last_poll = time.monotonic()  # the session took the baseline poll just now
        while not self._stop.is_set():
            now = time.monotonic()
            if now - last_ping >= self.ping_interval:
                await pubsub.ping()
                last_ping = now
                if await sentinel.master_moved(client, pubsub.connection):
                    raise rexc.ConnectionError("the master moved (Sentinel failover)")
            if now - last_pong > self.ping_timeout:
                raise rexc.ConnectionError("no pong from the server: the link is dead")
            if poll and now - last_poll >= self.poll_interval:
                await self._poll(client, callback)
                last_poll = now
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message is None:
                continue
            last_pong = time.monotonic()  # any traffic proves the link is alive
            kind = message["type"]
            event: PromptEvent | None = None
            if kind == "pmessage":
                channel = message["channel"].decode("utf-8", "replace")
                key = channel.split(":", 1)[1] if ":" in channel else ""
                event = _event_for_key(key, message["data"].decode("utf-8", "replace"))
            elif kind == "message":
                event = _event_for_channel(message["data"])
            if event is not None:
                await self._emit(callback, event)

    async def _poll_only(self, client: aioredis.Redis, callback: Callback, reason: str) -> None:
        await self._set_mode(callback, MODE_POLLING, reason)
        self._hashes.clear()
        await self._poll(client, callback, emit=False)  # baseline first (see _session)
        await self._emit(callback, PromptEvent(None, "resync"))
        while not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.poll_interval)
            if self._stop.is_set():
                return
            await self._poll(client, callback)

    async def _poll_names(self, client: aioredis.Redis) -> list[str]:
        if self.names is not None:
            return sorted(self.names)
        found: set[str] = set()
        for pattern in keymod.ACTIVE_KEY_PATTERNS:
            async for key in client.scan_iter(match=pattern, count=1000):
                parsed = keymod.parse_key(key.decode("utf-8", "replace"))
                if parsed:
                    found.add(parsed[0])
        return sorted(found)

    async def _poll(self, client: aioredis.Redis, callback: Callback, *, emit: bool = True) -> None:
        """Compare every watched prompt's content hash with the last poll's."""
        names = await self._poll_names(client)
        if not names:
            gone = list(self._hashes)
            self._hashes.clear()
            for name in gone:
                if emit:
                    await self._emit(callback, PromptEvent(name, "deleted"))
            return
        keys = [keymod.keys_for(n).active for n in names]
        hashes = await client.eval(_POLL_SCRIPT, len(keys), *keys)
        seen: dict[str, str] = {}
        for name, h in zip(names, hashes):
            value = h.decode() if isinstance(h, bytes) else str(h)
            if value:
                seen[name] = value
        for name in set(self._hashes) | set(seen):
            if self._hashes.get(name) != seen.get(name) and emit:
                kind = "deleted" if name not in seen else "changed"
                await self._emit(callback, PromptEvent(name, kind))
        self._hashes = seen


async def watch(target: ServerTarget, **kwargs: Any) -> Any:
    """Async iterator over events: ``async for event in watch(target): ...``."""
    queue: asyncio.Queue[PromptEvent] = asyncio.Queue()
    feed = ChangeFeed(target, **kwargs)
    task = asyncio.create_task(feed.run(queue.put))
    try:
        while True:
            yield await queue.get()
    finally:
        feed.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
