"""``dprompt``: the dashboard by default, subcommands for scripts.

Every failure prints one line on stderr (``error: ...``) and exits non-zero;
no traceback reaches a person (``DPROMPT_DEBUG=1`` shows one). Textual is
imported only when the dashboard starts, so script commands stay fast.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import NoReturn, TypeVar

import click

from dynamic_prompt.core import diff as diffmod
from dynamic_prompt.core.config import Settings, load_settings
from dynamic_prompt.core.errors import ConflictError, DynamicPromptError, InstructionError
from dynamic_prompt.core.inert import inert
from dynamic_prompt.core.keys import DEFAULT_NAME, validate_name
from dynamic_prompt.core.models import ChangeEntry, WriteResult
from dynamic_prompt.core.redact import has_secret, mask_url
from dynamic_prompt.server import ServerTarget, embedded, resolve
from dynamic_prompt.store import PromptStore

T = TypeVar("T")

name_option = click.option(
    "--name", "-n", default=DEFAULT_NAME, show_default=True, help="The prompt to work on."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
user_option = click.option("--user", "-u", default=None, help="Author recorded in the changelog.")


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
        if self._settings is None:
            self._settings = load_settings(self.cli_url)
        return self._settings

    @property
    def target(self) -> ServerTarget:
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


def _tty() -> bool:
    return sys.stdout.isatty()


def show_text(text: str) -> None:
    """Print prompt text: raw into a pipe, inert on a terminal (no escape sequence runs)."""
    # color=True: click strips ANSI sequences from non-TTY output by default, which
    # would silently change the bytes a script saves (`dprompt get > backup.md`).
    click.echo(inert(text) if _tty() else text, nl=not text.endswith("\n"), color=True)


def show_diff(old: str, new: str, *, from_label: str, to_label: str) -> None:
    """Print a unified diff, coloured on a terminal."""
    text = diffmod.unified(old, new, from_label=from_label, to_label=to_label)
    if not text:
        click.echo("No changes.")
        return
    if not _tty():
        click.echo(text, nl=not text.endswith("\n"), color=True)  # raw, as show_text
        return
    for line in text.splitlines():
        line = inert(line)
        if line.startswith(("+++", "---")):
            click.secho(line, bold=True)
        elif line.startswith("@@"):
            click.secho(line, fg="cyan")
        elif line.startswith("+"):
            click.secho(line, fg="green")
        elif line.startswith("-"):
            click.secho(line, fg="red")
        else:
            click.echo(line)


def _when(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts > 0 else "-"
    except (OverflowError, OSError, ValueError):  # another program wrote a timestamp like 1e308
        return "-"


def format_entry(entry: ChangeEntry) -> str:
    """One changelog line in the seed's style: ``time | ACTION | user | instruction``."""
    parts = [_when(entry.timestamp), f"v{entry.version}" if entry.version else "v?",
             entry.action.upper(), entry.user_id or "-"]
    detail = entry.instruction
    if not detail and entry.metadata.get("source"):
        detail = f"Source: {entry.metadata['source']}"
    if entry.raw is not None:
        detail = f"(unreadable entry) {entry.raw[:80]}" + (f" {entry.instruction}" if entry.instruction else "")
    if entry.added is not None or entry.removed is not None:
        parts.append(f"+{entry.added or 0}/-{entry.removed or 0}")
    parts.append(detail)
    return inert(" | ".join(p for p in parts if p))


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--redis-url", envvar=None, default=None, metavar="URL",
              help="Server URL (redis://, rediss://, unix://, redis+sentinel://). Default: $REDIS_URL, "
                   "the config file, or the shared embedded server.")
@click.version_option(package_name="dynamic-prompt", prog_name="dprompt")
@click.pass_context
def main_group(ctx: click.Context, redis_url: str | None) -> None:
    """Keep LLM system prompts in Redis and tune them live.

    With no command, opens the dashboard.
    """
    if redis_url and has_secret(redis_url):
        click.echo("warning: the password in --redis-url is visible to every user of this machine "
                   "(ps shows command lines); put the URL in REDIS_URL or the config file instead.", err=True)
    ctx.obj = Context(redis_url)
    if ctx.invoked_subcommand is None:
        ctx.invoke(tui)


@main_group.command()
@name_option
@pass_ctx
def tui(ctx: Context, name: str) -> None:
    """Open the live dashboard (the default command)."""
    validate_name(name)
    target = ctx.target
    from dynamic_prompt.tui.app import run_dashboard  # Textual loads only here

    run_dashboard(target, ctx.settings, name=name)


@main_group.command()
@click.argument("source")
@name_option
@click.option("--force", "-f", is_flag=True, help="Replace an existing prompt (it stays a version).")
@click.option("--text", "as_text", is_flag=True, help="Treat SOURCE as the prompt text itself.")
@user_option
@pass_ctx
def load(ctx: Context, source: str, name: str, force: bool, as_text: bool, user: str | None) -> None:
    """Load a prompt from a file, an http(s) URL, or literal text (- reads stdin)."""
    validate_name(name)
    kind = "text" if as_text else "auto"
    if source == "-":
        data = sys.stdin.buffer.read(ctx.settings.max_bytes + 1)
        from dynamic_prompt.store.sources import decode_bytes

        source, kind = decode_bytes(data, what="Standard input", max_bytes=ctx.settings.max_bytes), "text"
    result = ctx.run(lambda s: s.load(name, source, force=force, user=user, kind=kind))
    warn(result)
    if result.changed:
        click.echo(f"Loaded {name!r} as version {result.version} "
                   f"({len(result.text.encode('utf-8')):,} bytes).")
    else:
        click.echo(result.message)


@main_group.command()
@name_option
@json_option
@pass_ctx
def get(ctx: Context, name: str, as_json: bool) -> None:
    """Print the active prompt."""
    validate_name(name)
    state = ctx.run(lambda s: s.state(name, with_backup=False))
    if state.active is None:
        fail(f"There is no prompt named {name!r}; load one first.")
    if as_json:
        click.echo(json.dumps({"name": name, "version": state.version, "text": state.active,
                               "updated_at": state.meta.updated_at,
                               "updated_by": state.meta.updated_by}))
    else:
        show_text(state.active)


@main_group.command()
@click.argument("instruction", nargs=-1, required=True)
@name_option
@click.option("--dry-run", is_flag=True, help="Show the diff and change nothing.")
@user_option
@pass_ctx
def modify(ctx: Context, instruction: tuple[str, ...], name: str, dry_run: bool, user: str | None) -> None:
    """Change the prompt with plain instructions, e.g. "change tone to sarcastic; add rule: no emojis"."""
    validate_name(name)
    text = " ".join(instruction)

    result = ctx.run(lambda s: s.modify(name, text, user=user, dry_run=dry_run))
    warn(result)
    # The text the instruction was applied to, so the diff is exactly this change.
    old = result.previous or ""
    if dry_run:
        show_diff(old, result.text, from_label=f"{name} v{result.version}", to_label=f"{name} (dry run)")
        click.echo("Dry run: nothing was written.", err=True)
        return
    for line in diffmod.summary(old, result.text):
        click.echo(inert(line))
    click.echo(f"{name} is now version {result.version}.")


@main_group.command()
@name_option
@user_option
@pass_ctx
def revert(ctx: Context, name: str, user: str | None) -> None:
    """Make the original (loaded) text active again, as a new version."""
    validate_name(name)
    result = ctx.run(lambda s: s.revert(name, user=user))
    warn(result)
    click.echo(f"Reverted {name!r} to the original: version {result.version}." if result.changed
               else result.message)


@main_group.command()
@click.argument("version", type=int)
@name_option
@user_option
@pass_ctx
def restore(ctx: Context, version: int, name: str, user: str | None) -> None:
    """Make an earlier version active again, as a new version."""
    validate_name(name)
    result = ctx.run(lambda s: s.restore(name, version, user=user))
    warn(result)
    click.echo(f"Restored version {version} of {name!r}: now version {result.version}."
               if result.changed else result.message)


@main_group.command()
@name_option
@user_option
@pass_ctx
def undo(ctx: Context, name: str, user: str | None) -> None:
    """Go back to the text before the last change, as a new version."""
    validate_name(name)
    result = ctx.run(lambda s: s.undo(name, user=user))
    warn(result)
    click.echo(f"Undid the last change of {name!r}: now version {result.version}.")


@main_group.command()
@name_option
@click.option("--against", type=int, default=None, metavar="VERSION",
              help="Compare with this version instead of the original.")
@click.option("--summary", is_flag=True, help="Short ~/+/- lines instead of a unified diff.")
@pass_ctx
def diff(ctx: Context, name: str, against: int | None, summary: bool) -> None:
    """Show what changed since the original (or since VERSION)."""
    validate_name(name)
    old, new = ctx.run(lambda s: s.diff(name, against))
    if summary:
        lines = diffmod.summary(old, new)
        click.echo("\n".join(inert(line) for line in lines) if lines else "No changes.")
        return
    show_diff(old, new, from_label=f"{name} original" if against is None else f"{name} v{against}",
              to_label=f"{name} active")


@main_group.command()
@name_option
@click.option("--limit", "-l", default=10, show_default=True, type=click.IntRange(1, 100000))
@json_option
@pass_ctx
def history(ctx: Context, name: str, limit: int, as_json: bool) -> None:
    """Show the changelog, newest first."""
    validate_name(name)
    entries = ctx.run(lambda s: s.history(name, limit))
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in entries]))
        return
    if not entries:
        click.echo(f"No history for {name!r}.")
    for entry in entries:
        click.echo(format_entry(entry))


@main_group.command(name="list")
@json_option
@pass_ctx
def list_(ctx: Context, as_json: bool) -> None:
    """List every prompt in the server."""
    prompts = ctx.run(lambda s: s.list())
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(p) for p in prompts]))
        return
    if not prompts:
        click.echo("No prompts yet. Load one: dprompt load prompts/assistant.md")
    for p in prompts:
        click.echo(f"{p.name:<24} v{p.version:<5} {p.size:>9,} B  {_when(p.updated_at)}  "
                   f"{p.action or '-'} by {inert(p.updated_by) or '-'}")


@main_group.command()
@click.option("--name", "-n", "names", multiple=True,
              help="Only this prompt (repeatable). Default: every prompt in the server.")
@json_option
@pass_ctx
def fleet(ctx: Context, names: tuple[str, ...], as_json: bool) -> None:
    """Show the agents reading each prompt, the version each serves, who is behind or gone."""
    for name in names:
        validate_name(name)
    found = ctx.run(lambda s: s.fleet(names))
    if as_json:
        click.echo(json.dumps({name: [a.to_dict() for a in agents] for name, agents in found.items()}))
        return
    agents = [a for rows in found.values() for a in rows]
    if not agents:
        click.echo("No agents have announced themselves"
                   + (f" for {', '.join(map(repr, names))}." if names else "."))
        return
    for agent in sorted(agents, key=lambda a: (a.prompt, a.gone, a.agent_id)):
        version = f"v{agent.version}" if agent.version else "v?"
        click.echo(inert(f"{agent.prompt:<16} {agent.agent_id:<28} {version:<6} {agent.state:<8} "
                         f"{agent.reads_per_s:>9,.1f} reads/s  seen {agent.age:,.0f}s ago  "
                         f"feed: {agent.mode}"))


@main_group.command()
@name_option
@json_option
@pass_ctx
def info(ctx: Context, name: str, as_json: bool) -> None:
    """Show a prompt's version, size, token estimate and keys."""
    validate_name(name)
    meta = ctx.run(lambda s: s.metadata(name))
    if as_json:
        click.echo(json.dumps(meta))
        return
    for key, value in meta.items():
        click.echo(f"{key:>22}: {inert(str(value))}")


@main_group.command()
@name_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def clear(ctx: Context, name: str, yes: bool) -> None:
    """Delete a prompt with its original, versions and changelog."""
    validate_name(name)
    if not yes:
        if not sys.stdin.isatty():
            fail("clear deletes every version of the prompt; confirm with --yes.")
        click.confirm(f"Delete prompt {name!r} with all its versions and history?", abort=True)
    existed = ctx.run(lambda s: s.clear(name))
    click.echo(f"Cleared {name!r}." if existed else f"There was no prompt named {name!r}.")


@main_group.command()
@name_option
@user_option
@pass_ctx
def edit(ctx: Context, name: str, user: str | None) -> None:
    """Edit the prompt in $EDITOR; saved only if nobody changed it meanwhile."""
    validate_name(name)
    state = ctx.run(lambda s: s.require(name))
    assert state.active is not None
    edited = click.edit(state.active, extension=".md", require_save=True)
    if edited is None or edited == state.active:
        click.echo("No changes; nothing saved.")
        return
    try:
        result = ctx.run(lambda s: s.set_active(name, edited, expected_version=state.version, user=user))
        warn(result)
    except ConflictError as exc:
        # Never lose what the person wrote: keep it in a file they can load.
        path = _save_rescue(name, edited)
        fail(f"{exc} Your text was not saved to Redis; it is in {path} "
             f"(load it with: dprompt load {path} --name {name} --force).")
    click.echo(f"Saved {name!r} as version {result.version}.")


def _save_rescue(name: str, text: str) -> str:
    import tempfile

    fd, path = tempfile.mkstemp(prefix=f"dprompt-{name}-", suffix=".md")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


@main_group.command()
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


@main_group.group()
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


def main() -> None:
    """Console entry point: one clear line for every error, never a traceback."""
    debug = bool(os.environ.get("DPROMPT_DEBUG"))
    try:
        main_group.main(standalone_mode=False, prog_name="dprompt")
    except click.exceptions.Abort:
        click.echo("Aborted; nothing changed.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except InstructionError as exc:
        message = str(exc)
        # Candidate rules are already named in the message; only forms are added.
        if exc.suggestions and not any(s[:30] in message for s in exc.suggestions):
            message += " Try: " + "; ".join(exc.suggestions[:4])
        fail(inert(message))
    except DynamicPromptError as exc:
        fail(inert(str(exc)))
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the last guard: one line, never a traceback
        if debug:
            raise
        fail(f"unexpected {type(exc).__name__}: {inert(str(exc))}")


if __name__ == "__main__":  # pragma: no cover
    main()
