"""Credentials out of URLs, for everything a person or a log will see.

Two helpers, both total (they never raise, whatever string they get, because
they run inside error handlers, where a second exception would hide the first):

- :func:`mask_url` keeps the shape of the URL and the user name and replaces
  the password with ``***`` (the status bar, ``dprompt server``, Redis errors);
- :func:`strip_credentials` drops the whole ``user:password@`` part (what a
  load records as its source, forever, in the changelog).

Both also mask the values of query/fragment parameters that commonly carry
secrets (``?password=`` for redis-py's ``unix://`` URLs, ``?token=``,
presigned-URL signatures, ...).
"""

from __future__ import annotations

import re

__all__ = ["MASK", "has_secret", "mask_url", "strip_credentials"]

#: What a hidden secret is replaced with.
MASK = "***"

# Parameter names whose values are secrets (compared lower-cased).
_SECRET_PARAMS = frozenset(
    {
        "password",
        "sentinel_password",
        "pass",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth",
        "auth_token",
        "api_key",
        "apikey",
        "key",
        "sig",
        "signature",
        "credential",
        "credentials",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
    }
)

_SCHEME_AUTHORITY = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*:)?//(.*)$", re.DOTALL)
_PARAM = re.compile(r"([?&;#])([^=&;#?]+)=([^&;#]*)")
# Schemes whose path can never legitimately contain "@": there, an "@" after
# the first "/" means a password with a raw "/" or "?" in it.
_NO_AT_IN_PATH = ("redis:", "rediss:", "unix:", "valkey:", "valkeys:", "redis+sentinel:", "rediss+sentinel:",
                  "redis+cluster:", "rediss+cluster:")


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (user name kept).

    Handles ``redis://``, ``rediss://``, ``unix://`` (``?password=``), http(s)
    and strings that are not URLs at all; never raises.

    >>> mask_url("redis://default:s3cret@cache:6379/0")
    'redis://default:***@cache:6379/0'
    >>> mask_url("unix:///tmp/redis.sock?db=1&password=s3cret")
    'unix:///tmp/redis.sock?db=1&password=***'
    """
    return _redact(url, keep_user=True)


def has_secret(url: str) -> bool:
    """True when ``url`` carries a password or a secret parameter (what :func:`mask_url` hides)."""
    return mask_url(url) != url


def strip_credentials(url: str) -> str:
    """``url`` without any ``user:password@`` part and with secret parameters masked.

    >>> strip_credentials("https://bob:pw@example.com/p.md?token=abc")
    'https://example.com/p.md?token=***'
    """
    return _redact(url, keep_user=False)


def _redact(url: object, *, keep_user: bool) -> str:
    text = url if isinstance(url, str) else str(url)
    try:
        return _redact_str(text, keep_user=keep_user)
    except Exception:  # noqa: BLE001 - must never raise; say nothing rather than leak
        return MASK


def _redact_str(url: str, *, keep_user: bool) -> str:
    match = _SCHEME_AUTHORITY.match(url)
    if match is None:
        # Not scheme://...: maybe a bare "user:password@host:port".
        if "@" in url and ":" in url.rsplit("@", 1)[0]:
            userinfo, host = url.rsplit("@", 1)
            return _mask_params(f"{_userinfo(userinfo, keep_user)}{host}")
        return _mask_params(url)
    scheme, rest = match.group(1) or "", match.group(2)
    end = _authority_end(rest)
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        authority = _userinfo(userinfo, keep_user) + host
    elif "@" in tail and _raw_password_in_path(scheme, authority, rest):
        # e.g. redis://:ab/cd@host -- urlsplit would call ":ab" the host and
        # print the rest of the password as a path.
        userinfo, after = rest.rsplit("@", 1)
        end = _authority_end(after)
        authority, tail = _userinfo(userinfo, keep_user) + after[:end], after[end:]
    return f"{scheme}//{authority}{_mask_params(tail)}"


def _authority_end(rest: str) -> int:
    """Index where the authority part of ``rest`` (after ``//``) ends."""
    positions = [i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0]
    return min(positions) if positions else len(rest)


def _raw_password_in_path(scheme: str, authority: str, rest: str) -> bool:
    """Whether an "@" past the authority really ends a password with a raw "/"."""
    if scheme.lower() in _NO_AT_IN_PATH:
        return True
    # http(s) paths may contain "@"; only "user:pa/ss@" (a ":" followed by
    # something that is not a port number) reads as a password.
    if ":" not in authority:
        return False
    host, port = authority.split(":", 1)
    return not host or not port.isdigit()


def _userinfo(userinfo: str, keep_user: bool) -> str:
    """The userinfo to print, with its trailing ``@`` (or nothing)."""
    if not keep_user:
        return ""
    user, sep, _ = userinfo.partition(":")
    return f"{user}:{MASK}@" if sep else f"{user}@"


def _mask_params(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(2).strip().lower() in _SECRET_PARAMS and m.group(3):
            return f"{m.group(1)}{m.group(2)}={MASK}"
        return m.group(0)

    return _PARAM.sub(repl, text)
