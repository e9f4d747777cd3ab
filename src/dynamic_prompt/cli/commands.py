"""``dprompt``: the dashboard by default, subcommands for scripts.

Every failure prints one line on stderr (``error: ...``) and exits non-zero;
no traceback reaches a person (``DPROMPT_DEBUG=1`` shows one). Textual is
imported only when the dashboard starts, so script commands stay fast.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from datetime import datetime

import click

from dynamic_prompt.cli import archiving, configuring, prompts, releasing, reverting, serve, web
from dynamic_prompt.cli.common import (
    COMMAND_TIMEOUT,
    Context,
    fail,
    json_option,
    name_option,
    note_option,
    pass_ctx,
    user_option,
    warn,
)
from dynamic_prompt.core import diff as diffmod
from dynamic_prompt.core.errors import DynamicPromptError, InstructionError, PromptNotFoundError
from dynamic_prompt.core.inert import inert
from dynamic_prompt.core.keys import validate_name
from dynamic_prompt.core.models import ChangeEntry
from dynamic_prompt.core.redact import has_secret
from dynamic_prompt.store import PromptStore
from dynamic_prompt.store.fleet import split

__all__ = ["COMMAND_TIMEOUT", "Context", "fail", "format_entry", "main", "main_group", "show_diff", "show_text",
           "warn"]


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
    label = entry.metadata.get("label") if entry.action in ("modify", "edit", "config") else None
    if isinstance(label, str) and label:
        detail = f"on {label}: {detail}"  # an edit on a label: production did not change
    if entry.raw is not None:
        detail = f"(unreadable entry) {entry.raw[:80]}" + (f" {entry.instruction}" if entry.instruction else "")
    if entry.added is not None or entry.removed is not None:
        parts.append(f"+{entry.added or 0}/-{entry.removed or 0}")
    parts.append(detail)
    if entry.note:
        parts.append(f"note: {entry.note}")
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
@click.option("--read-only", is_flag=True, help="Show everything live; refuse every write (also the "
              "config file's read_only = true).")
@click.option("--samples", "samples_file", default=None, metavar="PATH",
              help="A JSON file of sample values for templates ({\"*\": {...}, \"NAME\": {...}}); by default "
                   "samples.json beside the config file. F5 shows the prompt rendered with them.")
@pass_ctx
def tui(ctx: Context, name: str, read_only: bool, samples_file: str | None) -> None:
    """Open the live dashboard (the default command)."""
    validate_name(name)
    path = None
    if samples_file is not None:
        from pathlib import Path

        from dynamic_prompt.core import samples

        path = Path(samples_file).expanduser()
        if not path.is_file():
            fail(f"The samples file {path} does not exist (or is not a file).")
        samples.load(path)  # a file that is not JSON of the right shape: one line, before the screen opens
    target = ctx.target
    from dynamic_prompt.tui.app import run_dashboard  # Textual loads only here

    settings = ctx.settings
    if read_only:
        settings = dataclasses.replace(settings, read_only=True)
    run_dashboard(target, settings, name=name, samples_file=path)


@main_group.command()
@click.argument("source")
@name_option
@click.option("--force", "-f", is_flag=True, help="Replace an existing prompt (it stays a version).")
@click.option("--text", "as_text", is_flag=True, help="Treat SOURCE as the prompt text itself.")
@user_option
@note_option
@pass_ctx
def load(ctx: Context, source: str, name: str, force: bool, as_text: bool, user: str | None, note: str) -> None:
    """Load a prompt from a file, an http(s) URL, or literal text (- reads stdin)."""
    validate_name(name)
    kind = "text" if as_text else "auto"
    if source == "-":
        data = sys.stdin.buffer.read(ctx.settings.max_bytes + 1)
        from dynamic_prompt.store.sources import decode_bytes

        source, kind = decode_bytes(data, what="Standard input", max_bytes=ctx.settings.max_bytes), "text"
    result = ctx.run(lambda s: s.load(name, source, force=force, user=user, kind=kind, note=note))
    warn(result)
    if result.changed:
        click.echo(f"Loaded {name!r} as version {result.version} "
                   f"({len(result.text.encode('utf-8')):,} bytes).")
    else:
        click.echo(result.message)


@main_group.command()
@name_option
@click.option("--version", "-V", "version", type=click.IntRange(min=1), default=None, metavar="N",
              help="Print version N's text instead of the active one (dprompt history shows them).")
@click.option("--label", "-L", "label", default=None, metavar="LABEL",
              help="Print the version LABEL points at (staging, latest, ...; production is the active text).")
@json_option
@pass_ctx
def get(ctx: Context, name: str, version: int | None, label: str | None, as_json: bool) -> None:
    """Print the active prompt (or version N, or a label's: raw into a pipe, inert on a terminal)."""
    validate_name(name)
    if version is not None and label is not None:
        fail("Give --version or --label, not both.")
    if label is not None and label != "production":
        version, text = ctx.run(lambda s: s.label_text(name, label))
        if as_json:
            config = ctx.run(lambda s: s.version_config(name, version))
            click.echo(json.dumps({"name": name, "label": label, "version": version, "text": text,
                                   "config": config}))
        else:
            show_text(text)
        return
    if version is not None:
        text = ctx.run(lambda s: s.version_text(name, version))
        if as_json:
            config = ctx.run(lambda s: s.version_config(name, version))
            click.echo(json.dumps({"name": name, "version": version, "text": text, "config": config}))
        else:
            show_text(text)
        return
    state = ctx.run(lambda s: s.state(name, with_backup=False))
    if state.active is None:
        fail(f"There is no prompt named {name!r}; load one first.")
    if as_json:
        click.echo(json.dumps({"name": name, "version": state.version, "text": state.active,
                               "config": state.config, "updated_at": state.meta.updated_at,
                               "updated_by": state.meta.updated_by}))
    else:
        show_text(state.active)


@main_group.command()
@name_option
@click.option("--var", "-v", "assignments", multiple=True, metavar="NAME=VALUE",
              help="A variable for the template (repeatable).")
@click.option("--label", "-L", "label", default=None, metavar="LABEL", help="Render the version LABEL points at.")
@click.option("--lenient", is_flag=True, help="Render a missing variable as empty instead of refusing.")
@json_option
@pass_ctx
def render(ctx: Context, name: str, assignments: tuple[str, ...], label: str | None, lenient: bool,
           as_json: bool) -> None:
    """Print the prompt with its template variables filled in (as agents get it from client.render)."""
    from dynamic_prompt.core.templates import Renderer, Template, parse_assignments  # jinja2 loads only here
    from dynamic_prompt.store.includes import gather_parts

    validate_name(name)
    variables = parse_assignments(assignments)  # before the server is asked anything

    ref = name if label is None or label == "production" else f"{name}@{label}"

    async def read(store: PromptStore) -> tuple[int, str, dict[str, str | None]]:
        if ref != name:
            version, text = await store.label_text(name, label or "")
        else:
            state = await store.state(name, with_backup=False)
            if state.active is None:
                raise PromptNotFoundError(f"There is no prompt named {name!r}; load one first.")
            version, text = state.version, state.active
        # Every part the template reaches, read now (the renderer's reads are synchronous).
        return version, text, await gather_parts(ref, text, store.part_text)

    version, text, parts = ctx.run(read)
    template = Template.parse(text)
    done = Renderer(parts.get).render(ref, variables, strict=not lenient, text=text)
    from dynamic_prompt.core import samples

    samples.remember(name, variables)  # what the dashboard's rendered view shows next
    if as_json:
        click.echo(json.dumps({"name": name, "version": version, "text": done.text, "variables": list(template.variables),
                               "unused": list(done.unused), "missing": list(done.missing)}))
        return
    show_text(done.text)
    if done.unused:
        click.echo(f"warning: the template never reads {', '.join(map(repr, done.unused))}.", err=True)
    if done.missing:
        click.echo(f"warning: rendered as empty: {', '.join(map(repr, done.missing))}.", err=True)


@main_group.command()
@name_option
@json_option
@pass_ctx
def deps(ctx: Context, name: str, as_json: bool) -> None:
    """Show what NAME includes (all the way down) and which prompts include it."""
    from dynamic_prompt.store.includes import gather_parts

    validate_name(name)

    async def work(store: PromptStore) -> tuple[list[str], list[str]]:
        text = await store.part_text(name)
        if text is None:
            raise PromptNotFoundError(f"There is no prompt named {name!r}; load one first.")
        reached = [ref for ref in await gather_parts(name, text, store.part_text) if ref != name]
        return reached, await store.dependents(name)

    reached, users = ctx.run(work)
    if as_json:
        click.echo(json.dumps({"name": name, "includes": reached, "used_by": users}))
        return
    click.echo(f"{name} includes: {', '.join(reached) if reached else 'nothing'}")
    click.echo(f"{name} is used by: {', '.join(users) if users else 'no prompt'}")


@main_group.command()
@click.argument("instruction", nargs=-1, required=True)
@name_option
@click.option("--dry-run", is_flag=True, help="Show the diff and change nothing.")
@click.option("--label", "-L", "label", default=None, metavar="LABEL",
              help="Edit the version LABEL points at: a new version only LABEL (and latest) point at; "
                   "production and its agents are untouched until a promote.")
@user_option
@note_option
@pass_ctx
def modify(ctx: Context, instruction: tuple[str, ...], name: str, dry_run: bool, label: str | None,
           user: str | None, note: str) -> None:
    """Change the prompt with plain instructions, e.g. "change tone to sarcastic; add rule: no emojis"."""
    validate_name(name)
    text = " ".join(instruction)

    result = ctx.run(lambda s: s.modify(name, text, user=user, dry_run=dry_run, note=note, label=label))
    warn(result)
    # The text the instruction was applied to, so the diff is exactly this change.
    old = result.previous or ""
    if dry_run:
        show_diff(old, result.text, from_label=f"{name} v{result.version}", to_label=f"{name} (dry run)")
        click.echo("Dry run: nothing was written.", err=True)
        return
    for line in diffmod.summary(old, result.text):
        click.echo(inert(line))
    if label is not None and label != "production":
        click.echo(f"{label} of {name} is now version {result.version} (production unchanged).")
    else:
        click.echo(f"{name} is now version {result.version}.")


@main_group.command()
@click.argument("versions", nargs=-1, type=click.IntRange(min=1), metavar="[A [B]]")
@name_option
@click.option("--against", type=click.IntRange(min=1), default=None, metavar="VERSION",
              help="Compare VERSION with the active text (the same as: dprompt diff VERSION).")
@click.option("--summary", is_flag=True, help="Short ~/+/- lines instead of a unified diff.")
@pass_ctx
def diff(ctx: Context, versions: tuple[int, ...], name: str, against: int | None, summary: bool) -> None:
    """Show what changed: since the original; with A, since version A; with A B, from version A to B."""
    validate_name(name)
    if len(versions) > 2:
        fail(f"diff compares two versions at most; got {len(versions)}: {' '.join(map(str, versions))}.")
    if versions and against is not None:
        fail("Give the version to compare once: dprompt diff A, or dprompt diff --against A.")
    if len(versions) == 2:
        a, b = versions
        old, new = ctx.run(lambda s: s.versions_diff(name, a, b))
        labels = (f"{name} v{a}", f"{name} v{b}")
    else:
        since = versions[0] if versions else against
        old, new = ctx.run(lambda s: s.diff(name, since))
        labels = (f"{name} original" if since is None else f"{name} v{since}", f"{name} active")
    if summary:
        lines = diffmod.summary(old, new)
        click.echo("\n".join(inert(line) for line in lines) if lines else "No changes.")
        return
    show_diff(old, new, from_label=labels[0], to_label=labels[1])


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
@click.option("--rescan", is_flag=True,
              help="First scan the keyspace for prompts other programs wrote that the index misses.")
@json_option
@pass_ctx
def list_(ctx: Context, as_json: bool, rescan: bool) -> None:
    """List every prompt in the server (from the prompt index: no keyspace scan)."""
    if rescan:
        ctx.run(lambda s: s.reconcile(force=True))
    prompts = ctx.run(lambda s: s.list())
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(p) for p in prompts]))
        return
    if not prompts:
        click.echo("No prompts yet. Load one: dprompt load prompts/assistant.md")
    for p in prompts:
        extra = "  ".join([*(f"{label} v{v}" for label, v in p.labels.items()), p.release] if p.labels or p.release
                          else [])
        click.echo(f"{p.name:<24} v{p.version:<5} {p.size:>9,} B  {_when(p.updated_at)}  "
                   f"{p.action or '-'} by {inert(p.updated_by) or '-'}" + (f"  [{inert(extra.strip())}]" if extra else ""))


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
        rate = "-" if agent.rate_now is None else f"{agent.rate_now:,.1f}"
        why = agent.served or (f"label {agent.label}" if agent.label != "production" else "")
        if agent.variants:
            why += " (" + ", ".join(f"{k}: {v:,}" for k, v in sorted(agent.variants.items())) + ")"
        click.echo(inert(f"{agent.prompt:<16} {agent.agent_id:<28} {version:<6} {agent.state:<8} "
                         f"{rate:>9} reads/s  seen {agent.age:,.0f}s ago  "
                         f"feed: {agent.mode}" + (f"  {why}" if why else "")))
    for name, rows in sorted(found.items()):
        live = [a for a in rows if not a.gone]
        if len(split(live)) > 1:
            parts = ", ".join(f"{count} on v{version}" for version, count in split(live).items())
            click.echo(inert(f"{name}: {len(live)} live agents, {parts}"))


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


for _command in (*prompts.COMMANDS, *reverting.COMMANDS, *releasing.COMMANDS, *configuring.COMMANDS,
                 *archiving.COMMANDS, *serve.COMMANDS, *web.COMMANDS):
    main_group.add_command(_command)


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
