"""Going back from the command line: revert (all, or one change), restore a version, undo the last change.

Each writes a new version (nothing in the history is rewritten) and says which; a change
that cannot be taken back cleanly is a conflict that writes nothing and says how to look.
"""

from __future__ import annotations

import click

from dynamic_prompt.cli.common import Context, fail, name_option, note_option, pass_ctx, user_option, warn
from dynamic_prompt.core import diff as diffmod
from dynamic_prompt.core.errors import RevertConflictError
from dynamic_prompt.core.inert import inert
from dynamic_prompt.core.keys import validate_name


@click.command()
@name_option
@click.option("--change", "change", type=click.IntRange(min=1), default=None, metavar="N",
              help="Revert only the change that made version N, keeping every later change.")
@user_option
@note_option
@pass_ctx
def revert(ctx: Context, name: str, change: int | None, user: str | None, note: str) -> None:
    """Make the original (loaded) text active again, as a new version (--change N: only version N's change)."""
    validate_name(name)
    if change is not None:
        _revert_change(ctx, name, change, user, note)
        return
    result = ctx.run(lambda s: s.revert(name, user=user, note=note))
    warn(result)
    click.echo(f"Reverted {name!r} to the original: version {result.version}." if result.changed
               else result.message)


def _revert_change(ctx: Context, name: str, version: int, user: str | None, note: str) -> None:
    try:
        result = ctx.run(lambda s: s.revert_change(name, version, user=user, note=note))
    except RevertConflictError as exc:
        fail(inert(f"{exc} Compare them: dprompt diff {version - 1} {version} -n {name}; "
                   f"dprompt diff {version} -n {name}."))
    warn(result)
    if not result.changed:
        click.echo(result.message)
        return
    for line in diffmod.summary(result.previous or "", result.text):
        click.echo(inert(line))
    click.echo(f"Reverted the change of v{version} of {name!r}, keeping later changes: now version "
               f"{result.version}.")


@click.command()
@click.argument("version", type=int)
@name_option
@user_option
@note_option
@pass_ctx
def restore(ctx: Context, version: int, name: str, user: str | None, note: str) -> None:
    """Make an earlier version active again, as a new version."""
    validate_name(name)
    result = ctx.run(lambda s: s.restore(name, version, user=user, note=note))
    warn(result)
    click.echo(f"Restored version {version} of {name!r}: now version {result.version}."
               if result.changed else result.message)


@click.command()
@name_option
@user_option
@note_option
@pass_ctx
def undo(ctx: Context, name: str, user: str | None, note: str) -> None:
    """Go back to the text before the last change, as a new version."""
    validate_name(name)
    result = ctx.run(lambda s: s.undo(name, user=user, note=note))
    warn(result)
    click.echo(f"Undid the last change of {name!r}: now version {result.version}.")


COMMANDS = (revert, restore, undo)
