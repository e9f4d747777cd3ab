"""Security: TLS with verification on by default, AUTH and ACL users, passwords never shown.

Every output a password could leak into is captured and searched: CLI stdout
and stderr (errors, ``--json``, ``server status``), log records at DEBUG,
exception messages and formatted tracebacks, reprs (a crash report with
locals prints them), and the dashboard's status bar.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pty
import select
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from dynamic_prompt.core.config import Settings, load_settings
from dynamic_prompt.core.errors import DynamicPromptError
from dynamic_prompt.live.feed import ChangeFeed
from dynamic_prompt.server import ServerTarget, resolve
from dynamic_prompt.store import PromptStore
from tests.reliability.clirun import Run, error_line, ok, run_cli
from tests.reliability.conftest import ServerFactory, admin
from tests.support import checks
from tests.support.feedwatch import FeedWatcher
from tests.support.tls import NativeTLSServer, TLSServer, native_tls_binary, write_client_cert
from tests.support.waiting import eventually_async

PW = "Sup3r-Secret-pw-9917"
USER_PW = "Al1ce-Secret-pw-4471"
TEXT = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n"


def no_secret(*texts: object) -> None:
    """Neither password of this module's servers is in any of ``texts``."""
    checks.no_secret(*texts, secrets=(PW, USER_PW))


@pytest.fixture(params=["relay", "native"])
def tls_server(request: pytest.FixtureRequest) -> Iterator[TLSServer | NativeTLSServer]:
    """A TLS server with a password and an ACL user: valkey behind a TLS relay, and a
    redis-server speaking TLS itself where the machine has one built with TLS."""
    extra = [f"requirepass {PW}", f"user alice on >{USER_PW} ~* &* +@all"]
    if request.param == "native":
        if native_tls_binary() is None:
            pytest.skip("no redis-server built with TLS on this machine")
        server: TLSServer | NativeTLSServer = NativeTLSServer(extra).start()
    else:
        server = TLSServer(extra).start()
    yield server
    server.cleanup()


def _config(text: str) -> Path:
    path = Path(os.environ["DPROMPT_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_rediss_works_with_the_ca_file_option_and_fails_clearly_without(
    tls_server: TLSServer | NativeTLSServer,
) -> None:
    url = f"rediss://:{PW}@127.0.0.1:{tls_server.port}/0"
    # No CA given: verification is on by default, so the private CA is refused, in one line.
    line = error_line(run_cli("load", "--text", TEXT, url=url))
    assert "certificate" in line.lower() and "***" in line
    no_secret(line)
    # The CA file from the config file: works.
    _config(f'tls_ca_certs = "{tls_server.ca_file}"\n')
    out = ok(run_cli("load", "--text", TEXT, url=url))
    assert "version 1" in out.stdout
    assert ok(run_cli("get", url=url)).stdout == TEXT
    # ... and for an ACL user, with the URL from the config file too.
    _config(f'tls_ca_certs = "{tls_server.ca_file}"\n'
            f'redis_url = "rediss://alice:{USER_PW}@127.0.0.1:{tls_server.port}/0"\n')
    runs = [ok(run_cli("modify", "change tone to dry")), ok(run_cli("history", "--json")),
            ok(run_cli("server", "status")), ok(run_cli("info", "--json"))]
    assert "alice:***@" in runs[2].stdout
    no_secret(*(r.all for r in runs))
    # A certificate for another name is refused too (hostname checking is on).
    _config(f'tls_ca_certs = "{tls_server.ca_file}"\n')
    line = error_line(run_cli("get", url=f"rediss://:{PW}@localhost.localdomain.invalid:{tls_server.port}/0"))
    no_secret(line)


def test_tls_server_name_verifies_the_certificate_against_the_name_the_operator_chose() -> None:
    """A server reached by IP address (as a Sentinel-discovered master always is) whose
    certificate names only its DNS name: refused, unless tls_server_name says that name."""
    server = TLSServer(names=("prompts.internal",)).start()
    try:
        url = f"rediss://127.0.0.1:{server.port}/0"
        _config(f'tls_ca_certs = "{server.ca_file}"\n')
        line = error_line(run_cli("get", url=url))
        assert "certificate verify failed" in line.lower(), line
        _config(f'tls_ca_certs = "{server.ca_file}"\ntls_server_name = "prompts.internal"\n')
        assert "version 1" in ok(run_cli("load", "--text", TEXT, url=url)).stdout
        assert ok(run_cli("get", url=url)).stdout == TEXT
        from dynamic_prompt import PromptClient

        with PromptClient(settings=load_settings(url), announce=False, strict=True) as client:
            assert client.get_active() == TEXT
        # The wrong name is refused as before: the check is moved, not switched off.
        _config(f'tls_ca_certs = "{server.ca_file}"\ntls_server_name = "other.internal"\n')
        error_line(run_cli("get", url=url))
    finally:
        server.cleanup()


def test_sentinel_masters_are_verified_against_tls_server_name() -> None:
    """Behind rediss+sentinel:// every master connection, sync and async, carries the name."""
    from dynamic_prompt.server import ServerTarget, async_client, sync_client
    from dynamic_prompt.server import tls as tlsmod

    target = ServerTarget("rediss+sentinel://127.0.0.1:26379/prompts", "test", tls_server_name="prompts.internal")
    aclient = async_client(target)
    sclient = sync_client(target)
    try:
        assert aclient.connection_pool.connection_class is tlsmod.AsyncNamedSentinelSSLConnection
        assert sclient.connection_pool.connection_class is tlsmod.SyncNamedSentinelSSLConnection
        for client in (aclient, sclient):
            assert client.connection_pool.connection_kwargs["ssl_server_name"] == "prompts.internal"
        conn = aclient.connection_pool.make_connection()
        conn.host, conn.port = "10.0.0.7", 6379  # where a sentinel might say the master is
        assert conn._connection_arguments()["server_hostname"] == "prompts.internal"
    finally:
        sclient.close()
        import asyncio

        asyncio.run(aclient.aclose())


@pytest.fixture(params=["relay", "native"])
def mtls_server(request: pytest.FixtureRequest) -> Iterator[TLSServer | NativeTLSServer]:
    """A TLS server that also requires a client certificate from its CA (mutual TLS)."""
    extra = [f"requirepass {PW}"]
    if request.param == "native":
        if native_tls_binary() is None:
            pytest.skip("no redis-server built with TLS on this machine")
        server: TLSServer | NativeTLSServer = NativeTLSServer(extra, client_certs=True).start()
    else:
        server = TLSServer(extra, client_certs=True).start()
    yield server
    server.cleanup()


def test_mutual_tls_with_a_client_certificate_from_the_config_file(
    mtls_server: TLSServer | NativeTLSServer, tmp_path: Path
) -> None:
    url = f"rediss://:{PW}@127.0.0.1:{mtls_server.port}/0"
    cert, key = write_client_cert(mtls_server.ca, tmp_path)
    # The server's CA alone is not enough: the server asks for a certificate, in one line.
    _config(f'tls_ca_certs = "{mtls_server.ca_file}"\n')
    line = error_line(run_cli("get", url=url))
    assert "Cannot reach" in line
    if isinstance(mtls_server, NativeTLSServer):  # the relay just hangs up; redis-server says why
        assert "requires a client certificate" in line and "tls_cert_file" in line
    no_secret(line)
    # Half a pair, or a file that is not there: the config is refused before connecting.
    _config(f'tls_ca_certs = "{mtls_server.ca_file}"\ntls_cert_file = "{cert}"\n')
    assert "go together" in error_line(run_cli("get", url=url))
    _config(f'tls_ca_certs = "{mtls_server.ca_file}"\ntls_cert_file = "{cert}"\n'
            f'tls_key_file = "{tmp_path / "missing.key"}"\n')
    assert "not a readable file" in error_line(run_cli("get", url=url))
    # The whole pair: every part works.
    _config(f'tls_ca_certs = "{mtls_server.ca_file}"\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"\n')
    assert "version 1" in ok(run_cli("load", "--text", TEXT, url=url)).stdout
    assert ok(run_cli("get", url=url)).stdout == TEXT
    settings = load_settings(url)
    from dynamic_prompt import PromptClient

    with PromptClient(settings=settings, announce=False, strict=True) as client:
        assert client.get_active() == TEXT


def test_tls_files_matter_only_for_tls_and_resolve_next_to_the_config_file(
    tls_server: TLSServer | NativeTLSServer, server_url: str, redis_sync: redis.Redis,
) -> None:
    # A CA file that is missing on this machine does not break a plain redis:// server.
    _config('tls_ca_certs = "/no/such/ca.pem"\n')
    assert "version 1" in ok(run_cli("load", "--text", TEXT, "-n", "plain", "--force", url=server_url)).stdout
    # ... but is one line for a rediss:// one.
    line = error_line(run_cli("get", url=f"rediss://:{PW}@127.0.0.1:{tls_server.port}/0"))
    assert "tls_ca_certs" in line and "/no/such/ca.pem" in line
    # A relative name means next to the config file, wherever dprompt runs.
    config = _config('tls_ca_certs = "certs/ca.pem"\n')
    (config.parent / "certs").mkdir(exist_ok=True)
    (config.parent / "certs" / "ca.pem").write_bytes(tls_server.ca_file.read_bytes())
    assert "version 1" in ok(run_cli("load", "--text", TEXT, "--force",
                                     url=f"rediss://:{PW}@127.0.0.1:{tls_server.port}/0")).stdout


async def test_store_over_tls_uses_settings_tls_ca_certs(tls_server: TLSServer | NativeTLSServer) -> None:
    settings = Settings(redis_url=f"rediss://alice:{USER_PW}@127.0.0.1:{tls_server.port}/0",
                        redis_url_origin="test", tls_ca_certs=str(tls_server.ca_file), user="t")
    target = resolve(settings)
    store = PromptStore.connect(target, settings)
    await store.load("p", TEXT, kind="text")
    assert await store.get_active("p") == TEXT
    async with FeedWatcher(target, ping_interval=0.2, ping_timeout=1.0) as feed:
        await feed.wait_mode("notifications", 5)
        t = time.monotonic()
        await store.modify("p", "change tone to dry")
        await feed.wait_change("p", 5, since=t)
    await store.aclose()
    no_secret(repr(target), repr(settings), target.display)
    # Without the CA: one line from the store too.
    bare = PromptStore.connect(ServerTarget(settings.redis_url or "", "test"), settings)
    with pytest.raises(DynamicPromptError) as info:
        await bare.get_active("p")
    assert "certificate" in str(info.value).lower()
    no_secret(str(info.value), traceback.format_exception(info.value))
    await bare.aclose()


def test_agents_client_over_tls_reads_from_memory_and_sees_changes(
    tls_server: TLSServer | NativeTLSServer,
) -> None:
    from dynamic_prompt import PromptClient
    from tests.support.waiting import eventually

    url = f"rediss://alice:{USER_PW}@127.0.0.1:{tls_server.port}/0"
    settings = Settings(redis_url=url, redis_url_origin="test", tls_ca_certs=str(tls_server.ca_file), user="t")
    writer = redis.Redis.from_url(url, ssl_ca_certs=str(tls_server.ca_file), decode_responses=True)
    writer.set("prompt:active", "over tls v1")
    with PromptClient(settings=settings, announce=False) as client:
        assert client.get_active() == "over tls v1"
        eventually(lambda: client.read("default").source == "memory")
        writer.set("prompt:active", "over tls v2")  # a plain write, as redis-cli would make
        eventually(lambda: client.get_active() == "over tls v2")
        assert client.stats().invalidations >= 1
        no_secret(repr(client.target), client.target.display)
    writer.close()
    # Verification is on: without the CA the client refuses the server, in one sentence.
    bare = Settings(redis_url=url, redis_url_origin="test", user="t")
    with PromptClient(settings=bare, announce=False, strict=True) as client:
        with pytest.raises(DynamicPromptError) as info:
            client.get_active()
    assert "certificate" in str(info.value).lower()
    no_secret(str(info.value))


@pytest.fixture
def auth_server(make_server: ServerFactory):  # type: ignore[no-untyped-def]
    return make_server([f"requirepass {PW}", f"user alice on >{USER_PW} ~* &* +@all",
                        f"user reader on >{USER_PW} ~* &* +@read +ping -@write"])


def _battery(port: int, **kw: object) -> list[Run]:
    """Every command, successes and failures, with a password in play."""
    good = f"redis://:{PW}@127.0.0.1:{port}/0"
    alice = f"redis://alice:{USER_PW}@127.0.0.1:{port}/0"
    runs = [
        run_cli("load", "--text", TEXT, "--force", url=good),
        run_cli("modify", "add rule: Be brief.", url=alice),
        run_cli("get", "--json", url=alice), run_cli("history", "--json", url=alice),
        run_cli("list", "--json", url=alice), run_cli("info", "--json", url=alice),
        run_cli("info", url=alice), run_cli("diff", url=alice), run_cli("server", "status", url=alice),
        run_cli("get", url=f"redis://alice:wrong-{USER_PW}@127.0.0.1:{port}/0"),   # bad password
        run_cli("get", url=f"redis://127.0.0.1:{port}/0"),                       # none given
        run_cli("modify", "change tone to dry", url=f"redis://reader:{USER_PW}@127.0.0.1:{port}/0"),
        run_cli("get", url=f"redis://alice:{USER_PW}@127.0.0.1:1/0"),             # unreachable
        run_cli("get", url=f"redis://alice:{USER_PW}@127.0.0.1:notaport/0"),      # bad URL
        run_cli("get", url=f"redis://alice:{USER_PW}@[::1/0"),                   # worse URL
        run_cli("server", "status", url=f"redis://alice:{USER_PW}@127.0.0.1:1/0"),
        run_cli("get", url=f"unix:///no/such.sock?password={USER_PW}"),
        run_cli("load", f"http://bob:{USER_PW}@127.0.0.1:1/p.md", url=alice),   # a source URL's password
        run_cli("modify", "make it pop", url=alice),
    ]
    return runs


def test_password_never_printed_by_the_cli(auth_server) -> None:  # type: ignore[no-untyped-def]
    runs = _battery(auth_server.port)
    for run in runs:
        no_secret(run.all)
        assert "Traceback" not in run.all
    assert runs[0].code == 0 and runs[1].code == 0
    assert "refused the credentials" in error_line(runs[9])
    for run in runs[10:]:
        error_line(run)
    # The same through REDIS_URL and the config file.
    env_run = run_cli("server", "status", env={"REDIS_URL": f"redis://alice:{USER_PW}@127.0.0.1:{auth_server.port}/0"})
    assert env_run.code == 0 and "alice:***@" in env_run.stdout
    _config(f'redis_url = "redis://alice:{USER_PW}@127.0.0.1:{auth_server.port}/0"\n')
    no_secret(env_run.all, ok(run_cli("server", "status")).all, ok(run_cli("info", "--json")).all)


def test_a_password_on_the_command_line_is_warned_about(auth_server) -> None:  # type: ignore[no-untyped-def]
    """Every local user can read another's argv (ps): say so, and say where the URL belongs."""
    for url in (f"redis://:{PW}@127.0.0.1:{auth_server.port}/0",
                f"redis+sentinel://:{PW}@127.0.0.1:1/prompts"):
        run = run_cli("server", "status", url=url)
        warning = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
        assert len(warning) == 1 and "REDIS_URL" in warning[0] and "ps" in warning[0], run.stderr
        no_secret(run.all)
    quiet = run_cli("server", "status", url=f"redis://127.0.0.1:{auth_server.port}/0")
    assert "warning:" not in quiet.stderr


def test_password_never_in_a_real_process_traceback_even_in_debug(auth_server) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "DPROMPT_DEBUG": "1"}
    for args in (["get"], ["modify", "change tone to dry"]):
        proc = subprocess.run(
            [sys.executable, "-m", "dynamic_prompt.cli", "--redis-url",
             f"redis://alice:wrong-{USER_PW}@127.0.0.1:{auth_server.port}/0", *args],
            capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode != 0
        no_secret(proc.stdout, proc.stderr)


async def test_password_never_in_logs_exceptions_tracebacks_or_reprs(
    auth_server, caplog: pytest.LogCaptureFixture  # type: ignore[no-untyped-def]
) -> None:
    caplog.set_level(logging.DEBUG)
    port = auth_server.port
    settings = load_settings(f"redis://alice:{USER_PW}@127.0.0.1:{port}/0")
    target = resolve(settings)
    store = PromptStore.connect(target, settings)
    await store.load("p", TEXT, kind="text")
    captured: list[str] = [repr(settings), repr(target), repr(store.client), str(target.display)]
    bad_targets = [
        ServerTarget(f"redis://alice:wrong-{USER_PW}@127.0.0.1:{port}/0", "test"),
        ServerTarget(f"redis://reader:{USER_PW}@127.0.0.1:{port}/0", "test"),
        ServerTarget(f"redis://alice:{USER_PW}@127.0.0.1:1/0", "test"),
    ]
    for bad in bad_targets:
        s = PromptStore.connect(bad, settings)
        calls = [lambda: s.modify("p", "change tone to dry")]
        if "reader" not in bad.url:  # the reader may read
            calls.append(lambda: s.get_active("p"))
        for call in calls:
            try:
                await call()
            except DynamicPromptError as exc:
                captured += [str(exc), repr(exc), traceback.format_exc(),
                             "".join(traceback.format_exception(exc))]
            else:
                raise AssertionError(f"{bad.display} should have failed")
        await s.aclose()
    feed = ChangeFeed(bad_targets[0], ping_interval=0.1, ping_timeout=0.5)
    modes: list[str] = []
    task = asyncio.create_task(feed.run(lambda e: modes.append(f"{e.mode} {feed.reason}")))
    # Until the feed has said it is down and why (the reason is where a password could go).
    await eventually_async(lambda: modes, 10)
    feed.stop()
    await task
    assert set(modes) == {"disconnected AuthenticationError"}
    captured += modes
    await store.aclose()
    captured.append(caplog.text)
    captured += [repr(r.args) + r.getMessage() for r in caplog.records]
    no_secret(*captured)


async def test_dashboard_status_bar_masks_the_password(auth_server) -> None:  # type: ignore[no-untyped-def]
    from dynamic_prompt.tui.app import DashboardApp
    from tests.tui.helpers import settle, text_of

    url = f"redis://alice:{USER_PW}@127.0.0.1:{auth_server.port}/0"
    admin_store = PromptStore.connect(ServerTarget(url, "test"), Settings(user="t"))
    await admin_store.load("default", TEXT, kind="text", force=True)
    await admin_store.aclose()
    app = DashboardApp(ServerTarget(url, "--redis-url"), Settings(user="t"), remember_theme=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)  # live, and everything it read is on screen
        svg = app.export_screenshot()
        status = text_of(app.dashboard.status)
        no_secret(svg, status, app.title, app.sub_title)  # first, so no message below prints one
        checks.shows_mask(status, "alice")
        checks.shows_mask(svg.replace("&#160;", " "), "alice")
        assert status.endswith(f"│  redis://alice:***@127.0.0.1:{auth_server.port}/0"), status


def _pty_run(args: list[str], answer: bytes, url: str) -> tuple[int, str]:
    """Run dprompt with stdin/stdout on a pseudo-terminal, answer its question."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "dynamic_prompt.cli", "--redis-url", url, *args],
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    answered = False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if not answered and b"[y/N]" in out:
                os.write(master, answer)
                answered = True
        elif proc.poll() is not None:
            break
    code = proc.wait(10)
    os.close(master)
    return code, out.decode("utf-8", "replace")


def test_clear_asks_on_a_terminal_and_no_means_nothing_changed(make_server: ServerFactory) -> None:
    server = make_server()
    ok(run_cli("load", "--text", TEXT, url=server.url))
    r = admin(server)
    before = {k: r.dump(k) for k in r.keys("*")}
    code, out = _pty_run(["clear"], b"n\n", server.url)
    assert code != 0 and "Delete prompt 'default'" in out and "nothing changed" in out.lower()
    assert {k: r.dump(k) for k in r.keys("*")} == before
    code, out = _pty_run(["clear"], b"y\n", server.url)
    assert code == 0 and "Cleared 'default'" in out
    assert not r.exists("prompt:active")
    line = error_line(run_cli("clear", url=server.url))  # no terminal, no --yes: refused
    assert "--yes" in line


def test_get_on_a_terminal_is_inert(make_server: ServerFactory) -> None:
    server = make_server()
    hostile = "Tone: \x1b[31mred\x1b[0m \x1b]52;c;aGk=\x07 \u202eevil\n"
    ok(run_cli("load", "-", stdin=hostile.encode(), url=server.url))
    code, out = _pty_run(["get"], b"", server.url)
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "␛[31mred" in out and "<U+202E>" in out
