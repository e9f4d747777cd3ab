"""``dprompt mcp`` and ``dprompt server``: the MCP server, and the shared embedded server."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dynamic_prompt.cli.common import Context, fail, pass_ctx
from dynamic_prompt.core.errors import DynamicPromptError
from dynamic_prompt.core.redact import mask_url
from dynamic_prompt.server import embedded


@click.command()
@click.option("--files-under", "file_roots", multiple=True, metavar="DIR",
              type=click.Path(exists=True, file_okay=False, resolve_path=True),
              help="load_prompt reads plain files inside DIR (repeatable). Default: no files.")
@click.option("--allow-urls", is_flag=True,
              help="load_prompt fetches http(s) URLs of public addresses. Default: no URLs.")
@click.option("--allow-private-urls", is_flag=True,
              help="load_prompt fetches loopback, private and link-local addresses too (implies --allow-urls).")
@click.option("--no-files", is_flag=True, help="load_prompt reads no files, whatever the config file says.")
@click.option("--no-urls", is_flag=True, help="load_prompt fetches no URLs, whatever the config file says.")
@click.option("--http", "over_http", is_flag=True,
              help="Serve Streamable HTTP at http://HOST:PORT/mcp for many clients (bearer tokens from the "
                   "config file's [[mcp.tokens]]), instead of one client on stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --http: the address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8766, show_default=True,
              help="With --http: the port to listen on.")
@click.option("--max-sessions", type=click.IntRange(1, 10_000), default=64, show_default=True,
              help="With --http: open sessions of older (handshake-era) clients at most.")
@click.option("--max-listeners", type=click.IntRange(1, 10_000), default=256, show_default=True,
              help="With --http: open subscriptions/listen streams at most.")
@click.option("--max-request-bytes", type=click.IntRange(1024, 64 * 1024 * 1024), default=1024 * 1024,
              show_default=True, help="With --http: the largest request body accepted.")
@click.option("--new-token", is_flag=True, help="Print a new random token and the config lines that allow it; exit.")
@click.option("--print-config", "print_config", type=click.Choice(["claude", "cursor", "claude-code"]),
              default=None, help="Print the client configuration that runs this dprompt's MCP server; exit.")
@pass_ctx
def mcp(ctx: Context, file_roots: tuple[str, ...], allow_urls: bool, allow_private_urls: bool,
        no_files: bool, no_urls: bool, over_http: bool, host: str, port: int, max_sessions: int,
        max_listeners: int, max_request_bytes: int, new_token: bool, print_config: str | None) -> None:
    """Run an MCP server (tools, prompt:// resources, prompts) for Claude, Cursor, ...: on stdio, or
    with --http for a team.

    load_prompt reads only literal text unless these options (or the config
    file's [mcp] table: files_under, allow_urls, allow_private_urls) allow more.
    """
    from dynamic_prompt import mcp_server  # the 'mcp' SDK itself loads only inside serve()
    from dynamic_prompt.core.config import config_path, read_config_file
    from dynamic_prompt.mcp_server.policy import McpFlags, build_policy, policy_from_table

    if new_token:
        from dynamic_prompt.mcp_server.http import new_token as make_token

        click.echo(f"# Add to {config_path()} (readable by you only: chmod 600), then restart dprompt mcp --http:")
        click.echo(f'[[mcp.tokens]]\nname = "someone"\ntoken = "{make_token()}"\naccess = "read"   # or "write"')
        return
    if print_config is not None:
        from dynamic_prompt.cli.mcp_config import client_config

        snippet, where = client_config(print_config, ctx.settings)
        click.echo(where, err=True)
        click.echo(snippet)
        return
    flags = McpFlags(files_under=file_roots, no_files=no_files, allow_urls=allow_urls,
                     allow_private_urls=allow_private_urls, no_urls=no_urls)
    path = config_path()
    table = read_config_file(path)
    policy = build_policy(flags, policy_from_table(table, path))
    # Check the extra before resolving the server, so a missing SDK never starts one.
    mcp_server.require_sdk()
    if over_http:
        from dynamic_prompt.mcp_server.http import is_loopback, tokens_from_table

        tokens = tokens_from_table(table, path)
        if not tokens:
            fail(f"dprompt mcp --http lets in only bearer tokens, and {path} has none: `dprompt mcp --new-token` "
                 "prints one to add.")
        _private_config(path)
        _port_free(host, port)
        if not is_loopback(host):
            click.echo(f"warning: {host} is reachable from other machines and tokens travel in clear over http; "
                       "put a TLS proxy in front.", err=True)
        mcp_server.serve_http(ctx.target, ctx.settings, policy, tokens, host=host, port=port,
                              max_sessions=max_sessions, max_listeners=max_listeners,
                              max_request_bytes=max_request_bytes)
        return
    # stdout is the protocol from here on: Context.target announces a started
    # embedded server on stderr, and the server logs to stderr.
    mcp_server.serve(ctx.target, ctx.settings, policy)


def _port_free(host: str, port: int) -> None:
    """One clear line now, rather than the web server's log later, when the port is taken."""
    import socket

    try:
        with socket.create_server((host.strip("[]"), port), reuse_port=False):
            pass
    except OSError as exc:
        fail(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.")


def _private_config(path: Path) -> None:
    """Tokens live in the config file: refuse one that other users can read."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & 0o077:
        fail(f"{path} holds MCP tokens and other users may read it (mode {mode & 0o777:o}): chmod 600 {path}")


@click.group()
def server() -> None:
    """The shared embedded server: status, start, stop."""


@server.command()
@pass_ctx
def status(ctx: Context) -> None:
    """Say which server dprompt uses and whether it answers (exit 3: not running)."""
    settings = ctx.settings
    if settings.redis_url:
        click.echo(f"Configured server ({settings.redis_url_origin}): {mask_url(settings.redis_url)}")
        try:
            rtt = ctx.run(lambda s: s.ping())
            click.echo(f"Answers PING in {rtt * 1000:.2f} ms.")
            if ctx.target.is_cluster:
                click.echo("It is a Redis Cluster: the feed listens on every primary; the prompt 'default' "
                           "is prompt:{default}:* there (the gem's untagged keys span three slots).")
        except DynamicPromptError as exc:
            fail(str(exc))
        return
    found = embedded.status()
    if found.state is embedded.ServerState.NOT_RUNNING:
        click.echo("The embedded server is not running (it starts with any dprompt command).")
        sys.exit(3)
    version = f", {found.version}" if found.version else ""
    click.echo(f"Embedded server: {found.url} (pid {found.pid}{version})")
    click.echo(f"Data: {found.data_dir} (only you can reach it: a private unix socket, no TCP port)")
    if found.state is embedded.ServerState.ANSWERING:
        click.echo(f"Answers PING in {found.latency * 1000:.2f} ms; every write is fsynced before it is acknowledged.")
        return
    detail = f" ({found.detail})" if found.detail else ""
    fail(f"The embedded server is {found.state.value}{detail}; no second server is started while "
         "it owns the data dir.")


@server.command()
def start() -> None:
    """Start the embedded server (if it is not running) and say where it listens."""
    found = embedded.ensure_running()
    verb = "Started" if found.started else "Already running:"
    click.echo(f"{verb} the embedded server at {found.url} (data in {found.data_dir})")


@server.command()
@click.option("--force", is_flag=True, help="End a server that does not answer (paused, locked, hung).")
def stop(force: bool) -> None:
    """Save and stop the embedded server."""
    if embedded.stop(force=force):
        click.echo("Stopped the embedded server (data saved).")
    else:
        click.echo("The embedded server was not running.")


COMMANDS = (mcp, server)
"""What this module adds to ``dprompt``."""
