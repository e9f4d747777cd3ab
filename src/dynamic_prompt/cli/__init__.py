"""``dprompt``: the dashboard by default, subcommands for scripts."""

from dynamic_prompt.cli.commands import main

__all__ = ["main"]
