"""``spec``: a default config.json, as ``runc spec`` writes it.

``default_spec_dict()`` is the wire form (handy for tests and tools that
tweak a field before writing); ``default_spec()`` the typed ``Spec``;
``write_bundle(bundle, config)`` writes config.json next to a rootfs.
"""

from __future__ import annotations

import json
import os

from .errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.oci.runtime import Spec

    from .cli import Globals

DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
MASKED_PATHS = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def default_spec_dict(
    args: list[str] | None = None, *, terminal: bool = True, rootfs: str = "rootfs"
) -> dict[str, Any]:
    """runc 1.1's ``runc spec`` output (terminal on, ``sh``, read-only root)."""
    caps = list(DEFAULT_CAPS)
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": terminal,
            "user": {"uid": 0, "gid": 0},
            "args": args or ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }


def default_spec(args: list[str] | None = None, *, terminal: bool = True) -> Spec:
    from dockyard.oci.runtime import load_config

    return load_config(json.dumps(default_spec_dict(args, terminal=terminal)))


def write_bundle(bundle: str, config: dict[str, Any] | Spec) -> str:
    """Write ``bundle/config.json``; returns its path."""
    path = os.path.join(bundle, "config.json")
    if isinstance(config, dict):
        data = json.dumps(config, indent=2).encode()
    else:
        from dockyard.oci.runtime import dump_config

        data = dump_config(config)
    with open(path, "wb") as f:
        f.write(data)
    return path


def cli(verb: str, argv: list[str], g: Globals) -> int:
    bundle = "."
    it = iter(argv)
    for a in it:
        if a in ("-b", "--bundle"):
            bundle = next(it, ".")
        elif a.startswith("--bundle="):
            bundle = a.split("=", 1)[1]
        elif a == "--rootless":
            raise InvalidArgument("spec --rootless is not supported")
        else:
            raise SystemExit(f"flag provided but not defined: {a}")
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise InvalidArgument("File config.json exists. Remove it first")
    write_bundle(bundle, default_spec_dict())
    return 0
