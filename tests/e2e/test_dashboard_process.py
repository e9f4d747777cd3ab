"""The real ``dprompt`` dashboard process in a pseudo-terminal: options reach the screen."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time

from tests.e2e.test_cli import dprompt


class Terminal:
    """``dprompt`` running in a pseudo-terminal of ``columns`` x ``rows``."""

    def __init__(self, args: list[str], env: dict[str, str], columns: int = 100, rows: int = 30) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.proc = subprocess.Popen([sys.executable, "-m", "dynamic_prompt.cli", *args], stdin=slave,
                                     stdout=slave, stderr=slave, env={**os.environ, **env, "TERM": "xterm-256color"},
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.output = b""

    def wait_for(self, text: str, timeout: float = 20.0) -> None:
        """Read the screen output until ``text`` appears (fails after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} never appeared; the screen showed {self.output[-2000:]!r}"
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:  # the process closed the terminal
                    assert False, f"dprompt exited ({self.proc.poll()}) before {text!r} appeared"

    def send(self, data: bytes) -> None:
        """Type ``data``."""
        os.write(self.master, data)

    def close(self) -> int:
        """Quit with ctrl+q; kill if it does not go within 10 s. Returns the exit status."""
        try:
            self.send(b"\x11")
            return self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(timeout=10)
        finally:
            os.close(self.master)


def test_read_only_option_reaches_the_dashboard(server_url: str) -> None:
    dprompt("load", "--text", "Watched in production\n", url=server_url, check=True)
    term = Terminal(["tui", "--read-only"], {"REDIS_URL": server_url})
    try:
        term.wait_for("READ-ONLY")
        term.wait_for("Watched")
        term.send(b"\x12")  # ctrl+r: revert, refused with one line
        term.wait_for("nothing was written")
    finally:
        assert term.close() == 0
    assert json.loads(dprompt("info", "--json", url=server_url, check=True).stdout)["version"] == 1
