"""A TCP relay that can silently stop forwarding: a dead link without a closed socket.

:class:`FreezableProxy` listens on a free loopback port and relays every
connection to an upstream server, on its own event loop in a thread (so sync
and async tests, and subprocesses, can all use it). :meth:`freeze` stops
relaying in both directions *without* closing anything: bytes are read and
held, new connections are accepted, nothing answers, exactly like a NAT entry
or a VPN that died. :meth:`thaw` releases what was held and relays again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading


class FreezableProxy:
    """Relay ``127.0.0.1:<port>`` -> ``upstream_host:upstream_port``; freeze/thaw on demand."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1",
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.ssl_context = ssl_context  # given: clients speak TLS to the proxy (a TLS front)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._flowing: asyncio.Event | None = None
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0
        self._drop_prefix: bytes | None = None
        self.dropped = 0

    @property
    def url(self) -> str:
        scheme = "rediss" if self.ssl_context else "redis"
        return f"{scheme}://127.0.0.1:{self.port}/0"

    def start(self) -> FreezableProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(5)
        return self

    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pump(reader, up_writer),
                             self._pump(up_reader, writer, replies=True),
                             return_exceptions=True)
        for w in (writer, up_writer):
            self._writers.discard(w)
            with contextlib.suppress(Exception):
                w.close()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                    replies: bool = False) -> None:
        assert self._flowing is not None
        while True:
            data = await src.read(65536)
            if not data:
                break
            await self._flowing.wait()  # frozen: hold the bytes, answer nothing, close nothing
            if replies and self._drop_prefix is not None and data.startswith(self._drop_prefix):
                # The server did the work; the client never hears of it (a reply lost in flight).
                self._drop_prefix = None
                self.dropped += 1
                dst.close()
                break
            dst.write(data)
            await dst.drain()
        with contextlib.suppress(Exception):
            dst.close()

    def freeze(self) -> None:
        """Stop relaying (both ways, every connection, new ones too) without closing sockets."""
        assert self._flowing is not None
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def thaw(self) -> None:
        """Relay again, starting with whatever was held."""
        assert self._flowing is not None
        self._loop.call_soon_threadsafe(self._flowing.set)

    def drop_next_reply(self, prefix: bytes) -> None:
        """Swallow the next server reply starting with ``prefix`` and cut that client's connection."""
        self._loop.call_soon_threadsafe(setattr, self, "_drop_prefix", prefix)

    def close(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for w in list(self._writers):
                with contextlib.suppress(Exception):
                    w.close()
            if self._flowing is not None:
                self._flowing.set()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
