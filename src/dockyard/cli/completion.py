"""``dockyard completion bash|zsh|fish``: the shell's completion script.

click's own mechanism: the script calls ``dockyard`` back with
``_DOCKYARD_COMPLETE=<shell>_complete`` and the words typed so far, and
click answers with the commands, options and choices it knows (commands
load lazily, so a completion imports only the command being completed).
Install: ``source <(dockyard completion bash)``, or write the output to
``/etc/bash_completion.d/dockyard``.
"""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish)."""
    from click.shell_completion import get_completion_class

    from .main import cli

    cls = get_completion_class(shell)
    if cls is None:  # click knows all three; a clear message if that ever changes
        raise click.BadParameter(f"no completion for {shell!r}", param_hint="SHELL")
    click.echo(cls(cli, {}, "dockyard", "_DOCKYARD_COMPLETE").source())
