"""Short syntax → long syntax: ports, volumes, devices, commands.

Each parser takes what a user wrote in a compose file and returns the long
form docker compose prints in ``docker compose config``; bad input raises
ValueError with a message the caller prefixes with the field path.
"""

from __future__ import annotations

import ipaddress
import os
import posixpath
import re
import shlex
from typing import Any

_PROPAGATION = {"shared", "rshared", "slave", "rslave", "private", "rprivate"}


def split_command(value: str) -> list[str]:
    """Split a string ``command``/``entrypoint`` as Go's shellwords does (POSIX quoting)."""
    try:
        return shlex.split(value, posix=True)
    except ValueError as e:
        raise ValueError(f"invalid command line {value!r}: {e}") from None


def _port_range(text: str) -> tuple[int, int]:
    start, sep, end = text.partition("-")
    try:
        lo = int(start)
        hi = int(end) if sep else lo
    except ValueError:
        raise ValueError(f"invalid port {text!r}: expected a number or a range like 8000-8010") from None
    if not (0 <= lo <= 65535 and 0 <= hi <= 65535) or hi < lo:
        raise ValueError(f"invalid port range {text!r}")
    return lo, hi


def parse_port(spec: Any) -> list[dict[str, Any]]:
    """``"127.0.0.1:8080-8081:80-81/udp"`` → long-syntax port mappings, one per port."""
    if isinstance(spec, bool):
        raise ValueError(f"invalid port {spec!r}")
    if isinstance(spec, (int, float)):
        spec = str(int(spec))
    text = str(spec).strip()
    protocol = "tcp"
    if "/" in text:
        text, _, protocol = text.rpartition("/")
        if protocol not in ("tcp", "udp", "sctp"):
            raise ValueError(f"invalid protocol {protocol!r} in port {spec!r}")
    host_ip = ""
    if text.startswith("["):  # [::1]:8080:80
        end = text.find("]")
        if end < 0:
            raise ValueError(f"invalid IPv6 address in port {spec!r}")
        host_ip = text[1:end]
        text = text[end + 1 :].lstrip(":")
        parts = text.split(":")
        if len(parts) == 1:
            parts = ["", parts[0]]
    else:
        parts = text.split(":")
        if len(parts) == 3:
            host_ip = parts[0]
            parts = parts[1:]
        elif len(parts) > 3:
            # unbracketed IPv6 host: everything before the last two fields
            host_ip = ":".join(parts[:-2])
            parts = parts[-2:]
    if host_ip:
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise ValueError(f"invalid IP address {host_ip!r} in port {spec!r}") from None
    if len(parts) == 1:
        published_text, target_text = "", parts[0]
    else:
        published_text, target_text = parts
    t_lo, t_hi = _port_range(target_text)
    if published_text:
        p_lo, p_hi = _port_range(published_text)
    else:
        p_lo = p_hi = -1
    out: list[dict[str, Any]] = []
    count = t_hi - t_lo + 1
    if published_text and (p_hi - p_lo + 1) != count and count != 1:
        raise ValueError(f"port ranges don't match in {spec!r}")
    for i in range(count):
        entry: dict[str, Any] = {"mode": "ingress"}
        if host_ip:
            entry["host_ip"] = host_ip
        entry["target"] = t_lo + i
        if published_text:
            if count == 1 and p_hi != p_lo:
                entry["published"] = f"{p_lo}-{p_hi}"
            else:
                entry["published"] = str(p_lo + i)
        entry["protocol"] = protocol
        out.append(entry)
    return out


def _is_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or bool(re.match(r"^[A-Za-z]:[\\/]", source))


def resolve_path(path: str, base_dir: str) -> str:
    path = os.path.expanduser(path)
    if not os.path.isabs(path):
        path = os.path.join(base_dir, path)
    return os.path.normpath(path)


def parse_volume(spec: str, base_dir: str) -> dict[str, Any]:
    """``./data:/data:ro,z`` → long-syntax mount; relative and ``~`` sources resolved."""
    parts = spec.split(":")
    # A one-letter source followed by ":" is a Windows drive, as in compose-go
    # (isWindowsDrive): "v:/data" is not the volume "v"; name volumes longer.
    if len(parts) >= 2 and re.match(r"^[A-Za-z]$", parts[0]):
        parts = [parts[0] + ":" + parts[1], *parts[2:]]
    if len(parts) > 3 or not parts[0]:
        raise ValueError(f"invalid volume specification {spec!r}")
    if len(parts) == 1:
        target = parts[0]
        if not target.startswith("/"):
            raise ValueError(f"invalid volume specification {spec!r}: target must be an absolute path")
        return {"type": "volume", "target": target, "volume": {}}
    source, target = parts[0], parts[1]
    options = parts[2].split(",") if len(parts) == 3 and parts[2] else []
    if not target.startswith("/"):
        raise ValueError(f"invalid volume specification {spec!r}: target must be an absolute path")
    out: dict[str, Any]
    if _is_path(source):
        out = {"type": "bind", "source": resolve_path(source, base_dir),
               "target": posixpath.normpath(target)}
        bind: dict[str, Any] = {}
        for opt in options:
            if opt == "ro":
                out["read_only"] = True
            elif opt == "rw":
                pass
            elif opt in ("z", "Z"):
                bind["selinux"] = opt
            elif opt in _PROPAGATION:
                bind["propagation"] = opt
            elif opt in ("consistent", "cached", "delegated"):
                out["consistency"] = opt
            else:
                raise ValueError(f"invalid volume option {opt!r} in {spec!r}")
        # create_host_path is true for the short syntax; compose prints it only when false
        out["bind"] = {k: bind[k] for k in ("selinux", "propagation") if k in bind}
        return out
    out = {"type": "volume", "source": source, "target": posixpath.normpath(target)}
    volume: dict[str, Any] = {}
    for opt in options:
        if opt == "ro":
            out["read_only"] = True
        elif opt == "rw":
            pass
        elif opt == "nocopy":
            volume["nocopy"] = True
        elif opt in ("z", "Z", "consistent", "cached", "delegated") or opt in _PROPAGATION:
            pass  # meaningful for binds only; docker accepts and ignores them on volumes
        else:
            raise ValueError(f"invalid volume option {opt!r} in {spec!r}")
    out["volume"] = volume
    return out


def parse_device(spec: Any) -> dict[str, Any]:
    """``/dev/sda:/dev/xvda:rwm`` → ``{source, target, permissions}``."""
    if isinstance(spec, dict):
        out = dict(spec)
        out.setdefault("target", out.get("source"))
        out.setdefault("permissions", "rwm")
        return out
    parts = str(spec).split(":")
    if len(parts) > 3 or not parts[0]:
        raise ValueError(f"invalid device {spec!r}")
    source = parts[0]
    target = parts[1] if len(parts) > 1 and parts[1] else source
    perms = parts[2] if len(parts) > 2 else "rwm"
    if len(parts) == 2 and re.fullmatch(r"[rwm]+", parts[1]):
        target, perms = source, parts[1]
    return {"source": source, "target": target, "permissions": perms}
