"""Checks several suites make, each written once: the same question asked the same way everywhere.

- :func:`no_secret` / :func:`shows_mask`: a password never reaches what a person or a log
  sees, and the mask stands where it was (so a blank or a crash cannot pass for "masked");
- :func:`one_line` / :func:`one_error_line`: bad input gets one clear line, never a traceback;
- :data:`BAD_NAMES` / :func:`bad_name_reason`: prompt names every face must refuse, and what
  the refusal says;
- :data:`WRONG_TYPES` / :func:`plant` / :func:`wrong_type_line`: keys another program wrote
  with the wrong type, and the exact line that names them.

Expected texts are literals here, never read from the code under test.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import quote

MASK = "***"
"""What a hidden password is shown as (the product's ``redact.MASK``, written out)."""


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else repr(value)


def no_secret(*texts: object, secrets: tuple[str, ...]) -> None:
    """No ``secret`` (nor its URL-quoted form) appears in any of ``texts`` (non-strings: their repr).

    The failure message says where, without printing the secret itself.
    """
    assert secrets and all(len(s) >= 6 for s in secrets), "check for real, distinctive secrets"
    forms = {form for s in secrets for form in (s, quote(s, safe=""))}
    for index, text in enumerate(texts):
        shown = _as_text(text)
        for form in forms:
            at = shown.find(form)
            assert at == -1, f"a secret leaked into text #{index} at {at}: {shown[:at][-80:]!r}..."


def shows_mask(text: str, user: str = "") -> None:
    """``text`` shows a URL whose password is masked (``user:***@`` or ``:***@``)."""
    assert f"{user}:{MASK}@" in text, f"no masked credentials ({user}:{MASK}@) in {text[:300]!r}"


def one_line(message: object) -> str:
    """The text of ``message`` (an exception or a string): one non-empty line, no traceback."""
    text = str(message)
    assert text, "an empty message"
    assert "\n" not in text and "\r" not in text, f"more than one line: {text[:300]!r}"
    assert text == text.strip(), f"stray blanks around {text!r}"
    assert "Traceback" not in text
    return text


def one_error_line(code: int, stderr: str, stdout: str = "") -> str:
    """A CLI run failed with exactly one ``error:`` line on stderr (``warning:`` lines may come
    first: a password on the command line is warned about) and no traceback; return the line."""
    assert code != 0, f"expected a failure, got exit code {code}: {stdout[:300]!r}"
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr + stdout
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


# -- prompt names ------------------------------------------------------------------------------

BAD_NAMES: dict[str, str] = {
    "empty": "", "open-brace": "a{b", "close-brace": "a}b", "hash-tag": "{x}", "star": "pro*", "colon": "a:b",
    "space": "my prompt", "slash": "team/prompt", "backslash": "a\\b", "dot-dot-slash": "../etc",
    "sixty-five-chars": "n" * 65, "thousand-chars": "n" * 1000, "newline": "a\nb", "escape": "a\x1b[31m",
    "question": "what?", "bang": "bad name!", "brackets": "a[b]", "unicode": "pr\u00f6mpt",
    "leading-dot": ".hidden", "leading-dash": "-x", "nul": "a\x00b", "glob-range": "[a-z]",
}
"""Names no face may accept: key syntax, globs, separators, terminal escapes, the length edge."""

GOOD_NAMES = ["a", "n" * 64, "A.b_c-9", "9lives"]
"""The edges on the other side: one character, 64 characters, every allowed punctuation mark."""


def bad_name_reason(name: str) -> str:
    """The part of the refusal that says what is wrong with ``name``."""
    if not name:
        return "must not be empty"
    if len(name) > 64:
        return "the limit is 64"
    return "Bad prompt name"


# -- keys of the wrong type ----------------------------------------------------------------------

WRONG_TYPES: dict[str, tuple[str, str]] = {
    "active-is-list": ("prompt:{t}:active", "list"),
    "gem-active-is-hash": ("prompt:active", "hash"),
    "meta-is-string": ("prompt:{t}:meta", "string"),
    "versions-is-list": ("prompt:{t}:versions", "list"),
    "changelog-is-string": ("prompt:{t}:changelog", "string"),
    "backup-is-set": ("prompt:{t}:backup", "set"),
    "index-is-string": ("dprompt:index", "string"),
}
"""A key of each role, written by "another program" with a type the tool does not use for it."""
ROLE_TYPES = {":active": "string", ":backup": "string", ":meta": "hash", ":versions": "hash",
              ":changelog": "list", ":lock": "string", "dprompt:index": "set"}
"""The type each key of the scheme holds, by how its name ends."""


def role_type(key: str) -> str:
    """The type ``key`` should hold (by its role in the key scheme)."""
    return next(kind for ending, kind in ROLE_TYPES.items() if key.endswith(ending))


class _Writer(Protocol):
    def delete(self, *names: str) -> object: ...
    def rpush(self, name: str, *values: str) -> object: ...
    def hset(self, name: str, key: str, value: str) -> object: ...
    def sadd(self, name: str, *values: str) -> object: ...
    def set(self, name: str, value: str) -> object: ...


def plant(client: _Writer, key: str, kind: str) -> None:
    """Replace ``key`` with a value of type ``kind`` (list, hash, set or string), as another
    program might write it."""
    client.delete(key)
    writers = {"list": lambda: client.rpush(key, "planted", "by another program"),
               "hash": lambda: client.hset(key, "planted", "by another program"),
               "set": lambda: client.sadd(key, "planted"),
               "string": lambda: client.set(key, "planted by another program")}
    writers[kind]()


def wrong_type_line(key: str | None, found: str | None = None, wanted: str | None = None) -> str:
    """The one sentence for ``key`` holding a ``found`` where a ``wanted`` belongs.

    ``wanted`` is left out where the tool reads the key without knowing its role, ``found``
    too where it does not ask; with no ``key`` (the agents' client reads several keys in one
    round trip and does not say which failed) the sentence names none.
    """
    if key is None:
        which = "A key holds the wrong type of value"
    else:
        what = f" (a {found}, not a {wanted})" if wanted else (f" (a {found})" if found else "")
        which = f"The key {key} holds the wrong type of value{what}"
    return f"{which} (another program wrote it); fix or delete that key."
