"""The hostile input corpus: every case gets one clear line or is stored exactly and shown inert.

Generated here (nothing big is checked in). For every case the CLI and the
store either refuse with one line (and a DUMP snapshot of every key proves
nothing changed), or store the text byte for byte and show it inert wherever
it is displayed: ``inert()`` (what ``get`` prints on a terminal), ``history``,
``list``, ``info`` and ``diff`` on a terminal. ``get`` into a pipe is raw on
purpose (scripts get the exact text).
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from dynamic_prompt.core.config import Settings
from dynamic_prompt.core.errors import DynamicPromptError, InvalidNameError, SourceError
from dynamic_prompt.core.inert import has_unsafe, inert
from dynamic_prompt.server import ServerTarget
from dynamic_prompt.store import PromptStore
from dynamic_prompt.store.sources import read_source
from tests.reliability.clirun import error_line, ok, run_cli
from tests.reliability.conftest import dump_all
from tests.support.checks import BAD_NAMES, WRONG_TYPES, bad_name_reason, one_line, plant, wrong_type_line

BASE = "# Agent\n\nTone: Calm\n\n## Rules\n1. Be kind.\n"
# What must never reach a terminal raw: ESC, BEL, C1 CSI/OSC, bidi overrides/isolates, bare CR.
DANGEROUS = ["\x1b", "\x07", "\x9b", "\x9d", "\u202e", "\u202d", "\u2066", "\u2067", "\u2068", "\x08"]

# -- A. texts a person might load; all are stored exactly and shown inert ----------------
STORED = {
    "ansi-colour": "Tone: \x1b[31mred\x1b[0m\n",
    "csi-clear-screen": "Before\x1b[2J\x1b[Hafter\n",
    "osc52-clipboard-bel": "Copy this \x1b]52;c;cm0gLXJmIH4vCg==\x07 now\n",
    "osc52-clipboard-st": "Copy \x1b]52;p;aGk=\x1b\\ too\n",
    "osc8-hyperlink": "\x1b]8;;http://evil.example\x1b\\click me\x1b]8;;\x1b\\\n",
    "osc-window-title": "\x1b]0;you have been pwned\x07Rules follow\n",
    "c1-csi": "C1 \x9b31m red and \x9d0;title\x9c\n",
    "backspace-bell": "abc\x08\x08\x08xyz\x07\n",
    "bare-carriage-return": "looks safe\rEVIL OVERWRITE\n",
    "del-char": "del \x7f here\n",
    "rich-markup": "[bold red]not bold[/] [link=http://x]no link[/link] [blink]x[/blink]\n",
    "rich-escaped-markup": "\\[not a tag] [/] [@click=app.quit]quit[/]\n",
    "bidi-override": "Rule: \u202egnp.exe\u202c is fine\n",
    "bidi-isolates": "A \u2066isolated\u2069 and \u2067rtl\u2069 and \u2068first\u2069\n",
    "zero-width": "a\u200bb\u200cc\u200dd\u2060e\ufeff\n",
    "line-paragraph-separators": "one\u2028two\u2029three\n",
    "emoji-combining": "e\u0301 \U0001F469\u200D\U0001F469\u200D\U0001F467 \U0001F600\n",
    "rtl-script": "\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd\n",
    "crlf-lines": "# Agent\r\n\r\nTone: Calm\r\n",
    "regex-metacharacters": "Match (.*)+$ \\1 $& [a-z]{2,} ^(?=x) \\\n",
    "format-strings": "%s %d %(x)s {0} {name!r} ${HOME} `rm -rf /`\n",
    "lua-and-json-lookalikes": '{"timestamp": 1, "action": "load"} ]]-- ]==] \\0\n',
    "one-megabyte-line": "x" * (1024 * 1024) + "\n",
    "many-short-lines": "line\n" * 50_000,
    "no-trailing-newline": "Tone: Calm",
}

# -- B. input that must be refused with one line, changing nothing -----------------------


def _files(tmp: Path) -> dict[str, tuple[list[str], bytes, dict[str, str]]]:
    """case -> (argv after 'load', stdin, env)."""
    png = tmp / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    latin = tmp / "latin1.md"
    latin.write_bytes("caf\xe9 cr\xe8me\n".encode("latin-1"))
    utf16 = tmp / "utf16.md"
    utf16.write_bytes("Tone: Calm\n".encode("utf-16"))
    big = tmp / "fifty-megabytes.md"
    with open(big, "wb") as fh:  # sparse: 50 MB from its size alone, no disk spent
        fh.truncate(50 * 1024 * 1024)
    mid = tmp / "three-kb.md"
    mid.write_text("y" * 3000)
    empty = tmp / "empty.md"
    empty.write_bytes(b"")
    blank = tmp / "blank.md"
    blank.write_bytes(b" \n\t\r\n ")
    bom_only = tmp / "bom-only.md"
    bom_only.write_bytes(b"\xef\xbb\xbf")
    nul = tmp / "nul.md"
    nul.write_bytes(b"text\x00more\n")
    truncated = tmp / "truncated-utf8.md"
    truncated.write_bytes("caf\u00e9".encode()[:-1])
    small = {"DPROMPT_MAX_BYTES": "2048"}
    return {
        "binary-png-file": ([str(png)], b"", {}),
        "latin1-file": ([str(latin)], b"", {}),
        "utf16-file": ([str(utf16)], b"", {}),
        "fifty-megabyte-file": ([str(big)], b"", {}),
        "over-DPROMPT_MAX_BYTES-file": ([str(mid)], b"", small),
        "over-DPROMPT_MAX_BYTES-stdin": (["-"], b"z" * 3000, small),
        "over-default-limit-stdin": (["-"], b"w" * (4 * 1024 * 1024 + 10), {}),
        "empty-file": ([str(empty)], b"", {}),
        "whitespace-file": ([str(blank)], b"", {}),
        "bom-only-file": ([str(bom_only)], b"", {}),
        "nul-file": ([str(nul)], b"", {}),
        "truncated-utf8-file": ([str(truncated)], b"", {}),
        "empty-stdin": (["-"], b"", {}),
        "whitespace-stdin": (["-"], b"   \n\n\t", {}),
        "nul-stdin": (["-"], b"a\x00b", {}),
        "invalid-utf8-stdin": (["-"], b"caf\xe9\n", {}),
        "binary-stdin": (["-"], bytes(range(256)) * 4, {}),
        "empty-text-option": (["--text", ""], b"", {}),
        "directory": ([str(tmp)], b"", {}),
        "missing-file": ([str(tmp / "nope.md")], b"", {}),
        "file-url": (["file:///etc/passwd"], b"", {}),
        "ftp-url": (["ftp://example.com/p.md"], b"", {}),
        "bad-DPROMPT_MAX_BYTES": ([str(mid)], b"", {"DPROMPT_MAX_BYTES": "lots"}),
    }


REFUSED_IDS = [  # the keys of _files(), known before any file is made
    "binary-png-file", "latin1-file", "utf16-file", "fifty-megabyte-file",
    "over-DPROMPT_MAX_BYTES-file", "over-DPROMPT_MAX_BYTES-stdin", "over-default-limit-stdin",
    "empty-file", "whitespace-file", "bom-only-file", "nul-file", "truncated-utf8-file",
    "empty-stdin", "whitespace-stdin", "nul-stdin", "invalid-utf8-stdin", "binary-stdin",
    "empty-text-option", "directory", "missing-file", "file-url", "ftp-url", "bad-DPROMPT_MAX_BYTES",
]



def _state(raw: redis.Redis) -> dict[bytes, bytes]:
    return dump_all(raw)


@pytest.fixture
def loaded(server_url: str, raw_redis: redis.Redis) -> redis.Redis:
    """The session server with one named prompt and the gem's default prompt, modified once."""
    ok(run_cli("load", "--text", BASE, "-n", "t", url=server_url))
    ok(run_cli("load", "--text", BASE, url=server_url))
    ok(run_cli("modify", "add rule: Be brief.", url=server_url))
    return raw_redis


def _shown_inert(output: str) -> None:
    for ch in DANGEROUS:
        assert ch not in output, f"raw {ch!r} reached the terminal"
    assert "\r" not in output.replace("\r\n", "")


@pytest.mark.parametrize("case", list(STORED))
def test_text_is_stored_exactly_and_shown_inert(case: str, server_url: str, raw_redis: redis.Redis,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    text = STORED[case]
    ok(run_cli("load", "-", "-n", "h", url=server_url, stdin=text.encode()))
    assert raw_redis.get("prompt:{h}:active") == text.encode()  # byte for byte
    piped = ok(run_cli("get", "-n", "h", url=server_url))
    assert piped.out == text.encode() + (b"" if text.endswith("\n") else b"\n")
    assert json.loads(ok(run_cli("get", "--json", "-n", "h", url=server_url)).stdout)["text"] == text
    shown = inert(text)  # what `get` prints on a terminal
    _shown_inert(shown)
    assert not has_unsafe(shown)
    # A modify on top of it works and keeps the hostile text intact.
    ok(run_cli("modify", "-n", "h", "add rule: Stay [bold]calm[/] (.*)", url=server_url))
    assert text.rstrip("\n") in raw_redis.get("prompt:{h}:active").decode()
    for args in (["history", "-n", "h"], ["list"], ["info", "-n", "h"]):
        _shown_inert(ok(run_cli(*args, url=server_url)).stdout)
    # On a terminal, get/diff go through inert(): force the TTY path in-process.
    monkeypatch.setattr("dynamic_prompt.cli.commands._tty", lambda: True)
    for args in (["get", "-n", "h"], ["diff", "-n", "h"], ["diff", "--summary", "-n", "h"]):
        _shown_inert(ok(run_cli(*args, url=server_url)).stdout)


@pytest.mark.timeout(60)  # a hang guard only: each refusal takes a fraction of a second
@pytest.mark.parametrize("case", REFUSED_IDS)
def test_refused_input_is_one_line_and_changes_nothing(case: str, server_url: str, loaded: redis.Redis,
                                                       tmp_path: Path) -> None:
    argv, stdin, env = _files(tmp_path)[case]
    before = _state(loaded)
    for name in ("t", "fresh"):
        extra = ["--force"] if name == "t" else []
        line = error_line(run_cli("load", *argv, "-n", name, *extra, url=server_url, stdin=stdin, env=env))
        assert len(line) < 400
    assert _state(loaded) == before


@pytest.mark.parametrize("case", list(BAD_NAMES))
def test_bad_names_are_refused_by_cli_and_store(case: str, server_url: str, loaded: redis.Redis,
                                                target: ServerTarget) -> None:
    name = BAD_NAMES[case]
    before = _state(loaded)
    for args in (["load", "--text", "x", "-n", name], ["get", "-n", name],
                 ["modify", "-n", name, "change tone to dry"], ["clear", "--yes", "-n", name]):
        line = error_line(run_cli(*args, url=server_url))
        _shown_inert(line)
        assert "\x00" not in line and len(line) < 300
        assert bad_name_reason(name) in line, (args, line)
    import asyncio

    async def via_store() -> None:
        store = PromptStore.connect(target, Settings(user="t"))
        try:
            for call in (lambda: store.load(name, "x", kind="text"), lambda: store.state(name),
                         lambda: store.modify(name, "change tone to dry"), lambda: store.clear(name)):
                with pytest.raises(InvalidNameError) as info:
                    await call()
                assert bad_name_reason(name) in one_line(info.value)
        finally:
            await store.aclose()

    asyncio.run(via_store())
    assert _state(loaded) == before


# -- D. URLs that time out, redirect forever or answer with HTML errors ------------------


class _Site(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path
        if path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
        elif path.startswith("/hop"):
            n = int(path[4:] or 0)
            self.send_response(301)
            self.send_header("Location", f"/hop{n + 1}")
            self.end_headers()
        elif path in ("/500", "/404", "/403"):
            body = b"<html><body><h1>Internal error</h1>\x1b[31m</body></html>"
            self.send_response(int(path[1:]))
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif path == "/slow":
            time.sleep(3)
            self.send_response(200)
            self.end_headers()
        elif path == "/binary":
            body = b"\x89PNG\x00\x00" * 100
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(50 * 1024 * 1024))
            self.end_headers()
        elif path == "/to-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
        elif path == "/ok":
            body = "Tone: \x1b]52;c;aGk=\x07 fetched\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(418)
            self.end_headers()


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


URLS = {
    "redirect-loop": ("/loop", "redirected too many times"),
    "redirect-chain": ("/hop0", "redirected too many times"),
    "html-500": ("/500", "HTTP 500"),
    "html-404": ("/404", "HTTP 404"),
    "html-403": ("/403", "HTTP 403"),
    "binary-body": ("/binary", "not UTF-8"),
    "huge-content-length": ("/huge", "limit"),
    "redirect-to-file": ("/to-file", "only http(s) redirects"),
    "teapot": ("/teapot", "HTTP 418"),
}


@pytest.mark.parametrize("case", list(URLS))
def test_hostile_urls_are_one_line_and_change_nothing(case: str, site: str, server_url: str,
                                                      loaded: redis.Redis) -> None:
    path, needle = URLS[case]
    before = _state(loaded)
    line = error_line(run_cli("load", f"{site}{path}", "-n", "t", "--force", url=server_url))
    assert needle.lower() in line.lower(), line
    _shown_inert(line)
    assert _state(loaded) == before


def test_url_that_times_out(site: str, server_url: str, loaded: redis.Redis) -> None:
    t = time.monotonic()
    with pytest.raises(SourceError) as info:
        read_source(f"{site}/slow", timeout=0.5)
    assert time.monotonic() - t < 2.5 and "timed out" in str(info.value)
    line = error_line(run_cli("load", "http://127.0.0.1:1/p.md", "-n", "t", "--force", url=server_url))
    assert "connection refused" in line


@pytest.mark.slow
def test_url_that_never_answers_through_the_cli(server_url: str, loaded: redis.Redis) -> None:
    """The CLI's own time budget (10 s) against a server that accepts and never answers."""
    import socket

    before = _state(loaded)
    with socket.socket() as black_hole:  # listens, never accepts or answers
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(8)
        port = black_hole.getsockname()[1]
        t = time.monotonic()
        line = error_line(run_cli("load", f"http://127.0.0.1:{port}/p.md", "-n", "t", "--force",
                                  url=server_url))
        assert time.monotonic() - t < 15
    assert "timed out after 10 s" in line, line  # no byte of an answer ever came
    assert _state(loaded) == before


def test_fetched_hostile_text_is_stored_exactly(site: str, server_url: str, raw_redis: redis.Redis) -> None:
    ok(run_cli("load", f"{site}/ok", "-n", "u", url=server_url))
    assert raw_redis.get("prompt:{u}:active") == "Tone: \x1b]52;c;aGk=\x07 fetched\n".encode()
    _shown_inert(ok(run_cli("history", "-n", "u", url=server_url)).stdout)


# -- E. malformed changelog entries written by other programs ----------------------------

MALFORMED = {
    "not-json": b"garbage{",
    "json-array": b"[1, 2, 3]",
    "json-string": b'"just a string"',
    "json-null": b"null",
    "wrong-types": b'{"timestamp": "yesterday", "action": 5, "version": "abc", "user_id": [1], "metadata": 7}',
    "escape-in-fields": b'{"timestamp": 1, "action": "\\u001b[2Jload", "instruction": "\\u001b]52;c;aGk=\\u0007",'
                        b' "user_id": "\\u202eevil"}',
    "markup-in-fields": b'{"timestamp": 1, "action": "[red]x[/]", "user_id": "[bold]me[/]"}',
    "raw-escape-bytes": b"\x1b[31mnot json\x1b[0m\x07",
    "invalid-utf8": b"\xff\xfe\xfd",
    "empty": b"",
    "huge-entry": b'{"timestamp": 1, "action": "modify", "instruction": "' + b"i" * 1_000_000 + b'"}',
    "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
    "negative-and-float-version": b'{"timestamp": -5, "action": "modify", "version": -3.5}',
    "nan-timestamp": b'{"timestamp": NaN, "action": "load"}',
    "huge-timestamp": b'{"timestamp": 1e308, "action": "load", "version": 99999999999999999999}',
    # int() refuses more than 4,300 digits (Python 3.11+): a version that long broke history.
    "version-of-4301-digits": b'{"timestamp": 1, "action": "modify", "version": "' + b"7" * 4301 + b'"}',
    "counts-of-4301-digits": b'{"timestamp": 1, "action": "modify", "added": "' + b"7" * 4301
                             + b'", "removed": ' + b"7" * 4000 + b"}",
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_changelog_entries_are_shown_inert_and_kept(case: str, server_url: str,
                                                              loaded: redis.Redis) -> None:
    key = "prompt:{t}:changelog"
    loaded.lpush(key, MALFORMED[case])
    for args in (["history", "-n", "t"], ["history", "--json", "-n", "t"], ["list"], ["info", "-n", "t"]):
        run = ok(run_cli(*args, url=server_url))
        _shown_inert(run.stdout)
        assert "Traceback" not in run.all
    json.loads(ok(run_cli("history", "--json", "-n", "t", url=server_url)).stdout)
    ok(run_cli("modify", "-n", "t", "change tone to dry", url=server_url))
    entries = loaded.lrange(key, 0, -1)
    assert MALFORMED[case] in entries  # never dropped
    assert json.loads(entries[0])["action"] == "modify"


def test_a_50_mb_changelog_entry_is_read_bounded(server_url: str, loaded: redis.Redis,
                                                 target: ServerTarget) -> None:
    """Another program's 50 MB entry costs a reader 64 KiB, is shown as cut, and is kept."""
    import asyncio

    from dynamic_prompt.core.config import Settings
    from dynamic_prompt.store import PromptStore

    huge = b'{"timestamp": 1, "action": "modify", "instruction": "' + b"x" * 50_000_000 + b'"}'
    loaded.lpush("prompt:{t}:changelog", huge)

    async def read() -> list[Any]:
        store = PromptStore.connect(target, Settings(user="t"))
        try:
            return await store.history("t", 5)
        finally:
            await store.aclose()

    entries = asyncio.run(read())
    assert entries[0].action == "unreadable"
    assert entries[0].raw is not None and len(entries[0].raw) <= 200
    assert "50,000," in entries[0].instruction and "cut" in entries[0].instruction
    assert entries[1].action == "load"  # the entries after it are read as usual
    line = [ln for ln in ok(run_cli("history", "-n", "t", url=server_url)).stdout.splitlines()
            if "UNREADABLE" in ln]
    assert len(line) == 1 and len(line[0]) < 400
    assert loaded.lindex("prompt:{t}:changelog", 0) == huge  # kept, never dropped


BAD_AUTHORS = {
    "not-utf8": "al\udcffice",  # what a shell hands over for the byte 0xff
    "escape": "eve\x1b[2J",
    "bidi": "\u202eecila",
    "blank": "   ",
    "too-long": "x" * 101,
}


@pytest.mark.parametrize("case", list(BAD_AUTHORS))
def test_bad_authors_are_one_line_and_change_nothing(case: str, server_url: str, loaded: redis.Redis) -> None:
    before = _state(loaded)
    for args in (["modify", "--user", BAD_AUTHORS[case], "change tone to dry"],
                 ["load", "--user", BAD_AUTHORS[case], "--force", "--text", "new"],
                 ["revert", "--user", BAD_AUTHORS[case]]):
        line = error_line(run_cli(*args, url=server_url))
        assert "author" in line.lower(), line
        assert "unexpected" not in line
    assert _state(loaded) == before
    line = error_line(run_cli("modify", "change tone to dry", url=server_url,
                              env={"DPROMPT_USER": BAD_AUTHORS[case]}))
    assert "author" in line.lower() and _state(loaded) == before


BAD_URL_OPTIONS = ["decode_responses=true", "ssl_cert_reqs=none", "protocol=3", "no_such_option=1",
                   "socket_timeout=0.000001"]


@pytest.mark.parametrize("option", BAD_URL_OPTIONS)
def test_client_options_in_the_url_are_one_line(option: str, server_url: str, loaded: redis.Redis) -> None:
    before = _state(loaded)
    sep = "&" if "?" in server_url else "?"
    for args in (["get"], ["modify", "change tone to dry"], ["server", "status"]):
        line = error_line(run_cli(*args, url=f"{server_url}{sep}{option}"))
        assert option.split("=")[0] in line and "not supported" in line, line
    assert _state(loaded) == before


# -- F. keys of the wrong type (another program wrote a list where a string belongs, ...) --

COMMANDS = {
    "get": ["get", "-n", "{name}"], "history": ["history", "-n", "{name}"], "list": ["list"],
    "info": ["info", "-n", "{name}"], "modify": ["modify", "-n", "{name}", "change tone to dry"],
    "revert": ["revert", "-n", "{name}"], "load": ["load", "--text", "new text", "-n", "{name}", "--force"],
    "diff": ["diff", "-n", "{name}"],
}
OK = ""  # succeeds, and says nothing on stderr


def _refused_but_history_and_list(key: str, found: str, wanted: str) -> dict[str, str]:
    """A key of the prompt's own: every command that reads the prompt names it; history reads
    only the changelog and list only the names, so both still work."""
    line = "error: " + wrong_type_line(key, found, wanted)
    return {**{command: line for command in COMMANDS}, "history": OK, "list": OK}


_INDEX_WARNING = ("warning: The prompt index dprompt:index could not be updated ("
                  + wrong_type_line("dprompt:index", "string")
                  + "); the prompt is still found by its keys.")

# What each command says (its whole stderr), for each broken key.
WRONG_TYPE_OUTCOMES: dict[str, dict[str, str]] = {
    "active-is-list": _refused_but_history_and_list("prompt:{t}:active", "list", "string"),
    "gem-active-is-hash": _refused_but_history_and_list("prompt:active", "hash", "string"),
    "meta-is-string": _refused_but_history_and_list("prompt:{t}:meta", "string", "hash"),
    "versions-is-list": _refused_but_history_and_list("prompt:{t}:versions", "list", "hash"),
    "changelog-is-string": {
        **_refused_but_history_and_list("prompt:{t}:changelog", "string", "list"),
        # history reads the changelog alone, as a list it does not know the role of.
        "history": "error: " + wrong_type_line("prompt:{t}:changelog", "string"),
    },
    "backup-is-set": _refused_but_history_and_list("prompt:{t}:backup", "set", "string"),
    # The index is an aid, not the truth: only list needs it; writes warn and go ahead.
    "index-is-string": {
        "get": OK, "history": OK, "info": OK, "diff": OK,
        "list": "error: " + wrong_type_line("dprompt:index", "string"),
        "modify": _INDEX_WARNING, "revert": _INDEX_WARNING, "load": _INDEX_WARNING,
    },
}


def test_every_wrong_type_case_has_an_outcome_for_every_command() -> None:
    assert set(WRONG_TYPE_OUTCOMES) == set(WRONG_TYPES)
    assert all(set(outcomes) == set(COMMANDS) for outcomes in WRONG_TYPE_OUTCOMES.values())


@pytest.mark.parametrize("case", list(WRONG_TYPES))
def test_wrong_type_keys_never_crash_and_change_nothing(case: str, server_url: str,
                                                        loaded: redis.Redis) -> None:
    key, kind = WRONG_TYPES[case]
    plant(loaded, key, kind)
    planted = loaded.dump(key)
    before = _state(loaded)
    name = "default" if key.startswith("prompt:active") else "t"
    said = {}
    for command, args in COMMANDS.items():
        run = run_cli(*[a.format(name=name) for a in args], url=server_url)
        expected = WRONG_TYPE_OUTCOMES[case][command]
        if expected.startswith("error: "):
            assert error_line(run) == expected, (command, run.stderr)
        else:
            assert run.code == 0, (command, run.stderr)
        said[command] = run.stderr.strip()
    assert said == WRONG_TYPE_OUTCOMES[case]
    assert loaded.dump(key) == planted  # the broken key is never "repaired" behind anyone's back
    if case == "index-is-string":
        # modify, revert and load each wrote a version (v2, v3, v4), beside the broken index.
        assert loaded.hget("prompt:{t}:meta", "version") == b"4"
        assert b"Tone: Dry" in loaded.hget("prompt:{t}:versions", "2")
    else:
        assert _state(loaded) == before


def test_store_api_refuses_unstorable_text(server_url: str, loaded: redis.Redis, target: ServerTarget) -> None:
    import asyncio

    before = _state(loaded)

    async def go() -> None:
        store = PromptStore.connect(target, Settings(user="t", max_bytes=1000))
        try:
            for text in ("", "  \n", "a\x00b", "lone \ud800 surrogate", "x" * 1001, "\u00e9" * 501):
                for call in (lambda: store.load("t", text, kind="text", force=True),
                             lambda: store.set_active("t", text, expected_version=None)):
                    with pytest.raises(DynamicPromptError) as info:
                        await call()
                    assert "\n" not in str(info.value)
        finally:
            await store.aclose()

    asyncio.run(go())
    assert _state(loaded) == before


# -- the agents' client on the same corpus: exact text, one-line refusals, never a crash -------


def test_agents_client_on_hostile_names_texts_and_keys(server_url: str, loaded: redis.Redis) -> None:
    from dynamic_prompt import PromptClient
    from tests.support.waiting import eventually

    # Texts other programs wrote: invalid UTF-8 comes back with U+FFFD, control characters
    # unchanged (an agent gets the prompt as stored; showing it inert is a display's job).
    loaded.set("prompt:{bin}:active", b"\xff\xfe\x00raw \x1b[31mred\x1b[0m \xe2\x80\xae")
    before = _state(loaded)
    with PromptClient(server_url, announce=False) as client:
        assert client.get_active("bin") == "\ufffd\ufffd\x00raw \x1b[31mred\x1b[0m \u202e"
        for case, text in STORED.items():
            loaded.set("prompt:{stored}:active", text.encode("utf-8", "surrogatepass"))
            want = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
            # The invalidation is pushed, so the new text is served a moment after the write.
            eventually(lambda: client.get_active("stored") == want, timeout=5)
        for case, name in [*BAD_NAMES.items(), ("int", 5), ("none", None)]:
            with pytest.raises(InvalidNameError) as info:
                client.get_active(name)  # type: ignore[arg-type]
            assert "\n" not in str(info.value) and "\x1b" not in str(info.value), case
        for key, kind in WRONG_TYPES.values():
            if not key.endswith((":active", ":meta")) or key.startswith("dprompt:"):
                continue  # a read touches the text and its meta only
            name = "default" if key.startswith("prompt:active") or key == "prompt:meta" else "t"
            saved = loaded.dump(key)
            plant(loaded, key, kind)
            # A fresh client (nothing in memory) must refuse in one line; one that had the text
            # before may keep serving it while the active text itself is intact (a broken meta).
            try:
                with PromptClient(server_url, announce=False) as fresh:
                    with pytest.raises(DynamicPromptError) as info:
                        fresh.get_active(name)
                # The client does not say which key (see wrong_type_line): the CLI does.
                assert one_line(info.value) == wrong_type_line(None)
            finally:
                loaded.delete(key)
                if saved is not None:
                    loaded.restore(key, 0, saved)
        # The client still works after all of that, and wrote nothing.
        assert client.get_active("t") == loaded.get("prompt:{t}:active").decode()
    loaded.delete("prompt:{stored}:active")
    assert _state(loaded) == before


def test_corpus_size() -> None:
    """The corpus the report counts (kept honest by a test)."""
    total = (len(STORED) + len(REFUSED_IDS) + len(BAD_NAMES) + len(URLS) + 1 + len(MALFORMED)
             + len(WRONG_TYPES) + 6 + 3)  # + 3: the agents' client's own (binary, int, None)
    assert total >= 50
    print(f"\nhostile corpus: {total} cases")
