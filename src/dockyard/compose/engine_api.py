"""A compose service as Docker Engine API requests, and a project's objects on an engine.

Pure translation (``container_body``, ``network_body``, ``volume_body``)
plus the label-filtered look-ups every command starts from
(``project_containers``, ``project_networks``), so that the commands talk
to any engine speaking the Docker Engine API, ours or Docker's.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from dockyard.client import APIError, Client
from dockyard.client.errors import ClientError
from dockyard.compose import labels as L
from dockyard.compose.errors import EngineCommandError
from dockyard.compose.model import Project, Service, ServiceVolume


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1e9)


def service_network(project: Project, service: Service) -> tuple[str | None, str]:
    """(the compose network key or None, the engine NetworkMode) of a service.

    The engine attaches a container to one network at create time; a service
    on several networks gets its highest-priority one (then by name).
    """
    mode = service.network_mode
    if mode:
        if mode.startswith("service:"):
            other = mode.split(":", 1)[1]
            return None, "container:" + L.container_name(project.name, other, 1)
        return None, mode
    if not service.networks:
        return None, "none"
    key = sorted(service.networks,
                 key=lambda k: (-(service.networks[k].priority or 0), k))[0]
    return key, project.networks[key].name


def _mount(project: Project, v: ServiceVolume) -> dict[str, Any]:
    m: dict[str, Any] = {"Type": v.type, "Target": v.target, "ReadOnly": v.read_only}
    if v.type == "volume":
        if v.source:
            m["Source"] = project.volumes[v.source].name if v.source in project.volumes else v.source
        opts: dict[str, Any] = {}
        if v.volume_nocopy:
            opts["NoCopy"] = True
        if v.volume_subpath:
            opts["Subpath"] = v.volume_subpath
        if opts:
            m["VolumeOptions"] = opts
    elif v.type == "bind":
        m["Source"] = v.source
        if v.bind_propagation:
            m["BindOptions"] = {"Propagation": v.bind_propagation}
    elif v.type == "tmpfs":
        tmpfs: dict[str, Any] = {}
        if v.tmpfs_size is not None:
            tmpfs["SizeBytes"] = v.tmpfs_size
        if v.tmpfs_mode is not None:
            tmpfs["Mode"] = v.tmpfs_mode
        if tmpfs:
            m["TmpfsOptions"] = tmpfs
    else:
        raise EngineCommandError(f"service volume {v.target}: unsupported type {v.type!r} "
                                 f"(expected volume, bind or tmpfs)")
    return m


def container_body(project: Project, service: Service, number: int, *,
                   oneoff: bool = False, command: list[str] | None = None,
                   extra_env: Iterable[str] = ()) -> dict[str, Any]:
    """``POST /containers/create`` for replica ``number`` of ``service``."""
    # a `build:` service without `image:` runs docker compose's default name
    image = service.image or (f"{project.name}-{service.name}" if service.build else None)
    if not image:
        raise EngineCommandError(f"service {service.name!r} has neither image nor build")
    env = [k if v is None else f"{k}={v}" for k, v in service.environment.items()]
    env += list(extra_env)
    hc: dict[str, Any] | None = None
    if service.healthcheck is not None:
        h = service.healthcheck
        hc = {"Test": ["NONE"]} if h.disable else {
            "Test": h.test or None, "Interval": _ns(h.interval), "Timeout": _ns(h.timeout),
            "Retries": h.retries, "StartPeriod": _ns(h.start_period),
            "StartInterval": _ns(h.start_interval)}
    key, mode = service_network(project, service)
    ports: dict[str, list[dict[str, str]]] = {}
    exposed: dict[str, dict[str, Any]] = {f"{p}/tcp" if "/" not in p else p: {}
                                          for p in service.expose}
    for p in service.ports if not oneoff else []:
        name = f"{p.target}/{p.protocol}"
        exposed[name] = {}
        ports.setdefault(name, []).append({"HostIp": p.host_ip or "",
                                           "HostPort": str(p.published or "")})
    tmpfs = {}
    for t in service.tmpfs:
        path, _, opts = t.partition(":")
        tmpfs[path] = opts
    host: dict[str, Any] = {
        "NetworkMode": mode,
        "Mounts": [_mount(project, v) for v in service.volumes] or None,
        "PortBindings": ports or None,
        "RestartPolicy": {"Name": service.restart or "no"} if not oneoff else {"Name": "no"},
        "Privileged": service.privileged, "ReadonlyRootfs": service.read_only,
        "CapAdd": service.cap_add or None, "CapDrop": service.cap_drop or None,
        "Sysctls": service.sysctls or None,
        # compose writes extra_hosts as host=ip, the API as host:ip
        "ExtraHosts": [h.replace("=", ":", 1) for h in service.extra_hosts] or None,
        "Dns": service.dns or None, "Init": service.init, "Tmpfs": tmpfs or None,
        "PidMode": service.pid or "", "IpcMode": service.ipc or "",
    }
    if service.logging:
        host["LogConfig"] = {"Type": service.logging.get("driver") or "",
                             "Config": service.logging.get("options") or {}}
    body: dict[str, Any] = {
        "Image": image,
        "Cmd": command if command is not None else service.command,
        "Entrypoint": service.entrypoint,
        "Env": env or None,
        "Labels": L.container_labels(project.name, service.name, service.raw, number,
                                     working_dir=project.working_dir,
                                     config_files=project.config_files, oneoff=oneoff),
        "Hostname": service.hostname or "", "User": service.user or "",
        "WorkingDir": service.working_dir or "", "Tty": service.tty,
        "OpenStdin": service.stdin_open, "AttachStdout": True, "AttachStderr": True,
        "ExposedPorts": exposed or None, "Healthcheck": hc,
        "StopSignal": service.stop_signal or None,
        "StopTimeout": int(service.stop_grace_period) if service.stop_grace_period is not None
        else None,
        "HostConfig": host,
    }
    if key is not None:
        # Docker's engine resolves the service name through these aliases.
        aliases = [service.name, *service.networks[key].aliases]
        body["NetworkingConfig"] = {"EndpointsConfig": {mode: {"Aliases": aliases}}}
    return body


def network_body(project: Project, key: str) -> dict[str, Any]:
    net = project.networks[key]
    body: dict[str, Any] = {
        "Name": net.name, "Driver": net.driver or "bridge", "Options": net.driver_opts or None,
        "Labels": {**net.labels, **L.network_labels(project.name, key)},
        "Internal": net.internal, "Attachable": net.attachable,
        "EnableIPv6": bool(net.enable_ipv6)}
    if net.ipam:
        body["IPAM"] = {"Driver": net.ipam.get("driver") or "default",
                        "Config": [{"Subnet": c.get("subnet"), "IPRange": c.get("ip_range"),
                                    "Gateway": c.get("gateway"),
                                    "AuxiliaryAddresses": c.get("aux_addresses")}
                                   for c in net.ipam.get("config") or []],
                        "Options": net.ipam.get("options")}
    return body


def volume_body(project: Project, key: str) -> dict[str, Any]:
    vol = project.volumes[key]
    return {"Name": vol.name, "Driver": vol.driver or "local", "DriverOpts": vol.driver_opts or {},
            "Labels": {**vol.labels, **L.volume_labels(project.name, key)}}


# --- a project's objects on the engine ------------------------------------------------------


def project_containers(client: Client, project: str, *, services: Iterable[str] = (),
                       all: bool = True, oneoff: bool | None = False) -> list[dict[str, Any]]:
    """The project's containers (``GET /containers/json`` entries), by service then number.

    ``oneoff``: False (the default) leaves out ``run`` containers, True keeps
    only them, None keeps both. Only those compose created (with a config hash), as
    docker compose's getContainers: a container made from an image compose built has
    the image's project and service labels, and is no member of the project.
    """
    filters = {"label": [f"{L.PROJECT}={project}", L.CONFIG_HASH]}
    wanted = set(services)
    out = []
    for c in client.list(all=all, filters=filters):
        labels = c.get("Labels") or {}
        if wanted and labels.get(L.SERVICE) not in wanted:
            continue
        is_oneoff = labels.get(L.ONEOFF) == "True"
        if oneoff is not None and is_oneoff != oneoff:
            continue
        out.append(c)
    return sorted(out, key=lambda c: (c["Labels"].get(L.SERVICE, ""), _number(c), name_of(c)))


def _number(c: dict[str, Any]) -> int:
    try:
        return int((c.get("Labels") or {}).get(L.CONTAINER_NUMBER, "0"))
    except ValueError:
        return 0


def name_of(c: dict[str, Any]) -> str:
    names = c.get("Names") or [""]
    return str(names[0]).lstrip("/")


def project_networks(client: Client, project: str) -> list[dict[str, Any]]:
    return client.networks({"label": [f"{L.PROJECT}={project}"]})


def project_volumes(client: Client, project: str) -> list[dict[str, Any]]:
    return client.volumes({"label": [f"{L.PROJECT}={project}"]})


def ensure_networks(client: Client, project: Project, keys: Iterable[str],
                    say: Any) -> None:
    """Create the project networks ``keys`` that do not exist; external ones must exist."""
    existing = {n["Name"] for n in client.networks()}
    for key in sorted(set(keys)):
        net = project.networks[key]
        if net.name in existing:
            continue
        if net.external:
            raise EngineCommandError(f"network {net.name} declared as external, but could not "
                                     f"be found")
        client.network_create(network_body(project, key))
        say(f"Network {net.name}", "Created")


def ensure_volumes(client: Client, project: Project, keys: Iterable[str], say: Any) -> None:
    existing = {v["Name"] for v in client.volumes()}
    for key in sorted(set(keys)):
        vol = project.volumes[key]
        if vol.name in existing:
            continue
        if vol.external:
            raise EngineCommandError(f"external volume {vol.name!r} not found")
        client.volume_create(volume_body(project, key))
        say(f"Volume {vol.name}", "Created")


# Container events after which a depends_on condition may have changed.
WAKE_ACTIONS = ("health_status", "die", "destroy", "start", "oom")
# How long one wait for an event lasts before the state is read again anyway:
# the fallback when the engine's events are late or missing.
EVENT_WAIT = 2.0
POLL = 0.1  # the poll period when the engine's events cannot be followed


def wait_condition(client: Client, ref: str, name: str, condition: str,
                   timeout: float = 120.0) -> None:
    """Block until the container meets a ``depends_on`` condition, or raise.

    ``service_healthy`` fails when the container turns unhealthy or exits;
    ``service_completed_successfully`` fails on a non-zero exit code.

    Between two reads of the state (``inspect``) it follows the engine's
    ``GET /events`` for this container, so a probe that turns it healthy
    wakes the waiter at once instead of at the next poll: each link of a
    ``depends_on`` chain waits here once. The stream starts at the time of
    the read before it (``since``: an event that comes while it connects is
    replayed, none is lost) and ends by itself after ``EVENT_WAIT``
    (``until``), after which the state is read again whatever came; an
    engine whose events fail is polled every ``POLL`` seconds instead.
    """
    deadline = time.monotonic() + timeout
    follow = True
    while True:
        read_at = time.time()
        try:
            state = client.inspect(ref)["State"]
        except APIError as e:
            raise EngineCommandError(f"dependency {name}: {e.message}") from None
        if _condition_met(state, name, condition):
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise EngineCommandError(f"timed out waiting for {name} ({condition})")
        if follow:
            follow = _next_event(client, ref, read_at, min(EVENT_WAIT, left))
        if not follow:
            time.sleep(min(POLL, left))


def _condition_met(state: dict[str, Any], name: str, condition: str) -> bool:
    """Whether ``state`` (inspect's ``State``) meets ``condition``; raises when it never will."""
    if condition == "service_started":
        return True
    if condition == "service_completed_successfully":
        if not state.get("Running") and state.get("Status") in ("exited", "dead"):
            code = int(state.get("ExitCode") or 0)
            if code != 0:
                raise EngineCommandError(f"service {name!r} didn't complete successfully: "
                                         f"exit {code}")
            return True
        return False
    if condition == "service_healthy":
        health = (state.get("Health") or {}).get("Status")
        if health is None:
            raise EngineCommandError(f"container {name} has no healthcheck configured")
        if health == "healthy":
            return True
        if health == "unhealthy":
            raise EngineCommandError(f"dependency failed to start: container {name} "
                                     f"is unhealthy")
        if not state.get("Running"):
            raise EngineCommandError(f"dependency failed to start: container {name} "
                                     f"exited ({state.get('ExitCode')})")
        return False
    raise EngineCommandError(f"unknown depends_on condition {condition!r}")


def _next_event(client: Client, ref: str, since: float, wait: float) -> bool:
    """Block until the container has an event of ``WAKE_ACTIONS`` after ``since``, or for
    ``wait`` seconds at most. False when the engine's events cannot be followed."""
    filters = {"type": ["container"], "container": [ref]}
    began = time.monotonic()
    # its own connection: the stream is dropped when left before its end
    with client.another() as c:
        stream = c.events(filters, since=f"{since:.6f}", until=f"{time.time() + wait:.6f}")
        try:
            for ev in stream:
                if str(ev.get("Action") or ev.get("status") or "").split(":")[0] in WAKE_ACTIONS:
                    return True
        except (ClientError, OSError, ValueError):
            return False
        finally:
            close = getattr(stream, "close", None)  # a generator: its response dropped now
            if close is not None:
                close()
    # a stream that ends long before its `until` is not one to wait on
    return time.monotonic() - began >= wait / 2
