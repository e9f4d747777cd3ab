"""``dprompt mcp`` and ``dprompt server``: the MCP server, and the shared embedded server."""

from __future__ import annotations

import sys

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
@pass_ctx
def mcp(ctx: Context, file_roots: tuple[str, ...], allow_urls: bool, allow_private_urls: bool,
        no_files: bool, no_urls: bool) -> None:
    """Run an MCP server on stdio (tools, prompt:// resources, prompts) for Claude, Cursor, ...

    load_prompt reads only literal text unless these options (or the config
    file's [mcp] table: files_under, allow_urls, allow_private_urls) allow more.
    """
    from dynamic_prompt import mcp_server  # the 'mcp' SDK itself loads only inside serve()
    from dynamic_prompt.core.config import config_path, read_config_file
    from dynamic_prompt.mcp_server.policy import McpFlags, build_policy, policy_from_table

    flags = McpFlags(files_under=file_roots, no_files=no_files, allow_urls=allow_urls,
                     allow_private_urls=allow_private_urls, no_urls=no_urls)
    path = config_path()
    policy = build_policy(flags, policy_from_table(read_config_file(path), path))
    # Check the extra before resolving the server, so a missing SDK never starts one.
    mcp_server.require_sdk()
    # stdout is the protocol from here on: Context.target announces a started
    # embedded server on stderr, and the server logs to stderr.
    mcp_server.serve(ctx.target, ctx.settings, policy)


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
