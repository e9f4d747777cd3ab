"""What every ``dprompt`` subcommand shares: the context (settings, server, store), options, output.

Every failure prints one line on stderr (``error: ...``) and exits non-zero; a write
that happened is never followed by an error, only by ``warning:`` lines.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import click

from dynamic_prompt.core.config import Settings, load_settings
from dynamic_prompt.core.inert import inert
from dynamic_prompt.core.keys import DEFAULT_NAME
from dynamic_prompt.core.models import WriteResult
from dynamic_prompt.core.text import MAX_NOTE_CHARS
from dynamic_prompt.server import ServerTarget, resolve
from dynamic_prompt.store import PromptStore

T = TypeVar("T")

name_option = click.option(
    "--name", "-n", default=DEFAULT_NAME, show_default=True, help="The prompt to work on."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
user_option = click.option("--user", "-u", default=None, help="Author recorded in the changelog.")
note_option = click.option(
    "--note", "-m", default="", metavar="TEXT",
    help=f"Why: one line (at most {MAX_NOTE_CHARS} characters) kept in the changelog entry.",
)

COMMAND_TIMEOUT = 5.0
"""Seconds a command waits for the server's reply (the README promises a hung server is
reported within about 5 s)."""


def warn(result: WriteResult) -> None:
    """Say what went wrong beside a write that happened (the write stands: exit 0)."""
    for warning in result.warnings:
        click.echo(f"warning: {' '.join(inert(warning).split())}", err=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clear line on stderr and exit."""
    click.echo(f"error: {' '.join(str(message).split())}", err=True)
    sys.exit(code)


class Context:
    """What every subcommand needs: settings and, on demand, the server."""

    def __init__(self, redis_url: str | None) -> None:
        self.cli_url = redis_url
        self._settings: Settings | None = None
        self._target: ServerTarget | None = None

    @property
    def settings(self) -> Settings:
        """The merged settings (config file, environment, ``--redis-url``), read once."""
        if self._settings is None:
            self._settings = load_settings(self.cli_url)
        return self._settings

    @property
    def target(self) -> ServerTarget:
        """The server to use, resolved once (starting the embedded one if it is the default)."""
        if self._target is None:
            self._target = resolve(self.settings)
            if self._target.started_embedded:
                click.echo(f"Started the embedded server at {self._target.display}", err=True)
        return self._target

    def run(self, work: Callable[[PromptStore], Awaitable[T]]) -> T:
        """Run ``work`` with a store on the configured server, then close it.

        Each command waits at most :data:`COMMAND_TIMEOUT` for any one reply, and a
        timeout is not retried: a hung server is reported in about that long.
        """

        async def main() -> T:
            store = PromptStore.connect(self.target, self.settings, timeout=COMMAND_TIMEOUT)
            try:
                return await work(store)
            finally:
                await store.aclose()

        return asyncio.run(main())


pass_ctx = click.make_pass_decorator(Context)
