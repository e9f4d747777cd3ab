"""What a prompt source may reach, and how long it may take: real sockets, real files.

- time: one budget covers DNS, connect, TLS, the status line, the headers and the
  body; a server that drips a byte every few seconds fails within it;
- addresses: under a policy that refuses private addresses, every address a host
  resolves to is judged (first request and every redirect hop) and the connection
  goes to the address that was judged, with no second lookup;
- files: under a policy with allowed folders, what is checked is the file actually
  opened (its descriptor), not a name that could be swapped afterwards.

"Public" cannot be had on a test machine, so the address tests that need a public
first hop replace :func:`netguard.address_refusal` to treat 127.0.0.1 as public; the
sockets, the servers and the redirects stay real.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import trustme

from dynamic_prompt.core.errors import DynamicPromptError, SourceError
from dynamic_prompt.store import source_file, sources
from dynamic_prompt.store.sources import SourcePolicy, read_source
from tests.support.web import PROMPT, Drip, Site

ROOT = Path(__file__).resolve().parents[2]


def netguard() -> Any:
    """The address and time guard (imported per test, so each test reports its own failure)."""
    from dynamic_prompt.store import netguard as module

    return module


def refusal(call: Callable[[], object]) -> str:
    """Run ``call``, which must be refused with one clear line; return the line."""
    with pytest.raises(SourceError) as excinfo:
        call()
    message = str(excinfo.value)
    assert isinstance(excinfo.value, DynamicPromptError)
    assert message and "\n" not in message, message
    return message


def refused_by_policy(call: Callable[[], object]) -> str:
    """As :func:`refusal`, and the refusal is the policy's (so the MCP server can say what to allow)."""
    with pytest.raises(sources.SourceRefusedError) as excinfo:
        call()
    message = str(excinfo.value)
    assert message and "\n" not in message, message
    return message


@pytest.fixture
def loopback_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Judge 127.0.0.1 as a public address (only it: 127.0.0.2 stays loopback)."""
    guard = netguard()
    real = guard.address_refusal

    def judge(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        return None if str(address) == "127.0.0.1" else real(address)

    monkeypatch.setattr(guard, "address_refusal", judge)


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Make ``socket.getaddrinfo`` answer ``answers[host]`` (one address per lookup, the last
    repeating); other hosts resolve as usual. Returns the list of hosts looked up."""
    real = socket.getaddrinfo
    looked_up: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host in answers:
            looked_up.append(host)
            queue = answers[host]
            address = queue.pop(0) if len(queue) > 1 else queue[0]
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


# -- one time budget for the whole fetch -----------------------------------------------------------


@pytest.mark.timeout(30)
def test_a_status_line_dripping_one_byte_every_2s_fails_within_the_budget() -> None:
    with Drip(opening=b"H", byte=b"T", interval=2.0) as drip:
        start = time.monotonic()
        message = refusal(lambda: read_source(drip.url(), timeout=3))
        elapsed = time.monotonic() - start
    assert message == f"Could not read {drip.url()}: no complete answer within 3 s."
    assert elapsed < 3 + 2, elapsed


@pytest.mark.timeout(30)
def test_dripping_headers_fail_within_the_budget() -> None:
    with Drip(opening=b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Pad: ", byte=b"a", interval=0.5) as drip:
        start = time.monotonic()
        message = refusal(lambda: read_source(drip.url(), timeout=2))
        elapsed = time.monotonic() - start
    assert message == f"Could not read {drip.url()}: no complete answer within 2 s."
    assert elapsed < 2 + 2, elapsed


@pytest.mark.timeout(30)
def test_a_dripping_tls_handshake_fails_within_the_budget() -> None:
    # A TLS record header announcing 16 KiB, then one byte of it every 0.5 s.
    with Drip(opening=b"\x16\x03\x03\x40\x00", byte=b"\x02", interval=0.5) as drip:
        start = time.monotonic()
        message = refusal(lambda: read_source(drip.url(scheme="https"), timeout=2))
        elapsed = time.monotonic() - start
    assert message == f"Could not reach 127.0.0.1:{drip.port}: timed out after 2 s."
    assert elapsed < 2 + 2, elapsed


@pytest.mark.timeout(30)
def test_a_host_name_that_never_resolves_fails_within_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    real = socket.getaddrinfo

    def hanging(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "dns-hangs.test":
            release.wait(60)  # a resolver that never answers (released at the end of the test)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    try:
        start = time.monotonic()
        message = refusal(lambda: read_source("http://dns-hangs.test/p.md", timeout=1))
        elapsed = time.monotonic() - start
    finally:
        release.set()
    assert message == "Could not reach dns-hangs.test: timed out after 1 s."
    assert elapsed < 1 + 2, elapsed


@pytest.mark.timeout(60)
def test_dprompt_load_of_a_dripping_url_ends_within_its_10s_budget(server_url: str, redis_sync: redis.Redis) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with Drip(opening=b"H", byte=b"T", interval=2.0) as drip:
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "dynamic_prompt.cli", "--redis-url", server_url, "load", drip.url(), "-n", "drip"],
            capture_output=True, text=True, timeout=45, env=env, cwd=str(ROOT),
        )  # fmt: skip
        elapsed = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == f"error: Could not read {drip.url()}: no complete answer within 10 s.\n"
    assert elapsed < 10 + 5, elapsed
    assert redis_sync.keys("*") == []


# -- which addresses a restrictive policy lets a fetch reach -------------------------------------------


@pytest.mark.parametrize(
    ("address", "category"),
    [
        ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
        ("10.1.2.3", "private"), ("172.16.0.9", "private"), ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
        ("fd12:3456::1", "unique-local"), ("fc00::1", "unique-local"),
        ("224.0.0.251", "multicast"), ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.7", "private"),
        ("::ffff:169.254.169.254", "link-local"), ("100.64.0.1", "non-public"),
    ],
)  # fmt: skip
def test_non_public_addresses_are_judged_by_category(address: str, category: str) -> None:
    assert netguard().address_refusal(ipaddress.ip_address(address)) == category


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert netguard().address_refusal(ipaddress.ip_address(address)) is None


def _resolver(table: dict[str, list[str]]) -> Callable[..., list[Any]]:
    """A resolver seam: ``host -> addresses``, in getaddrinfo's shape."""

    def resolve(host: str, port: int) -> list[Any]:
        rows = []
        for address in table[host]:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr: tuple[Any, ...] = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            rows.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return rows

    return resolve


def test_every_resolved_address_is_judged_with_a_resolver_seam() -> None:
    guard = netguard()
    resolve = _resolver({
        "public.test": ["93.184.215.14"],
        "mixed.test": ["93.184.215.14", "127.0.0.1"],  # one bad answer spoils the host
        "mapped.test": ["::ffff:127.0.0.1"],
        "metadata.test": ["169.254.169.254"],
    })  # fmt: skip
    admitted = guard.admitted_addresses("public.test", 80, allow_private=False, resolve=resolve)
    assert [row[4] for row in admitted] == [("93.184.215.14", 80)]
    for host, address, category in (
        ("mixed.test", "127.0.0.1", "loopback"),
        ("mapped.test", "::ffff:127.0.0.1", "loopback"),
        ("metadata.test", "169.254.169.254", "link-local"),
    ):
        with pytest.raises(guard.BlockedAddressError) as excinfo:
            guard.admitted_addresses(host, 80, allow_private=False, resolve=resolve)
        assert (excinfo.value.host, excinfo.value.address, excinfo.value.category) == (host, address, category)
    # Allowing private addresses admits them all, in the resolver's order.
    rows = guard.admitted_addresses("mixed.test", 80, allow_private=True, resolve=resolve)
    assert [row[4][0] for row in rows] == ["93.184.215.14", "127.0.0.1"]


@pytest.mark.timeout(30)
def test_a_redirect_from_a_public_url_to_loopback_is_refused(loopback_is_public: None) -> None:
    with Site("127.0.0.1") as public, Site("127.0.0.2") as inner:
        public.redirect_to = inner.url("/secret")
        policy = SourcePolicy(urls=True)
        message = refused_by_policy(lambda: read_source(public.url("/redirect"), policy=policy))
        assert message.startswith(f"{public.url('/redirect')} redirected to {inner.url('/secret')}, ")
        assert "127.0.0.2, a loopback address" in message
        assert public.hits == ["/redirect"] and inner.hits == []  # the hop was refused before connecting
        # The same redirect is followed when private addresses are allowed.
        loaded = read_source(public.url("/redirect"), policy=SourcePolicy(urls=True, private_urls=True))
        assert loaded.text == PROMPT and inner.hits == ["/secret"]


@pytest.mark.timeout(30)
def test_the_connection_goes_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch, loopback_is_public: None
) -> None:
    with Site("127.0.0.1", body="checked\n") as checked:
        with Site("127.0.0.2", port=checked.port, body="rebound\n") as rebound:
            # DNS rebinding: the first answer passes the check, any later one points inside.
            looked_up = fake_dns(monkeypatch, {"rebind.test": ["127.0.0.1", "127.0.0.2"]})
            loaded = read_source(f"http://rebind.test:{checked.port}/p.md", policy=SourcePolicy(urls=True))
            assert loaded.text == "checked\n"
            assert looked_up == ["rebind.test"]  # one lookup, and the socket went to its answer
            assert rebound.hits == []


@pytest.fixture
def tls_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """An HTTPS site on 127.0.0.1 whose certificate names only ``prompts.test``; its CA is trusted."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # what OpenSSL's default verify paths read
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("prompts.test").configure_cert(context)
    with Site("127.0.0.1", body="over TLS\n", tls=context) as site:
        yield site


@pytest.mark.timeout(30)
def test_https_to_a_checked_address_still_verifies_the_certificate_against_the_host_name(
    monkeypatch: pytest.MonkeyPatch, tls_site: Site
) -> None:
    fake_dns(monkeypatch, {"prompts.test": ["127.0.0.1"]})
    policy = SourcePolicy(urls=True, private_urls=True)
    loaded = read_source(f"https://prompts.test:{tls_site.port}/p.md", policy=policy)
    assert loaded.text == "over TLS\n"
    # The same server by its address: the certificate does not name it, so it is refused.
    message = refusal(lambda: read_source(f"https://127.0.0.1:{tls_site.port}/p.md", policy=policy))
    assert message.startswith(f"Could not reach 127.0.0.1:{tls_site.port}: its TLS certificate is not trusted")


def test_environment_proxies_do_not_carry_a_refused_fetch(
    monkeypatch: pytest.MonkeyPatch, loopback_is_public: None
) -> None:
    with Site("127.0.0.1") as proxy:  # a proxy at a "public" address, willing to go anywhere
        for name in ("http_proxy", "HTTP_PROXY"):
            monkeypatch.setenv(name, proxy.url())
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        fake_dns(monkeypatch, {"inner.test": ["127.0.0.2"]})
        message = refused_by_policy(lambda: read_source("http://inner.test/p.md", policy=SourcePolicy(urls=True)))
        assert message == "http://inner.test/p.md leads to 127.0.0.2, a loopback address, which this server does not fetch."
        assert proxy.hits == []  # the proxy would have fetched it for us, past the check
        # With private addresses allowed, the environment's proxy is used as before.
        loaded = read_source("http://inner.test/p.md", policy=SourcePolicy(urls=True, private_urls=True))
        assert loaded.text == PROMPT and proxy.hits == ["http://inner.test/p.md"]


# -- files: what is checked is what was opened ---------------------------------------------------------


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """``(allowed, outside)``: a folder the policy admits with one prompt in it, and a folder beside it."""
    allowed = tmp_path / "allowed"
    outside = tmp_path / "outside"
    (allowed / "sub").mkdir(parents=True)
    outside.mkdir()
    (allowed / "sub" / "p.md").write_text("Inside.\n", "utf-8")
    (outside / "p.md").write_text("SECRET from outside.\n", "utf-8")
    return allowed, outside


def test_a_symlink_in_the_folder_that_leads_out_is_refused(folders: tuple[Path, Path]) -> None:
    allowed, outside = folders
    (allowed / "link.md").symlink_to(outside / "p.md")
    (allowed / "dirlink").symlink_to(outside)
    policy = SourcePolicy(file_roots=(str(allowed),))
    for path in (allowed / "link.md", allowed / "dirlink" / "p.md"):
        message = refused_by_policy(lambda: read_source(str(path), policy=policy))
        assert "outside the folders this server may read" in message


def test_a_directory_swapped_for_a_symlink_after_the_check_is_refused(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed, outside = folders
    swapped: list[str] = []

    def swap(path: str) -> None:
        # Between the policy's check of the path and the open: sub/ becomes a link out.
        os.rename(allowed / "sub", allowed / "sub-was")
        os.symlink(outside, allowed / "sub")
        swapped.append(path)

    monkeypatch.setattr(source_file, "_seam_between_check_and_open", swap, raising=False)
    policy = SourcePolicy(file_roots=(str(allowed),))
    message = refused_by_policy(lambda: read_source(str(allowed / "sub" / "p.md"), policy=policy))
    assert swapped == [str(allowed / "sub" / "p.md")]
    assert message == (
        f"{allowed / 'sub' / 'p.md'} is outside the folders this server may read ({allowed})."
    )


def test_a_file_swapped_for_a_symlink_after_the_check_is_refused(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed, outside = folders
    target = allowed / "sub" / "p.md"

    def swap(path: str) -> None:
        target.unlink()
        target.symlink_to(outside / "p.md")

    monkeypatch.setattr(source_file, "_seam_between_check_and_open", swap, raising=False)
    message = refused_by_policy(lambda: read_source(str(target), policy=SourcePolicy(file_roots=(str(allowed),))))
    assert message == f"{target} is a symbolic link; this server reads only plain files inside its folders."


def test_a_hard_linked_file_is_refused(folders: tuple[Path, Path]) -> None:
    allowed, outside = folders
    os.link(outside / "p.md", allowed / "hard.md")
    message = refused_by_policy(
        lambda: read_source(str(allowed / "hard.md"), policy=SourcePolicy(file_roots=(str(allowed),)))
    )
    assert message == (
        f"{allowed / 'hard.md'} has 2 hard links; this server reads only files with one, "
        "since another link can make a file from outside its folders appear inside."
    )
    # The person at the keyboard reads it as before.
    assert read_source(str(allowed / "hard.md")).text == "SECRET from outside.\n"


@pytest.mark.timeout(20)
def test_a_fifo_in_the_folder_is_refused_without_waiting_for_a_writer(folders: tuple[Path, Path]) -> None:
    allowed, _ = folders
    fifo = allowed / "pipe.md"
    os.mkfifo(fifo)
    message = refused_by_policy(lambda: read_source(str(fifo), policy=SourcePolicy(file_roots=(str(allowed),))))
    assert message == f"{fifo} is not a regular file; this server reads only plain files inside its folders."


def test_inside_the_folder_a_plain_file_still_loads(folders: tuple[Path, Path]) -> None:
    allowed, _ = folders
    path = allowed / "sub" / "p.md"
    loaded = read_source(str(path), policy=SourcePolicy(file_roots=(str(allowed),)))
    assert (loaded.text, loaded.source) == ("Inside.\n", f"file:{path}")


def _same_refusal(first: str, first_name: str, second: str, second_name: str) -> None:
    assert first.replace(first_name, "PATH") == second.replace(second_name, "PATH")


@pytest.mark.parametrize("policy_name", ["roots", "default"])
def test_a_path_with_a_space_gets_the_same_refusal_whether_it_exists_or_not(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, policy_name: str
) -> None:
    allowed, outside = folders
    (outside / "a b.txt").write_text("exists\n", "utf-8")
    policy = SourcePolicy(file_roots=(str(allowed),)) if policy_name == "roots" else SourcePolicy()
    monkeypatch.setenv("HOME", str(outside))
    pairs = [
        (str(outside / "a b.txt"), str(outside / "c d.txt")),
        ("~/a b.txt", "~/c d.txt"),
        (f"{outside}/../outside/a b.txt", f"{outside}/../outside/c d.txt"),
    ]
    for existing, missing in pairs:
        there = refused_by_policy(lambda: policy.admit(existing))
        not_there = refused_by_policy(lambda: policy.admit(missing))
        _same_refusal(there, existing, not_there, missing)
        assert "kind='text'" in there  # how to pass such a line as the prompt text itself


def test_restrictive_policies_never_look_at_the_disk_for_text(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed, outside = folders
    monkeypatch.chdir(outside)  # p.md exists here, but is not named as a path
    policy = SourcePolicy(file_roots=(str(allowed),))
    assert policy.admit("Be brief and kind.") == ("Be brief and kind.", "text")
    assert policy.admit("line one\nsee /etc/passwd\n") == ("line one\nsee /etc/passwd\n", "text")
    assert policy.admit("/etc/passwd", "text") == ("/etc/passwd", "text")
    # A sentence whose slashes belong to a URL it mentions is text too (the disk is not asked either way).
    assert policy.admit("Cite https://example.com/docs when asked.") == ("Cite https://example.com/docs when asked.", "text")
    # Any other one-line source with a path separator is judged as a path, with a hint for literal text.
    assert refused_by_policy(lambda: policy.admit("Answer in English/French.")).endswith(
        "; to store the line itself as the prompt text, pass kind='text'."
    )
    assert refused_by_policy(lambda: policy.admit("p.md")).startswith("p.md is outside the folders")


def test_the_person_at_the_keyboard_still_reads_links_and_any_file(folders: tuple[Path, Path]) -> None:
    allowed, outside = folders
    (allowed / "link.md").symlink_to(outside / "p.md")
    assert read_source(str(allowed / "link.md")).text == "SECRET from outside.\n"
    assert read_source(str(outside / "p.md"), policy=SourcePolicy.unrestricted()).text == "SECRET from outside.\n"
