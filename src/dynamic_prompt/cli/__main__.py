"""``python -m dynamic_prompt.cli``: the same as ``dprompt``."""

from dynamic_prompt.cli.commands import main

main()
