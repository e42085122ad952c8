"""The typed compose project: dataclasses named after the Compose Specification's fields.

Built from the canonical form (``normalize.py``) by :func:`project_from_config`,
so every field already has one spelling: long syntax, absolute paths,
durations in seconds, sizes in bytes. Each object keeps its canonical
mapping in ``raw`` for hashing and printing; nothing downstream should
need ``dict[str, Any]`` beyond that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.compose.units import parse_duration


def _seconds(value: Any) -> float | None:
    return None if value is None else parse_duration(value) / 1e9


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass
class ServicePort:
    target: int
    published: str | None = None  # a port or a range "8000-8010"; None: engine picks
    host_ip: str | None = None
    protocol: str = "tcp"
    mode: str = "ingress"
    name: str | None = None
    app_protocol: str | None = None


@dataclass
class ServiceVolume:
    type: str  # volume | bind | tmpfs | npipe | cluster | image
    target: str
    source: str | None = None
    read_only: bool = False
    bind_create_host_path: bool = False
    bind_propagation: str | None = None
    bind_selinux: str | None = None
    volume_nocopy: bool = False
    volume_subpath: str | None = None
    tmpfs_size: int | None = None
    tmpfs_mode: int | None = None


@dataclass
class ServiceNetwork:
    aliases: list[str] = field(default_factory=list)
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    priority: int | None = None
    mac_address: str | None = None


@dataclass
class DependsOn:
    condition: str = "service_started"  # | service_healthy | service_completed_successfully
    restart: bool = False
    required: bool = True


@dataclass
class Healthcheck:
    test: list[str] = field(default_factory=list)
    interval: float | None = None  # seconds
    timeout: float | None = None
    retries: int | None = None
    start_period: float | None = None
    start_interval: float | None = None
    disable: bool = False


@dataclass
class Resource:
    cpus: float | None = None
    memory: int | None = None  # bytes
    pids: int | None = None


@dataclass
class RestartPolicy:
    condition: str | None = None
    delay: float | None = None
    max_attempts: int | None = None
    window: float | None = None


@dataclass
class Deploy:
    mode: str | None = None
    replicas: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    limits: Resource | None = None
    reservations: Resource | None = None
    restart_policy: RestartPolicy | None = None


@dataclass
class Build:
    context: str
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: dict[str, str | None] = field(default_factory=dict)
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    cache_from: list[str] = field(default_factory=list)
    secrets: list[ServiceFileRef] = field(default_factory=list)
    network: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class ServiceFileRef:
    """A service's use of a secret or config (mounted at ``target``)."""

    source: str
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None


@dataclass
class Service:
    name: str
    image: str | None = None
    build: Build | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    ports: list[ServicePort] = field(default_factory=list)
    expose: list[str] = field(default_factory=list)
    volumes: list[ServiceVolume] = field(default_factory=list)
    networks: dict[str, ServiceNetwork] = field(default_factory=dict)
    network_mode: str | None = None
    depends_on: dict[str, DependsOn] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    deploy: Deploy | None = None
    restart: str | None = None
    secrets: list[ServiceFileRef] = field(default_factory=list)
    configs: list[ServiceFileRef] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    user: str | None = None
    working_dir: str | None = None
    hostname: str | None = None
    container_name: str | None = None
    tmpfs: list[str] = field(default_factory=list)
    read_only: bool = False
    privileged: bool = False
    init: bool | None = None
    tty: bool = False
    stdin_open: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    ulimits: dict[str, Any] = field(default_factory=dict)
    sysctls: dict[str, str] = field(default_factory=dict)
    logging: dict[str, Any] | None = None
    stop_signal: str | None = None
    stop_grace_period: float | None = None  # seconds
    pid: str | None = None
    ipc: str | None = None
    devices: list[dict[str, Any]] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)  # "host=ip"
    dns: list[str] = field(default_factory=list)
    scale: int | None = None
    pull_policy: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def replicas(self) -> int:
        """How many containers ``up`` runs: ``scale``, else ``deploy.replicas``, else 1."""
        if self.scale is not None:
            return self.scale
        if self.deploy is not None and self.deploy.replicas is not None:
            return self.deploy.replicas
        return 1


@dataclass
class Network:
    name: str
    driver: str | None = None
    driver_opts: dict[str, str] = field(default_factory=dict)
    ipam: dict[str, Any] | None = None
    external: bool = False
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Volume:
    name: str
    driver: str | None = None
    driver_opts: dict[str, str] = field(default_factory=dict)
    external: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class FileObject:
    """A top-level secret or config."""

    name: str
    file: str | None = None
    environment: str | None = None
    content: str | None = None
    external: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Project:
    name: str
    working_dir: str
    services: dict[str, Service] = field(default_factory=dict)
    networks: dict[str, Network] = field(default_factory=dict)
    volumes: dict[str, Volume] = field(default_factory=dict)
    secrets: dict[str, FileObject] = field(default_factory=dict)
    configs: dict[str, FileObject] = field(default_factory=dict)
    config_files: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict, repr=False)


def _ref(raw: Mapping[str, Any]) -> ServiceFileRef:
    mode = raw.get("mode")
    return ServiceFileRef(source=raw["source"], target=raw.get("target"), uid=raw.get("uid"),
                          gid=raw.get("gid"), mode=int(mode, 8) if isinstance(mode, str) else mode)


def _volume(raw: Mapping[str, Any]) -> ServiceVolume:
    bind = raw.get("bind") or {}
    vol = raw.get("volume") or {}
    tmpfs = raw.get("tmpfs") or {}
    return ServiceVolume(
        type=raw["type"], target=raw["target"], source=raw.get("source"),
        read_only=bool(raw.get("read_only", False)),
        # compose's OptOut: true unless written false, for any mount that has a bind section
        bind_create_host_path="bind" in raw and bool(bind.get("create_host_path", True)),
        bind_propagation=bind.get("propagation"), bind_selinux=bind.get("selinux"),
        volume_nocopy=bool(vol.get("nocopy", False)), volume_subpath=vol.get("subpath"),
        tmpfs_size=_int(tmpfs.get("size")), tmpfs_mode=_int(tmpfs.get("mode")),
    )


def _resource(raw: Mapping[str, Any] | None) -> Resource | None:
    if not raw:
        return None
    return Resource(cpus=raw.get("cpus"), memory=_int(raw.get("memory")), pids=_int(raw.get("pids")))


def _deploy(raw: Mapping[str, Any] | None) -> Deploy | None:
    if raw is None:
        return None
    res = raw.get("resources") or {}
    rp = raw.get("restart_policy")
    return Deploy(
        mode=raw.get("mode"), replicas=raw.get("replicas"), labels=dict(raw.get("labels") or {}),
        limits=_resource(res.get("limits")), reservations=_resource(res.get("reservations")),
        restart_policy=RestartPolicy(
            condition=rp.get("condition"), delay=_seconds(rp.get("delay")),
            max_attempts=rp.get("max_attempts"), window=_seconds(rp.get("window")),
        ) if rp else None,
    )


def _build(raw: Mapping[str, Any] | None) -> Build | None:
    if raw is None:
        return None
    return Build(
        context=raw["context"], dockerfile=raw.get("dockerfile"),
        dockerfile_inline=raw.get("dockerfile_inline"), args=dict(raw.get("args") or {}),
        target=raw.get("target"), labels=dict(raw.get("labels") or {}),
        cache_from=list(raw.get("cache_from") or []),
        secrets=[_ref(s) for s in raw.get("secrets") or []], network=raw.get("network"),
        tags=list(raw.get("tags") or []),
    )


def service_from_config(name: str, raw: Mapping[str, Any]) -> Service:
    hc = raw.get("healthcheck")
    return Service(
        name=name, image=raw.get("image"), build=_build(raw.get("build")),
        command=raw.get("command"), entrypoint=raw.get("entrypoint"),
        environment=dict(raw.get("environment") or {}), labels=dict(raw.get("labels") or {}),
        ports=[ServicePort(target=p["target"], published=p.get("published"),
                           host_ip=p.get("host_ip"), protocol=p.get("protocol", "tcp"),
                           mode=p.get("mode", "ingress"), name=p.get("name"),
                           app_protocol=p.get("app_protocol")) for p in raw.get("ports") or []],
        expose=list(raw.get("expose") or []),
        volumes=[_volume(v) for v in raw.get("volumes") or []],
        networks={
            n: ServiceNetwork(aliases=list((c or {}).get("aliases") or []),
                              ipv4_address=(c or {}).get("ipv4_address"),
                              ipv6_address=(c or {}).get("ipv6_address"),
                              priority=(c or {}).get("priority"),
                              mac_address=(c or {}).get("mac_address"))
            for n, c in (raw.get("networks") or {}).items()
        },
        network_mode=raw.get("network_mode"),
        depends_on={
            n: DependsOn(condition=d.get("condition", "service_started"),
                         restart=bool(d.get("restart", False)), required=bool(d.get("required", True)))
            for n, d in (raw.get("depends_on") or {}).items()
        },
        healthcheck=Healthcheck(
            test=list(hc.get("test") or []), interval=_seconds(hc.get("interval")),
            timeout=_seconds(hc.get("timeout")), retries=hc.get("retries"),
            start_period=_seconds(hc.get("start_period")),
            start_interval=_seconds(hc.get("start_interval")), disable=bool(hc.get("disable", False)),
        ) if hc is not None else None,
        deploy=_deploy(raw.get("deploy")), restart=raw.get("restart"),
        secrets=[_ref(s) for s in raw.get("secrets") or []],
        configs=[_ref(s) for s in raw.get("configs") or []],
        profiles=list(raw.get("profiles") or []), user=raw.get("user"),
        working_dir=raw.get("working_dir"), hostname=raw.get("hostname"),
        container_name=raw.get("container_name"), tmpfs=list(raw.get("tmpfs") or []),
        read_only=bool(raw.get("read_only", False)), privileged=bool(raw.get("privileged", False)),
        init=raw.get("init"), tty=bool(raw.get("tty", False)),
        stdin_open=bool(raw.get("stdin_open", False)), cap_add=list(raw.get("cap_add") or []),
        cap_drop=list(raw.get("cap_drop") or []), ulimits=dict(raw.get("ulimits") or {}),
        sysctls=dict(raw.get("sysctls") or {}), logging=raw.get("logging"),
        stop_signal=raw.get("stop_signal"), stop_grace_period=_seconds(raw.get("stop_grace_period")),
        pid=raw.get("pid"), ipc=raw.get("ipc"), devices=list(raw.get("devices") or []),
        extra_hosts=list(raw.get("extra_hosts") or []), dns=list(raw.get("dns") or []),
        scale=raw.get("scale"), pull_policy=raw.get("pull_policy"), raw=dict(raw),
    )


def _file_object(raw: Mapping[str, Any]) -> FileObject:
    return FileObject(name=raw["name"], file=raw.get("file"), environment=raw.get("environment"),
                      content=raw.get("content"), external=bool(raw.get("external", False)),
                      labels=dict(raw.get("labels") or {}))


def project_from_config(config: Mapping[str, Any], *, working_dir: str,
                        config_files: list[str], environment: Mapping[str, str]) -> Project:
    """The typed project of a canonical configuration."""
    return Project(
        name=config["name"], working_dir=working_dir,
        services={n: service_from_config(n, s) for n, s in (config.get("services") or {}).items()},
        networks={
            k: Network(name=v["name"], driver=v.get("driver"), driver_opts=dict(v.get("driver_opts") or {}),
                       ipam=v.get("ipam"), external=bool(v.get("external", False)),
                       internal=bool(v.get("internal", False)), attachable=bool(v.get("attachable", False)),
                       enable_ipv6=v.get("enable_ipv6"), labels=dict(v.get("labels") or {}))
            for k, v in (config.get("networks") or {}).items()
        },
        volumes={
            k: Volume(name=v["name"], driver=v.get("driver"), driver_opts=dict(v.get("driver_opts") or {}),
                      external=bool(v.get("external", False)), labels=dict(v.get("labels") or {}))
            for k, v in (config.get("volumes") or {}).items()
        },
        secrets={k: _file_object(v) for k, v in (config.get("secrets") or {}).items()},
        configs={k: _file_object(v) for k, v in (config.get("configs") or {}).items()},
        config_files=list(config_files), environment=dict(environment),
    )
