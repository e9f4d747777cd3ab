"""A Sentinel-managed group for tests: a master, two replicas and one sentinel, all private.

Built from the same valkey-server binary as every other test server (sentinel
mode is ``--sentinel``), on free ports in temp dirs. Two replicas, as Sentinel
deployments have: with ``min-replicas-to-write 1`` the new master can take
writes as soon as the other replica follows it. :meth:`SentinelPair.failover`
asks the sentinel to promote a replica and waits until it is the master.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.servers import TestServer, free_port, stop_process

SERVICE = "prompts"


def _s(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SentinelPair:
    """Master + replica + sentinel; :attr:`url` is the ``redis+sentinel://`` URL."""

    __test__ = False

    def __init__(self, password: str | None = None) -> None:
        auth = [f"requirepass {password}", f"masterauth {password}"] if password else []
        # What the README asks of a Sentinel deployment: a master refuses writes it cannot
        # replicate, so the old master cannot accept (and then lose) writes in a failover.
        auth += ["min-replicas-to-write 1", "min-replicas-max-lag 10"]
        self.password = password
        self.master = TestServer(list(auth))
        self.replicas = [TestServer([*auth, f"replicaof 127.0.0.1 {self.master.port}"]) for _ in range(2)]
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dprompt-test-sentinel-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self._admin: redis.Redis | None = None

    @property
    def url(self) -> str:
        creds = f":{self.password}@" if self.password else ""
        return f"redis+sentinel://{creds}127.0.0.1:{self.port}/{SERVICE}"

    def _client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, password=self.password, socket_timeout=2)

    def _sentinel(self) -> redis.Redis:
        if self._admin is None:
            self._admin = redis.Redis(port=self.port, socket_timeout=2)
        return self._admin

    def clients(self) -> int:
        """Connections the sentinel has from clients (this helper's own one included)."""
        return int(self._sentinel().info("clients")["connected_clients"])

    def start(self) -> SentinelPair:
        self.master.start()
        for replica in self.replicas:
            replica.start()
        for replica in self.replicas:
            self._wait(lambda r=replica: self._client(r.port).info("replication").get("master_link_status") == "up",
                       "a replica never linked to the master")
        conf = self.dir / "sentinel.conf"
        lines = [
            "bind 127.0.0.1",
            f"port {self.port}",
            f'dir "{self.dir}"',
            'logfile "sentinel.log"',
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.master.port} 1",
            f"sentinel down-after-milliseconds {SERVICE} 1000",
            f"sentinel failover-timeout {SERVICE} 10000",
        ]
        if self.password:
            lines.append(f"sentinel auth-pass {SERVICE} {self.password}")
        conf.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([TestServer.binary, str(conf), "--sentinel"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir)
        self._wait(lambda: self.master_port() == self.master.port, "the sentinel never saw the master")
        self._wait(lambda: self._replicas_known() >= 2, "the sentinel never saw the replicas")
        return self

    def master_port(self) -> int | None:
        try:
            host_port = self._sentinel().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        except redis.RedisError:
            return None
        return int(host_port[1]) if host_port else None

    def _failover_ended(self, port: int) -> bool:
        state = self._sentinel().sentinel_masters().get(SERVICE) or {}
        return int(state.get("port", 0)) == port and "failover" not in str(state.get("flags", ""))

    def _replicas_known(self) -> int:
        """Replicas the sentinel would promote: seen, connected, with their link to the master up."""
        try:
            found = self._sentinel().execute_command("SENTINEL", "REPLICAS", SERVICE)
        except redis.RedisError:
            return 0
        good = 0
        for replica in found:
            info = replica if isinstance(replica, dict) else dict(zip(replica[::2], replica[1::2]))
            info = {_s(k): _s(v) for k, v in info.items()}
            if info.get("flags") == "slave" and info.get("master-link-status") == "ok":
                good += 1
        return good

    def failover(self, timeout: float = 20.0) -> int:
        """Promote a replica; return its port once it is the master with a replica following."""
        old = self.master_port()
        self._sentinel().execute_command("SENTINEL", "FAILOVER", SERVICE)
        self._wait(lambda: self.master_port() not in (None, old), "the sentinel did not fail over", timeout)
        new = self.master_port()
        assert new is not None
        self._wait(lambda: self._client(new).info("replication").get("role") == "master",
                   "the replica was not promoted", timeout)
        # SENTINEL MASTERS (what redis-py asks) names the new master only once the failover
        # has ended, a moment after GET-MASTER-ADDR-BY-NAME does.
        self._wait(lambda: self._failover_ended(new), "the failover did not end", timeout)
        # "Good" replicas (online, acknowledging): what min-replicas-to-write counts.
        self._wait(lambda: int(self._client(new).info("replication").get("min_slaves_good_slaves", 0)) >= 1,
                   "no replica followed the new master", timeout)
        return new

    @staticmethod
    def _wait(probe: object, what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if probe():  # type: ignore[operator]
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise RuntimeError(what)

    def cleanup(self) -> None:
        if self._admin is not None:
            self._admin.close()
        stop_process(self.proc)
        for replica in self.replicas:
            replica.cleanup()
        self.master.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)
