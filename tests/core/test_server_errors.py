"""redis-py errors -> one line (server/errors.py): the cases that depend on how the link failed."""

from __future__ import annotations

from redis import exceptions as rexc

from dynamic_prompt.core.errors import ConnectionFailedError
from dynamic_prompt.server.errors import library_error

WHERE = "the Redis server at rediss://:***@127.0.0.1:6380/0"
RESET = rexc.ConnectionError("Error while reading from 127.0.0.1:6380 : (104, 'Connection reset by peer')")


def test_a_reset_tls_link_without_a_client_certificate_names_the_settings() -> None:
    # Under load a server that requires a client certificate resets the link before its
    # alert arrives; the line said only "Connection reset by peer".
    error = library_error(RESET, WHERE, tls_without_cert=True)
    assert isinstance(error, ConnectionFailedError)
    assert "requires a client certificate" in str(error) and "tls_cert_file" in str(error)


def test_a_reset_link_with_a_certificate_or_without_tls_says_what_happened() -> None:
    assert "reset by peer" in str(library_error(RESET, WHERE))
    assert "certificate" not in str(library_error(RESET, WHERE))


def test_cluster_faults_are_one_line_about_reaching_the_cluster() -> None:
    down = library_error(rexc.RedisClusterException(
        "Redis Cluster cannot be connected. Please provide at least one reachable node: Error 111"), WHERE)
    assert isinstance(down, ConnectionFailedError) and "no node of the cluster answered" in str(down)
    plain = library_error(rexc.RedisClusterException(
        "Redis Cluster cannot be connected. Please provide at least one reachable node: Cluster mode is not "
        "enabled on this node"), WHERE)
    assert "not in cluster mode" in str(plain)
    assert isinstance(library_error(rexc.ClusterDownError("CLUSTERDOWN The cluster is down"), WHERE),
                      ConnectionFailedError)
