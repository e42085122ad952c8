"""``dockyard daemon``: the engine behind the Docker Engine API (dockerd's role).

Flags as dockerd's: ``--root`` (data, default /var/lib/dockyard), ``--run-root``
(sockets and state, default /run/dockyard), ``-H/--host unix://PATH``
(repeatable; default unix:///run/dockyard/dockyard.sock), ``--log-level``,
``--config-file`` (JSON like daemon.json: ``data-root``, ``exec-root``,
``hosts``, ``log-level``, ``log-driver``, ``log-opts``; dockyard's own
``health-start-probes``, engine/health.py), and
``--docker-socket[=PATH]`` to serve /var/run/docker.sock as well.
Registries as dockerd's: ``insecure-registries``/``registry-mirrors`` in
the config file and ``--insecure-registry``/``--registry-mirror`` flags
(merged; loopback is always insecure); CA certificates from
``/etc/docker/certs.d/<host:port>/``.
Volume plugins are found in ``--plugin-dir DIR`` (repeatable; config key
``plugin-dirs``): ``NAME.sock``/``NAME/NAME.sock`` and ``NAME.spec``/``.json``
there, instead of Docker's /run/docker/plugins and /etc/docker/plugins.

The supervisor fork server (``engine.zygote``, an interpreter of its own) is
started first, so its start-up overlaps the daemon's. ``--supervisor c`` (the default) has each
container's supervisor hand over to the small C shim once the container has
started (``engine.cshim``); ``--supervisor python`` keeps them in Python. SIGTERM/SIGINT stop serving and leave the
containers running: the next daemon takes them over (live restore).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

DEFAULT_ROOT = "/var/lib/dockyard"
DEFAULT_RUN_ROOT = "/run/dockyard"
DEFAULT_SOCKET = "unix:///run/dockyard/dockyard.sock"
DOCKER_SOCKET = "/var/run/docker.sock"
DEFAULT_BRIDGE = "dockyard0"
_CONFIG_KEYS = {"data-root", "exec-root", "hosts", "log-level", "log-driver", "log-opts",
                "seccomp-profile", "live-restore", "debug", "bridge", "bip",
                "insecure-registries", "registry-mirrors", "plugin-dirs", "health-start-probes"}


def _load_config(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise click.BadParameter(f"{path}: no such file", param_hint="--config-file") from None
    except ValueError as e:
        raise click.BadParameter(f"{path}: invalid JSON: {e}", param_hint="--config-file") from None
    if not isinstance(doc, dict):
        raise click.BadParameter(f"{path}: expected a JSON object", param_hint="--config-file")
    unknown = sorted(set(doc) - _CONFIG_KEYS)
    if unknown:
        raise click.BadParameter(f"{path}: unknown keys {', '.join(unknown)} (known: "
                                 f"{', '.join(sorted(_CONFIG_KEYS))})", param_hint="--config-file")
    return doc


def _socket_path(host: str) -> str:
    if not host.startswith("unix://"):
        raise click.BadParameter(f"{host!r}: only unix:// hosts are supported", param_hint="-H")
    path = host[len("unix://"):]
    if not path.startswith("/"):
        raise click.BadParameter(f"{host!r}: the socket path must be absolute", param_hint="-H")
    if len(path.encode()) > 107:
        raise click.BadParameter(f"{host!r}: socket path longer than 107 bytes", param_hint="-H")
    return path


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", "--data-root", "root", default=None, metavar="DIR",
              help=f"Root of persistent state (default {DEFAULT_ROOT})")
@click.option("--run-root", "--exec-root", "run_root", default=None, metavar="DIR",
              help=f"Root of runtime state and sockets (default {DEFAULT_RUN_ROOT})")
@click.option("-H", "--host", "hosts", multiple=True, metavar="unix://PATH",
              help=f"Socket to listen on (default {DEFAULT_SOCKET})")
@click.option("-l", "--log-level", default=None,
              type=click.Choice(["debug", "info", "warn", "error", "fatal"]))
@click.option("--config-file", default=None, metavar="FILE", help="daemon.json-like JSON")
@click.option("--docker-socket", is_flag=False, flag_value=DOCKER_SOCKET, default=None,
              metavar="PATH", help=f"Also serve {DOCKER_SOCKET} (or PATH)")
@click.option("-b", "--bridge", default=None, metavar="NAME|none",
              help=f"The default bridge's link name (default {DEFAULT_BRIDGE}); 'none': "
                   "no default bridge, containers get no network unless asked")
@click.option("--bip", default=None, metavar="CIDR",
              help="The default bridge's subnet (default 172.17.0.0/16)")
@click.option("--insecure-registry", "insecure", multiple=True, metavar="HOST",
              help="Registry (host:port or CIDR) allowed over plain HTTP (repeatable; loopback always is)")
@click.option("--registry-mirror", "mirrors", multiple=True, metavar="URL",
              help="Mirror for docker.io pulls (repeatable)")
@click.option("--plugin-dir", "plugin_dirs", multiple=True, metavar="DIR",
              help="Where volume plugins' sockets and .spec files are (repeatable; default "
                   "/run/docker/plugins, /etc/docker/plugins, /usr/lib/docker/plugins)")
@click.option("--supervisor", type=click.Choice(["c", "python"]), default="c",
              help="Per-container supervisor: 'c' hands each one to the small C shim once "
                   "its container started (engine.cshim), 'python' keeps it in Python")
def daemon(root: str | None, run_root: str | None, hosts: tuple[str, ...], log_level: str | None,
           config_file: str | None, docker_socket: str | None, bridge: str | None,
           bip: str | None, insecure: tuple[str, ...] = (), mirrors: tuple[str, ...] = (),
           plugin_dirs: tuple[str, ...] = (), supervisor: str = "c") -> None:
    """Run the engine daemon: the Docker Engine API on a unix socket."""
    conf = _load_config(config_file)
    registry = _registry_options(conf, insecure, mirrors)
    root = os.path.abspath(root or conf.get("data-root") or DEFAULT_ROOT)
    run_root = os.path.abspath(run_root or conf.get("exec-root") or DEFAULT_RUN_ROOT)
    sockets = [_socket_path(h) for h in (hosts or conf.get("hosts") or [DEFAULT_SOCKET])]
    if docker_socket:
        sockets.append(docker_socket)
    level = log_level or conf.get("log-level") or "info"
    bridge = bridge or conf.get("bridge") or DEFAULT_BRIDGE
    bip = bip or conf.get("bip")
    if bridge != "none" and (len(bridge) > 15 or "/" in bridge or " " in bridge):
        raise click.BadParameter(f"{bridge!r}: an interface name of at most 15 characters",
                                 param_hint="--bridge")
    log_opts = conf.get("log-opts") or {}
    start_probes = conf.get("health-start-probes", True)
    if not isinstance(start_probes, bool):
        raise click.BadParameter(f"health-start-probes: expected true or false, got {start_probes!r}",
                                 param_hint="--config-file")
    pdirs = list(plugin_dirs) or conf.get("plugin-dirs") or []
    if not isinstance(pdirs, list) or not all(isinstance(d, str) and d.startswith("/")
                                              for d in pdirs):
        raise click.BadParameter(f"{pdirs!r}: a list of absolute directories",
                                 param_hint="--plugin-dir/plugin-dirs")

    os.makedirs(root, mode=0o711, exist_ok=True)
    lock = _lock(root)  # one daemon per root, held until this process exits
    # Read by every supervisor (forks of the zygote): engine/cshim.py.
    os.environ["DOCKYARD_SUPERVISOR"] = supervisor
    os.environ["DOCKYARD_SHIM_CACHE"] = os.path.join(root, "shim")
    _limit_malloc_arenas()
    # Started first: its imports overlap ours. It reads the two variables above.
    from dockyard.engine.zygote import Zygote

    zygote = Zygote()
    try:
        code = _run(root, run_root, sockets, level, conf.get("log-driver") or "json-file",
                    log_opts, zygote, bridge, bip, registry, tuple(pdirs), start_probes)
    finally:
        zygote.close()
        os.close(lock)
    sys.exit(code)


def _registry_options(conf: dict[str, Any], insecure: tuple[str, ...],
                      mirrors: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """daemon.json's ``insecure-registries``/``registry-mirrors`` plus the flags' (dockerd merges both).

    Checked here, before the zygote forks; ``RegistryOptions`` is made after
    (``_run``): its module pulls in the whole registry client (httpx, TLS),
    which the zygote, and so every supervisor, would otherwise carry."""
    lists = {}
    for key, flag in (("insecure-registries", insecure), ("registry-mirrors", mirrors)):
        value = conf.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise click.BadParameter(f"{key}: expected a list of non-empty strings, got {value!r}",
                                     param_hint="--config-file")
        lists[key] = tuple(dict.fromkeys([*value, *flag]))
    for m in lists["registry-mirrors"]:
        if not m.startswith(("http://", "https://")) or not m.split("://", 1)[1].strip("/"):
            raise click.BadParameter(f"{m!r}: a mirror must be an http:// or https:// URL",
                                     param_hint="registry-mirrors")
    return lists


def _limit_malloc_arenas() -> None:
    """glibc's ``MALLOC_ARENA_MAX=2``, set in-process (the variable is read
    once, when the process starts, so exporting it here would reach only
    children): each thread that allocates (the executor's, the API's) would
    otherwise get an arena of its own, up to 8 per core, each keeping freed
    memory it never hands back. Called before any thread starts."""
    import ctypes

    m_arena_max = -8  # <malloc.h>
    try:
        ctypes.CDLL(None).mallopt(m_arena_max, 2)  # the symbols already loaded: libc's
    except AttributeError:
        pass  # not glibc (musl has no arenas to limit)


def _import_server_lean() -> None:
    """Import asyncio and aiohttp without TLS, which the daemon never serves
    (plain unix sockets) but an idle daemon held 7 MiB of: asyncio imports
    ``ssl`` (OpenSSL's libraries), and aiohttp's package imports its client,
    whose connector makes two TLS contexts at import time, loading the
    system's whole CA bundle. With ``ssl`` hidden for these imports both take
    TLS as absent, as on a Python built without it; the registry client
    (httpx, synchronous, in threads) imports ``ssl`` for itself on the first
    pull or push. And frozenlist's compiled form is C++, mapping libstdc++
    (0.9 MiB) for the few lists aiohttp freezes once: its Python form instead."""
    if "asyncio" in sys.modules or "aiohttp" in sys.modules:
        return  # too late (an embedding caller): nothing to save
    sys.modules["ssl"] = None  # type: ignore[assignment]
    os.environ["FROZENLIST_NO_EXTENSIONS"] = "1"
    try:
        import asyncio  # noqa: F401

        import aiohttp.web  # noqa: F401
    finally:
        del os.environ["FROZENLIST_NO_EXTENSIONS"]
        del sys.modules["ssl"]


def _trim_heap() -> None:
    """Hand back what start-up freed: imports and the restore leave garbage
    and a fragmented heap that glibc keeps unless asked (``malloc_trim``)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except AttributeError:
        pass  # not glibc


def _lock(root: str) -> int:
    import fcntl

    fd = os.open(os.path.join(root, "dockyard.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise click.ClickException(f"another dockyard daemon is running on {root}") from None
    return fd


def _net_table(bridge: str, root: str) -> str:
    """The nftables table this daemon owns. Each daemon swaps its table whole,
    so two daemons on one host (tests, a second root) must never share one."""
    import hashlib

    if bridge == DEFAULT_BRIDGE:
        return "dockyard"
    if bridge == "none":
        return "dy_" + hashlib.sha256(root.encode()).hexdigest()[:10]
    return "dy_" + bridge.replace("-", "_")


def _link_prefix(bridge: str, root: str) -> str:
    """The prefix of the host links this daemon makes. At start the network
    service deletes links with its prefix that its records do not name, so
    two daemons sharing "dy-" would delete each other's bridges and veths."""
    import hashlib

    if bridge == DEFAULT_BRIDGE:
        return "dy-"
    return "d" + hashlib.sha256(root.encode()).hexdigest()[:5] + "-"


def _run(root: str, run_root: str, sockets: list[str], level: str, log_driver: str,
         log_opts: dict[str, str], zygote: Any, bridge: str, bip: str | None,
         registry: Any = None, plugin_dirs: tuple[str, ...] = (),
         health_start_probes: bool = True) -> int:
    _import_server_lean()
    import asyncio
    import logging
    import signal

    # httpx (the registry and volume-plugin clients) imports its own command
    # line client, and with it rich and pygments (3 MiB), when they are
    # installed; a None entry makes that import fail, which httpx expects.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    from dockyard.api.server import make_app, serve
    from dockyard.engine.logfile import DEFAULT_MAX_FILE, DEFAULT_MAX_SIZE, parse_size
    from dockyard.engine.service import Engine, Options
    from dockyard.images import ImageService

    logging.basicConfig(level={"warn": "WARNING", "fatal": "CRITICAL"}.get(level, level.upper()),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("dockyard.daemon")
    os.makedirs(root, mode=0o711, exist_ok=True)
    os.makedirs(run_root, mode=0o711, exist_ok=True)
    opts = Options(root=root, run_root=run_root, default_log_driver=log_driver,
                   default_network="none" if bridge == "none" else "bridge",
                   log_max_size=parse_size(log_opts.get("max-size", str(DEFAULT_MAX_SIZE))),
                   log_max_file=int(log_opts.get("max-file", DEFAULT_MAX_FILE)),
                   health_start_probes=health_start_probes)

    async def main() -> int:
        engine: Engine | None = None
        images = ImageService.open(root, users=lambda image_id: engine.image_users(image_id)
                                   if engine else [])
        from dockyard.volume import VolumeService

        # A private plugin dir holds sockets and specs alike (tests, rootless setups).
        volumes = (VolumeService(root, run_root, plugin_socket_dirs=plugin_dirs,
                                 plugin_spec_dirs=plugin_dirs)
                   if plugin_dirs else VolumeService(root, run_root))
        volumes.restore()
        from dockyard.network import NetworkService

        # Netlink requests block (and the bridge's set-up can take a while): off the loop.
        networks = await asyncio.to_thread(
            lambda: NetworkService(root, run_root, table=_net_table(bridge, root),
                                   link_prefix=_link_prefix(bridge, root),
                                   default_bridge=bridge if bridge != "none" else DEFAULT_BRIDGE))
        await asyncio.to_thread(networks.restore)
        if bridge != "none":
            await asyncio.to_thread(lambda: networks.ensure_predefined(bip) if bip
                                    else networks.ensure_predefined())
        engine = Engine(opts, images, zygote, volumes, networks)
        await engine.load()
        app = make_app(engine, images, volumes, networks)
        if registry is not None:
            from dockyard.api.server import REGISTRY

            # The lists; routes/distribution.py makes RegistryOptions of them
            # on the first pull or push (its module loads the registry client).
            app[REGISTRY] = registry
        runner = await serve(app, sockets)
        with open(os.path.join(run_root, "dockyard.pid"), "w") as f:
            f.write(f"{os.getpid()}\n")
        log.info("API listening on %s", ", ".join(sockets))
        _trim_heap()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("shutting down; containers keep running (live restore)")
        await engine.close()
        await runner.cleanup()
        images.close()
        volumes.close()
        for s in sockets:
            try:
                os.unlink(s)
            except FileNotFoundError:
                pass
        return 0

    return asyncio.run(main())
