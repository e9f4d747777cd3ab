"""Whole prompts from the command line: edit, rename, duplicate, clear (no redis-cli needed)."""

from __future__ import annotations

import os
import sys

import click

from dynamic_prompt.cli.common import Context, fail, name_option, note_option, pass_ctx, user_option, warn
from dynamic_prompt.core.errors import ConflictError
from dynamic_prompt.core.keys import DEFAULT_NAME, validate_name
from dynamic_prompt.core.models import WriteResult
from dynamic_prompt.core.text import validate_note
from dynamic_prompt.store import PromptStore
from dynamic_prompt.store.sources import read_source


@click.command()
@name_option
@click.option("--file", "from_file", default=None, metavar="PATH",
              help="Save PATH's text as a new version (a manual edit) instead of opening $EDITOR. "
                   "Unconditional: versions written since stay in the history, and the original is kept.")
@user_option
@note_option
@pass_ctx
def edit(ctx: Context, name: str, from_file: str | None, user: str | None, note: str) -> None:
    """Edit the prompt in $EDITOR; saved only if nobody changed it meanwhile."""
    validate_name(name)
    if from_file is not None:
        _save_file(ctx, name, from_file, user, note)
        return
    state = ctx.run(lambda s: s.require(name))
    assert state.active is not None
    edited = click.edit(state.active, extension=".md", require_save=True)
    if edited is None or edited == state.active:
        click.echo("No changes; nothing saved.")
        return
    try:
        result = ctx.run(lambda s: s.set_active(name, edited, expected_version=state.version, user=user,
                                                note=note))
        warn(result)
    except ConflictError as exc:
        # Never lose what the person wrote: keep it in a file they can save as a version
        # of its own, beside (not over) the change that came first.
        path = _save_rescue(name, edited)
        fail(f"{exc} Your text was not saved to Redis; it is in {path} (save it as a new version, "
             f"keeping the other change in the history, with: dprompt edit --name {name} --file {path}).")
    click.echo(f"Saved {name!r} as version {result.version}.")


def _save_file(ctx: Context, name: str, path: str, user: str | None, note: str) -> None:
    """``edit --file``: PATH's text becomes a new version, whatever was written meanwhile."""
    loaded = read_source(path, max_bytes=ctx.settings.max_bytes, kind="file")
    validate_note(note)  # before the server is asked anything

    async def save(store: PromptStore) -> WriteResult:
        await store.require(name)  # edit changes a prompt; load creates one
        return await store.set_active(name, loaded.text, expected_version=None, user=user, note=note)

    result = ctx.run(save)
    warn(result)
    if not result.changed:
        click.echo(f"{path} holds the active text of {name!r} already; nothing saved.")
        return
    click.echo(f"Saved {path} as version {result.version} of {name!r}; earlier versions stay in its history.")


def _save_rescue(name: str, text: str) -> str:
    import tempfile

    fd, path = tempfile.mkstemp(prefix=f"dprompt-{name}-", suffix=".md")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


@click.command()
@click.argument("old")
@click.argument("new")
@user_option
@note_option
@pass_ctx
def rename(ctx: Context, old: str, new: str, user: str | None, note: str) -> None:
    """Rename prompt OLD to NEW, keeping its whole history (alias: mv). NEW must not exist."""
    validate_name(old)
    validate_name(new)
    result = ctx.run(lambda s: s.rename(old, new, user=user, note=note))
    warn(result)
    click.echo(f"Renamed {old!r} to {new!r} (version {result.version}; versions and history kept).")
    if old == DEFAULT_NAME:
        click.echo("note: agents on the Ruby gem read the 'default' prompt (prompt:active); "
                   f"they no longer find this one under {new!r}.", err=True)


@click.command()
@click.argument("source")
@click.argument("new")
@user_option
@note_option
@pass_ctx
def duplicate(ctx: Context, source: str, new: str, user: str | None, note: str) -> None:
    """Start prompt NEW from SOURCE's active text, as its text and original (alias: cp)."""
    validate_name(source)
    validate_name(new)
    result = ctx.run(lambda s: s.duplicate(source, new, user=user, note=note))
    warn(result)
    click.echo(f"{result.message[:-1]} (version {result.version}).")


@click.command()
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


def _alias(command: click.Command, name: str) -> click.Command:
    """``command`` under another name, left out of the help (its docstring names it)."""
    return click.Command(name, params=command.params, callback=command.callback, help=command.help,
                         hidden=True)


COMMANDS = (edit, rename, duplicate, clear, _alias(rename, "mv"), _alias(duplicate, "cp"))
"""What this module adds to ``dprompt``."""
