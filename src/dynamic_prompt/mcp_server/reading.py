"""``load_prompt``'s read of its source: under the operator's policy, off the event loop, cancellable.

The read (a file, or a URL fetch of up to its whole time budget) runs in a
daemon thread of its own, not in a pooled worker thread: the interpreter waits
for pooled workers at exit (asyncio's default executor is even joined by
``asyncio.run``), so a fetch in one would keep the server alive after its
client closed stdin. When the tool call is cancelled (the client went away),
the fetch is cancelled too and ends within a fraction of a second; the server
does not wait for it either way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel

from dynamic_prompt.mcp_server.common import ToolContext, ToolFailure
from dynamic_prompt.mcp_server.policy import with_remedy
from dynamic_prompt.store.sources import Cancellation, LoadedSource, SourceRefusedError, read_source

T = TypeVar("T")


async def in_daemon_thread(work: Callable[[Cancellation], T]) -> T:
    """``work(cancellation)`` in a daemon thread; if this await is cancelled, so is the work."""
    cancellation = Cancellation()
    finished = anyio.Event()
    token = anyio.lowlevel.current_token()
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(work(cancellation))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task, which re-raises it
            failure.append(exc)
        try:
            anyio.from_thread.run_sync(finished.set, token=token)
        except Exception:  # noqa: BLE001 - the event loop has ended: nobody is waiting any more
            pass

    threading.Thread(target=run, name="dprompt-mcp-source", daemon=True).start()
    try:
        await finished.wait()
    except BaseException:
        cancellation.cancel()  # the caller is gone (cancelled, or the server is shutting down)
        raise
    if failure:
        raise failure[0]
    return outcome[0]


async def read_for_model(ctx: ToolContext, source: str, kind: str) -> LoadedSource:
    """What ``source`` holds, if the operator's policy admits it; a refusal says what could be allowed."""
    max_bytes = ctx.store.settings.max_bytes
    try:
        return await in_daemon_thread(
            lambda cancel: read_source(source, max_bytes=max_bytes, kind=kind, policy=ctx.policy, cancel=cancel)
        )
    except SourceRefusedError as exc:
        raise ToolFailure(with_remedy(exc)) from None
