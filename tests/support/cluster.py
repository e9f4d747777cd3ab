"""A real local Redis Cluster for tests: 3 primaries and 3 replicas on free ports.

Built from the same binaries the other fixtures use (the embedded valkey-server and
its valkey-cli, or the machine's Redis 7 ``redis-server`` and ``redis-cli``): six
processes started with ``cluster-enabled yes``, joined by ``--cluster create
--cluster-replicas 1``, then waited on until every node reports ``cluster_state:ok``
and knows all six. Nothing is faked: failovers and slot migrations are the servers'.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field

import redis

from tests.support.redis7 import REDIS7, Redis7Server
from tests.support.servers import TestServer, cli_path

NODES = 6


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free port whose cluster bus port (+10,000) is free too, and at most 55,535."""
    while True:
        port = random.randint(20000, 55535)
        if _free(port) and _free(port + 10000):
            return port


def cli_for(kind: str) -> str:
    """The cluster-capable CLI for ``kind``: valkey-cli from the wheel, or redis-cli for Redis 7."""
    if kind == REDIS7:
        return shutil.which("redis-cli") or "/usr/bin/redis-cli"
    return cli_path()


@dataclass
class TestCluster:
    """Six cluster-enabled servers of one ``kind`` (``valkey`` or ``redis7``)."""

    __test__ = False
    kind: str = "valkey"
    extra: list[str] = field(default_factory=list)
    """More config lines for every node (``rename-command CONFIG ""``: a managed service)."""
    nodes: list[TestServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        """A ``redis://`` URL of the first node (any node of a cluster will do)."""
        return f"redis://127.0.0.1:{self.nodes[0].port}"

    def node_url(self, index: int) -> str:
        """A ``redis://`` URL of node ``index``."""
        return f"redis://127.0.0.1:{self.nodes[index].port}"

    def start(self, timeout: float = 60.0) -> TestCluster:
        cls = Redis7Server if self.kind == REDIS7 else TestServer
        extra = ["cluster-enabled yes", "cluster-config-file nodes.conf",
                 "cluster-node-timeout 2000", "appendonly no", *self.extra]
        self.nodes = [cls(extra) for _ in range(NODES)]
        for node in self.nodes:
            node.port = cluster_port()
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        subprocess.run([cli_for(self.kind), "--cluster", "create", *addresses,
                        "--cluster-replicas", "1", "--cluster-yes"],
                       check=True, capture_output=True, timeout=timeout)
        self.wait_ok(timeout)
        return self

    def client(self, index: int) -> redis.Redis:
        """A plain (non-cluster) client on node ``index``, text replies."""
        return redis.Redis(host="127.0.0.1", port=self.nodes[index].port, decode_responses=True,
                           socket_timeout=5)

    def cluster_client(self) -> redis.RedisCluster:
        """A redis-py cluster client, text replies (the tests' own view of the data)."""
        return redis.RedisCluster(host="127.0.0.1", port=self.nodes[0].port, decode_responses=True,
                                  socket_timeout=5)

    def wait_ok(self, timeout: float = 60.0) -> None:
        """Until every node says the cluster is ok and knows every node's role."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._ok(i) for i in range(len(self.nodes)) if self.nodes[i].proc):
                return
            time.sleep(0.1)
        raise RuntimeError("the test cluster did not become ok")

    def _ok(self, index: int) -> bool:
        try:
            with self.client(index) as c:
                info = c.execute_command("CLUSTER", "INFO")
                text = info if isinstance(info, str) else info.decode()
                if "cluster_state:ok" not in text:
                    return False
                lines = str(c.execute_command("CLUSTER", "NODES")).strip().splitlines()
                return len(lines) == NODES and all("handshake" not in line for line in lines)
        except (redis.RedisError, OSError):
            return False

    def primary_for(self, key: str) -> int:
        """The index of the node that serves ``key``'s slot now."""
        with self.client(0) as c:
            slot = int(c.execute_command("CLUSTER", "KEYSLOT", key))
            for entry in c.execute_command("CLUSTER", "SLOTS"):
                start, end, primary = entry[0], entry[1], entry[2]
                if start <= slot <= end:
                    port = int(primary[1])
                    return next(i for i, n in enumerate(self.nodes) if n.port == port)
        raise LookupError(key)

    def replica_of(self, primary: int) -> int:
        """The index of a replica of node ``primary``."""
        with self.client(primary) as c:
            node_id = str(c.execute_command("CLUSTER", "MYID"))
        for i, _node in enumerate(self.nodes):
            if i == primary:
                continue
            with self.client(i) as c:
                role = c.execute_command("ROLE")
                if role[0] == "slave" and int(role[2]) == self.nodes[primary].port:
                    return i
        raise LookupError(node_id)

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()


def start_cluster(kind: str = "valkey", extra: list[str] | None = None) -> TestCluster:
    """A started, ok, 6-node cluster of ``kind`` (``extra`` config lines on every node)."""
    cluster = TestCluster(kind, list(extra or []))
    try:
        return cluster.start()
    except BaseException:
        cluster.cleanup()
        raise
