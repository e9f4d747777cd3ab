"""Labels, promotion, staged rollouts and experiments from the command line (and from CI).

``dprompt label list|set|rm``, ``dprompt promote``, ``dprompt rollback``,
``dprompt rollout``, ``dprompt abort``, ``dprompt experiment``. Each prints what moved
(from which version to which) and how many live agents read the prompt, so a script's
log says what a release did.
"""

from __future__ import annotations

import json

import click

from dynamic_prompt.cli.common import Context, json_option, note_option, pass_ctx, user_option
from dynamic_prompt.core import labels as lab
from dynamic_prompt.core.inert import inert
from dynamic_prompt.core.keys import validate_name
from dynamic_prompt.store import PromptStore
from dynamic_prompt.store.fleet import AgentInfo, split
from dynamic_prompt.store.labels import LabelState, MoveResult


def describe_release(state: LabelState) -> list[str]:
    """Lines for a prompt's rollout and experiment ("" when neither runs)."""
    lines = []
    rollout, experiment = state.release.rollout, state.release.experiment
    if rollout is not None:
        lines.append(f"rollout: v{rollout.version} ({rollout.source or 'v' + str(rollout.version)}) to "
                     f"{rollout.percent:g}% of production's agents, from v{rollout.base}, by {rollout.by or '-'}")
    if experiment is not None:
        arms = ", ".join(f"{v.name}={v.target}:{v.weight}" for v in experiment.variants)
        lines.append(f"experiment {experiment.id}: {arms}, by {experiment.by or '-'}")
    return [inert(line) for line in lines]


def _agents(found: dict[str, list[AgentInfo]], name: str) -> list[AgentInfo]:
    return [a for a in found.get(name, []) if not a.gone]


def _split_line(agents: list[AgentInfo]) -> str:
    if not agents:
        return "no live agents read it"
    parts = ", ".join(f"{count} on v{version}" for version, count in split(agents).items())
    return f"{len(agents)} live agent{'s' if len(agents) != 1 else ''}: {parts}"


def _moved(result: MoveResult, agents: list[AgentInfo]) -> str:
    if not result.changed:
        return result.message
    if result.label == lab.PRODUCTION:
        return (f"production of {result.name!r}: v{result.previous} -> v{result.version}; "
                f"{len(agents)} live agent{'s' if len(agents) != 1 else ''} read it.")
    if not result.version:
        return f"Removed label {result.label!r} of {result.name!r} (it pointed at v{result.previous})."
    before = f"v{result.previous}" if result.previous else "nowhere"
    return f"{result.label} of {result.name!r}: {before} -> v{result.version}."


@click.group()
def label() -> None:
    """List and move a prompt's labels (production moves by promote)."""


@label.command(name="list")
@click.argument("name")
@json_option
@pass_ctx
def label_list(ctx: Context, name: str, as_json: bool) -> None:
    """Show where each label of NAME points, and its rollout or experiment."""
    validate_name(name)
    state = ctx.run(lambda s: s.labels(name))
    if as_json:
        release = json.loads(state.release.to_json())
        release.pop("pins", None)
        click.echo(json.dumps({"name": name, "labels": state.labels.all(), **release}))
        return
    if not state.labels.production:
        click.echo(f"There is no prompt named {name!r}; load one first.")
        return
    for label_name, version in state.labels.all().items():
        click.echo(f"{label_name:<16} v{version}")
    for line in describe_release(state):
        click.echo(line)


@label.command(name="set")
@click.argument("name")
@click.argument("label_name", metavar="LABEL")
@click.argument("target", metavar="LABEL|VERSION")
@user_option
@note_option
@pass_ctx
def label_set(ctx: Context, name: str, label_name: str, target: str, user: str | None, note: str) -> None:
    """Point LABEL of NAME at a version (v7, 7) or at where another label points (production)."""
    validate_name(name)

    async def work(store: PromptStore) -> tuple[MoveResult, dict[str, list[AgentInfo]]]:
        result = await store.set_label(name, label_name, target, user=user, note=note)
        return result, await store.fleet([name])

    result, found = ctx.run(work)
    click.echo(inert(_moved(result, _agents(found, name))))


@label.command(name="rm")
@click.argument("name")
@click.argument("label_name", metavar="LABEL")
@user_option
@note_option
@pass_ctx
def label_rm(ctx: Context, name: str, label_name: str, user: str | None, note: str) -> None:
    """Remove LABEL of NAME (its version stays while retention keeps it)."""
    validate_name(name)
    result = ctx.run(lambda s: s.remove_label(name, label_name, user=user, note=note))
    click.echo(inert(_moved(result, [])))


@click.command()
@click.argument("name")
@click.argument("target", required=False, metavar="[LABEL|VERSION]")
@user_option
@note_option
@pass_ctx
def promote(ctx: Context, name: str, target: str | None, user: str | None, note: str) -> None:
    """Point production of NAME at LABEL's version (or vN); no target: the running rollout's version.

    Every agent reading production serves it at once; a rollout ends.
    """
    validate_name(name)

    async def work(store: PromptStore) -> tuple[MoveResult, dict[str, list[AgentInfo]]]:
        result = await store.promote(name, target, user=user, note=note)
        return result, await store.fleet([name])

    result, found = ctx.run(work)
    click.echo(inert(_moved(result, _agents(found, name))))


@click.command()
@click.argument("name")
@user_option
@note_option
@pass_ctx
def rollback(ctx: Context, name: str, user: str | None, note: str) -> None:
    """Move production of NAME back where it was before its last promote."""
    validate_name(name)

    async def work(store: PromptStore) -> tuple[MoveResult, dict[str, list[AgentInfo]]]:
        result = await store.rollback(name, user=user, note=note)
        return result, await store.fleet([name])

    result, found = ctx.run(work)
    click.echo(inert(_moved(result, _agents(found, name))))


@click.command()
@click.argument("name")
@click.option("--to", "target", default=None, metavar="LABEL|VERSION",
              help="What to roll out (a label's version, or vN). Leave out to change the running rollout's share.")
@click.option("--percent", "-p", required=True, metavar="P",
              help="The share of production's agents that get it (0 < P <= 100), by a stable hash of each "
                   "agent's id: raising P only adds agents.")
@user_option
@note_option
@pass_ctx
def rollout(ctx: Context, name: str, target: str | None, percent: str, user: str | None, note: str) -> None:
    """Serve a version to P% of the agents reading production of NAME; then promote or abort."""
    validate_name(name)
    lab.check_percent(percent)  # before the server is asked anything
    state = ctx.run(lambda s: s.rollout(name, percent, target, user=user, note=note))
    for line in describe_release(state):
        click.echo(line)
    click.echo("Agents pick it up at once; watch the split with: dprompt fleet --name " + name)


@click.command()
@click.argument("name")
@user_option
@note_option
@pass_ctx
def abort(ctx: Context, name: str, user: str | None, note: str) -> None:
    """End the rollout of NAME: every agent reads production again."""
    validate_name(name)
    ctx.run(lambda s: s.abort_rollout(name, user=user, note=note))
    click.echo(f"Aborted the rollout of {name!r}: every agent reads production again.")


@click.command()
@click.argument("name")
@click.option("--variant", "variants", multiple=True, metavar="NAME=LABEL:WEIGHT",
              help="One arm (repeat, two or more), e.g. a=production:50 b=exp-b:50 (a version: b=v7:50).")
@click.option("--stop", is_flag=True, help="End the experiment: everyone reads production again.")
@user_option
@note_option
@pass_ctx
def experiment(ctx: Context, name: str, variants: tuple[str, ...], stop: bool, user: str | None,
               note: str) -> None:
    """Serve weighted variants of NAME, sticky per caller key (client.get_active(name, key=user_id))."""
    validate_name(name)
    if stop:
        if variants:
            raise lab.LabelError("Give --stop alone, or variants to start an experiment.")
        ctx.run(lambda s: s.stop_experiment(name, user=user, note=note))
        click.echo(f"Stopped the experiment on {name!r}: everyone reads production again.")
        return
    for spec in variants:
        lab.Variant.parse(spec)  # before the server is asked anything
    state = ctx.run(lambda s: s.experiment(name, variants, user=user, note=note))
    for line in describe_release(state):
        click.echo(line)


COMMANDS = (label, promote, rollback, rollout, abort, experiment)
"""What this module adds to ``dprompt``."""
