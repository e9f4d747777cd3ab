"""A version's config from the command line: ``dprompt config``.

``dprompt config --name support`` prints the active version's config (pretty JSON);
``--set model=gpt-5 --set temperature=0.2 --unset seed`` or ``--replace '{...}'`` (or
``--json-file PATH``, ``-`` for standard input) writes it as a new version with the
same text; ``--label staging`` reads or writes the version that label points at;
``--version N`` reads an older version's.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from dynamic_prompt.cli.common import (
    Context,
    fail,
    json_option,
    name_option,
    note_option,
    pass_ctx,
    user_option,
    warn,
)
from dynamic_prompt.core import prompt_config
from dynamic_prompt.core.errors import PromptNotFoundError
from dynamic_prompt.core.inert import inert
from dynamic_prompt.core.keys import validate_name
from dynamic_prompt.core.models import WriteResult
from dynamic_prompt.store import PromptStore
from dynamic_prompt.store.sources import read_source


@click.command("config")
@name_option
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Set KEY (repeatable); VALUE is read as JSON when it is JSON (0.2, true, [\"a\"]), else as text.")
@click.option("--unset", "removals", multiple=True, metavar="KEY", help="Remove KEY (repeatable).")
@click.option("--replace", "replace_with", default=None, metavar="JSON",
              help="Replace the whole config with this JSON object ('{}' clears it).")
@click.option("--json-file", "from_file", default=None, metavar="PATH",
              help="Replace the whole config with the JSON object in PATH ('-': standard input).")
@click.option("--label", "-L", "label", default=None, metavar="LABEL",
              help="Read or write the version LABEL points at (a write makes a version only it points at).")
@click.option("--version", "-V", "version", type=click.IntRange(min=1), default=None, metavar="N",
              help="Print version N's config.")
@user_option
@note_option
@json_option
@pass_ctx
def config(ctx: Context, name: str, assignments: tuple[str, ...], removals: tuple[str, ...],
           replace_with: str | None, from_file: str | None, label: str | None, version: int | None,
           user: str | None, note: str, as_json: bool) -> None:
    """Show or set the config kept with the prompt's text (model, temperature, tools, ...)."""
    validate_name(name)
    writes = bool(assignments or removals) or replace_with is not None or from_file is not None
    if replace_with is not None and from_file is not None:
        fail("Give --replace or --json-file, not both.")
    if writes and version is not None:
        fail("--version reads an older version's config; a write always makes a new version.")
    whole: dict[str, Any] | None = None
    if replace_with is not None:
        whole = prompt_config.parse(replace_with)
    elif from_file is not None:
        whole = prompt_config.parse(_read_json_file(from_file))
    if whole is not None and (assignments or removals):
        whole = prompt_config.updated(whole, assignments, removals)
    at = None if label in (None, "production") else label

    async def current(store: PromptStore) -> tuple[int, dict[str, Any]]:
        if version is not None:
            await store.version_text(name, version)  # a version that is not kept: one clear line
            return version, await store.version_config(name, version)
        if at is not None:
            number = (await store.labels(name)).labels.version_of(at)
            if number is None:
                from dynamic_prompt.core.labels import LabelError

                raise LabelError(f"Prompt {name!r} has no label {at!r}.")
            return number, await store.version_config(name, number)
        state = await store.state(name, with_backup=False)
        if state.active is None:
            raise PromptNotFoundError(f"There is no prompt named {name!r}; load one first.")
        return state.version, state.config

    if not writes:
        number, shown = ctx.run(current)
        if as_json:
            click.echo(json.dumps({"name": name, "version": number, "config": shown}))
        elif shown:
            click.echo(inert("\n".join(prompt_config.config_lines(shown))))
        else:
            click.echo(f"v{number} of {name!r} has no config (set one with: dprompt config --name {name} "
                       "--set model=...).")
        return

    async def write(store: PromptStore) -> WriteResult:
        number, old = await current(store)
        new = whole if whole is not None else prompt_config.updated(old, assignments, removals)
        return await store.set_config(name, new, expected_version=number, user=user, note=note, label=at)

    result = ctx.run(write)
    warn(result)
    if as_json:
        click.echo(json.dumps({"name": name, "version": result.version, "changed": result.changed,
                               "change": "" if result.entry is None else result.entry.instruction}))
    elif result.changed:
        said = result.entry.instruction if result.entry is not None else "config"
        click.echo(inert(f"Saved {name!r} as version {result.version} ({said})."))
    else:
        click.echo(result.message)


def _read_json_file(path: str) -> str:
    if path == "-":
        data = sys.stdin.buffer.read(prompt_config.MAX_CONFIG_BYTES + 1)
        if len(data) > prompt_config.MAX_CONFIG_BYTES:
            fail(f"Standard input holds more than {prompt_config.MAX_CONFIG_BYTES:,} bytes: not a config.")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            fail("Standard input is not UTF-8 text: not a config.")
    return read_source(path, max_bytes=prompt_config.MAX_CONFIG_BYTES, kind="file").text


COMMANDS = (config,)
"""What this module adds to ``dprompt``."""
