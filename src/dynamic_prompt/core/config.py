"""User configuration: a TOML file in the user's config dir, plus environment.

Precedence for every setting is CLI option > environment variable > config
file > built-in default. The file is optional; a file that exists but cannot
be read is an error with one clear line, never silently ignored.

Example ``config.toml``::

    redis_url = "redis://localhost:6379/0"
    user = "alice"
    changelog_cap = 100
    version_retention = 200
    max_bytes = 4194304
    tls_ca_certs = "/etc/ssl/my-ca.pem"
    tls_cert_file = "/etc/ssl/dprompt-client.pem"   # a client certificate, where the
    tls_key_file = "/etc/ssl/dprompt-client.key"    # server asks for one (mutual TLS)
    tls_server_name = "prompts.internal"            # verify certificates against this name
    theme = "textual-dark"
    read_only = false                               # the dashboard refuses every write
    archive = "~/prompts-archive.sqlite3"           # the durable archive (default: in the data dir)

    [keymap]
    revert = "ctrl+r"
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from dynamic_prompt.core.errors import ConfigError
from dynamic_prompt.core.text import DEFAULT_MAX_BYTES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

APP_NAME = "dynamic-prompt"

DEFAULT_CHANGELOG_CAP = 100
"""The gem trims its changelog to 100 entries; we keep the same default."""

DEFAULT_VERSION_RETENTION = 200


def config_path() -> Path:
    """Where the config file lives (``DPROMPT_CONFIG`` overrides)."""
    override = os.environ.get("DPROMPT_CONFIG")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def data_dir() -> Path:
    """Where the embedded server keeps its data (``DPROMPT_DATA_DIR`` overrides)."""
    override = os.environ.get("DPROMPT_DATA_DIR")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME))


@dataclass(frozen=True)
class Settings:
    """Everything configurable, already merged from file and environment.

    Attributes:
        redis_url: the server to use; ``None`` means the embedded default.
        redis_url_origin: where ``redis_url`` came from, for messages.
        user: the name written into changelog entries (default: the OS user).
        changelog_cap: changelog entries kept per prompt.
        version_retention: full texts kept per prompt (older ones are dropped).
        max_bytes: the largest prompt accepted, in UTF-8 bytes.
        tls_ca_certs: CA bundle for ``rediss://`` servers with private CAs.
        tls_cert_file: client certificate (PEM) for servers that require one.
        tls_key_file: its private key (PEM); given together with ``tls_cert_file``.
        tls_server_name: the name TLS certificates are verified against, instead of the
            host connected to (a Sentinel-discovered master is reached by its IP address).
        theme: the dashboard's Textual theme.
        keymap: binding id -> key(s), to rebind dashboard actions.
        archive: the archive's SQLite file (``None``: ``archive.sqlite3`` in the data dir).
        read_only: the dashboard shows everything live and refuses every write (a screen
            left open on production); ``dprompt tui --read-only`` sets it for one run.
    """

    redis_url: str | None = None
    redis_url_origin: str = "embedded"
    user: str | None = None
    changelog_cap: int = DEFAULT_CHANGELOG_CAP
    version_retention: int = DEFAULT_VERSION_RETENTION
    max_bytes: int = DEFAULT_MAX_BYTES
    tls_ca_certs: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_server_name: str | None = None
    theme: str | None = None
    keymap: Mapping[str, str] = field(default_factory=dict)
    read_only: bool = False
    archive: str | None = None

    def __repr__(self) -> str:
        # Masked: a crash report that prints locals must not show the password in redis_url.
        from dynamic_prompt.core.redact import mask_url

        parts = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)]
        if self.redis_url:
            parts[0] = f"redis_url={mask_url(self.redis_url)!r}"
        return f"Settings({', '.join(parts)})"

    def with_url(self, url: str | None, origin: str) -> Settings:
        """A copy whose server is ``url`` (when given), remembering its origin."""
        if not url:
            return self
        return replace(self, redis_url=url, redis_url_origin=origin)


def _positive_int(data: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: '{key}' must be a whole number of at least 1.")
    return value


def _optional_str(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: '{key}' must be a string.")
    return value


def _bool(data: Mapping[str, Any], key: str, where: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: '{key}' must be true or false.")
    return value


def read_config_file(path: Path | None = None) -> dict[str, Any]:
    """The config file's table, ``{}`` when there is no file."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror}.") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"The config file {path} is not valid TOML: {exc}.") from None


def load_settings(cli_url: str | None = None, *, path: Path | None = None) -> Settings:
    """Merge defaults, the config file, the environment and the CLI's ``--redis-url``."""
    path = path or config_path()
    data = read_config_file(path)
    where = str(path)
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in keymap.items()
    ):
        raise ConfigError(f"{where}: [keymap] must map action ids to key strings.")
    settings = Settings(
        user=_optional_str(data, "user", where),
        changelog_cap=_positive_int(data, "changelog_cap", DEFAULT_CHANGELOG_CAP, where),
        version_retention=_positive_int(
            data, "version_retention", DEFAULT_VERSION_RETENTION, where
        ),
        max_bytes=_positive_int(data, "max_bytes", DEFAULT_MAX_BYTES, where),
        tls_ca_certs=_optional_str(data, "tls_ca_certs", where),
        tls_cert_file=_optional_str(data, "tls_cert_file", where),
        tls_key_file=_optional_str(data, "tls_key_file", where),
        tls_server_name=_optional_str(data, "tls_server_name", where),
        theme=_optional_str(data, "theme", where),
        keymap=keymap,
        read_only=_bool(data, "read_only", where),
        archive=_optional_str(data, "archive", where),
    )
    if bool(settings.tls_cert_file) != bool(settings.tls_key_file):
        raise ConfigError(f"{where}: tls_cert_file and tls_key_file go together; give both or neither.")
    # TLS files named relative to the config file mean next to it, wherever dprompt runs.
    def beside_config(value: str | None) -> str | None:
        return str(path.parent / os.path.expanduser(value)) if value else None

    settings = replace(
        settings,
        tls_ca_certs=beside_config(settings.tls_ca_certs),
        tls_cert_file=beside_config(settings.tls_cert_file),
        tls_key_file=beside_config(settings.tls_key_file),
    )
    settings = settings.with_url(_optional_str(data, "redis_url", where), "config file")
    settings = settings.with_url(os.environ.get("REDIS_URL"), "REDIS_URL")
    settings = settings.with_url(cli_url, "--redis-url")
    env_archive = os.environ.get("DPROMPT_ARCHIVE")
    if env_archive:
        settings = replace(settings, archive=env_archive)
    if settings.archive:
        settings = replace(settings, archive=os.path.expanduser(settings.archive))
    env_user = os.environ.get("DPROMPT_USER")
    if env_user:
        settings = replace(settings, user=env_user)
    env_max = os.environ.get("DPROMPT_MAX_BYTES")
    if env_max:
        if not env_max.isdigit() or int(env_max) < 1:
            raise ConfigError("DPROMPT_MAX_BYTES must be a whole number of at least 1.")
        settings = replace(settings, max_bytes=int(env_max))
    return settings


def save_setting(key: str, value: str, *, path: Path | None = None) -> None:
    """Set one top-level string setting in the config file (used to remember the theme).

    Keeps every other line of the file as it is; only a ``key = "..."`` line at
    the top level is replaced or added.
    """
    path = path or config_path()
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    new_line = f'{key} = "{escaped}"'
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    out: list[str] = []
    replaced = False
    in_table = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            if not replaced:
                out.append(new_line)
                replaced = True
            in_table = True
        if not in_table and stripped.split("=", 1)[0].strip() == key and "=" in stripped:
            if not replaced:
                out.append(new_line)
                replaced = True
            continue
        out.append(line)
    if not replaced:
        out.append(new_line)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n", "utf-8")
