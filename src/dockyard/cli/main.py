"""Entry point of the ``dockyard`` command."""

from __future__ import annotations

import importlib
import sys

import click

import dockyard

# name -> "module:attribute" of a click command; one line per command, kept
# sorted. Each module is imported only when its command runs.
COMMANDS: dict[str, str] = {
    "attach": "dockyard.cli.attach:attach",
    "build": "dockyard.cli.build:build",
    "builder": "dockyard.cli.build:builder",
    "commit": "dockyard.cli.image:commit",
    "completion": "dockyard.cli.completion:completion",
    "compose": "dockyard.cli.compose:compose",
    "create": "dockyard.cli.create:create",
    "daemon": "dockyard.cli.daemon:daemon",
    "exec": "dockyard.cli.exec:exec_",
    "history": "dockyard.cli.image:history_alias",
    "image": "dockyard.cli.image:image",
    "images": "dockyard.cli.image:images",
    "import": "dockyard.cli.image:import_alias",
    "info": "dockyard.cli.info:info",
    "inspect": "dockyard.cli.inspect:inspect",
    "kill": "dockyard.cli.lifecycle:kill",
    "kubeconfig": "dockyard.cli.server:kubeconfig",
    "load": "dockyard.cli.image:load_alias",
    "login": "dockyard.cli.login:login",
    "logout": "dockyard.cli.login:logout",
    "logs": "dockyard.cli.logs:logs",
    "pause": "dockyard.cli.lifecycle:pause",
    "ps": "dockyard.cli.ps:ps",
    "pull": "dockyard.cli.pull:pull",
    "push": "dockyard.cli.push:push",
    "registry": "dockyard.cli.registry:registry",
    "rename": "dockyard.cli.lifecycle:rename",
    "restart": "dockyard.cli.lifecycle:restart",
    "rm": "dockyard.cli.rm:rm",
    "rmi": "dockyard.cli.image:rmi",
    "run": "dockyard.cli.run:run",
    "save": "dockyard.cli.image:save_alias",
    "search": "dockyard.cli.pull:search",
    "server": "dockyard.cli.server:server",
    "start": "dockyard.cli.start:start",
    "stop": "dockyard.cli.stop:stop",
    "tag": "dockyard.cli.image:tag_alias",
    "top": "dockyard.cli.lifecycle:top",
    "unpause": "dockyard.cli.lifecycle:unpause",
    "version": "dockyard.cli.version:version",
    "wait": "dockyard.cli.lifecycle:wait",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attr = target.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
        except (ImportError, AttributeError):
            return None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(dockyard.__version__, "-v", "--version", prog_name="dockyard")
def cli() -> None:
    """dockyard: containers on the real kernel, the Docker and Kubernetes way."""


def main() -> None:
    try:
        cli.main(prog_name="dockyard", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
