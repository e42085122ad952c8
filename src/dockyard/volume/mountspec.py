"""Mount specs: ``-v``/``--volume`` short syntax and ``--mount`` long syntax.

Three steps, as in Docker (CLI ``opts/mount.go``, daemon
``volume/mounts/linux_parser.go``):

1. ``parse_mount_flag("type=bind,src=/a,dst=/b,ro")`` — the CLI turns one
   ``--mount`` CSV value into the API's ``Mount`` object (``HostConfig.Mounts``
   entries; field names as in the Engine API).
2. ``parse_mount(Mount)`` — the daemon validates a ``Mount`` and makes a
   ``MountPoint``. A bind source that does not exist is an error here.
3. ``parse_volume("name:/dst:ro")`` — the daemon parses one ``-v`` string
   (``HostConfig.Binds``, and anonymous ``/dst``) into a ``MountPoint``. A
   missing bind source is *created* later, for ``-v`` only (``CreateSource``).

Error wording follows Docker's ("invalid volume specification: '…'",
"invalid mount config for type \\"bind\\": bind source path does not exist: …",
"unexpected key 'x' in 'x=1'"). Targets must be absolute, not ``/``, and
(our addition, runc's rule) not ``/proc`` or below it. ``z``/``Z`` are
accepted and ignored: this host has no SELinux labels to apply.
"""

from __future__ import annotations

import csv
import os
import posixpath
import re

import msgspec

from .errors import InvalidMountSpec, InvalidParameter
from .names import validate_name


class _S(msgspec.Struct, kw_only=True, omit_defaults=True):
    pass


class DriverConfig(_S, kw_only=True):
    Name: str = ""
    Options: dict[str, str] | None = None


class BindOptions(_S, kw_only=True):
    Propagation: str = ""
    NonRecursive: bool = False
    CreateMountpoint: bool = False
    ReadOnlyNonRecursive: bool = False
    ReadOnlyForceRecursive: bool = False


class VolumeOptions(_S, kw_only=True):
    NoCopy: bool = False
    Labels: dict[str, str] | None = None
    DriverConfig: DriverConfig | None = None
    Subpath: str = ""


class TmpfsOptions(_S, kw_only=True):
    SizeBytes: int = 0
    Mode: int = 0
    Options: list[list[str]] | None = None


class Mount(_S, kw_only=True):
    """The Engine API's ``Mount`` (an entry of ``HostConfig.Mounts``)."""

    Type: str = ""
    Source: str = ""
    Target: str = ""
    ReadOnly: bool = False
    Consistency: str = ""
    BindOptions: BindOptions | None = None
    VolumeOptions: VolumeOptions | None = None
    TmpfsOptions: TmpfsOptions | None = None


class MountPoint(msgspec.Struct, kw_only=True):
    """A validated mount of a container (Docker's ``mounts.MountPoint``).

    ``Source`` is the host path of a bind; ``Name`` the volume ("" until an
    anonymous volume gets its name); ``CreateSource`` marks a ``-v`` bind
    whose missing source is to be created.
    """

    Type: str
    Destination: str
    Source: str = ""
    RW: bool = True
    Name: str = ""
    Driver: str = ""
    Mode: str = ""
    Propagation: str = ""
    CopyData: bool = True
    Relabel: str = ""
    CreateSource: bool = False
    Spec: Mount = msgspec.field(default_factory=Mount)


PROPAGATIONS = ("private", "rprivate", "slave", "rslave", "shared", "rshared")
DEFAULT_PROPAGATION = "rprivate"
_RW = ("rw", "ro")
_LABEL = ("z", "Z")
_COPY = ("nocopy",)
_CONSISTENCY = ("consistent", "cached", "delegated")
TYPES = ("bind", "volume", "tmpfs")
BIND_RECURSIVE = ("enabled", "disabled", "writable", "readonly")


def _valid_mode(mode: str) -> bool:
    if mode == "":
        return True
    counts = [0, 0, 0, 0, 0]
    for o in mode.split(","):
        for i, group in enumerate((_RW, _LABEL, PROPAGATIONS, _COPY, _CONSISTENCY)):
            if o in group:
                counts[i] += 1
                break
        else:
            return False
    return max(counts) <= 1


def _config_error(m: Mount, why: str) -> InvalidMountSpec:
    return InvalidMountSpec(f'invalid mount config for type "{m.Type}": {why}')


def _check_target(m: Mount) -> None:
    if m.Target == "":
        raise _config_error(m, "field Target must not be empty")
    if posixpath.normpath(m.Target) == "/":
        raise _config_error(m, "invalid specification: destination can't be '/'")
    if not m.Target.startswith("/"):
        raise _config_error(m, f"invalid mount path: '{m.Target}' mount path must be absolute")
    clean = posixpath.normpath(m.Target)
    if clean == "/proc" or clean.startswith("/proc/"):
        raise _config_error(m, f"mount destination {clean} is inside /proc, which is not allowed")


def _is_local(p: str) -> bool:
    """Go's ``filepath.IsLocal``: relative, non-empty, never climbing out with ``..``."""
    if p == "" or p.startswith("/"):
        return False
    depth = 0
    for part in p.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return False
        elif part not in ("", "."):
            depth += 1
    return True


def tmpfs_data(opts: TmpfsOptions | None, read_only: bool) -> list[str]:
    """Docker's ``ConvertTmpfsOptions``: ``ro``, ``mode=…`` (octal), ``size=…`` (k/m/g)."""
    out = ["ro"] if read_only else []
    if opts and opts.Mode:
        out.append(f"mode={opts.Mode:o}")
    if opts and opts.SizeBytes:
        if opts.SizeBytes < 0:
            raise InvalidParameter(f"invalid tmpfs size {opts.SizeBytes}: must not be negative")
        size, suffix = opts.SizeBytes, ""
        for sfx, div in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size % div == 0:
                size, suffix = size // div, sfx
                break
        out.append(f"size={size}{suffix}")
    for opt in (opts.Options if opts and opts.Options else []):
        if not 1 <= len(opt) <= 2:
            raise InvalidParameter("invalid option array length")
        if opt[0] not in ("exec", "noexec"):
            raise InvalidParameter("invalid option: " + opt[0])
        out.append("=".join(opt))
    return out


def _validate(m: Mount, check_bind_source: bool) -> None:
    _check_target(m)
    if m.Type == "bind":
        if m.Source == "":
            raise _config_error(m, "field Source must not be empty")
        if m.BindOptions and m.BindOptions.Propagation and \
                m.BindOptions.Propagation not in PROPAGATIONS:
            raise _config_error(m, f"invalid propagation mode: {m.BindOptions.Propagation}")
        if m.VolumeOptions is not None:
            raise _config_error(m, "field VolumeOptions must not be specified")
        if m.TmpfsOptions is not None:
            raise _config_error(m, "field TmpfsOptions must not be specified")
        if not m.Source.startswith("/"):
            raise _config_error(m, f"invalid mount path: '{m.Source}' mount path must be absolute")
        if check_bind_source and not os.path.exists(m.Source) and \
                not (m.BindOptions and m.BindOptions.CreateMountpoint):
            raise _config_error(m, f"bind source path does not exist: {m.Source}")
    elif m.Type == "volume":
        if m.BindOptions is not None:
            raise _config_error(m, "field BindOptions must not be specified")
        if m.TmpfsOptions is not None:
            raise _config_error(m, "field TmpfsOptions must not be specified")
        if m.VolumeOptions and m.VolumeOptions.Subpath:
            if m.Source == "":
                raise _config_error(m, "must not set Subpath when using anonymous volumes")
            if not _is_local(m.VolumeOptions.Subpath):
                raise _config_error(m, "subpath must be a relative path within the volume")
        if m.Source:
            driver = m.VolumeOptions.DriverConfig.Name if m.VolumeOptions and \
                m.VolumeOptions.DriverConfig else ""
            if driver in ("", "local"):
                try:
                    validate_name(m.Source)
                except InvalidParameter as e:
                    raise _config_error(m, str(e)) from None
    elif m.Type == "tmpfs":
        if m.BindOptions is not None:
            raise _config_error(m, "field BindOptions must not be specified")
        if m.VolumeOptions is not None:
            raise _config_error(m, "field VolumeOptions must not be specified")
        if m.Source:
            raise _config_error(m, "field Source must not be specified")
        try:
            tmpfs_data(m.TmpfsOptions, m.ReadOnly)
        except InvalidParameter as e:
            raise _config_error(m, str(e)) from None
    else:
        raise _config_error(m, f"mount type unknown (want one of {', '.join(TYPES)})")


def _to_mountpoint(m: Mount) -> MountPoint:
    mp = MountPoint(Type=m.Type, Destination=posixpath.normpath(m.Target), RW=not m.ReadOnly,
                    Spec=m)
    if m.Type == "volume":
        mp.Name = m.Source
        if m.VolumeOptions:
            if m.VolumeOptions.DriverConfig:
                mp.Driver = m.VolumeOptions.DriverConfig.Name
            mp.CopyData = not m.VolumeOptions.NoCopy
    elif m.Type == "bind":
        mp.Source = posixpath.normpath(m.Source)
        mp.Propagation = (m.BindOptions.Propagation if m.BindOptions else "") or \
            DEFAULT_PROPAGATION
    return mp


def parse_mount(m: Mount) -> MountPoint:
    """Validate an API ``Mount`` (``--mount``); a bind source must exist."""
    _validate(m, check_bind_source=True)
    return _to_mountpoint(m)


def parse_volume(raw: str, volume_driver: str = "") -> MountPoint:
    """Parse one ``-v`` value: ``/dst``, ``name:/dst[:mode]`` or ``/src:/dst[:mode]``."""
    arr = raw.split(":", 3)
    if arr[0] == "" or len(arr) > 3:
        raise InvalidMountSpec(f"invalid volume specification: '{raw}'")
    mode = ""
    m = Mount()
    if len(arr) == 1:
        m.Target = arr[0]
    elif len(arr) == 2:
        if _valid_mode(arr[1]):
            # "/foo:rw": a destination with a mode but no source
            raise InvalidMountSpec(f"invalid volume specification: '{raw}'")
        m.Source, m.Target = arr
    else:
        m.Source, m.Target, mode = arr
    if not _valid_mode(mode):
        raise InvalidMountSpec(f"invalid mode: {mode}")
    modes = mode.split(",") if mode else []
    m.Type = "bind" if m.Source.startswith("/") else "volume"
    m.ReadOnly = "ro" in modes
    if volume_driver and m.Type == "volume":
        m.VolumeOptions = VolumeOptions(DriverConfig=DriverConfig(Name=volume_driver))
    if "nocopy" in modes:
        if m.Type == "bind":
            raise InvalidMountSpec(f"invalid volume specification: '{raw}': "
                                   "nocopy applies to volumes, not to a bind mount")
        m.VolumeOptions = m.VolumeOptions or VolumeOptions()
        m.VolumeOptions.NoCopy = True
    prop = next((o for o in modes if o in PROPAGATIONS), "")
    if prop:
        m.BindOptions = BindOptions(Propagation=prop)
    try:
        _validate(m, check_bind_source=False)
    except InvalidMountSpec as e:
        raise InvalidMountSpec(f"invalid volume specification: '{raw}': {e}") from None
    mp = _to_mountpoint(m)
    mp.Mode = mode
    mp.Relabel = next((o for o in modes if o in _LABEL), "")
    mp.CreateSource = m.Type == "bind"
    return mp


def expand_volume_flag(raw: str, cwd: str | None = None) -> str:
    """The CLI's side of ``-v``: a source starting with ``.`` becomes absolute (docker >= 23).

    ``-v ./data:/data`` binds ``$PWD/data``; ``-v data:/data`` stays a volume name.
    """
    source, sep, rest = raw.partition(":")
    if sep and (source in (".", "..") or source.startswith("./") or source.startswith("../")):
        return os.path.normpath(os.path.join(cwd or os.getcwd(), source)) + ":" + rest
    return raw


def parse_volumes_from(spec: str) -> tuple[str, str]:
    """``--volumes-from CONTAINER[:ro|rw]`` → (container, mode)."""
    if spec == "":
        raise InvalidMountSpec("volumes-from specification cannot be an empty string")
    cid, _, mode = spec.partition(":")
    if mode == "":
        return cid, "rw"
    modes = mode.split(",")
    if not _valid_mode(mode) or any(o in PROPAGATIONS or o in _COPY for o in modes):
        raise InvalidMountSpec(f"invalid mode: {mode}")
    return cid, mode


def check_duplicates(mps: list[MountPoint]) -> None:
    seen: set[str] = set()
    for mp in mps:
        if mp.Destination in seen:
            raise InvalidMountSpec(f"Duplicate mount point: {mp.Destination}")
        seen.add(mp.Destination)


# --- the CLI side: one --mount CSV value -> Mount -----------------------------------
_RAM = re.compile(r"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(value: str) -> int:
    """go-units ``RAMInBytes``: ``64m``, ``1.5g``, ``512k``, ``100`` (binary units)."""
    m = _RAM.match(value.strip())
    if not m:
        raise ValueError(value)
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])


def _bool(key: str, val: str) -> bool:
    v = val.lower()
    if v in ("1", "t", "true"):
        return True
    if v in ("0", "f", "false"):
        return False
    raise InvalidMountSpec(f"invalid value for {key}: {val}")


def parse_mount_flag(value: str, cwd: str | None = None) -> Mount:
    """One ``--mount`` value as the docker CLI reads it (CSV of key=value)."""
    try:
        fields = next(csv.reader([value]))
    except (csv.Error, StopIteration) as e:
        raise InvalidMountSpec(f"invalid --mount value {value!r}: {e}") from None
    m = Mount(Type="volume")

    def vol() -> VolumeOptions:
        if m.VolumeOptions is None:
            m.VolumeOptions = VolumeOptions()
        return m.VolumeOptions

    def drvcfg() -> DriverConfig:
        v = vol()
        if v.DriverConfig is None:
            v.DriverConfig = DriverConfig()
        return v.DriverConfig

    def bind() -> BindOptions:
        if m.BindOptions is None:
            m.BindOptions = BindOptions()
        return m.BindOptions

    def tmpfs() -> TmpfsOptions:
        if m.TmpfsOptions is None:
            m.TmpfsOptions = TmpfsOptions()
        return m.TmpfsOptions

    for field in fields:
        key, eq, val = field.partition("=")
        key = key.strip()
        if not eq:
            if key in ("readonly", "ro"):
                m.ReadOnly = True
            elif key == "volume-nocopy":
                vol().NoCopy = True
            elif key == "bind-nonrecursive":
                bind().NonRecursive = True
            else:
                raise InvalidMountSpec(f"invalid field '{field}' must be a key=value pair")
            continue
        if key == "type":
            m.Type = val.lower()
        elif key in ("source", "src"):
            m.Source = val
            if val == "." or val.startswith("./") or val.startswith("../") or val == "..":
                m.Source = os.path.normpath(os.path.join(cwd or os.getcwd(), val))
        elif key in ("target", "dst", "destination"):
            m.Target = val
        elif key in ("readonly", "ro"):
            m.ReadOnly = _bool(key, val)
        elif key == "consistency":
            m.Consistency = val.lower()
        elif key == "bind-propagation":
            bind().Propagation = val.lower()
        elif key == "bind-nonrecursive":
            bind().NonRecursive = _bool(key, val)
        elif key == "bind-recursive":
            b = bind()
            if val == "enabled":
                pass
            elif val == "disabled":
                b.NonRecursive = True
            elif val == "writable":
                b.ReadOnlyNonRecursive = True
            elif val == "readonly":
                b.ReadOnlyForceRecursive = True
            else:
                raise InvalidMountSpec(f'invalid value for {key}: {val} (must be "enabled", '
                                       '"disabled", "writable", or "readonly")')
        elif key == "bind-create-mountpoint":
            bind().CreateMountpoint = _bool(key, val)
        elif key == "volume-nocopy":
            vol().NoCopy = _bool(key, val)
        elif key == "volume-label":
            k, _, v = val.partition("=")
            if k:
                vol().Labels = {**(vol().Labels or {}), k: v}
        elif key == "volume-driver":
            drvcfg().Name = val
        elif key == "volume-opt":
            k, _, v = val.partition("=")
            if k:
                drvcfg().Options = {**(drvcfg().Options or {}), k: v}
        elif key == "volume-subpath":
            vol().Subpath = val
        elif key == "tmpfs-size":
            try:
                tmpfs().SizeBytes = ram_in_bytes(val)
            except ValueError:
                raise InvalidMountSpec(f"invalid value for {key}: {val}") from None
        elif key == "tmpfs-mode":
            try:
                mode = int(val, 8)
            except ValueError:
                raise InvalidMountSpec(f"invalid value for {key}: {val}") from None
            if not 0 <= mode <= 0o7777:
                raise InvalidMountSpec(f"invalid value for {key}: {val}")
            tmpfs().Mode = mode
        else:
            raise InvalidMountSpec(f"unexpected key '{key}' in '{field}'")
    if m.Type == "":
        raise InvalidMountSpec("type is required")
    if m.Target == "":
        raise InvalidMountSpec("target is required")
    bo = m.BindOptions
    if bo and (bo.ReadOnlyNonRecursive or bo.ReadOnlyForceRecursive) and not m.ReadOnly:
        which = "writable" if bo.ReadOnlyNonRecursive else "readonly"
        raise InvalidMountSpec(f"option 'bind-recursive={which}' requires 'readonly' to be "
                               "specified in conjunction")
    if m.VolumeOptions is not None and m.Type != "volume":
        raise InvalidMountSpec(f"cannot mix 'volume-*' options with mount type '{m.Type}'")
    if m.BindOptions is not None and m.Type != "bind":
        raise InvalidMountSpec(f"cannot mix 'bind-*' options with mount type '{m.Type}'")
    if m.TmpfsOptions is not None and m.Type != "tmpfs":
        raise InvalidMountSpec(f"cannot mix 'tmpfs-*' options with mount type '{m.Type}'")
    return m
