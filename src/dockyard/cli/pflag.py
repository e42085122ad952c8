"""pflag-style boolean flags for click commands: ``--sig-proxy=false``, ``-i=0``.

docker's and docker compose's CLIs parse flags with Go's pflag, where a
boolean flag also takes ``=VALUE``. Only click is imported here, so any
command module can use it without loading the engine client.
"""

from __future__ import annotations

import click


class PflagCommand(click.Command):
    """docker's boolean flags take a value too, as pflag's do (``--sig-proxy=false``):
    rewritten to the click switch before parsing, up to the first argument."""

    SWITCHES = {"--sig-proxy": "sig-proxy"}

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        valued = {o for p in self.params if isinstance(p, click.Option) and not p.is_flag
                  for o in p.opts}
        out, rest = [], list(args)
        while rest and rest[0].startswith("-") and rest[0] not in ("-", "--"):
            a = rest.pop(0)
            name, eq, value = a.partition("=")
            if eq and name in self.SWITCHES:
                on = {"1": True, "t": True, "true": True, "0": False, "f": False,
                      "false": False}.get(value.lower())
                if on is None:
                    raise click.BadParameter(f"invalid value {value!r} for {name}: expected "
                                             f"true or false", ctx=ctx)
                a = f"--{'' if on else 'no-'}{self.SWITCHES[name]}"
            out.append(a)
            if a in valued and rest:
                out.append(rest.pop(0))  # the option's value, whatever it looks like
        return super().parse_args(ctx, out + rest)
