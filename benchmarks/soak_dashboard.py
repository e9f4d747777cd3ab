"""Soak: the real dashboard left open while its prompt changes once a second, for an hour.

The operator's case: a screen left open on a prompt that agents and people keep
changing. Starts ``dprompt tui`` as its own process in a pseudo-terminal of 160x48
on a private valkey-server, writes the prompt once a second from another client
(the text alternates, so every write is a change the panes redraw), and samples
the dashboard's resident memory and CPU time every ``SAMPLE`` seconds. Reports the
memory after the first minute and at the end, the largest, the growth per hour
fitted over the second half, and the CPU share in the first and the last tenth.
Flat means: growth per hour near zero, the last tenth's CPU no higher than the first's.

Not part of ``benchmarks/run.py`` (it takes an hour): run it alone with
``python3 benchmarks/soak_dashboard.py [SECONDS]`` (default 3600).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.servers import TestServer  # noqa: E402

from dynamic_prompt.core.config import Settings  # noqa: E402
from dynamic_prompt.server import ServerTarget  # noqa: E402
from dynamic_prompt.store import PromptStore  # noqa: E402

NAME = "soak"
SAMPLE = 30.0
"""Seconds between samples of the dashboard's memory and CPU time."""
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_and_cpu(pid: int) -> tuple[int, float]:
    """(resident bytes, CPU seconds so far) of process ``pid``."""
    with open(f"/proc/{pid}/statm") as f:
        rss = int(f.read().split()[1]) * PAGE
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return rss, (int(fields[11]) + int(fields[12])) / TICKS


def _drain(fd: int, stop: threading.Event) -> None:
    """Read the dashboard's screen output so its writes never block."""
    while not stop.is_set():
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


def _start(url: str) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
    # No config file: the user's own keymap or theme must not change what is measured.
    env = {**os.environ, "REDIS_URL": url, "TERM": "xterm-256color",
           "DPROMPT_CONFIG": os.path.join(tempfile.mkdtemp(prefix="dprompt-soak-"), "config.toml")}
    proc = subprocess.Popen([sys.executable, "-m", "dynamic_prompt.cli", "tui", "--name", NAME],
                            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    return proc, master


async def _soak(url: str, seconds: float) -> list[tuple[float, int, float]]:
    target = ServerTarget(url, "soak")
    settings = Settings(redis_url=url, redis_url_origin="soak", user="soak")
    store = PromptStore.connect(target, settings)
    base = "# Agent\n\nTone: Calm\n\n## Rules\n" + "".join(f"{n}. Rule number {n}.\n" for n in range(1, 40))
    await store.load(NAME, base, kind="text", force=True)
    proc, master = _start(url)
    stop = threading.Event()
    reader = threading.Thread(target=_drain, args=(master, stop), daemon=True)
    reader.start()
    samples: list[tuple[float, int, float]] = []
    try:
        await asyncio.sleep(5)  # started and showing
        start = time.monotonic()
        next_sample = start
        n = 0
        while (now := time.monotonic()) - start < seconds:
            if proc.poll() is not None:
                raise RuntimeError(f"the dashboard exited ({proc.returncode}) after {now - start:.0f} s")
            n += 1
            text = base.replace("Tone: Calm", f"Tone: Calm {n % 2}")
            await store.set_active(NAME, text, expected_version=None)
            if now >= next_sample:
                rss, cpu = _rss_and_cpu(proc.pid)
                samples.append((now - start, rss, cpu))
                next_sample += SAMPLE
            await asyncio.sleep(max(0.0, start + n - time.monotonic()))
        rss, cpu = _rss_and_cpu(proc.pid)
        samples.append((time.monotonic() - start, rss, cpu))
    finally:
        stop.set()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        os.close(master)
        await store.aclose()
    return samples


def _slope(points: list[tuple[float, int, float]]) -> float:
    """Least-squares growth of resident memory, bytes per second."""
    xs = [p[0] for p in points]
    ys = [float(p[1]) for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs) or 1.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den


def _cpu_share(points: list[tuple[float, int, float]]) -> float:
    return (points[-1][2] - points[0][2]) / max(points[-1][0] - points[0][0], 1e-9) * 100


def run(seconds: float = 3600.0) -> list[tuple[str, str, str]]:
    """Soak for ``seconds``; rows of (benchmark, measurement, value)."""
    server = TestServer().start()
    try:
        samples = asyncio.run(_soak(server.url, seconds))
    finally:
        server.stop()
    mib = 1024 * 1024
    after_minute = next((s for s in samples if s[0] >= 60), samples[0])
    second_half = [s for s in samples if s[0] >= seconds / 2] or samples
    tenth = max(2, len(samples) // 10)
    label = f"soak {seconds / 60:.0f} min, 1 write/s"
    return [
        (label, "RSS after 1 min", f"{after_minute[1] / mib:.1f} MiB"),
        (label, "RSS at the end", f"{samples[-1][1] / mib:.1f} MiB"),
        (label, "RSS largest", f"{max(s[1] for s in samples) / mib:.1f} MiB"),
        (label, "RSS growth, second half", f"{_slope(second_half) * 3600 / mib:+.2f} MiB/h"),
        (label, "CPU first tenth", f"{_cpu_share(samples[:tenth]):.1f} %"),
        (label, "CPU last tenth", f"{_cpu_share(samples[-tenth:]):.1f} %"),
        (label, "samples", str(len(samples))),
    ]


if __name__ == "__main__":
    for row in run(float(sys.argv[1]) if len(sys.argv) > 1 else 3600.0):
        print(" | ".join(row))
