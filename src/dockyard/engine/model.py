"""Docker's container types, with the Engine API's field names (swagger v1.50).

Attributes are spelled exactly as the JSON keys (``Hostname``, ``HostConfig``)
so this module reads side by side with ``swagger-v1.50.yaml``. msgspec
decodes request bodies into them (unknown keys are dropped, wrong types are
refused with the field's path) and the record on disk is the same structure,
so ``docker inspect`` is the record plus computed fields.
"""

from __future__ import annotations

import msgspec

from dockyard.volume.mountspec import Mount as ApiMount
from dockyard.volume.mountspec import MountPoint


class _S(msgspec.Struct, kw_only=True):
    pass


class HealthConfig(_S, kw_only=True):
    Test: list[str] | None = None
    Interval: int | None = None
    Timeout: int | None = None
    Retries: int | None = None
    StartPeriod: int | None = None
    StartInterval: int | None = None


class ContainerConfig(_S, kw_only=True):
    """``ContainerConfig`` of the swagger: what is portable about a container."""

    Hostname: str = ""
    Domainname: str = ""
    User: str = ""
    AttachStdin: bool = False
    AttachStdout: bool = False
    AttachStderr: bool = False
    ExposedPorts: dict[str, dict[str, object]] | None = None
    Tty: bool = False
    OpenStdin: bool = False
    StdinOnce: bool = False
    Env: list[str] | None = None
    Cmd: list[str] | None = None
    Healthcheck: HealthConfig | None = None
    ArgsEscaped: bool | None = None
    Image: str = ""
    Volumes: dict[str, dict[str, object]] | None = None
    WorkingDir: str = ""
    Entrypoint: list[str] | None = None
    NetworkDisabled: bool | None = None
    OnBuild: list[str] | None = None
    Labels: dict[str, str] | None = None
    StopSignal: str | None = None
    StopTimeout: int | None = None
    Shell: list[str] | None = None


class RestartPolicy(_S, kw_only=True):
    Name: str = "no"
    MaximumRetryCount: int = 0


class LogConfig(_S, kw_only=True):
    Type: str = ""
    Config: dict[str, str] | None = None


class Ulimit(_S, kw_only=True):
    Name: str
    Soft: int
    Hard: int


class DeviceMapping(_S, kw_only=True):
    PathOnHost: str
    PathInContainer: str = ""
    CgroupPermissions: str = "rwm"


class HostConfig(_S, kw_only=True):
    """``HostConfig``: the non-portable part (resources, security, namespaces).

    Only fields the engine honours (or must store for inspect) are listed;
    the rest of what clients send is dropped at decode time.
    """

    Binds: list[str] | None = None
    Mounts: list[ApiMount] | None = None
    ContainerIDFile: str = ""
    LogConfig: LogConfig = msgspec.field(default_factory=LogConfig)
    NetworkMode: str = ""
    PortBindings: dict[str, list[dict[str, str]] | None] | None = None
    RestartPolicy: RestartPolicy = msgspec.field(default_factory=RestartPolicy)
    AutoRemove: bool = False
    VolumeDriver: str = ""
    VolumesFrom: list[str] | None = None
    CapAdd: list[str] | None = None
    CapDrop: list[str] | None = None
    CgroupnsMode: str = ""
    Dns: list[str] | None = None
    DnsOptions: list[str] | None = None
    DnsSearch: list[str] | None = None
    ExtraHosts: list[str] | None = None
    GroupAdd: list[str] | None = None
    IpcMode: str = ""
    Cgroup: str = ""
    Links: list[str] | None = None
    OomScoreAdj: int = 0
    PidMode: str = ""
    Privileged: bool = False
    PublishAllPorts: bool = False
    ReadonlyRootfs: bool = False
    SecurityOpt: list[str] | None = None
    Tmpfs: dict[str, str] | None = None
    UTSMode: str = ""
    UsernsMode: str = ""
    ShmSize: int = 0
    Sysctls: dict[str, str] | None = None
    Runtime: str = ""
    Isolation: str = ""
    CpuShares: int = 0
    Memory: int = 0
    NanoCpus: int = 0
    CgroupParent: str = ""
    CpuPeriod: int = 0
    CpuQuota: int = 0
    CpusetCpus: str = ""
    CpusetMems: str = ""
    Devices: list[DeviceMapping] | None = None
    MemoryReservation: int = 0
    MemorySwap: int = 0
    PidsLimit: int | None = None
    Ulimits: list[Ulimit] | None = None
    Init: bool | None = None
    MaskedPaths: list[str] | None = None
    ReadonlyPaths: list[str] | None = None


class HealthLog(_S, kw_only=True):
    Start: str
    End: str
    ExitCode: int
    Output: str


class Health(_S, kw_only=True):
    Status: str = "starting"  # starting | healthy | unhealthy
    FailingStreak: int = 0
    Log: list[HealthLog] | None = None


class State(_S, kw_only=True):
    """``ContainerState``; ``Status`` is one of created, running, paused,
    restarting, removing, exited, dead."""

    Status: str = "created"
    Running: bool = False
    Paused: bool = False
    Restarting: bool = False
    OOMKilled: bool = False
    Dead: bool = False
    Pid: int = 0
    ExitCode: int = 0
    Error: str = ""
    StartedAt: str = "0001-01-01T00:00:00Z"
    FinishedAt: str = "0001-01-01T00:00:00Z"
    Health: Health | None = None


class Container(_S, kw_only=True):
    """One container record: ``<root>/containers/<id>/config.v2.json``.

    Docker's inspect fields; ``Name`` keeps Docker's leading slash.
    """

    Id: str
    Created: str
    Path: str
    Args: list[str]
    State: State = msgspec.field(default_factory=State)
    Image: str
    ResolvConfPath: str = ""
    HostnamePath: str = ""
    HostsPath: str = ""
    LogPath: str = ""
    Name: str
    RestartCount: int = 0
    Driver: str = "overlay"
    Platform: str = "linux"
    MountLabel: str = ""
    ProcessLabel: str = ""
    AppArmorProfile: str = ""
    Config: ContainerConfig
    HostConfig: HostConfig
    # Not in Docker's inspect: the snapshot key and the parent chain it was
    # prepared on, so a restarted daemon can find and remove them.
    SnapshotKey: str = ""
    # Docker's MountPoints (config.v2.json): binds and volumes, prepared at create.
    MountPoints: list[MountPoint] | None = None
    # Docker's HasBeenManuallyStopped: ``unless-stopped`` is not restarted
    # at daemon start after a ``docker stop``.
    ManuallyStopped: bool = False
    # Docker keeps these in NetworkSettings.Networks[n].Aliases from the
    # create request's NetworkingConfig; we keep the request's list until the
    # network service makes the endpoint at start (and again on restart).
    NetworkAliases: list[str] | None = None
    # Networks joined with ``docker network connect`` besides NetworkMode's,
    # name -> aliases: connected at every start, as Docker keeps them in
    # NetworkSettings.Networks.
    ExtraNetworks: dict[str, list[str]] | None = None
    # NetworkMode's network was left with ``docker network disconnect`` and no
    # other network took its place: start connects nothing until a connect.
    NetworkDetached: bool = False


def encode(obj: object) -> bytes:
    return msgspec.json.encode(obj)
