"""``dockyard create``: docker's flags → an Engine API create body (shared with ``run``)."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

import click

from dockyard.client import APIError, Client

from .engine_client import connect, fail, host_option, parse_size

CONTEXT = {"help_option_names": ["--help"], "allow_interspersed_args": False}

_OPTIONS: list[Callable[[Any], Any]] = [
    click.option("--name", default=None, help="Assign a name to the container"),
    click.option("-e", "--env", "env", multiple=True, help="Set environment variables"),
    click.option("-l", "--label", "labels", multiple=True, help="Set metadata on a container"),
    click.option("-w", "--workdir", default=None, help="Working directory inside the container"),
    click.option("-u", "--user", default=None, help="Username or UID (format: <name|uid>[:<group|gid>])"),
    click.option("--entrypoint", default=None, help="Overwrite the default ENTRYPOINT of the image"),
    click.option("-h", "--hostname", default=None, help="Container host name"),
    click.option("--domainname", default=None, help="Container NIS domain name"),
    click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY"),
    click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open even if not attached"),
    click.option("--rm", "auto_remove", is_flag=True,
                 help="Automatically remove the container when it exits"),
    click.option("--restart", default="no", help="Restart policy to apply when a container exits"),
    click.option("--stop-signal", default=None, help="Signal to stop the container"),
    click.option("--stop-timeout", type=int, default=None, help="Timeout (in seconds) to stop"),
    click.option("--log-driver", default=None, help="Logging driver for the container"),
    click.option("--log-opt", "log_opts", multiple=True, help="Log driver options"),
    click.option("-m", "--memory", default=None, help="Memory limit"),
    click.option("--memory-swap", default=None, help="Swap limit equal to memory plus swap"),
    click.option("--cpus", default=None, help="Number of CPUs"),
    click.option("-c", "--cpu-shares", type=int, default=None, help="CPU shares (relative weight)"),
    click.option("--cpuset-cpus", default=None, help="CPUs in which to allow execution"),
    click.option("--pids-limit", type=int, default=None, help="Tune container pids limit"),
    click.option("--cap-add", multiple=True, help="Add Linux capabilities"),
    click.option("--cap-drop", multiple=True, help="Drop Linux capabilities"),
    click.option("--privileged", is_flag=True, help="Give extended privileges to this container"),
    click.option("--read-only", is_flag=True, help="Mount the container's root filesystem as read only"),
    click.option("--security-opt", multiple=True, help="Security Options"),
    click.option("--network", "--net", "network", default=None, help="Connect a container to a network"),
    click.option("--pid", default=None, help="PID namespace to use"),
    click.option("--ipc", default=None, help="IPC mode to use"),
    click.option("--uts", default=None, help="UTS namespace to use"),
    click.option("--tmpfs", multiple=True, help="Mount a tmpfs directory"),
    click.option("--shm-size", default=None, help="Size of /dev/shm"),
    click.option("--sysctl", multiple=True, help="Sysctl options"),
    click.option("--ulimit", multiple=True, help="Ulimit options"),
    click.option("--group-add", multiple=True, help="Add additional groups to join"),
    click.option("--oom-score-adj", type=int, default=None, help="Tune host's OOM preferences"),
    click.option("--init", is_flag=True, help="Run an init inside the container"),
    click.option("--add-host", multiple=True, help="Add a custom host-to-IP mapping (host:ip)"),
    click.option("--dns", multiple=True, help="Set custom DNS servers"),
    click.option("--dns-search", multiple=True, help="Set custom DNS search domains"),
    click.option("--dns-option", multiple=True, help="Set DNS options"),
    click.option("--network-alias", multiple=True, help="Add network-scoped alias for the container"),
]


def container_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(_OPTIONS):
        f = opt(f)
    return f


def _kv(items: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for it in items:
        k, sep, v = it.partition("=")
        if not k:
            raise click.BadParameter(f"invalid value {it!r}: expected KEY=VALUE", param_hint=what)
        out[k] = v
    return out


def build_config(image: str, command: tuple[str, ...], o: dict[str, Any]) -> dict[str, Any]:
    """The create body for these flags (docker's mapping, flag by flag)."""
    import os

    env = []
    for e in o["env"]:
        if "=" in e:
            env.append(e)
        elif e in os.environ:  # "-e NAME" takes NAME from our environment
            env.append(f"{e}={os.environ[e]}")
    restart_name, _, retries = o["restart"].partition(":")
    log_config: dict[str, Any] = {"Type": o["log_driver"] or "", "Config": _kv(o["log_opts"], "--log-opt")}
    host: dict[str, Any] = {
        "AutoRemove": o["auto_remove"], "Privileged": o["privileged"],
        "ReadonlyRootfs": o["read_only"], "CapAdd": list(o["cap_add"]) or None,
        "CapDrop": list(o["cap_drop"]) or None, "SecurityOpt": list(o["security_opt"]) or None,
        "RestartPolicy": {"Name": restart_name,
                          "MaximumRetryCount": int(retries) if retries.isdigit() else 0},
        "LogConfig": log_config, "NetworkMode": o["network"] or "",
        "PidMode": o["pid"] or "", "IpcMode": o["ipc"] or "", "UTSMode": o["uts"] or "",
        "GroupAdd": list(o["group_add"]) or None, "Sysctls": _kv(o["sysctl"], "--sysctl") or None,
        "Init": o["init"] or None, "ExtraHosts": list(o["add_host"]) or None,
        "Dns": list(o["dns"]) or None, "DnsSearch": list(o["dns_search"]) or None,
        "DnsOptions": list(o["dns_option"]) or None,
    }
    if o["memory"]:
        host["Memory"] = parse_size(o["memory"], "--memory")
    if o["memory_swap"]:
        host["MemorySwap"] = -1 if o["memory_swap"] == "-1" else parse_size(o["memory_swap"], "--memory-swap")
    if o["cpus"]:
        try:
            host["NanoCpus"] = int(float(o["cpus"]) * 1e9)
        except ValueError:
            raise click.BadParameter(f"invalid value {o['cpus']!r}", param_hint="--cpus") from None
    if o["cpu_shares"] is not None:
        host["CpuShares"] = o["cpu_shares"]
    if o["cpuset_cpus"]:
        host["CpusetCpus"] = o["cpuset_cpus"]
    if o["pids_limit"] is not None:
        host["PidsLimit"] = o["pids_limit"]
    if o["shm_size"]:
        host["ShmSize"] = parse_size(o["shm_size"], "--shm-size")
    if o["oom_score_adj"] is not None:
        host["OomScoreAdj"] = o["oom_score_adj"]
    if o["tmpfs"]:
        host["Tmpfs"] = {t.split(":", 1)[0]: (t.split(":", 1)[1] if ":" in t else "")
                         for t in o["tmpfs"]}
    if o["ulimit"]:
        ul = []
        for u in o["ulimit"]:
            name, _, lim = u.partition("=")
            soft, _, hard = lim.partition(":")
            if not soft.lstrip("-").isdigit() or (hard and not hard.lstrip("-").isdigit()):
                raise click.BadParameter(f"invalid ulimit {u!r}: expected name=soft[:hard]",
                                         param_hint="--ulimit")
            ul.append({"Name": name, "Soft": int(soft), "Hard": int(hard or soft)})
        host["Ulimits"] = ul
    cfg: dict[str, Any] = {
        "Image": image, "Cmd": list(command) or None, "Env": env or None,
        "Labels": _kv(o["labels"], "--label"), "WorkingDir": o["workdir"] or "",
        "User": o["user"] or "", "Hostname": o["hostname"] or "",
        "Domainname": o["domainname"] or "", "Tty": o["tty"], "OpenStdin": o["interactive"],
        "StdinOnce": o["interactive"], "AttachStdin": o["interactive"],
        "AttachStdout": True, "AttachStderr": True, "StopSignal": o["stop_signal"],
        "StopTimeout": o["stop_timeout"], "HostConfig": host,
    }
    if o["network_alias"]:
        net = o["network"] or "default"
        cfg["NetworkingConfig"] = {"EndpointsConfig": {net: {"Aliases": list(o["network_alias"])}}}
    if o["entrypoint"] is not None:
        cfg["Entrypoint"] = shlex.split(o["entrypoint"]) if o["entrypoint"] else [""]
    return cfg


def do_create(client: Client, image: str, command: tuple[str, ...], opts: dict[str, Any],
              code: int) -> str:
    cfg = build_config(image, command, opts)
    try:
        return str(client.create(cfg, opts["name"])["Id"])
    except APIError as e:
        if e.status == 404 and "No such image" in e.message:
            click.echo(f"Unable to find image '{image}' locally", err=True)
        fail(e.message, code)


@click.command(context_settings=CONTEXT)
@container_options
@host_option
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def create(image: str, command: tuple[str, ...], host: str | None, **opts: Any) -> None:
    """Create a new container."""
    with connect(host) as client:
        click.echo(do_create(client, image, command, opts, 1))
