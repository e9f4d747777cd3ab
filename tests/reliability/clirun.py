"""Run ``dprompt`` in this process (fast) through its real console entry point.

``dynamic_prompt.cli.commands.main`` is called exactly as the console script calls it,
with argv, stdin, stdout, stderr and the environment swapped by click's test
isolation, so its error handling (one line, never a traceback) is what is
tested. Tests that need a real process (a TTY, a crash) use subprocesses.
"""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from click.testing import CliRunner

from dynamic_prompt import cli as climod
from tests.support.checks import one_error_line


@dataclass(frozen=True)
class Run:
    """What one ``dprompt`` invocation did."""

    code: int
    out: bytes
    err: bytes

    @property
    def stdout(self) -> str:
        return self.out.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.err.decode("utf-8", "replace")

    @property
    def all(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: str, url: str | None = None, stdin: bytes | str = b"",
            env: dict[str, str | None] | None = None) -> Run:
    """``dprompt [--redis-url URL] ARGS...`` in-process; returns exit code and output bytes."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run(args, url, stdin, env)
    # Called from an async test: the CLI runs its own event loop, so give it a thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_run, args, url, stdin, env).result()


def _run(args: tuple[str, ...], url: str | None, stdin: bytes | str,
         env: dict[str, str | None] | None) -> Run:
    argv = (["--redis-url", url] if url else []) + list(args)
    runner = CliRunner()
    with runner.isolation(input=stdin, env=env) as (out, err, _):
        saved = sys.argv
        sys.argv = ["dprompt", *argv]
        code = 0
        try:
            climod.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = saved
    return Run(code, out.getvalue(), err.getvalue())


def error_line(run: Run) -> str:
    """Assert a failure with exactly one ``error:`` line on stderr, no traceback; return it.

    ``warning:`` lines may come before it (a password on the command line is warned about).
    """
    return one_error_line(run.code, run.stderr, run.stdout)


def ok(run: Run) -> Run:
    """Assert success and return the run."""
    assert run.code == 0, run.stderr
    return run
