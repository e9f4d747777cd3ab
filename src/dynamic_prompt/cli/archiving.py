"""The archive from the command line: ``archive``, ``recover``, ``search``, ``stats``, ``export``, ``import``.

``dprompt archive`` follows the server into the SQLite archive until stopped (``--once``
catches up and exits); ``recover`` puts back what Redis lost; ``search`` and ``stats``
read the archive only (they work with Redis down); ``export`` and ``import`` carry
prompts to and from a directory for git.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path

import click

from dynamic_prompt.cli.common import Context, fail, json_option, pass_ctx
from dynamic_prompt.core.inert import inert
from dynamic_prompt.core.keys import validate_name
from dynamic_prompt.core.redact import mask_url
from dynamic_prompt.store import PromptStore

archive_option = click.option("--archive", "archive_path", default=None, metavar="PATH",
                              help="The archive file (default: `archive` in the config file, else the data dir).")


def _open(ctx: Context, path: str | None, *, must_exist: bool = False):  # type: ignore[no-untyped-def]
    from dynamic_prompt.archive.db import Archive, default_path

    where = Path(path).expanduser() if path else default_path(ctx.settings.archive)
    if must_exist and not where.exists():
        fail(f"There is no archive at {where} yet: run `dprompt archive` (or open the dashboard) first.")
    return Archive(where)


@click.command("archive")
@archive_option
@click.option("--once", is_flag=True, help="Catch up with what Redis holds now, then exit.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@pass_ctx
def archive(ctx: Context, archive_path: str | None, once: bool, quiet: bool) -> None:
    """Keep every version and changelog entry in the archive, following every change, until stopped.

    On start it archives what Redis holds (the kept versions and the changelog of every
    prompt), then every change by anyone as it happens. Two archivers on one file never
    duplicate an entry.
    """
    from dynamic_prompt.archive.follower import Archiver, Synced

    db = _open(ctx, archive_path)
    target = ctx.target

    def said(name: str | None, done: Synced) -> None:
        if once and name is None:
            return  # --once says it in one line at the end
        for line in done.failed:
            click.echo(f"warning: {' '.join(inert(line).split())}", err=True)
        if quiet or not (done.versions or done.changes):
            return
        what = name if name is not None else f"{done.prompts} prompts"
        click.echo(inert(f"{time.strftime('%H:%M:%S')}  {what}: +{done.versions} versions, "
                         f"+{done.changes} changelog entries"))

    async def main() -> Synced:
        store = PromptStore.connect(target, ctx.settings, timeout=5.0)
        archiver = Archiver(store, db)
        archiver.on_synced = said
        try:
            if once:
                done = await archiver.catch_up()
                said(None, done)
                return done
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stop.set)
            if not quiet:
                click.echo(f"Archiving {target.display} into {db.path} (Ctrl+C stops).", err=True)
            await archiver.run(stop)
            return archiver.total
        finally:
            await store.aclose()

    try:
        done = asyncio.run(main())
    finally:
        db.close()
    if once and not quiet:
        click.echo(f"Caught up: {done.prompts} prompts, +{done.versions} versions, "
                   f"+{done.changes} changelog entries.")
    if done.failed:
        sys.exit(1)


@click.command("recover")
@archive_option
@click.option("--name", "-n", "names", multiple=True, help="Only this prompt (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show what would come back; write nothing.")
@click.option("--from-server", "from_server", default=None, metavar="SERVER",
              help="Recover the prompts archived from another server (its URL: the archive names a server by "
                   "its URL without the password; with no prompt of this server, recover lists the ones it holds).")
@json_option
@pass_ctx
def recover(ctx: Context, archive_path: str | None, names: tuple[str, ...], dry_run: bool,
            from_server: str | None, as_json: bool) -> None:
    """Put back every prompt Redis lost, at its last archived version, with its history.

    A prompt Redis still holds is left exactly as it is.
    """
    from dynamic_prompt.archive.recovery import recover as run_recovery

    for name in names:
        validate_name(name)
    # Rows name their server without its password: a URL given with one names the same rows.
    source = mask_url(from_server) if from_server is not None else None
    db = _open(ctx, archive_path, must_exist=True)
    try:
        outcomes = ctx.run(lambda store: run_recovery(store, db, names=names, dry_run=dry_run, server=source))
        others = db.servers() if not outcomes else []
    finally:
        db.close()
    if as_json:
        click.echo(json.dumps([o.as_dict() for o in outcomes]))
    else:
        if not outcomes:
            held = f" It holds prompts of: {', '.join(others)} (recover them with --from-server)." if others else ""
            click.echo(inert(f"The archive holds no prompt of {source or _server_of(ctx)}.{held}"))
        for o in outcomes:
            click.echo(inert(o.line()))
        back = sum(1 for o in outcomes if o.status in ("recovered", "would recover"))
        verb = "would come back" if dry_run else "came back"
        if outcomes:
            click.echo(f"{back} of {len(outcomes)} prompts {verb}.")
    if any(o.status == "failed" for o in outcomes):
        sys.exit(1)


@click.command("search")
@click.argument("query")
@archive_option
@click.option("--name", "-n", default=None, help="Only this prompt.")
@click.option("--since", default=None, metavar="WHEN", help="Only since a date (2026-11-30) or an age (12h, 7d).")
@click.option("--limit", "-l", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--all-servers", is_flag=True, help="Search what the archive holds of every server, not only this one.")
@json_option
@pass_ctx
def search(ctx: Context, query: str, archive_path: str | None, name: str | None, since: str | None, limit: int,
           all_servers: bool, as_json: bool) -> None:
    """Search every archived version's text and every changelog entry (instructions, notes, authors)."""
    from dynamic_prompt.archive.db import parse_since

    if name is not None:
        validate_name(name)
    after = parse_since(since) if since else None
    db = _open(ctx, archive_path, must_exist=True)
    try:
        server = None if all_servers else _server_of(ctx)
        hits = db.search(query, server=server, name=name, since=after, limit=limit)
    finally:
        db.close()
    if as_json:
        click.echo(json.dumps([h.as_dict() for h in hits]))
        return
    if not hits:
        click.echo("Nothing in the archive matches.")
        return
    for h in hits:
        when = _when(h.timestamp)
        version = f"v{h.version}" if h.version is not None else "-"
        what = "text" if h.kind == "version" else (h.action or "change")
        by = f" by {h.user_id}" if h.user_id else ""
        click.echo(inert(f"{h.name:<20} {version:>6}  {when}  {what}{by}: {h.snippet}"))


@click.command("stats")
@archive_option
@click.option("--name", "-n", default=None, help="Only this prompt.")
@click.option("--all-servers", is_flag=True, help="Count every server the archive holds, not only this one.")
@json_option
@pass_ctx
def stats(ctx: Context, archive_path: str | None, name: str | None, all_servers: bool, as_json: bool) -> None:
    """Changes per day, per author and by action, reverts and undos as a share, the most edited prompts."""
    if name is not None:
        validate_name(name)
    db = _open(ctx, archive_path, must_exist=True)
    try:
        got = db.stats(server=None if all_servers else _server_of(ctx), name=name)
    finally:
        db.close()
    if as_json:
        click.echo(json.dumps(got.as_dict()))
        return
    click.echo(f"{got.changes} changes to {got.prompts} prompts ({got.versions} versions archived); "
               f"reverts and undos: {got.reverts} ({got.revert_share:.0%}).")
    recent = got.per_day[-14:]
    if recent:
        click.echo("per day:     " + "  ".join(f"{d[5:]} {c}" for d, c in recent))
        click.echo("             " + _bars([c for _, c in recent]))
    if got.per_author:
        click.echo(inert("per author:  " + ", ".join(f"{a} {c}" for a, c in got.per_author)))
    if got.per_action:  # actions are whatever the changelog entries say (another program's too)
        click.echo(inert("by action:   " + ", ".join(f"{a} {c}" for a, c in got.per_action)))
    if got.most_edited and name is None:
        click.echo(inert("most edited: " + ", ".join(f"{n} {c}" for n, c in got.most_edited)))


@click.command("export")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["files", "json", "csv"]), default="files", show_default=True,
              help="files: one NAME.md (front matter + text) and NAME.history.jsonl per prompt into the directory "
                   "PATH; json or csv: every changelog entry into the file PATH.")
@click.option("--name", "-n", "names", multiple=True, help="Only this prompt (repeatable).")
@pass_ctx
def export(ctx: Context, path: Path, fmt: str, names: tuple[str, ...]) -> None:
    """Write the prompts to a directory for git (or the changelog to a JSON or CSV file)."""
    from dynamic_prompt.archive.transfer import export as export_files
    from dynamic_prompt.archive.transfer import export_changelog

    for name in names:
        validate_name(name)
    if fmt == "files":
        done = ctx.run(lambda store: export_files(store, path, names))
        click.echo(inert(f"Exported {len(done)} prompts into {path}."))
    else:
        count = ctx.run(lambda store: export_changelog(store, path, fmt, names))
        click.echo(inert(f"Wrote {count} changelog entries to {path} ({fmt})."))


@click.command("import")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@json_option
@pass_ctx
def import_(ctx: Context, directory: Path, dry_run: bool, as_json: bool) -> None:
    """Apply a directory of NAME.md files as new versions (a file equal to what Redis holds changes nothing)."""
    from dynamic_prompt.archive.transfer import import_tree

    results = ctx.run(lambda store: import_tree(store, directory, dry_run=dry_run))
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results]))
    else:
        if not results:
            click.echo(inert(f"{directory} holds no NAME.md files."))
        for r in results:
            click.echo(inert(r.line()), err=r.status == "failed")
        counts = {s: sum(1 for r in results if r.status == s) for s in ("created", "updated", "unchanged", "failed")}
        if results:
            click.echo(", ".join(f"{n} {s}" for s, n in counts.items() if n) + ("  (dry run)" if dry_run else ""))
    if any(r.status == "failed" for r in results):
        sys.exit(1)


def _bars(counts: list[int]) -> str:
    blocks = " ▁▂▃▄▅▆▇█"
    top = max(counts) or 1
    return "".join(blocks[min(8, round(c / top * 8))] for c in counts)


def _when(timestamp: float) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp > 0 else "-" * 16
    except (OverflowError, OSError, ValueError):  # another program wrote a timestamp like 1e308
        return "-" * 16


def _server_of(ctx: Context) -> str:
    """The archive's name for the configured server, without starting or reaching it."""
    return ctx.target.display


COMMANDS = (archive, recover, search, stats, export, import_)
"""What this module adds to ``dprompt``."""
