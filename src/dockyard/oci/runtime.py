"""OCI runtime-spec types (config.json and the container state).

Field names are the spec's (https://github.com/opencontainers/runtime-spec,
config.md, config-linux.md, runtime.md): Python attributes are snake_case and
``rename="camel"`` maps them to the spec's camelCase on the wire; the few that
camel-casing gets wrong (``containerID``, ``hostID``, ``classID``) are named
explicitly. Unknown fields are ignored, as the spec asks of runtimes.

``load_config`` reports the exact bad field: ``$.process.user.uid: Expected
`int`, got `str```.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from .errors import InvalidSpecError

SPEC_VERSION = "1.2.0"
SUPPORTED_MAJOR = 1

NamespaceType = Literal["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"]
NAMESPACE_TYPES: tuple[str, ...] = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")


class _Base(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    pass


# --- process -----------------------------------------------------------------


class ConsoleSize(_Base):
    height: int = 0
    width: int = 0


class User(_Base):
    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: list[int] | None = None
    username: str | None = None


class LinuxCapabilities(_Base):
    bounding: list[str] | None = None
    effective: list[str] | None = None
    inheritable: list[str] | None = None
    permitted: list[str] | None = None
    ambient: list[str] | None = None


class POSIXRlimit(_Base):
    type: str
    hard: int
    soft: int


class IOPriority(_Base):
    class_: str = msgspec.field(name="class")
    priority: int = 0


class Process(_Base):
    terminal: bool = False
    console_size: ConsoleSize | None = None
    user: User = msgspec.field(default_factory=User)
    args: list[str] | None = None
    command_line: str | None = None
    env: list[str] | None = None
    cwd: str = "/"
    capabilities: LinuxCapabilities | None = None
    rlimits: list[POSIXRlimit] | None = None
    no_new_privileges: bool = False
    apparmor_profile: str | None = None
    oom_score_adj: int | None = None
    selinux_label: str | None = None
    io_priority: IOPriority | None = None


# --- root, mounts, hooks --------------------------------------------------------


class Root(_Base):
    path: str
    readonly: bool = False


class LinuxIDMapping(_Base):
    container_id: int = msgspec.field(name="containerID")
    host_id: int = msgspec.field(name="hostID")
    size: int


class Mount(_Base):
    destination: str
    type: str | None = None
    source: str | None = None
    options: list[str] | None = None
    uid_mappings: list[LinuxIDMapping] | None = None
    gid_mappings: list[LinuxIDMapping] | None = None


class Hook(_Base):
    path: str
    args: list[str] | None = None
    env: list[str] | None = None
    timeout: int | None = None


class Hooks(_Base):
    prestart: list[Hook] | None = None
    create_runtime: list[Hook] | None = None
    create_container: list[Hook] | None = None
    start_container: list[Hook] | None = None
    poststart: list[Hook] | None = None
    poststop: list[Hook] | None = None


# --- linux: resources (cgroups) --------------------------------------------------


class LinuxDeviceCgroup(_Base):
    allow: bool
    type: str | None = None  # "a", "c" or "b"; absent means all
    major: int | None = None
    minor: int | None = None
    access: str | None = None  # some of "rwm"


class LinuxMemory(_Base):
    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None
    kernel: int | None = None
    kernel_tcp: int | None = msgspec.field(default=None, name="kernelTCP")
    swappiness: int | None = None
    disable_oom_killer: bool | None = msgspec.field(default=None, name="disableOOMKiller")
    use_hierarchy: bool | None = None
    check_before_update: bool | None = None


class LinuxCPU(_Base):
    shares: int | None = None
    quota: int | None = None
    burst: int | None = None
    period: int | None = None
    realtime_runtime: int | None = None
    realtime_period: int | None = None
    cpus: str | None = None
    mems: str | None = None
    idle: int | None = None


class LinuxPids(_Base):
    limit: int


class LinuxWeightDevice(_Base):
    major: int
    minor: int
    weight: int | None = None
    leaf_weight: int | None = None


class LinuxThrottleDevice(_Base):
    major: int
    minor: int
    rate: int


class LinuxBlockIO(_Base):
    weight: int | None = None
    leaf_weight: int | None = None
    weight_device: list[LinuxWeightDevice] | None = None
    throttle_read_bps_device: list[LinuxThrottleDevice] | None = None
    throttle_write_bps_device: list[LinuxThrottleDevice] | None = None
    throttle_read_iops_device: list[LinuxThrottleDevice] = msgspec.field(
        default_factory=list, name="throttleReadIOPSDevice"
    )
    throttle_write_iops_device: list[LinuxThrottleDevice] = msgspec.field(
        default_factory=list, name="throttleWriteIOPSDevice"
    )


class LinuxHugepageLimit(_Base):
    page_size: str
    limit: int


class LinuxInterfacePriority(_Base):
    name: str
    priority: int


class LinuxNetwork(_Base):
    class_id: int | None = msgspec.field(default=None, name="classID")
    priorities: list[LinuxInterfacePriority] | None = None


class LinuxResources(_Base):
    devices: list[LinuxDeviceCgroup] | None = None
    memory: LinuxMemory | None = None
    cpu: LinuxCPU | None = None
    pids: LinuxPids | None = None
    block_io: LinuxBlockIO | None = msgspec.field(default=None, name="blockIO")
    hugepage_limits: list[LinuxHugepageLimit] | None = None
    network: LinuxNetwork | None = None
    unified: dict[str, str] | None = None


# --- linux: the rest ---------------------------------------------------------------


class LinuxNamespace(_Base):
    type: str
    path: str | None = None


class LinuxDevice(_Base):
    path: str
    type: str  # "c", "b", "u" or "p"
    major: int | None = None
    minor: int | None = None
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


class LinuxSeccompArg(_Base):
    index: int
    value: int
    op: str
    value_two: int | None = None


class LinuxSyscall(_Base):
    names: list[str]
    action: str
    errno_ret: int | None = None
    args: list[LinuxSeccompArg] | None = None


class LinuxSeccomp(_Base):
    default_action: str
    default_errno_ret: int | None = None
    architectures: list[str] | None = None
    flags: list[str] | None = None
    listener_path: str | None = None
    listener_metadata: str | None = None
    syscalls: list[LinuxSyscall] | None = None


class LinuxPersonality(_Base):
    domain: str
    flags: list[str] | None = None


class Linux(_Base):
    uid_mappings: list[LinuxIDMapping] | None = None
    gid_mappings: list[LinuxIDMapping] | None = None
    sysctl: dict[str, str] | None = None
    resources: LinuxResources | None = None
    cgroups_path: str | None = None
    namespaces: list[LinuxNamespace] | None = None
    devices: list[LinuxDevice] | None = None
    seccomp: LinuxSeccomp | None = None
    rootfs_propagation: str | None = None
    masked_paths: list[str] | None = None
    readonly_paths: list[str] | None = None
    mount_label: str | None = None
    personality: LinuxPersonality | None = None


class Spec(_Base):
    """config.json."""

    oci_version: str
    process: Process | None = None
    root: Root | None = None
    hostname: str | None = None
    domainname: str | None = None
    mounts: list[Mount] | None = None
    hooks: Hooks | None = None
    annotations: dict[str, str] | None = None
    linux: Linux | None = None


# --- state ---------------------------------------------------------------------------

Status = Literal["creating", "created", "running", "stopped", "paused"]


class State(_Base):
    """The state a runtime reports (``runc state``) and hooks read on stdin.

    ``rootfs``, ``created`` and ``owner`` are runc's additions to the spec's
    fields; tools parse them, so we report them too.
    """

    oci_version: str
    id: str
    status: str
    bundle: str
    pid: int = 0
    rootfs: str | None = None
    created: str | None = None
    owner: str | None = None
    annotations: dict[str, str] | None = None


# --- codecs ----------------------------------------------------------------------------

_spec_decoder = msgspec.json.Decoder(Spec)
_state_decoder = msgspec.json.Decoder(State)
_encoder = msgspec.json.Encoder()


def load_config(data: bytes | str) -> Spec:
    """Parse config.json; raise ``InvalidSpecError`` naming the bad field.

    Checks beyond the shape: ``ociVersion`` must be a 1.x version and each
    namespace type one the spec defines.
    """
    try:
        spec = _spec_decoder.decode(data)
    except msgspec.ValidationError as e:
        raise InvalidSpecError(f"config.json: {e}") from None
    except msgspec.DecodeError as e:
        raise InvalidSpecError(f"config.json: malformed JSON: {e}") from None
    major = spec.oci_version.split(".", 1)[0]
    if not major.isdigit() or int(major) != SUPPORTED_MAJOR:
        raise InvalidSpecError(
            f"config.json: $.ociVersion: unsupported version {spec.oci_version!r}, "
            f"expected {SUPPORTED_MAJOR}.x"
        )
    if spec.linux and spec.linux.namespaces:
        seen: set[str] = set()
        for i, ns in enumerate(spec.linux.namespaces):
            if ns.type not in NAMESPACE_TYPES:
                raise InvalidSpecError(
                    f"config.json: $.linux.namespaces[{i}].type: unknown namespace type "
                    f"{ns.type!r}, expected one of {', '.join(NAMESPACE_TYPES)}"
                )
            if ns.type in seen:
                raise InvalidSpecError(
                    f"config.json: $.linux.namespaces[{i}].type: duplicate namespace {ns.type!r}"
                )
            seen.add(ns.type)
    return spec


def dump_config(spec: Spec) -> bytes:
    return _encoder.encode(spec)


def load_state(data: bytes | str) -> State:
    try:
        return _state_decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise InvalidSpecError(f"state: {e}") from None


def dump_state(state: State) -> bytes:
    return _encoder.encode(state)
