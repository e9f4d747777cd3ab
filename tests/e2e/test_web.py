"""``dprompt web`` end to end: the real command, a real server, a real browser (headless chromium).

The page is textual-serve's xterm.js terminal, drawn on a canvas; the tests read it as a
screen reader does, from xterm's accessibility tree (``.xterm-accessibility-tree``, DOM
rows of the terminal's text), switched on through the page's own terminal object. The
browser is Debian's chromium driven by playwright (no browser download); ``.ci/run``
installs it. Plain-HTTP tests (token, origin, the session bound) need no browser.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from dynamic_prompt.cli.web import decide_token, is_loopback
from tests.support.servers import TestServer, free_port

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
needs_browser = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on this machine: apt-get install -y chromium chromium-driver (.ci/run does)",
)

PASSWORD = "web-s3cret-pw-9f2"
TOKEN = "a-test-token-of-32-characters-xx"
PROMPT = "# Web test prompt\n\nYou are the prompt shown in a browser.\n\nTone: Friendly\n\n## Rules\n\n1. Be brief.\n"

# Captures the page's xterm Terminal when textual.js assigns it (``this.terminal = new
# Terminal(...)``) and turns on its screen-reader mode, which mirrors the rows as DOM text.
CAPTURE_TERMINAL = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  set(value) {
    Object.defineProperty(this, 'terminal', {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer && value.options) {
      value.options.screenReaderMode = true;
      window.__dpromptTerminal = value;
    }
  },
});
"""
READ_SCREEN = "() => { const e = document.querySelector('.xterm-accessibility-tree'); return e ? e.textContent : ''; }"


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")


def _environ(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
    return dict(pair.split("=", 1) for pair in pairs if "=" in pair)


class Web:
    """``dprompt web`` as a subprocess on a free port (stderr kept in a file)."""

    def __init__(self, args: list[str], env: dict[str, str], tmp: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/"
        self.log = tmp / f"web-{self.port}.log"
        self._log = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dynamic_prompt.cli", *args[:args.index("web") + 1], "--port", str(self.port),
             *args[args.index("web") + 1:]],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, **env}, start_new_session=True)
        deadline = time.monotonic() + 30
        while "Ctrl+C stops" not in self.output():
            assert self.proc.poll() is None, f"dprompt web exited: {self.output()}"
            assert time.monotonic() < deadline, f"dprompt web never said it listens: {self.output()}"
            time.sleep(0.05)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def dashboards(self) -> list[int]:
        return _children(self.proc.pid)

    def stop(self) -> None:
        """SIGTERM (as Ctrl+C): it ends its dashboards and exits; killed after 20 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """A plain GET that follows no redirect: status, headers, body."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode(errors="replace")


async def _ws_status(url: str, headers: dict[str, str] | None = None) -> int:
    """The HTTP status a websocket handshake gets (101: connected, then closed at once)."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url, headers=headers or {}):
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


@pytest.fixture
def valkey() -> Iterator[TestServer]:
    """A private valkey-server with a password (so a leak would show)."""
    server = TestServer([f"requirepass {PASSWORD}"]).start()
    yield server
    server.cleanup()


@pytest.fixture
def url(valkey: TestServer) -> str:
    return f"redis://:{PASSWORD}@127.0.0.1:{valkey.port}/0"


@pytest.fixture
def client(url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(url, decode_responses=True)
    yield c
    c.close()


@pytest.fixture
def webs(tmp_path: Path) -> Iterator[list[Web]]:
    started: list[Web] = []
    yield started
    for web in started:
        web.stop()


def _load(url: str, name: str, text: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "dynamic_prompt.cli", "load", "--text", "--name", name, text],
                          env={**os.environ, "REDIS_URL": url}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@needs_browser
def test_the_dashboard_in_a_browser_shows_watches_and_writes(
    url: str, client: redis.Redis, webs: list[Web], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    _load(url, "webtest", PROMPT)
    # The global --redis-url, as a person would give it: it must reach each dashboard
    # through its environment, never its command line.
    web = Web(["--redis-url", url, "web", "--name", "webtest"], {}, tmp_path)
    webs.append(web)
    assert f"on {web.base}" in web.output()
    printed = re.findall(r"\?token=([A-Za-z0-9_-]{20,})", web.output())
    assert len(printed) == 1  # a token by default, on loopback too, printed once
    assert get(web.base)[0] == 401

    def screen_shows(page: Any, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = page.evaluate(READ_SCREEN)
            if text in shown:
                return str(shown)
            time.sleep(0.2)
        raise AssertionError(f"the page never showed {text!r}; it showed:\n{shown[-3000:]}")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.add_init_script(CAPTURE_TERMINAL)
            page.goto(web.base + f"?token={printed[0]}", wait_until="domcontentloaded")
            screen_shows(page, "You are the prompt shown in a browser.")
            screen_shows(page, "webtest")

            # One dashboard process for this tab: the real `dprompt tui`, with the prompt's
            # name on its command line and the password nowhere on it.
            dashboards = web.dashboards()
            assert len(dashboards) == 1, dashboards
            argv = _cmdline(dashboards[0])
            assert argv[1:6] == ["-m", "dynamic_prompt.cli", "tui", "--name", "webtest"], argv
            assert not any(PASSWORD in arg or "redis://" in arg for arg in argv), argv
            assert _environ(dashboards[0])["REDIS_URL"] == url

            # A write from outside (a plain client on the key agents read) appears.
            client.set("prompt:{webtest}:active", PROMPT.replace("Tone: Friendly", "Tone: Written outside"))
            screen_shows(page, "Tone: Written outside")

            # An instruction typed into the page (the instruction input has focus; ctrl+g
            # goes there anyway) and Enter: a new version in Redis, and on the screen.
            page.focus(".xterm-helper-textarea")
            page.keyboard.press("Control+g")
            page.keyboard.type("add rule: Typed in the browser")
            page.keyboard.press("Enter")
            deadline = time.monotonic() + 20
            while "Typed in the browser" not in (client.get("prompt:{webtest}:active") or ""):
                assert time.monotonic() < deadline, client.get("prompt:{webtest}:active")
                time.sleep(0.1)
            active = client.get("prompt:{webtest}:active") or ""
            assert "Tone: Written outside" in active  # applied on top of the outside write
            screen_shows(page, "Typed in the browser")
            page.screenshot(path=str(tmp_path / "web.png"))
        finally:
            browser.close()
    # The tab closed: its dashboard quits.
    deadline = time.monotonic() + 20
    while web.dashboards():
        assert time.monotonic() < deadline, f"a dashboard outlived its tab: {web.dashboards()}"
        time.sleep(0.1)


def test_with_a_token_every_request_without_it_is_refused(url: str, webs: list[Web], tmp_path: Path) -> None:
    # From the environment, so the token is on no command line either.
    web = Web(["web"], {"REDIS_URL": url, "DPROMPT_WEB_TOKEN": TOKEN}, tmp_path)
    webs.append(web)
    assert TOKEN not in web.output()  # a token given is not printed back
    for path in ("", "ws", "static/js/textual.js", "static/css/xterm.css", "download/x"):
        status, _, body = get(web.base + path)
        assert status == 401, (path, status)
    assert "needs its token" in get(web.base)[2]
    assert get(web.base + "?token=wrong-token-of-some-length")[0] == 403
    assert get(web.base, {"Cookie": "dprompt_web=forged"})[0] == 403
    assert asyncio.run(_ws_status(web.base.replace("http", "ws") + "ws")) == 401
    assert asyncio.run(_ws_status(web.base.replace("http", "ws") + "ws", {"Cookie": "dprompt_web=x"})) == 403

    # The token in the address: a redirect that drops it, with an HttpOnly cookie.
    status, headers, _ = get(web.base + f"?token={TOKEN}&fontsize=14")
    assert status == 302 and headers["Location"] == "/?fontsize=14"
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    jar = {"Cookie": cookie.split(";", 1)[0]}
    status, _, body = get(web.base, jar)
    assert status == 200 and "data-session-websocket-url" in body
    assert get(web.base + "static/js/textual.js", jar)[0] == 200
    assert web.dashboards() == []  # nothing started a dashboard


def test_a_bare_token_flag_generates_one_printed_once(url: str, webs: list[Web], tmp_path: Path) -> None:
    web = Web(["web", "--token"], {"REDIS_URL": url}, tmp_path)
    webs.append(web)
    printed = re.findall(r"\?token=([A-Za-z0-9_-]{20,})", web.output())
    assert len(printed) == 1, web.output()
    assert get(web.base)[0] == 401
    assert get(web.base + f"?token={printed[0]}")[0] == 302


def test_off_loopback_a_token_is_required() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.8.0.1") and is_loopback("::1")
    assert is_loopback("localhost") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.1.2.3")
    assert not is_loopback("example.com")
    token, generated = decide_token("0.0.0.0", None, loopback=False)
    assert generated and token and len(token) >= 30
    assert decide_token("0.0.0.0", TOKEN, loopback=False) == (TOKEN, False)
    token, generated = decide_token("127.0.0.1", None, loopback=True)
    assert generated and token and len(token) >= 30  # loopback too: other users of this machine reach it
    assert decide_token("127.0.0.1", None, loopback=True, open_=True) == (None, False)
    with pytest.raises(SystemExit):  # --no-token off loopback: one line, and nothing starts
        decide_token("0.0.0.0", None, loopback=False, open_=True)
    assert decide_token("127.0.0.1", TOKEN, loopback=True) == (TOKEN, False)


def test_a_short_token_is_refused_in_one_line(url: str, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "dynamic_prompt.cli", "web", "--port", str(free_port())],
                          env={**os.environ, "REDIS_URL": url, "DPROMPT_WEB_TOKEN": "short"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "at least 16" in proc.stderr


def test_without_a_token_other_hosts_and_other_origins_are_refused(
    url: str, webs: list[Web], tmp_path: Path
) -> None:
    web = Web(["web", "--no-token"], {"REDIS_URL": url}, tmp_path)
    webs.append(web)
    assert get(web.base)[0] == 200
    assert get(web.base, {"Host": f"localhost:{web.port}"})[0] == 200
    # A page whose name was rebound to 127.0.0.1 (DNS rebinding) names its own host.
    assert get(web.base, {"Host": f"evil.example:{web.port}"})[0] == 403
    ws = web.base.replace("http", "ws") + "ws"
    assert asyncio.run(_ws_status(ws, {"Origin": "http://evil.example"})) == 403
    assert web.dashboards() == []


def test_one_session_more_than_the_bound_gets_a_page_and_no_process(
    url: str, webs: list[Web], tmp_path: Path
) -> None:
    import aiohttp

    _load(url, "default", PROMPT)
    web = Web(["web", "--no-token", "--max-sessions", "1"], {"REDIS_URL": url}, tmp_path)
    webs.append(web)
    ws = web.base.replace("http", "ws") + "ws?width=100&height=30"

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(ws, headers={"Origin": web.base.rstrip("/")}) as first:
                # The dashboard draws: bytes arrive.
                got = b""
                deadline = time.monotonic() + 30
                while b"Web test prompt" not in got:
                    assert time.monotonic() < deadline, got[-500:]
                    message = await first.receive(timeout=30)
                    if message.type == aiohttp.WSMsgType.BINARY:
                        got += message.data
                assert len(web.dashboards()) == 1
                status, _, body = get(web.base)
                assert status == 503 and "All dashboard sessions are in use" in body and "--max-sessions" in body
                assert await _ws_status(ws) == 503
                assert len(web.dashboards()) == 1  # the refused one started nothing
            # A reload: the old tab's dashboard is still quitting when the new one asks;
            # it waits for the slot instead of being refused, and never runs beside it.
            old = web.dashboards()
            async with session.ws_connect(ws) as second:
                await second.receive(timeout=30)
                now = web.dashboards()
                assert len(now) == 1 and now != old, (old, now)
        deadline = time.monotonic() + 20
        while web.dashboards():
            assert time.monotonic() < deadline, "the dashboard outlived its connection"
            await asyncio.sleep(0.1)
        assert get(web.base)[0] == 200  # the slot is free again

    asyncio.run(scenario())


def test_quitting_the_dashboard_ends_the_page_session(url: str, webs: list[Web], tmp_path: Path) -> None:
    import aiohttp

    web = Web(["web", "--no-token"], {"REDIS_URL": url}, tmp_path)
    webs.append(web)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(web.base.replace("http", "ws") + "ws") as conn:
                assert (await conn.receive(timeout=30)).type == aiohttp.WSMsgType.BINARY  # it draws
                await conn.send_json(["stdin", "\x11"])  # ctrl+q, as the browser sends it
                while (await conn.receive(timeout=20)).type not in (aiohttp.WSMsgType.CLOSE,
                                                                    aiohttp.WSMsgType.CLOSED):
                    pass
        deadline = time.monotonic() + 20
        while web.dashboards():
            assert time.monotonic() < deadline, "the dashboard did not quit"
            await asyncio.sleep(0.1)

    asyncio.run(scenario())


def test_stopping_ends_the_open_dashboards(url: str, tmp_path: Path) -> None:
    import aiohttp

    web = Web(["web", "--no-token"], {"REDIS_URL": url}, tmp_path)
    ws = web.base.replace("http", "ws") + "ws"

    async def scenario() -> list[int]:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(ws) as conn:
                await conn.receive(timeout=30)  # the dashboard started
                dashboards = web.dashboards()
                assert len(dashboards) == 1
                web.proc.send_signal(signal.SIGTERM)
                while (await conn.receive(timeout=30)).type not in (aiohttp.WSMsgType.CLOSE,
                                                                    aiohttp.WSMsgType.CLOSED):
                    pass
                return dashboards

    try:
        dashboards = asyncio.run(scenario())
        assert web.proc.wait(timeout=20) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in dashboards)
    finally:
        web.stop()


def test_without_textual_serve_it_says_how_to_install() -> None:
    hide = ("import importlib.util, sys\n"
            "found = importlib.util.find_spec\n"
            "importlib.util.find_spec = lambda name, *a: None if name == 'textual_serve' else found(name, *a)\n"
            "sys.argv = ['dprompt', 'web']\n"
            "from dynamic_prompt.cli import main\n"
            "main()\n")
    proc = subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("error: dprompt web needs textual-serve: pip install 'dynamic-prompt[web]' "
                                   "(or: pip install textual-serve).")
