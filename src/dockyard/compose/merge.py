"""Merging compose files, by the Compose Specification's merge rules (``13-merge.md``).

Later files win. Mappings merge recursively. Sequences depend on the field,
as in compose-go's ``override`` package:

- replaced whole: ``command``, ``entrypoint``, ``healthcheck.test``, each
  ``ulimits.<name>``;
- merged as mappings even when written as lists (``KEY=VALUE`` or
  ``host:ip``): ``environment``, ``labels``, ``annotations``, ``sysctls``,
  ``extra_hosts``, ``build.args``, ``build.labels``, ``deploy.labels``,
  ``depends_on``, ``networks`` (a list of names becomes ``{name: null}``);
- unique by their key, a later entry replacing an earlier one: ``ports``
  (host_ip, published, target, protocol), ``volumes`` and ``devices``
  (target), ``secrets``/``configs`` (target, defaulting from source),
  ``expose``, ``dns``/``dns_search``/``dns_opt``, ``tmpfs``, ``cap_add``,
  ``cap_drop``, ``profiles``, ``env_file``, ``links``, ``networks.*.aliases``;
- top-level ``networks.*.labels`` and ``volumes.*.labels``: as mappings;
- any other sequence: appended;
- ``logging``: options merge only when the driver is the same.

``!reset`` removes what earlier files set; ``!override`` replaces it
without merging. After merging, :func:`strip_tags` turns the remaining
tags into plain values (a ``!reset`` in the first file removes the key).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.compose.yamlload import Override, Reset

_REPLACED = {"command", "entrypoint"}
_AS_MAP = {"environment", "labels", "annotations", "sysctls", "extra_hosts"}
_UNIQUE_PLAIN = {
    "expose", "dns", "dns_search", "dns_opt", "tmpfs", "cap_add", "cap_drop", "profiles", "links",
}


def list_to_map(value: Any, sep: str = "=") -> dict[str, Any]:
    """``["A=1", "B"]`` → ``{"A": "1", "B": None}``; mappings pass through."""
    if isinstance(value, dict):
        return dict(value)
    out: dict[str, Any] = {}
    for item in value or []:
        text = str(item)
        if sep in text:
            k, _, v = text.partition(sep)
            out[k] = v
        else:
            out[text] = None
    return out


def extra_hosts_to_map(value: Any) -> dict[str, Any]:
    """``host:ip`` / ``host=ip`` entries (IPv6 may contain ':') → ``{host: ip}``."""
    if isinstance(value, dict):
        return dict(value)
    out: dict[str, Any] = {}
    for item in value or []:
        text = str(item)
        if "=" in text:
            k, _, v = text.partition("=")
        else:
            k, _, v = text.partition(":")
        out[k] = v
    return out


def _networks_to_map(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    return {str(n): None for n in value or []}


def _depends_on_to_map(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    return {str(n): {"condition": "service_started"} for n in value or []}


def port_key(item: Any) -> Any:
    if isinstance(item, dict):
        return (
            str(item.get("host_ip", "")), str(item.get("published", "")),
            str(item.get("target", "")), str(item.get("protocol", "tcp")),
        )
    text = str(item)
    proto = "tcp"
    if "/" in text:
        text, _, proto = text.rpartition("/")
    parts = text.rsplit(":", 2)
    if len(parts) == 1:
        return ("", "", parts[0], proto)
    if len(parts) == 2:
        return ("", parts[0], parts[1], proto)
    return (parts[0].strip("[]"), parts[1], parts[2], proto)


def volume_key(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("target")
    parts = str(item).split(":")
    if len(parts) >= 2 and len(parts[0]) == 1 and parts[0].isalpha():  # C:\ style source
        parts = [parts[0] + ":" + parts[1], *parts[2:]]
    return parts[1] if len(parts) >= 2 else parts[0]


def _mount_key(default_dir: str) -> Callable[[Any], Any]:
    def key(item: Any) -> Any:
        if isinstance(item, dict):
            if item.get("target"):
                return item["target"]
            return f"{default_dir}/{item.get('source')}"
        return f"{default_dir}/{item}"

    return key


def _unique(items: list[Any], key: Callable[[Any], Any]) -> list[Any]:
    """Keep one entry per key, the last one, at the position of the first."""
    order: list[Any] = []
    chosen: dict[Any, Any] = {}
    for item in items:
        k = key(item)
        try:
            hash(k)
        except TypeError:
            k = repr(k)
        if k not in chosen:
            order.append(k)
        chosen[k] = item
    return [chosen[k] for k in order]


def _identity(item: Any) -> Any:
    return item if not isinstance(item, (dict, list)) else repr(item)


_UNIQUE_BY: dict[str, Callable[[Any], Any]] = {
    "ports": port_key,
    "volumes": volume_key,
    "devices": volume_key,
    "secrets": _mount_key("/run/secrets"),
    "configs": _mount_key(""),
}


def merge_mappings(base: dict[str, Any], over: dict[str, Any], path: str = "") -> dict[str, Any]:
    """Generic recursive merge of two mappings; fields under ``services.*`` get their rules."""
    out = dict(base)
    for key, value in over.items():
        here = f"{path}.{key}" if path else key
        if isinstance(value, Reset):
            out.pop(key, None)
            continue
        if isinstance(value, Override):
            out[key] = value.value
            continue
        if key not in out or out[key] is None or isinstance(out[key], Reset):
            out[key] = value
            continue
        if path == "services":
            out[key] = merge_service(_as_dict(out[key]), _as_dict(value))
        elif key == "labels" and path.count(".") == 1 and path.split(".")[0] in ("networks", "volumes"):
            out[key] = merge_mappings(list_to_map(out[key]), list_to_map(value))
        else:
            out[key] = _merge_values(out[key], value, here)
    return out


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _merge_values(base: Any, over: Any, path: str) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        return merge_mappings(base, over, path)
    if isinstance(base, list) and isinstance(over, list):
        return base + over
    return over


def merge_service(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Merge one service definition over another (also used by ``extends``)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Reset):
            out.pop(key, None)
            continue
        if isinstance(value, Override):
            out[key] = value.value
            continue
        old = out.get(key)
        if old is None or key in _REPLACED:
            out[key] = value
        elif key in _AS_MAP:
            conv = extra_hosts_to_map if key == "extra_hosts" else list_to_map
            out[key] = merge_mappings(conv(old), conv(value))
        elif key == "depends_on":
            out[key] = merge_mappings(_depends_on_to_map(old), _depends_on_to_map(value), key)
        elif key == "networks":
            out[key] = _merge_networks(_networks_to_map(old), _networks_to_map(value))
        elif key == "build":
            out[key] = _merge_build(old, value)
        elif key == "healthcheck" and isinstance(old, dict) and isinstance(value, dict):
            merged = merge_mappings(old, {k: v for k, v in value.items() if k != "test"})
            if "test" in value:
                merged["test"] = value["test"].value if isinstance(value["test"], Override) else value["test"]
                if isinstance(value["test"], Reset):
                    merged.pop("test", None)
            out[key] = merged
        elif key == "ulimits" and isinstance(old, dict) and isinstance(value, dict):
            merged_ul = dict(old)
            for name, limit in value.items():
                if isinstance(limit, Reset):
                    merged_ul.pop(name, None)
                else:
                    merged_ul[name] = limit.value if isinstance(limit, Override) else limit
            out[key] = merged_ul
        elif key == "logging" and isinstance(old, dict) and isinstance(value, dict):
            if old.get("driver") and value.get("driver") and old["driver"] != value["driver"]:
                out[key] = value
            else:
                out[key] = merge_mappings(old, value, key)
        elif key == "deploy" and isinstance(old, dict) and isinstance(value, dict):
            dep = merge_mappings(
                {k: v for k, v in old.items() if k != "labels"},
                {k: v for k, v in value.items() if k != "labels"},
                key,
            )
            if "labels" in old or "labels" in value:
                dep["labels"] = merge_mappings(
                    list_to_map(old.get("labels")), list_to_map(value.get("labels"))
                )
            out[key] = dep
        elif key in _UNIQUE_BY and isinstance(old, list) and isinstance(value, list):
            out[key] = _unique(old + value, _UNIQUE_BY[key])
        elif key in _UNIQUE_PLAIN and isinstance(old, list) and isinstance(value, list):
            out[key] = _unique(old + value, _identity)
        elif key == "env_file":
            old_l = old if isinstance(old, list) else [old]
            new_l = value if isinstance(value, list) else [value]
            out[key] = _unique(old_l + new_l, lambda e: e.get("path") if isinstance(e, dict) else e)
        else:
            out[key] = _merge_values(old, value, key)
    return out


def _merge_networks(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for name, cfg in over.items():
        if isinstance(cfg, Reset):
            out.pop(name, None)
        elif isinstance(cfg, Override):
            out[name] = cfg.value
        elif isinstance(out.get(name), dict) and isinstance(cfg, dict):
            merged = merge_mappings(out[name], cfg)
            for seq in ("aliases", "link_local_ips"):
                if seq in out[name] and seq in cfg:
                    merged[seq] = _unique(list(out[name][seq]) + list(cfg[seq]), _identity)
            out[name] = merged
        elif cfg is not None or name not in out:
            out[name] = cfg
    return out


def _merge_build(base: Any, over: Any) -> Any:
    b = {"context": base} if isinstance(base, str) else dict(base)
    o = {"context": over} if isinstance(over, str) else over
    if not isinstance(o, dict):
        return over
    out = dict(b)
    for key, value in o.items():
        if isinstance(value, Reset):
            out.pop(key, None)
        elif isinstance(value, Override):
            out[key] = value.value
        elif key in ("args", "labels") and key in out:
            out[key] = merge_mappings(list_to_map(out[key]), list_to_map(value))
        elif key == "extra_hosts" and key in out:
            out[key] = merge_mappings(extra_hosts_to_map(out[key]), extra_hosts_to_map(value))
        elif key in ("cache_from", "cache_to", "tags", "platforms") and key in out:
            out[key] = _unique(list(out[key]) + list(value), _identity)
        elif key in out:
            out[key] = _merge_values(out[key], value, key)
        else:
            out[key] = value
    return out


def strip_tags(value: Any) -> Any:
    """Drop ``!reset`` entries and unwrap ``!override`` values left after merging."""
    if isinstance(value, dict):
        return {
            k: strip_tags(v.value if isinstance(v, Override) else v)
            for k, v in value.items()
            if not isinstance(v, Reset)
        }
    if isinstance(value, list):
        return [strip_tags(v) for v in value if not isinstance(v, Reset)]
    if isinstance(value, Override):
        return strip_tags(value.value)
    if isinstance(value, Reset):
        return None
    return value


def merge_files(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge several loaded compose documents in order."""
    merged: dict[str, Any] = {}
    for doc in documents:
        merged = merge_mappings(merged, doc)
    result: dict[str, Any] = strip_tags(merged)
    return result
