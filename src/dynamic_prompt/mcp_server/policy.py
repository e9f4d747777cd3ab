"""What ``load_prompt`` may read on a model's behalf: the operator's choice, said plainly.

By default nothing but literal text: no file is read and no URL fetched. The
operator allows more with ``dprompt mcp`` flags or the config file's ``[mcp]``
table (flags win)::

    [mcp]
    files_under = ["~/prompts"]     # plain files inside these folders (relative: beside the config file)
    allow_urls = true               # http(s) URLs of public addresses
    allow_private_urls = true       # loopback, private and link-local addresses too

This module merges the two (:func:`build_policy`), describes the result for
the tool list and the log (:func:`describe`), and says what the operator could
allow when a source is refused (:func:`with_remedy`). It does not import the SDK.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dynamic_prompt.core.errors import ConfigError
from dynamic_prompt.store.sources import Remedy, SourcePolicy, SourceRefusedError

__all__ = ["McpFlags", "build_policy", "describe", "policy_from_table", "with_remedy"]

TABLE = "mcp"
_KEYS = ("files_under", "allow_urls", "allow_private_urls")

_REMEDIES = {
    Remedy.FILES: "the operator can allow folders with dprompt mcp --files-under DIR "
    "(or files_under in the config file's [mcp] table)",
    Remedy.URLS: "the operator can allow public http(s) URLs with dprompt mcp --allow-urls "
    "(or allow_urls = true in the config file's [mcp] table)",
    Remedy.PRIVATE_URLS: "the operator can allow loopback and private addresses with dprompt mcp "
    "--allow-private-urls (or allow_private_urls = true in the config file's [mcp] table)",
}


@dataclass(frozen=True)
class McpFlags:
    """What ``dprompt mcp`` was given on its command line (folders already resolved)."""

    files_under: tuple[str, ...] = ()
    no_files: bool = False
    allow_urls: bool = False
    allow_private_urls: bool = False
    no_urls: bool = False


def _flag(table: Mapping[str, Any], key: str, where: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: [{TABLE}] {key} must be true or false.")
    return value


def _folders(table: Mapping[str, Any], where: str, config_file: Path) -> tuple[str, ...]:
    value = table.get("files_under", [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ConfigError(f'{where}: [{TABLE}] files_under must be a list of folders, e.g. ["~/prompts"].')
    folders = []
    for item in value:
        # Relative folders mean beside the config file, wherever dprompt runs (as the TLS files do).
        folder = os.path.realpath(config_file.parent / os.path.expanduser(item))
        if not os.path.isdir(folder):
            raise ConfigError(f"{where}: [{TABLE}] files_under names {item!r}, which is not a folder.")
        folders.append(folder)
    return tuple(folders)


def policy_from_table(data: Mapping[str, Any], config_file: Path) -> SourcePolicy:
    """The policy the config file's ``[mcp]`` table asks for (the default policy without one)."""
    where = str(config_file)
    table = data.get(TABLE, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [{TABLE}] must be a table.")
    unknown = sorted(set(table) - set(_KEYS) - {"tokens"})  # tokens: read by mcp_server/http.py
    if unknown:
        raise ConfigError(
            f"{where}: [{TABLE}] has no setting {unknown[0]!r} (the settings are {', '.join(_KEYS)})."
        )
    private = _flag(table, "allow_private_urls", where)
    return SourcePolicy(
        file_roots=_folders(table, where, config_file),
        urls=_flag(table, "allow_urls", where) or private,
        private_urls=private,
    )


def build_policy(flags: McpFlags, configured: SourcePolicy) -> SourcePolicy:
    """The command line over the config file: a flag given wins, a flag left out keeps the file's word."""
    if flags.no_files and flags.files_under:
        raise ConfigError("--no-files and --files-under contradict each other; give one.")
    if flags.no_urls and (flags.allow_urls or flags.allow_private_urls):
        given = "--allow-private-urls" if flags.allow_private_urls else "--allow-urls"
        raise ConfigError(f"--no-urls and {given} contradict each other; give one.")
    roots = () if flags.no_files else (flags.files_under or configured.file_roots)
    private = not flags.no_urls and (flags.allow_private_urls or configured.private_urls)
    urls = not flags.no_urls and (flags.allow_urls or configured.urls or private)
    return SourcePolicy(file_roots=roots, urls=urls, private_urls=private)


def _list(folders: Sequence[str]) -> str:
    return ", ".join(folders)


def describe(policy: SourcePolicy) -> str:
    """Two sentences for a model (the tool description) and the operator (the log): what is read."""
    if policy.any_file:
        files = "This server reads any file it can"
    elif policy.file_roots:
        files = f"This server reads plain files only inside {_list(policy.file_roots)}"
    else:
        files = "This server reads no files (the operator can allow folders with dprompt mcp --files-under DIR)"
    if policy.private_urls:
        urls = "fetches any http(s) URL."
    elif policy.urls:
        urls = (
            "fetches http(s) URLs of public addresses only (the operator can allow loopback and private "
            "ones with --allow-private-urls)."
        )
    else:
        urls = "fetches no URLs (the operator can allow them with dprompt mcp --allow-urls)."
    return f"{files}, and {urls}"


def with_remedy(exc: SourceRefusedError) -> str:
    """The refusal, with what the operator could allow to admit it (one sentence)."""
    message = str(exc)
    remedy = _REMEDIES.get(exc.remedy)
    return f"{message.rstrip('.')}; {remedy}." if remedy else message
