"""``dprompt web``: the dashboard in a browser, one real ``dprompt tui`` per tab (textual-serve)."""

from __future__ import annotations

import importlib.util
import ipaddress
import secrets
import socket
import sys

import click

from dynamic_prompt.cli.common import Context, fail, name_option, pass_ctx
from dynamic_prompt.core.keys import validate_name

DEFAULT_PORT = 8765
MIN_TOKEN_CHARS = 16
TOKEN_ENV = "DPROMPT_WEB_TOKEN"
_GENERATE = "\0generate"  # what a bare --token stands for


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


def decide_token(host: str, given: str | None, *, loopback: bool, open_: bool = False) -> tuple[str | None, bool]:
    """The token to require and whether it was generated.

    A token is required by default, on loopback too: another user of this machine can
    reach 127.0.0.1, and the dashboard writes prompts with its owner's credentials.
    ``open_`` (``--no-token``) drops it, on a loopback address only.
    """
    if open_:
        if not loopback:
            fail(f"--no-token is for a loopback address only; {host} is reachable from other machines.")
        return None, False
    if given is None or given == _GENERATE:
        return secrets.token_urlsafe(24), True
    if len(given) < MIN_TOKEN_CHARS or not given.isprintable() or given != given.strip():
        fail(f"The token must be at least {MIN_TOKEN_CHARS} printable characters, no surrounding spaces "
             "(or give a bare --token to generate one).")
    return given, False


@click.command()
@name_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on (a token is required on every address but with --no-token).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="The port to listen on (0: any free one).")
@click.option("--token", default=None, is_flag=False, flag_value=_GENERATE, envvar=TOKEN_ENV, metavar="[TOKEN]",
              help=f"Require this token (at least {MIN_TOKEN_CHARS} characters; bare --token: generate one). "
                   f"Generated and printed once when not given. ${TOKEN_ENV} keeps it out of ps.")
@click.option("--no-token", "no_token", is_flag=True,
              help="On a loopback address only: no token (anyone on this machine can open it).")
@click.option("--max-sessions", default=8, show_default=True, type=click.IntRange(1, 1000),
              help="Dashboards (browser tabs) open at once; one more gets a page saying so.")
@click.option("--read-only", is_flag=True, help="Every dashboard shows everything live and refuses every write.")
@pass_ctx
def web(ctx: Context, name: str, host: str, port: int, token: str | None, no_token: bool, max_sessions: int,
        read_only: bool) -> None:
    """Serve the dashboard to browsers: each tab gets its own live dashboard process.

    Listens on 127.0.0.1:8765 by default and needs a token (given, or generated and
    printed here once), taken from http://HOST:PORT/?token=... and kept in an HttpOnly
    cookie; --no-token opens it to anyone on this machine (loopback only).
    """
    validate_name(name)
    if importlib.util.find_spec("textual_serve") is None:
        fail("dprompt web needs textual-serve: pip install 'dynamic-prompt[web]' (or: pip install textual-serve).")
    if no_token and token is not None:
        fail("Give --token or --no-token, not both.")
    token, generated = decide_token(host, token, loopback=is_loopback(host), open_=no_token)
    if token is not None and not generated:
        if click.get_current_context().get_parameter_source("token") is click.core.ParameterSource.COMMANDLINE:
            click.echo(f"warning: the token in --token is visible to every user of this machine (ps shows "
                       f"command lines); set {TOKEN_ENV} instead, or give a bare --token to generate one.",
                       err=True)

    settings = ctx.settings
    ctx.target  # noqa: B018 - resolve now: one error line, and the embedded server starts once, here
    env: dict[str, str] = {}
    if settings.redis_url and settings.redis_url_origin == "--redis-url":
        env["REDIS_URL"] = settings.redis_url  # the environment, never the command line (ps)
    argv = [sys.executable, "-m", "dynamic_prompt.cli", "tui", "--name", name]
    if read_only:
        argv.append("--read-only")

    from dynamic_prompt.cli.webserve import WebDashboard  # aiohttp loads only here

    server = WebDashboard(argv, title=f"dprompt: {name}", token=token, max_sessions=max_sessions,
                          env=env, drop_env=(TOKEN_ENV,))

    def ready(bound: int) -> None:
        base = f"http://{_url_host(host)}:{bound}/"
        click.echo(f"dprompt web: the dashboard of {name!r} on {base}", err=True)
        if token is None:
            click.echo("No token (--no-token): anyone on this machine can open it.", err=True)
        elif generated:
            click.echo(f"Open {base}?token={token}  (the token is shown only here)", err=True)
        else:
            click.echo(f"Open {base}?token=<your token>", err=True)
        click.echo(f"Each browser tab gets its own dashboard, at most {max_sessions} at once. Ctrl+C stops.",
                   err=True)

    try:
        server.run(host, port, ready)
    except OSError as exc:
        fail(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.")


COMMANDS = (web,)
"""What this module adds to ``dprompt``."""
