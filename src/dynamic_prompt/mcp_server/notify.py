"""Turn the change feed into MCP change notifications.

The :class:`~dynamic_prompt.live.feed.ChangeFeed` sees every write to a prompt,
whoever made it (this server's tools, the dashboard, an agent, ``redis-cli``).
:class:`ChangeNotifier` turns its events into:

- ``notifications/resources/updated`` for ``prompt://NAME`` when that prompt's
  text changes or it is deleted;
- ``notifications/resources/list_changed`` and ``notifications/prompts/list_changed``
  when a prompt appears or disappears (both lists hold one entry per prompt).

The SDK serves two protocol eras, and each gets them its own way:

- handshake era (``initialize``; what Claude Desktop, Cursor and most clients
  speak today): ``resources/subscribe`` registers a URI; updates go out on the
  connection's standalone channel only for subscribed URIs; list changes go to
  every client (the capability is advertised).
- 2026-07-28 era: events are published on the SDK's subscription bus, and the
  ``subscriptions/listen`` handler delivers each client what it asked for.

On stdio there is one client connection per process; over HTTP there may be many
(one per session, bounded by the session manager), so the handshake-era side keeps
each peer with its own subscribed URIs.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import anyio
from mcp.server.session import ServerSession
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from dynamic_prompt.core.errors import DynamicPromptError
from dynamic_prompt.core.models import EventKind, PromptEvent
from dynamic_prompt.live.feed import MODE_DISCONNECTED
from dynamic_prompt.mcp_server.common import prompt_uri
from dynamic_prompt.store import PromptStore

log = logging.getLogger(__name__)

MAX_PEERS = 1024
"""Handshake-era clients remembered at most (sessions that ended are forgotten on a failed send)."""

SEND_TIMEOUT = 5.0
"""Seconds one notification to one client may take before that client is dropped."""

RESYNC_ATTEMPTS = 4
"""Tries at listing the prompts after the feed reconnects (a restarted server needs a few)."""


class ChangeNotifier:
    """Fans feed events out to MCP clients; the feed's callback.

    Args:
        store: used to re-list prompts after a (re)connect of the feed.
        bus: the subscription bus the ``subscriptions/listen`` handler reads.
    """

    def __init__(self, store: PromptStore, bus: InMemorySubscriptionBus) -> None:
        self.store = store
        self.bus = bus
        self.mode: str = MODE_DISCONNECTED
        """The feed's mode (notifications / channel / polling / disconnected), for health_check."""
        self._peers: dict[object, tuple[ServerSession, set[str]]] = {}
        """Handshake-era clients to notify, by connection: a session to send on, the URIs subscribed."""
        self._known: set[str] | None = None

    @property
    def subscriptions(self) -> set[str]:
        """Every URI some handshake-era client subscribed to."""
        return set().union(*(uris for _, uris in self._peers.values()))

    # -- the client side ------------------------------------------------------------------

    def attach(self, session: ServerSession, protocol_version: str, method: str) -> None:
        """Remember a handshake-era client to notify (called for every request it sends).

        ``initialize`` itself is skipped: the spec lets a server notify only
        after the client said ``initialized``, which precedes its next request.
        2026-era connections never get a standalone notification (the SDK would
        drop it anyway): they listen on the bus.
        """
        if method != "initialize" and protocol_version in HANDSHAKE_PROTOCOL_VERSIONS:
            self._peer(session)

    def subscribe(self, session: ServerSession, uri: str) -> None:
        """The client on ``session`` wants ``resources/updated`` for ``uri``."""
        self._peer(session)[1].add(uri)

    def unsubscribe(self, session: ServerSession, uri: str) -> None:
        """The client on ``session`` no longer wants updates for ``uri``."""
        self._peer(session)[1].discard(uri)

    def _peer(self, session: ServerSession) -> tuple[ServerSession, set[str]]:
        # A ServerSession is made per request; its connection is what lasts (one per stdio
        # process, one per HTTP session). The SDK exposes it only as this attribute.
        key = getattr(session, "_connection", session)
        found = self._peers.get(key)
        if found is None:
            if len(self._peers) >= MAX_PEERS:
                self._peers.pop(next(iter(self._peers)))  # the oldest: most likely gone already
            found = self._peers[key] = (session, set())
        return found

    # -- the feed side ----------------------------------------------------------------------

    async def on_event(self, event: PromptEvent) -> None:
        """The feed's callback; never raises (an exception would stop the feed for good)."""
        try:
            await self._handle(event)
        except Exception:  # noqa: BLE001 - a failed notification must not end the feed
            log.exception("could not deliver a change notification for %s", event)

    async def _handle(self, event: PromptEvent) -> None:
        if event.kind is EventKind.MODE:
            self._mode_changed(event.mode or MODE_DISCONNECTED)
        elif event.kind is EventKind.RESYNC:
            await self._resync()
        elif event.name is not None and event.kind in (EventKind.CHANGED, EventKind.DELETED):
            if self._known is not None:
                had = event.name in self._known
                if event.kind is EventKind.CHANGED and not had:
                    self._known.add(event.name)
                    # Another program's prompt: index it, so every listing has it from now on.
                    await self.store.adopt([event.name])
                    await self._lists_changed()
                elif event.kind is EventKind.DELETED and had:
                    self._known.discard(event.name)
                    await self._lists_changed()
            await self._updated(prompt_uri(event.name))

    def _mode_changed(self, mode: str) -> None:
        previous, self.mode = self.mode, mode
        if mode != MODE_DISCONNECTED:
            if previous != mode:
                log.info("watching prompt changes via %s", mode)
        elif self._known is None:
            log.warning("cannot watch prompt changes yet (the server does not answer); retrying")
        else:
            log.warning("lost the change feed; reconnecting (live notifications pause meanwhile)")

    async def _resync(self) -> None:
        """The feed (re)connected: changes may have been missed, so re-list and re-announce."""
        first = self._known is None
        if first:
            # Prompts other programs wrote before anyone watched (a rate-limited scan).
            with contextlib.suppress(DynamicPromptError):
                await self.store.reconcile()
        names = await self._list_names()
        if names is not None:
            self._known = names
        if not first:
            # On the first sync nobody can hold a stale list: clients listed from Redis directly.
            await self._lists_changed()
        # A write made while the feed was not subscribed went unseen: level-trigger every
        # prompt (the bus filters by what each listener asked for; the legacy side by subscription).
        for uri in sorted({prompt_uri(n) for n in self._known or ()} | self.subscriptions):
            await self._updated(uri)

    async def _list_names(self) -> set[str] | None:
        """The stored prompt names, or ``None`` if the server cannot list them right now."""
        problem: DynamicPromptError | None = None
        for attempt in range(RESYNC_ATTEMPTS):
            try:
                return {p.name for p in await self.store.list()}
            except DynamicPromptError as exc:
                # After a server restart the store's pool still holds connections the old
                # server closed; each failed call discards one, so a retry gets a fresh one.
                problem = exc
                await anyio.sleep(0.05 * (attempt + 1))
        log.warning("could not re-list the prompts after the change feed reconnected: %s", problem)
        return None

    async def _updated(self, uri: str) -> None:
        await self.bus.publish(ResourceUpdated(uri=uri))
        for key, (_, uris) in list(self._peers.items()):
            if uri in uris:
                await self._send_legacy(key, "send_resource_updated", uri)

    async def _lists_changed(self) -> None:
        await self.bus.publish(ResourcesListChanged())
        await self.bus.publish(PromptsListChanged())
        for key in list(self._peers):
            await self._send_legacy(key, "send_resource_list_changed")
            await self._send_legacy(key, "send_prompt_list_changed")

    async def _send_legacy(self, key: object, method: str, *args: Any) -> None:
        found = self._peers.get(key)
        if found is None:
            return
        try:
            # Bounded: a client that stopped reading must not hold up the others.
            with anyio.fail_after(SEND_TIMEOUT):
                await getattr(found[0], method)(*args)
        except Exception as exc:  # noqa: BLE001 - the client went away: stop notifying it
            log.info("client stopped receiving notifications (%s)", type(exc).__name__)
            self._peers.pop(key, None)
