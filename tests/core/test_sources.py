"""Tests for dynamic_prompt.store.sources: files, URLs (a real local HTTP server), literal text."""

from __future__ import annotations

import base64
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dynamic_prompt.core.errors import DynamicPromptError, InvalidTextError, SourceError
from dynamic_prompt.store import source_file, sources
from dynamic_prompt.store.sources import (
    DEFAULT_MAX_BYTES,
    LoadedSource,
    decode_bytes,
    read_source,
    validate_text,
)
from tests.support.checks import no_secret, one_line

PROMPT = "You are a helpful assistant.\nTone: Friendly\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


def one_line_error(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """The error's message, asserting it is a single non-empty line."""
    assert isinstance(excinfo.value, DynamicPromptError)
    return one_line(excinfo.value)


# --------------------------------------------------------------------------
# A real HTTP server on 127.0.0.1
# --------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        path = self.path
        if path == "/good":
            self._send(200, PROMPT.encode())
        elif path == "/bom":
            self._send(200, b"\xef\xbb\xbf" + PROMPT.encode())
        elif path == "/404":
            self._send(404, b"<html><body><h1>Not Found</h1></body></html>", "text/html")
        elif path == "/500":
            self._send(500, b"oops")
        elif path == "/loop":
            self._redirect("/loop")
        elif path.startswith("/hops/"):
            left = int(path.rsplit("/", 1)[1])
            self._redirect(f"/hops/{left - 1}" if left else "/good")
        elif path == "/to-file":
            self._redirect("file:///etc/passwd")
        elif path == "/slow":
            time.sleep(2.0)
            self._send(200, PROMPT.encode())
        elif path == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            try:
                for _ in range(30):  # one byte every 0.2 s, each well inside the timeout
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
        elif path == "/big":
            self._send(200, b"a" * 5000)
        elif path == "/endless":
            # No Content-Length: the body ends when the connection closes,
            # which it never would; only a bounded reader gets out.
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"b" * 65536)
            except OSError:
                pass
        elif path == "/binary":
            self._send(200, PNG, "image/png")
        elif path == "/latin1":
            self._send(
                200,
                "Café crème, s'il vous plaît.\n".encode("latin-1"),
                "text/plain; charset=ISO-8859-1",
            )
        elif path == "/latin1-undeclared":
            self._send(200, "Café crème\n".encode("latin-1"), "text/plain")
        elif path == "/ascii-lie":
            self._send(200, "naïve\n".encode(), "text/plain; charset=us-ascii")
        elif path == "/unknown-charset":
            self._send(200, b"hello", "text/plain; charset=x-no-such-charset")
        elif path == "/empty":
            self._send(200, b"")
        elif path == "/auth":
            expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
            if self.headers.get("Authorization") == expected:
                self._send(200, PROMPT.encode())
            else:
                self._send(401, b"who are you?")
        elif path == "/auth-redirect":
            self._redirect("/echo-auth")
        elif path == "/echo-auth":
            self._send(200, f"authorization: {self.headers.get('Authorization', 'none')}".encode())
        else:
            self._send(404, b"no such endpoint")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # don't wait for /slow or /drip at teardown

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that give up early (timeouts, size limits) are the point


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------


def test_url_good(base_url: str) -> None:
    loaded = read_source(f"{base_url}/good")
    assert loaded == LoadedSource(PROMPT, f"{base_url}/good")


def test_url_bom_is_dropped(base_url: str) -> None:
    assert read_source(f"{base_url}/bom").text == PROMPT


def test_url_404(base_url: str) -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source(f"{base_url}/404")
    assert one_line_error(excinfo) == f"{base_url}/404 answered HTTP 404 Not Found."


def test_url_500(base_url: str) -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source(f"{base_url}/500", kind="url")
    assert one_line_error(excinfo) == f"{base_url}/500 answered HTTP 500 Internal Server Error."


def test_url_redirect_loop(base_url: str) -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source(f"{base_url}/loop")
    assert one_line_error(excinfo) == (
        f"{base_url}/loop redirected too many times (a loop, or more than 10 hops)."
    )


def test_url_redirects_are_followed_up_to_the_limit(base_url: str) -> None:
    assert read_source(f"{base_url}/hops/5").text == PROMPT
    with pytest.raises(SourceError) as excinfo:
        read_source(f"{base_url}/hops/15")
    assert "redirected too many times" in one_line_error(excinfo)


def test_url_redirect_to_file_is_refused(base_url: str) -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source(f"{base_url}/to-file")
    assert one_line_error(excinfo) == (
        f"{base_url}/to-file redirected to file:///etc/passwd; only http(s) redirects are followed."
    )


def test_url_slow_server_times_out(base_url: str) -> None:
    start = time.monotonic()
    with pytest.raises(SourceError) as excinfo:
        read_source(f"{base_url}/slow", timeout=0.5)
    assert time.monotonic() - start < 1.8
    assert one_line_error(excinfo) == "Could not reach 127.0.0.1:{}: timed out after 0.5 s.".format(
        base_url.rsplit(":", 1)[1]
    )


def test_url_dripping_server_hits_the_overall_budget(base_url: str) -> None:
    start = time.monotonic()
    with pytest.raises(SourceError) as excinfo:
        read_source(f"{base_url}/drip", timeout=0.5)
    assert time.monotonic() - start < 2.0
    assert (
        one_line_error(excinfo)
        == f"Could not read {base_url}/drip: no complete answer within 0.5 s."
    )


def test_url_oversized_by_content_length(base_url: str) -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source(f"{base_url}/big", max_bytes=1000)
    assert one_line_error(excinfo) == (
        f"{base_url}/big is 4.9 KiB (5,000 bytes), over the 1,000 bytes limit."
    )


def test_url_endless_body_is_read_bounded(base_url: str) -> None:
    start = time.monotonic()
    with pytest.raises(SourceError) as excinfo:
        read_source(f"{base_url}/endless", max_bytes=100_000)
    assert time.monotonic() - start < 5
    assert (
        one_line_error(excinfo) == f"{base_url}/endless is over the 97.7 KiB (100,000 bytes) limit."
    )


def test_url_binary_body(base_url: str) -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source(f"{base_url}/binary")
    assert (
        one_line_error(excinfo) == f"{base_url}/binary is not UTF-8 text (binary data at byte 0)."
    )


def test_url_latin1_with_charset_header(base_url: str) -> None:
    assert read_source(f"{base_url}/latin1").text == "Café crème, s'il vous plaît.\n"


def test_url_latin1_without_charset_is_strict_utf8(base_url: str) -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source(f"{base_url}/latin1-undeclared")
    assert one_line_error(excinfo) == (
        f"{base_url}/latin1-undeclared is not UTF-8 text "
        "(byte 0xE9 at byte 3 is not valid UTF-8; save it as UTF-8)."
    )


def test_url_body_that_breaks_its_declared_charset(base_url: str) -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source(f"{base_url}/ascii-lie")
    assert one_line_error(excinfo) == (
        f"{base_url}/ascii-lie is not valid us-ascii text (bad byte at 2) as it claims."
    )


def test_url_unknown_charset(base_url: str) -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source(f"{base_url}/unknown-charset")
    assert one_line_error(excinfo) == (
        f"{base_url}/unknown-charset declares an unknown charset 'x-no-such-charset'."
    )


def test_url_empty_body(base_url: str) -> None:
    with pytest.raises(InvalidTextError) as excinfo:
        read_source(f"{base_url}/empty")
    assert one_line_error(excinfo) == f"{base_url}/empty is empty."


def test_url_credentials_are_sent_but_never_shown(base_url: str) -> None:
    host = base_url.removeprefix("http://")
    loaded = read_source(f"http://alice:s3cret@{host}/auth")
    assert loaded.text == PROMPT
    assert loaded.source == f"{base_url}/auth"
    with pytest.raises(SourceError) as excinfo:
        read_source(f"http://alice:WRONGPASS@{host}/auth")
    message = one_line_error(excinfo)
    assert message == f"{base_url}/auth answered HTTP 401 Unauthorized."
    assert "WRONGPASS" not in message and "alice" not in message


def test_url_credentials_are_not_forwarded_on_redirect(base_url: str) -> None:
    host = base_url.removeprefix("http://")
    loaded = read_source(f"http://alice:s3cret@{host}/auth-redirect")
    assert loaded.text == "authorization: none"


def test_url_connection_refused() -> None:
    port = _closed_port()
    with pytest.raises(SourceError) as excinfo:
        read_source(f"http://127.0.0.1:{port}/p.md", timeout=2)
    assert one_line_error(excinfo) == f"Could not reach 127.0.0.1:{port}: connection refused."


def test_url_unknown_host() -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source("https://no-such-host.invalid/p.md", timeout=5)
    message = one_line_error(excinfo)
    assert message.startswith("Could not reach no-such-host.invalid: ")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "ftp://example.com/p.md",
            "Cannot load from ftp:// URLs; use an http(s) URL or a file path.",
        ),
        ("file:///etc/passwd", "Cannot load from file:// URLs; use an http(s) URL or a file path."),
        ("http://", "http:// is not a valid URL (it names no host)."),
        ("http://example.com:notaport/p", "http://example.com:notaport/p is not a valid URL."),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source(url)
    assert one_line_error(excinfo) == message


def test_kind_url_needs_a_scheme() -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source("example.com/p.md", kind="url")
    assert one_line_error(excinfo) == "example.com/p.md is not a URL; start it with https://."


def test_bad_url_message_hides_the_password() -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source("http://bob:TOPSECRET@example.com:notaport/p")
    message = one_line_error(excinfo)
    no_secret(message, secrets=("TOPSECRET",))
    assert message == "http://example.com:notaport/p is not a valid URL."  # the whole user:password@ gone


def test_sentence_starting_with_a_url_is_text() -> None:
    text = "https://example.com is our docs site; cite it."
    assert read_source(text) == LoadedSource(text, "text")


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def test_file_good(tmp_path: Path) -> None:
    path = tmp_path / "prompt.md"
    path.write_text(PROMPT, encoding="utf-8")
    assert read_source(str(path)) == LoadedSource(PROMPT, f"file:{path}")
    assert read_source(path) == LoadedSource(PROMPT, f"file:{path}")  # os.PathLike


def test_file_relative_and_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "p.md").write_text(PROMPT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert read_source("p.md").source == f"file:{tmp_path / 'p.md'}"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert read_source("~/p.md").text == PROMPT


def test_file_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.md"
    path.write_bytes(b"\xef\xbb\xbf" + PROMPT.encode())
    assert read_source(str(path)).text == PROMPT


@pytest.mark.parametrize("name", ["missing.md", "missing", "sub/dir/missing.txt"])
def test_file_missing(tmp_path: Path, name: str) -> None:
    path = str(tmp_path / name)
    with pytest.raises(SourceError) as excinfo:
        read_source(path)
    assert one_line_error(excinfo) == f"No such file: {path}"


@pytest.mark.parametrize(
    "word", ["prompts/assistant.md", "assistant.md", "~/p.prompt", "./x", "a\\b", "notes.LLMD"]
)
def test_path_like_words_that_do_not_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, word: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceError) as excinfo:
        read_source(word)
    assert one_line_error(excinfo) == f"No such file: {word}"


def test_host_like_path_gets_a_url_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceError) as excinfo:
        read_source("example.com/prompt.md")
    assert one_line_error(excinfo) == (
        "No such file: example.com/prompt.md (for a URL, start it with https://)"
    )


def test_kind_file_for_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source("Be brief", kind="file")
    assert one_line_error(excinfo) == "No such file: Be brief"


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source(str(tmp_path))
    assert one_line_error(excinfo) == f"{tmp_path} is a directory, not a file."


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(PNG)
    with pytest.raises(SourceError) as excinfo:
        read_source(str(path))
    assert one_line_error(excinfo) == f"File {path} is not UTF-8 text (binary data at byte 0)."


def test_invalid_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("Tone: café\n".encode("latin-1"))
    with pytest.raises(SourceError) as excinfo:
        read_source(str(path))
    assert one_line_error(excinfo) == (
        f"File {path} is not UTF-8 text (byte 0xE9 at byte 9 is not valid UTF-8; save it as UTF-8)."
    )


def test_nul_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "nul.md"
    path.write_bytes(b"Be brief.\x00rest")
    with pytest.raises(SourceError) as excinfo:
        read_source(str(path))
    assert one_line_error(excinfo) == f"File {path} is not UTF-8 text (binary data at byte 9)."


def test_utf16_file(tmp_path: Path) -> None:
    path = tmp_path / "utf16.txt"
    path.write_bytes(PROMPT.encode("utf-16"))
    with pytest.raises(SourceError) as excinfo:
        read_source(str(path))
    assert one_line_error(excinfo) == f"File {path} is UTF-16 or UTF-32 text; save it as UTF-8."


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.md"
    path.write_bytes(b"")
    with pytest.raises(InvalidTextError) as excinfo:
        read_source(str(path))
    assert one_line_error(excinfo) == f"File {path} is empty."


def test_whitespace_only_file(tmp_path: Path) -> None:
    path = tmp_path / "blank.md"
    path.write_bytes(b" \n\t\n  \r\n")
    with pytest.raises(InvalidTextError) as excinfo:
        read_source(str(path))
    assert one_line_error(excinfo) == f"File {path} is only whitespace."


def test_50mb_sparse_file_is_rejected_from_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.md"
    with open(path, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    reads: list[int] = []
    real_read = source_file._read_fd
    monkeypatch.setattr(source_file, "_read_fd", lambda fd, limit: reads.append(limit) or real_read(fd, limit))
    with pytest.raises(SourceError) as excinfo:
        read_source(str(path))
    assert reads == []  # refused from st_size, not a byte read
    assert one_line_error(excinfo) == (
        f"File {path} is 50.0 MiB (52,428,800 bytes), over the 4.0 MiB (4,194,304 bytes) limit."
    )


def test_file_at_and_over_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "edge.txt"
    path.write_bytes(b"x" * 1000)
    assert len(read_source(str(path), max_bytes=1000).text) == 1000
    with pytest.raises(SourceError) as excinfo:
        read_source(str(path), max_bytes=999)
    assert "over the 999 bytes limit" in one_line_error(excinfo)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_device_is_read_bounded() -> None:
    # st_size is 0 for a device: only the bounded read stops an endless stream.
    with pytest.raises(SourceError) as excinfo:
        read_source("/dev/zero", kind="file", max_bytes=1000)
    assert one_line_error(excinfo) == "File /dev/zero is over the 1,000 bytes limit."


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.md"
    path.write_text(PROMPT, encoding="utf-8")
    path.chmod(0)
    try:
        with monkeypatch.context() as patch:
            if os.geteuid() == 0:  # root opens anything: simulate the kernel's refusal instead
                real_open = os.open

                def denied(name: object, *args: object, **kwargs: object) -> int:
                    if name == str(path):
                        raise PermissionError(13, "Permission denied", str(path))
                    return real_open(name, *args, **kwargs)  # type: ignore[arg-type]

                patch.setattr(source_file.os, "open", denied)
            with pytest.raises(SourceError) as excinfo:
                read_source(str(path))
        assert one_line_error(excinfo) == f"Permission denied: {path}"
    finally:
        path.chmod(0o600)


# --------------------------------------------------------------------------
# Literal text and the shared checks
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Hello",
        "Be brief.",
        "You are a helpful assistant.\nTone: Friendly",
        "  padded text  ",
        "a" * 5000,
    ],
)
def test_literal_text(text: str) -> None:
    assert read_source(text) == LoadedSource(text, "text")


def test_kind_text_never_touches_the_filesystem(tmp_path: Path) -> None:
    path = tmp_path / "p.md"
    path.write_text("file content", encoding="utf-8")
    assert read_source(str(path), kind="text") == LoadedSource(str(path), "text")


def test_kind_must_be_known() -> None:
    with pytest.raises(ValueError):
        read_source("x", kind="stdin")


def test_non_string_source() -> None:
    with pytest.raises(SourceError) as excinfo:
        read_source(b"bytes")  # type: ignore[arg-type]
    assert one_line_error(excinfo) == "A prompt source must be text, a path or a URL, not bytes."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Prompt text is empty."),
        (" \n\t ", "Prompt text is only whitespace."),
        (
            "Be\x00brief",
            "Prompt text contains a NUL character (at character 2); prompts must be plain text.",
        ),
        ("Be \ud800 brief", "Prompt text is not valid Unicode (a lone surrogate at character 3)."),
        (b"bytes", "Prompt text must be a string, not bytes."),
    ],
)
def test_validate_text_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidTextError) as excinfo:
        validate_text(text)
    assert one_line_error(excinfo) == message


def test_validate_text_size_says_size_and_limit() -> None:
    text = "é" * 600  # 1,200 bytes in UTF-8: the limit counts bytes, not characters
    with pytest.raises(InvalidTextError) as excinfo:
        validate_text(text, max_bytes=1024)
    assert one_line_error(excinfo) == (
        "Prompt text is 1.2 KiB (1,200 bytes), over the 1.0 KiB (1,024 bytes) limit."
    )
    assert validate_text(text, max_bytes=1200) is text
    with pytest.raises(InvalidTextError) as excinfo:
        read_source("x" * (DEFAULT_MAX_BYTES + 1), kind="text")
    assert "over the 4.0 MiB (4,194,304 bytes) limit" in one_line_error(excinfo)


def test_decode_bytes() -> None:
    assert decode_bytes(b"\xef\xbb\xbfhi", what="Input", max_bytes=10) == "hi"
    assert decode_bytes("ünï".encode(), what="Input", max_bytes=10) == "ünï"
    assert decode_bytes(b"", what="Input", max_bytes=10) == ""
    cases = [
        (b"x" * 11, "Input is over the 10 bytes limit."),
        (b"ok\x00", "Input is not UTF-8 text (binary data at byte 2)."),
        (
            b"\xef\xbb\xbfab\xff",
            "Input is not UTF-8 text (byte 0xFF at byte 5 is not valid UTF-8; save it as UTF-8).",
        ),
        (b"\xff\xfeh\x00", "Input is UTF-16 or UTF-32 text; save it as UTF-8."),
    ]
    for data, message in cases:
        with pytest.raises(SourceError) as excinfo:
            decode_bytes(data, what="Input", max_bytes=10)
        assert one_line_error(excinfo) == message


# -- SourcePolicy: what the MCP server may read on a model's behalf ---------------------------------


def test_policy_admits_text_and_judges_paths_by_their_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dynamic_prompt.store.sources import (
        SourcePolicy,
        SourceRefusedError,
        source_kind,
    )

    (tmp_path / "a.md").write_text("A\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    policy = SourcePolicy(file_roots=(str(tmp_path),))
    assert policy.admit("just some words") == ("just some words", "text")
    assert policy.admit("a.md") == (str(tmp_path / "a.md"), "file")
    assert policy.admit("a.md", "text") == ("a.md", "text")  # forced text is never a file
    assert source_kind("https://example.com/x") == "url"
    with pytest.raises(SourceRefusedError, match="outside the folders"):
        SourcePolicy(file_roots=(str(tmp_path / "sub"),)).admit("a.md")
    # A sibling whose name merely starts with the root's name is outside it.
    (tmp_path.parent / f"{tmp_path.name}-evil.md").write_text("x", "utf-8")
    with pytest.raises(SourceRefusedError, match="outside the folders"):
        policy.admit(str(tmp_path.parent / f"{tmp_path.name}-evil.md"))
    # Inside the folder, a missing file is admitted by its text; reading it says it is missing.
    assert policy.admit("./missing.md") == (str(tmp_path / "missing.md"), "file")
    with pytest.raises(SourceError, match="No such file"):
        read_source("./missing.md", policy=policy)
    assert read_source("a.md", policy=policy) == LoadedSource("A\n", f"file:{tmp_path / 'a.md'}")
    # Outside the roots, a file that exists and one that does not get the same refusal,
    # so a model cannot probe the disk; URLs are not paths.
    inner = SourcePolicy(file_roots=(str(tmp_path / "sub"),), urls=True)
    for probe in (str(tmp_path / "a.md"), str(tmp_path / "nope.md"), "/etc/passwd", "/etc/no-such-file"):
        with pytest.raises(SourceRefusedError, match="outside the folders") as excinfo:
            inner.admit(probe)
        assert excinfo.value.remedy is sources.Remedy.FILES
    assert inner.admit("https://example.com/p.md") == ("https://example.com/p.md", "url")
    for probe in ("/etc/passwd", "/etc/no-such-file", "./x.md", "~/x.md"):
        with pytest.raises(SourceRefusedError, match="does not read files"):
            SourcePolicy().admit(probe)
    with pytest.raises(SourceRefusedError, match="does not fetch URLs") as excinfo:
        SourcePolicy().admit("https://example.com/p.md")
    assert excinfo.value.remedy is sources.Remedy.URLS


def test_default_policy_reads_only_text_and_the_keyboard_reads_anything(tmp_path: Path) -> None:
    from dynamic_prompt.store.sources import SourcePolicy

    (tmp_path / "a.md").write_text("A\n", "utf-8")
    assert SourcePolicy() == SourcePolicy(file_roots=(), any_file=False, urls=False, private_urls=False)
    assert not SourcePolicy().reads_files and not SourcePolicy().fetches_urls
    assert SourcePolicy(private_urls=True).fetches_urls  # private addresses imply URLs
    keyboard = SourcePolicy.unrestricted()
    assert keyboard.admit(str(tmp_path / "a.md")) == (str(tmp_path / "a.md"), "file")
    assert read_source(str(tmp_path / "a.md")) == read_source(str(tmp_path / "a.md"), policy=keyboard)
