"""Docker's JSON shapes for images: ``image inspect``, ``image ls``, ``history``.

These are the Engine API's ``ImageInspect``, ``ImageSummary`` and
``HistoryResponseItem`` (API 1.44+: no ``Container``/``ContainerConfig``/
``VirtualSize``), built from an ``Image``. The conversion lives here so the
service and the future HTTP routes return the very same documents.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from dockyard.oci.image import ContainerConfig

from .model import Image

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(ts: float) -> str:
    """Go's RFC3339Nano in UTC, as Docker prints times (``…T12:00:00.123456789Z``)."""
    if ts <= 0:
        return ZERO_TIME
    t = _dt.datetime.fromtimestamp(ts, _dt.UTC)
    frac = f"{t.microsecond:06d}".rstrip("0")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def parse_time(text: str | None) -> float:
    """An RFC 3339 time (any precision) as a UNIX time; 0 when missing or bad."""
    if not text:
        return 0.0
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    # Python accepts at most 6 fractional digits; Go writes up to 9.
    if "." in s:
        head, _, rest = s.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        tz = rest[len(digits):]
        s = f"{head}.{digits[:6]}{tz}" if digits else head + tz
    try:
        return _dt.datetime.fromisoformat(s).timestamp()
    except ValueError:
        return 0.0


def created_time(image: Image) -> float:
    """The image's creation time: its config's ``created``, else when it was stored."""
    return parse_time(image.config.created) or image.record.created


def container_config(cfg: ContainerConfig | None) -> dict[str, Any]:
    """The ``Config`` object of ``image inspect`` (Docker fills the container defaults)."""
    c = cfg or ContainerConfig()
    out: dict[str, Any] = {
        "Hostname": "",
        "Domainname": "",
        "User": c.user or "",
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
    }
    if c.exposed_ports:
        out["ExposedPorts"] = {p: {} for p in c.exposed_ports}
    out.update({
        "Tty": False,
        "OpenStdin": False,
        "StdinOnce": False,
        "Env": c.env,
        "Cmd": c.cmd,
    })
    if c.healthcheck is not None:
        h = c.healthcheck
        out["Healthcheck"] = {
            k: v for k, v in (("Test", h.test), ("Interval", h.interval), ("Timeout", h.timeout),
                              ("StartPeriod", h.start_period), ("StartInterval", h.start_interval),
                              ("Retries", h.retries)) if v is not None
        }
    if c.args_escaped:
        out["ArgsEscaped"] = True
    out.update({
        "Image": "",
        "Volumes": {v: {} for v in c.volumes} if c.volumes else None,
        "WorkingDir": c.working_dir or "",
        "Entrypoint": c.entrypoint,
        "OnBuild": c.on_build,
        "Labels": c.labels,
    })
    if c.stop_signal:
        out["StopSignal"] = c.stop_signal
    if c.shell:
        out["Shell"] = c.shell
    return out


def inspect(image: Image, *, graph_driver: str = "overlay") -> dict[str, Any]:
    """``docker image inspect``'s object for one image."""
    cfg = image.config
    out: dict[str, Any] = {
        "Id": image.id,
        "RepoTags": image.repo_tags,
        "RepoDigests": image.repo_digests,
        "Parent": image.record.parent,
        "Comment": _comment(image),
        "Created": cfg.created or "",
        "DockerVersion": cfg.docker_version or "",
        "Author": cfg.author or "",
        "Config": container_config(cfg.config),
        "Architecture": cfg.architecture,
    }
    if cfg.variant:
        out["Variant"] = cfg.variant
    out["Os"] = cfg.os
    if cfg.os_version:
        out["OsVersion"] = cfg.os_version
    out.update({
        "Size": image.size,
        "GraphDriver": {"Data": None, "Name": graph_driver},
        "RootFS": {"Type": cfg.rootfs.type, "Layers": list(cfg.rootfs.diff_ids)},
        "Metadata": {"LastTagTime": rfc3339(image.record.last_tag_time)},
        "Descriptor": {
            "mediaType": image.record.target.media_type,
            "digest": image.record.target.digest,
            "size": image.record.target.size,
        },
    })
    return out


def _comment(image: Image) -> str:
    # Docker shows the config's comment, else the last history entry's.
    if image.config.comment:
        return image.config.comment
    history = image.config.history or []
    return (history[-1].comment or "") if history else ""


def summary(image: Image, *, shared_size: int = -1, containers: int = -1) -> dict[str, Any]:
    """One ``ImageSummary`` of ``GET /images/json`` (``docker image ls``)."""
    tags = image.repo_tags
    return {
        "Containers": containers,
        "Created": int(created_time(image)),
        "Id": image.id,
        "Labels": (image.config.config.labels if image.config.config else None) or {},
        "ParentId": image.record.parent,
        "RepoDigests": image.repo_digests,
        "RepoTags": tags,
        "SharedSize": shared_size,
        "Size": image.size,
    }


def history(image: Image) -> list[dict[str, Any]]:
    """``docker history``'s items, newest first.

    History entries that are not ``empty_layer`` consume the layers in
    order; the newest item carries the image id and its tags, the others
    ``<missing>`` (as Docker shows for layers that are not images here).
    """
    entries = list(image.config.history or [])
    layers = list(image.manifest.layers)
    items: list[dict[str, Any]] = []
    li = 0
    for h in entries:
        size = 0
        if not h.empty_layer and li < len(layers):
            size = layers[li].size
            li += 1
        items.append({
            "Id": "<missing>",
            "Created": int(parse_time(h.created)),
            "CreatedBy": h.created_by or "",
            "Tags": None,
            "Size": size,
            "Comment": h.comment or "",
        })
    # Layers without history entries still show up (configs written by hand).
    for layer in layers[li:]:
        items.append({"Id": "<missing>", "Created": int(created_time(image)), "CreatedBy": "",
                      "Tags": None, "Size": layer.size, "Comment": ""})
    items.reverse()
    if items:
        items[0]["Id"] = image.id
        items[0]["Tags"] = image.repo_tags or None
    return items
