"""Tests for dynamic_prompt.core.redact: passwords never reach a screen or a log."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamic_prompt.core.redact import MASK, mask_url, strip_credentials


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
        ("redis://default:s3cret@cache:6379/0", "redis://default:***@cache:6379/0"),
        ("rediss://alice:p%40ss@h.example:6380", "rediss://alice:***@h.example:6380"),
        ("redis://user@host", "redis://user@host"),  # no password: nothing to hide
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("unix://:pw@/tmp/redis.sock?db=0", "unix://:***@/tmp/redis.sock?db=0"),
        ("unix:///tmp/redis.sock?db=2&password=abc", "unix:///tmp/redis.sock?db=2&password=***"),
        ("redis://host?password=", "redis://host?password="),
        # A raw "/" or "?" in a password: urlsplit would print its tail as a path.
        ("redis://:ab/cd@host:6379", "redis://:***@host:6379"),
        ("redis://user:p/s?s@host/1", "redis://user:***@host/1"),
        ("https://bob:hunter2@example.com/p.md", "https://bob:***@example.com/p.md"),
        ("https://example.com:8080/x?u=a@b", "https://example.com:8080/x?u=a@b"),
        ("https://h/p?token=abc&x=1", "https://h/p?token=***&x=1"),
        ("https://h/p#access_token=xyz", "https://h/p#access_token=***"),
        (
            "https://h/p?X-Amz-Signature=abc&X-Amz-Date=1",
            "https://h/p?X-Amz-Signature=***&X-Amz-Date=1",
        ),
        ("user:pw@host:6379", "user:***@host:6379"),
        ("localhost:6379", "localhost:6379"),
        ("not a url at all", "not a url at all"),
        ("", ""),
        ("http://[::1", "http://[::1"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    ("url", "stripped"),
    [
        ("https://bob:pw@example.com/p.md?token=abc", "https://example.com/p.md?token=***"),
        ("https://tok@github.com/x", "https://github.com/x"),
        ("redis://:ab/cd@host:6379", "redis://host:6379"),
        ("https://example.com/p.md", "https://example.com/p.md"),
    ],
)
def test_strip_credentials(url: str, stripped: str) -> None:
    assert strip_credentials(url) == stripped


def test_non_string_does_not_raise() -> None:
    assert mask_url(None) == "None"  # type: ignore[arg-type]
    assert strip_credentials(1234) == "1234"  # type: ignore[arg-type]


_PASSWORD = st.text(
    alphabet=st.characters(blacklist_characters="@\n", blacklist_categories=("Cs",)), min_size=1
).map(lambda s: "PW" + s + "XQ")


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["redis", "rediss", "unix", "http", "https"]),
    user=st.sampled_from(["", "default", "alice"]),
    password=_PASSWORD,
    host=st.sampled_from(["cache", "10.0.0.1:6379", "[::1]:6380", "/tmp/redis.sock"]),
)
def test_password_never_survives(scheme: str, user: str, password: str, host: str) -> None:
    url = f"{scheme}://{user}:{password}@{host}/0"
    for shown in (mask_url(url), strip_credentials(url)):
        assert password not in shown
    assert mask_url(url).startswith(f"{scheme}://{user}:{MASK}@")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_string_is_safe_to_mask(text: str) -> None:
    assert isinstance(mask_url(text), str)
    assert isinstance(strip_credentials(text), str)


def test_query_password_never_survives() -> None:
    url = "unix:///run/redis.sock?password=TOPSECRET&db=0"
    assert "TOPSECRET" not in mask_url(url)
    assert "TOPSECRET" not in strip_credentials(url)
