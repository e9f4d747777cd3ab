"""Private Redis 7 servers beside the Valkey ones, for behaviour that must hold on both.

:class:`Redis7Server` is a :class:`~tests.support.servers.TestServer` that runs the
machine's ``/usr/bin/redis-server`` instead of the embedded valkey-server (the
config file they are given is the same). :func:`server_kinds` names the kinds
this machine can start, for ``pytest.mark.parametrize`` / fixture params.
"""

from __future__ import annotations

import os

from tests.support.servers import TestServer

REDIS7_BINARY = "/usr/bin/redis-server"
VALKEY = "valkey"
REDIS7 = "redis7"


class Redis7Server(TestServer):
    """A private ``redis-server`` (Redis 7) process on a free port."""

    __test__ = False
    binary = REDIS7_BINARY


def server_kinds() -> list[str]:
    """``["valkey"]``, plus ``"redis7"`` where ``/usr/bin/redis-server`` exists."""
    return [VALKEY, REDIS7] if os.access(REDIS7_BINARY, os.X_OK) else [VALKEY]


def private_server(kind: str, extra: list[str] | None = None) -> TestServer:
    """A started private server of ``kind`` (``valkey`` or ``redis7``)."""
    cls = Redis7Server if kind == REDIS7 else TestServer
    return cls(extra).start()
