"""Redis Cluster: every part of the product on a real 6-node cluster (3 primaries, 3 replicas).

The cluster is built from the embedded valkey-server and valkey-cli, and again from
Redis 7's redis-server and redis-cli where the machine has them. Writes go through one
node and are looked for through another; a primary fails over during writes; a slot
that holds a prompt migrates while agents read it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import redis

from dynamic_prompt import PromptClient
from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.keys import TAGGED_LAYOUT
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.server.target import detect_cluster
from dynamic_prompt.store import PromptStore
from tests.reliability.clirun import error_line, ok, run_cli
from tests.support import writers
from tests.support.checks import one_line
from tests.support.cluster import TestCluster, cli_for, start_cluster
from tests.support.feedwatch import FeedWatcher
from tests.support.redis7 import server_kinds
from tests.support.waiting import eventually, eventually_async

TEXT = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n"
FAST_FEED = {"ping_interval": 0.2, "ping_timeout": 1.0, "poll_interval": 0.2}


@pytest.fixture(scope="module", params=server_kinds())
def cluster(request: pytest.FixtureRequest) -> Iterator[TestCluster]:
    started = start_cluster(request.param)
    yield started
    started.cleanup()


@pytest.fixture
def flushed(cluster: TestCluster) -> TestCluster:
    """The cluster with every primary's keys deleted (replicas follow)."""
    rc = cluster.cluster_client()
    rc.flushall(target_nodes=redis.RedisCluster.PRIMARIES)
    rc.close()
    return cluster


def _names_on_distinct_primaries(cluster: TestCluster, count: int = 3) -> list[str]:
    """Prompt names whose keys live on ``count`` different primaries."""
    found: dict[int, str] = {}
    for i in range(1000):
        name = f"p{i}"
        found.setdefault(cluster.primary_for(TAGGED_LAYOUT.keys_for(name).active), name)
        if len(found) == count:
            return list(found.values())
    raise AssertionError("the slots are not spread over the primaries")


def _load(names: list[str], url: str) -> None:
    """``dprompt load --name NAME --text TEXT`` for each of ``names``."""
    for name in names:
        assert "version 1" in ok(run_cli("load", "--name", name, "--text", TEXT, url=url)).stdout


def _cli(cluster: TestCluster, node: int, *args: str) -> str:
    """``valkey-cli -c`` (or ``redis-cli -c``) on node ``node``: it follows MOVED itself."""
    out = subprocess.run([cli_for(cluster.kind), "-c", "-p", str(cluster.nodes[node].port), *args],
                         capture_output=True, text=True, timeout=10, check=True)
    return out.stdout.strip()


def test_cli_loads_modifies_and_lists_on_a_cluster(flushed: TestCluster) -> None:
    # It said "The server answered: 14347 127.0.0.1:31002" (a MOVED shown as an error),
    # "Keys in request don't hash to the same slot" for default, and listed nothing.
    url = flushed.url
    names = _names_on_distinct_primaries(flushed)
    _load(names, url)
    assert "version 1" in ok(run_cli("load", "--text", TEXT, url=url)).stdout
    assert "version 2" in ok(run_cli("modify", "--name", names[0], "add rule: never use emojis", url=url)).stdout
    listed = ok(run_cli("list", url=url)).stdout
    assert [line.split()[0] for line in listed.splitlines()] == ["default", *sorted(names)]
    rc = flushed.cluster_client()
    assert "never use emojis" in (rc.get(f"prompt:{{{names[0]}}}:active") or "")
    assert ok(run_cli("get", "--name", names[1], url=url)).stdout == TEXT
    assert "MODIFY" in ok(run_cli("history", "--name", names[0], url=url)).stdout
    # clear announces on the prompt's shard channel (SPUBLISH) from its script
    assert "Cleared" in ok(run_cli("clear", "--name", names[2], "--yes", url=url)).stdout
    assert rc.exists(*TAGGED_LAYOUT.keys_for(names[2]).all()) == 0
    listed = ok(run_cli("list", url=url)).stdout
    assert [line.split()[0] for line in listed.splitlines()] == ["default", *sorted(names[:2])]
    rc.close()


def test_default_on_a_cluster_is_tagged_and_the_gem_keys_are_not_a_prompt(flushed: TestCluster) -> None:
    url = flushed.url
    ok(run_cli("load", "--text", TEXT, url=url))
    rc = flushed.cluster_client()
    assert rc.get("prompt:{default}:active") == TEXT
    assert rc.exists("prompt:active", "prompt:backup", "prompt:changelog") == 0
    info = ok(run_cli("info", url=url)).stdout
    assert "prompt:{default}:active" in info
    # The gem's untagged keys, written by another program, stay that program's.
    rc.set("prompt:active", "the gem's text")
    assert ok(run_cli("get", url=url)).stdout == TEXT
    assert rc.get("prompt:active") == "the gem's text"
    rc.close()


def test_a_cluster_is_detected_from_redis_url_or_named_by_its_scheme(flushed: TestCluster,
                                                                    server_url: str) -> None:
    port = flushed.nodes[3].port  # a replica: any node will do
    assert detect_cluster(ServerTarget(f"redis://127.0.0.1:{port}", "test")).kind.name == "cluster"
    assert ServerTarget(f"redis+cluster://127.0.0.1:{port}", "test").kind.name == "cluster"
    assert detect_cluster(ServerTarget(server_url, "test")).kind.name != "cluster"
    assert "version 1" in ok(run_cli("load", "--text", TEXT, url=f"redis+cluster://127.0.0.1:{port}")).stdout
    plain_port = server_url.rsplit(":", 1)[1].split("/")[0]
    line = one_line(error_line(run_cli("list", url=f"redis+cluster://127.0.0.1:{plain_port}")))
    assert "not in cluster mode" in line
    line = one_line(error_line(run_cli("list", url=f"redis+cluster://127.0.0.1:{port}/2")))
    assert "only database 0" in line


def test_concurrent_writers_on_a_cluster_lose_no_update(flushed: TestCluster) -> None:
    url = f"redis+cluster://127.0.0.1:{flushed.nodes[0].port}"
    ok(run_cli("load", "--name", "shared", "--text", writers.BASE, url=url))
    start_at = time.time() + 1.0
    with ProcessPoolExecutor(4) as pool:
        results = list(pool.map(writers.burst, [(url, "shared", w, 25, start_at, 500) for w in range(4)]))
    client = redis.RedisCluster(host="127.0.0.1", port=flushed.nodes[1].port)
    counts = writers.verify(client, "shared", results)
    client.close()
    assert counts["writes"] == counts["versions"] - 1 > 40


async def test_the_feed_hears_writes_on_every_primary(flushed: TestCluster) -> None:
    # The feed used to subscribe on one node; notifications are node-local.
    names = _names_on_distinct_primaries(flushed)
    target = ServerTarget(flushed.url, "test", cluster_mode="cluster")
    async with FeedWatcher(target, **FAST_FEED) as watch:
        live_at = await watch.wait_mode("notifications", 10)
        assert len(watch.feed.primaries) == 3  # type: ignore[attr-defined]
        # Live only once every primary's feed has resynced (consumers re-read first).
        assert sum(1 for at, e in watch.events if e.kind == "resync" and at <= live_at) == 3
        for i, name in enumerate(names):
            since = time.monotonic()
            # Through a node that does not hold the key: redis-cli -c follows the redirect.
            holder = flushed.primary_for(TAGGED_LAYOUT.keys_for(name).active)
            _cli(flushed, (holder + 1) % len(flushed.nodes), "SET", f"prompt:{{{name}}}:active", f"text {i}")
            await watch.wait_change(name, 5, since)


def test_agents_are_invalidated_by_a_write_through_another_node(flushed: TestCluster) -> None:
    names = _names_on_distinct_primaries(flushed)
    url = flushed.url
    _load(names, url)
    client = PromptClient(url, feed_options=FAST_FEED, announce_interval=0.2)
    try:
        assert all(client.get_active(n) == TEXT for n in names)
        eventually(lambda: client.feed_mode == "notifications", timeout=10)
        for name in names:
            _cli(flushed, 4, "SET", f"prompt:{{{name}}}:active", f"outside {name}")
        for name in names:
            eventually(lambda n=name: client.get_active(n) == f"outside {n}", timeout=5)
        # Served from memory, not by a read per call: the push did it.
        assert all(client.read(n).source == "memory" for n in names)
        fleet = eventually(lambda: client.fleet(names[0]) or None, timeout=5)
        assert fleet[0].prompt == names[0]
    finally:
        client.close()


async def test_a_failover_during_writes_loses_nothing_acknowledged(flushed: TestCluster) -> None:
    url = f"redis+cluster://127.0.0.1:{flushed.nodes[0].port}"
    name = "fo"
    store = PromptStore.connect(ServerTarget(url, "test"), Settings(user="w", version_retention=1000,
                                                                    changelog_cap=1000))
    target = ServerTarget(url, "test")
    try:
        await store.load(name, TEXT, kind="text")
        holder = flushed.primary_for(TAGGED_LAYOUT.keys_for(name).active)
        replica = flushed.replica_of(holder)
        acked: list[str] = []
        async with FeedWatcher(target, **FAST_FEED) as watch:
            await watch.wait_mode("notifications", 10)
            before = list(watch.feed.primaries)  # type: ignore[attr-defined]
            failover = threading.Timer(0.3, lambda: flushed.client(replica).execute_command("CLUSTER", "FAILOVER"))
            failover.start()
            deadline = time.monotonic() + 6
            i = 0
            while time.monotonic() < deadline:
                rule = f"rule {i}"
                i += 1
                try:
                    await store.modify(name, f"add rule: {rule}")
                except Exception:  # noqa: BLE001 - a write refused during the switch is not acknowledged
                    continue
                acked.append(rule)
            failover.join()
            # The feed follows the new topology and hears a write on the promoted primary.
            await eventually_async(lambda: watch.feed.primaries != before or None, timeout=10)  # type: ignore[attr-defined]
            await watch.wait_mode("notifications", 10)
            since = time.monotonic()
            await store.modify(name, "add rule: after the failover")
            await watch.wait_change(name, 5, since)
        text = await store.get_active(name) or ""
        assert len(acked) > 10
        assert [r for r in acked if r not in text] == []
        assert flushed.primary_for(TAGGED_LAYOUT.keys_for(name).active) == replica
    finally:
        await store.aclose()
        flushed.wait_ok()


def _migrate_slot(cluster: TestCluster, key: str, source: int, dest: int) -> None:
    """Move ``key``'s slot from node ``source`` to node ``dest`` the way redis-cli --cluster reshard does."""
    src, dst = cluster.client(source), cluster.client(dest)
    slot = int(src.execute_command("CLUSTER", "KEYSLOT", key))
    src_id, dst_id = src.execute_command("CLUSTER", "MYID"), dst.execute_command("CLUSTER", "MYID")
    dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
    while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
        time.sleep(0.2)  # agents read the slot while it is half-moved (ASK redirects)
        src.execute_command("MIGRATE", "127.0.0.1", cluster.nodes[dest].port, "", 0, 5000, "KEYS", *keys)
    others = [i for i in _primaries(cluster) if i not in (source, dest)]
    for node in (dest, source, *others):
        cluster.client(node).execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)


def _primaries(cluster: TestCluster) -> list[int]:
    return [i for i in range(len(cluster.nodes)) if cluster.client(i).execute_command("ROLE")[0] == "master"]


def test_agents_are_served_while_a_slot_migrates(flushed: TestCluster) -> None:
    url = flushed.url
    name = "moving"
    ok(run_cli("load", "--name", name, "--text", TEXT, url=url))
    key = TAGGED_LAYOUT.keys_for(name).active
    source = flushed.primary_for(key)
    dest = next(i for i in _primaries(flushed) if i != source)
    client = PromptClient(url, feed_options=FAST_FEED, announce=False)
    errors: list[BaseException] = []
    served: list[str | None] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                served.append(client.get_active(name))
            except BaseException as exc:  # noqa: BLE001 - every failure counts
                errors.append(exc)
            time.sleep(0.001)

    thread = threading.Thread(target=reader)
    try:
        assert client.get_active(name) == TEXT
        thread.start()
        _migrate_slot(flushed, key, source, dest)
        assert flushed.primary_for(key) == dest
        ok(run_cli("modify", "--name", name, "change tone to dry", url=url))
        eventually(lambda: "Tone: Dry" in (client.get_active(name) or ""), timeout=5)
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()
        client.close()
    assert errors == []
    assert served and all(text is not None for text in served)


def test_asyncio_store_reads_across_primaries_in_one_listing(flushed: TestCluster) -> None:
    names = _names_on_distinct_primaries(flushed)

    async def main() -> list[str]:
        store = PromptStore.connect(ServerTarget(flushed.url, "test", cluster_mode="cluster"), Settings())
        try:
            for name in names:
                await store.load(name, TEXT, kind="text")
            rows = await store.summaries(names)
            assert all(rows[n] is not None for n in names)
            fleet = await store.fleet(names)
            assert set(fleet) == set(names)
            return [p.name for p in await store.list()]
        finally:
            await store.aclose()

    assert asyncio.run(main()) == sorted(names)


def test_rename_across_slots_is_refused_in_one_line_and_duplicate_works(flushed: TestCluster) -> None:
    # It answered "Keys in request don't hash to the same slot" (a CROSSSLOT shown raw).
    url = flushed.url
    ok(run_cli("load", "--name", "c1", "--text", TEXT, url=url))
    line = one_line(error_line(run_cli("rename", "c1", "c2", url=url)))
    assert "different slots" in line and "dprompt duplicate c1 c2" in line
    rc = flushed.cluster_client()
    assert rc.get("prompt:{c1}:active") == TEXT and rc.exists("prompt:{c2}:active") == 0
    assert "as 'c2'" in ok(run_cli("duplicate", "c1", "c2", url=url)).stdout
    assert rc.get("prompt:{c2}:active") == TEXT
    rc.close()


@pytest.mark.parametrize("kind", server_kinds())
def test_agents_without_config_hear_outside_writes_on_every_primary_by_tracking(kind: str) -> None:
    # A managed cluster refuses CONFIG: each node's feed falls back to client tracking
    # (BCAST on the prompt prefix), so redis-cli writes still reach the agents' cache.
    managed = start_cluster(kind, ['rename-command CONFIG ""'])
    try:
        names = _names_on_distinct_primaries(managed)
        _load(names, managed.url)
        client = PromptClient(managed.url, feed_options=FAST_FEED, announce=False)
        try:
            assert all(client.get_active(n) == TEXT for n in names)
            # The cluster counts as tracking once every primary's feed has resynced; then
            # the texts re-read after those resyncs are served from memory.
            eventually(lambda: client.feed_mode == "tracking"
                       and all(client.read(n).source == "memory" for n in names), timeout=10)
            for name in names:
                _cli(managed, 5, "SET", f"prompt:{{{name}}}:active", f"gem wrote {name}")
            for name in names:
                eventually(lambda n=name: client.get_active(n) == f"gem wrote {n}", timeout=5)
            assert all(client.read(n).source == "memory" for n in names)
        finally:
            client.close()
    finally:
        managed.cleanup()


async def test_the_dashboard_shows_a_write_made_through_another_node_at_once(flushed: TestCluster) -> None:
    pytest.importorskip("textual")
    from dynamic_prompt.tui.app import DashboardApp
    from tests.tui.helpers import wait_for

    names = _names_on_distinct_primaries(flushed)
    _load(names, flushed.url)
    target = detect_cluster(ServerTarget(flushed.url, "test"))
    app = DashboardApp(target, Settings(user="t"), name=names[0], remember_theme=False)
    async with app.run_test(size=(200, 60)) as pilot:
        screen = app.dashboard
        await wait_for(pilot, lambda: screen.state is not None and screen.state.exists)
        await wait_for(pilot, lambda: sorted(screen.prompt_list.names) == sorted(names))
        assert "(cluster)" in app.server_label
        holder = flushed.primary_for(TAGGED_LAYOUT.keys_for(names[0]).active)
        _cli(flushed, (holder + 1) % len(flushed.nodes), "SET", f"prompt:{{{names[0]}}}:active", "via another node\n")
        await wait_for(pilot, lambda: screen.prompt_view.text == "via another node\n", timeout=5)
        # Another prompt, on another primary: its row follows.
        ok(run_cli("modify", "--name", names[2], "add rule: be brief", url=flushed.url))
        await wait_for(pilot, lambda: names[2] in screen.prompt_list.summaries and screen.prompt_list.summaries[names[2]].version == 2, timeout=5)


def test_where_config_and_tracking_are_refused_writes_arrive_on_shard_channels() -> None:
    # The change channel was classic pub/sub, sent to every node of the cluster; now each
    # write publishes on its prompt's shard channel, heard on the node that holds it.
    managed = start_cluster("valkey", ['rename-command CONFIG ""', 'rename-command CLIENT ""'])
    slow_poll = {**FAST_FEED, "poll_interval": 60.0}  # so only the channel can bring a change
    try:
        names = _names_on_distinct_primaries(managed)
        _load(names, managed.url)
        client = PromptClient(managed.url, feed_options=slow_poll, announce=False)
        try:
            assert all(client.get_active(n) == TEXT for n in names)
            eventually(lambda: client.feed_mode == "channel", timeout=10)
            for name in names:
                holder = managed.primary_for(TAGGED_LAYOUT.keys_for(name).active)
                channels = eventually(lambda h=holder: managed.client(h).execute_command(
                    "PUBSUB", "SHARDCHANNELS") or None, timeout=10)
                assert f"dprompt:changes:{{{name}}}" in channels
            for name in names:
                ok(run_cli("modify", "--name", name, "change tone to dry", url=managed.url))
            for name in names:
                eventually(lambda n=name: "Tone: Dry" in (client.get_active(n) or ""), timeout=5)
            assert all(client.read(n).source == "memory" for n in names)
        finally:
            client.close()
    finally:
        managed.cleanup()


def test_labels_rollouts_and_label_readers_on_a_cluster(flushed: TestCluster) -> None:
    # Every key of a label move sits in the prompt's slot: each script runs on one node, the
    # agents' view of a label is one script a prompt, and moves reach them through another node.
    names = _names_on_distinct_primaries(flushed)
    url = flushed.url
    _load(names, url)
    for name in names:
        ok(run_cli("label", "set", name, "staging", "production", url=url))
        ok(run_cli("modify", "--name", name, "--label", "staging", "change tone to dry", url=url))
    client = PromptClient(url, feed_options=FAST_FEED, announce_interval=0.2, agent_id="cluster-agent")
    try:
        staging = client.at("staging")
        assert all("Tone: Dry" in (staging.get_active(n) or "") for n in names)
        assert all(client.get_active(n) == TEXT for n in names)
        eventually(lambda: client.feed_mode == "notifications", timeout=10)
        for name in names:
            ok(run_cli("rollout", name, "--to", "staging", "--percent", "100", url=url))
        for name in names:
            eventually(lambda n=name: client.read(n).served == "rollout 100%", timeout=5)
        listed = {line.split()[0]: line for line in ok(run_cli("list", url=url)).stdout.splitlines()}
        assert all("rollout v2 100%" in listed[n] and "staging v2" in listed[n] for n in names)
        for name in names:
            assert "v1 -> v2" in ok(run_cli("promote", name, url=url)).stdout
        for name in names:
            eventually(lambda n=name: "Tone: Dry" in (client.get_active(n) or "")
                       and client.read(n).served == "", timeout=5)
        assert all(_cli(flushed, 4, "GET", f"prompt:{{{n}}}:release") == "" for n in names)
    finally:
        client.close()


def test_the_archive_follows_every_primary_and_recovers_after_a_flush(flushed: TestCluster, tmp_path: Path) -> None:
    url, archive = flushed.url, str(tmp_path / "archive.sqlite3")
    names = _names_on_distinct_primaries(flushed)
    _load(names, url)
    for name in names:
        ok(run_cli("modify", "--name", name, f"add rule: archived on the node of {name}", url=url))
    assert "Caught up: " in ok(run_cli("archive", "--once", "--archive", archive, url=url)).stdout
    rc = flushed.cluster_client()
    texts = {name: rc.get(f"prompt:{{{name}}}:active") for name in names}
    rc.flushall(target_nodes=redis.RedisCluster.PRIMARIES)
    out = json.loads(ok(run_cli("recover", "--archive", archive, "--json", url=url)).stdout)
    assert {o["name"]: (o["status"], o["version"]) for o in out} == {n: ("recovered", 2) for n in names}
    assert {name: rc.get(f"prompt:{{{name}}}:active") for name in names} == texts
    assert rc.sismember("dprompt:index", names[0])
    found = json.loads(ok(run_cli("search", "archived node", "--archive", archive, "--json", url=url)).stdout)
    assert {h["name"] for h in found if h["kind"] == "change"} == set(names)
    rc.close()
