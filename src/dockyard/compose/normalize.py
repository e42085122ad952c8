"""Normalisation: a merged, validated compose document → the canonical form.

The canonical form is what ``docker compose config`` prints: long syntax
everywhere, relative paths resolved against the project directory, lists
turned into maps, defaults filled in, durations in Go's spelling, and keys
in compose-go's struct-field order (``FIELD_ORDER``). ``model.py`` builds
typed objects from it and ``planner.config_hash`` hashes it, so everything
downstream sees one spelling of each setting.

Strings where the schema allows them for interpolation (``read_only:
"true"``, ``replicas: "3"``) are cast as compose-go's type-cast table does:
booleans accept y/yes/true/on and n/no/false/off in any case.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Mapping
from typing import Any

from dotenv import dotenv_values

from dockyard.compose.errors import ConfigError
from dockyard.compose.merge import extra_hosts_to_map, list_to_map
from dockyard.compose.shortsyntax import (
    parse_device,
    parse_port,
    parse_volume,
    resolve_path,
    split_command,
)
from dockyard.compose.units import format_duration, parse_bytes, parse_duration

# compose-go's ServiceConfig field order (yaml tags), which `config` output follows.
SERVICE_ORDER = (
    "profiles annotations attach build develop blkio_config cap_add cap_drop cgroup_parent "
    "cgroup cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpus "
    "cpuset cpu_shares command configs container_name credential_spec depends_on deploy "
    "device_cgroup_rules devices dns dns_opt dns_search dockerfile domainname entrypoint "
    "provider environment env_file expose extends external_links extra_hosts group_add gpus hostname "
    "healthcheck image init ipc isolation labels label_file links logging mem_limit "
    "mem_reservation memswap_limit mem_swappiness mac_address models network_mode networks "
    "oom_kill_disable oom_score_adj pid pids_limit platform ports privileged provider "
    "pull_policy pull_refresh_after read_only restart runtime scale secrets security_opt "
    "shm_size stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits "
    "use_api_socket user userns_mode uts volume_driver volumes volumes_from working_dir "
    "post_start pre_stop"
).split()
BUILD_ORDER = (
    "context dockerfile dockerfile_inline entitlements args ssh labels cache_from cache_to "
    "no_cache additional_contexts network pull target secrets shm_size tags ulimits platforms "
    "privileged extra_hosts isolation"
).split()
PORT_ORDER = "name mode host_ip target published protocol app_protocol".split()
VOLUME_ORDER = "type source target read_only consistency bind volume tmpfs image".split()
BIND_ORDER = "selinux propagation create_host_path recursive".split()
SERVICE_NETWORK_ORDER = (
    "aliases driver_opts gw_priority interface_name ipv4_address ipv6_address link_local_ips "
    "mac_address priority"
).split()
HEALTH_ORDER = "test timeout interval retries start_period start_interval disable".split()
DEPLOY_ORDER = (
    "mode replicas labels update_config rollback_config resources restart_policy placement "
    "endpoint_mode"
).split()
NETWORK_ORDER = (
    "name driver driver_opts ipam external internal attachable labels enable_ipv4 enable_ipv6"
).split()
VOLUME_TOP_ORDER = "name driver driver_opts external labels".split()
FILE_OBJECT_ORDER = (
    "name file environment content external labels driver driver_opts template_driver"
).split()
TOP_ORDER = "name services networks volumes secrets configs models".split()

_TRUE = {"y", "yes", "true", "on"}
_FALSE = {"n", "no", "false", "off"}
_BOOL_FIELDS = {
    "init", "oom_kill_disable", "privileged", "read_only", "stdin_open", "tty", "attach",
    "use_api_socket",
}
_INT_FIELDS = {
    "cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime",
    "cpu_shares", "oom_score_adj", "pids_limit", "scale", "mem_swappiness",
}
_BYTES_FIELDS = {"mem_limit", "mem_reservation", "memswap_limit", "shm_size"}
_DURATION_FIELDS = {"stop_grace_period"}


def order(mapping: Mapping[str, Any], keys: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Known keys in ``keys`` order, then extensions and anything else sorted."""
    out = {k: mapping[k] for k in keys if k in mapping}
    for k in sorted(mapping):
        if k not in out:
            out[k] = mapping[k]
    return out


def to_bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    raise ConfigError(f"{value!r} is not a valid boolean", path=path)


def to_int(value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{value!r} is not a valid integer", path=path)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{value!r} is not a valid integer", path=path) from None


def to_float(value: Any, path: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{value!r} is not a valid number", path=path)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{value!r} is not a valid number", path=path) from None


def duration(value: Any, path: str) -> str:
    try:
        return format_duration(parse_duration(value))
    except ValueError as e:
        raise ConfigError(str(e), path=path) from None


def byte_size(value: Any, path: str) -> str:
    # compose-go's UnitBytes marshals as a decimal string of bytes.
    try:
        return str(parse_bytes(value))
    except ValueError as e:
        raise ConfigError(str(e), path=path) from None


def env_string(value: Any) -> str | None:
    """Environment and label values are strings; YAML scalars print as Go would."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def str_map(value: Any) -> dict[str, str | None]:
    """A ``KEY=VALUE`` list or mapping as a sorted map of strings (yaml.v3 sorts maps)."""
    return {k: env_string(v) for k, v in sorted(list_to_map(value).items())}


def file_mode(value: Any, path: str) -> str:
    """compose-go's FileMode prints as an octal string: ``0440``."""
    try:
        mode = int(value, 8) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{value!r} is not a valid file mode", path=path) from None
    return f"0{mode:o}"


def _is_remote_context(context: str) -> bool:
    return "://" in context or context.startswith(("git@", "github.com/"))


class Normalizer:
    """Turns one merged document into the canonical form for project ``name``."""

    def __init__(
        self,
        name: str,
        project_dir: str,
        environment: Mapping[str, str],
        warn: Callable[[str], None],
    ) -> None:
        self.name = name
        self.project_dir = project_dir
        self.environment = environment
        self.warn = warn

    # --- top level -----------------------------------------------------------------------

    def project(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        services = {
            svc: self.service(svc, dict(cfg or {}))
            for svc, cfg in sorted((doc.get("services") or {}).items())
        }
        out: dict[str, Any] = {"name": self.name, "services": services}
        networks = {k: self.network(k, dict(v or {})) for k, v in (doc.get("networks") or {}).items()}
        uses_default = any(
            "default" in (s.get("networks") or {}) for s in services.values()
        )
        if uses_default and "default" not in networks:
            networks["default"] = {"name": f"{self.name}_default"}
        if networks:
            out["networks"] = dict(sorted(networks.items()))
        for kind, fn in (("volumes", self.volume), ("secrets", self.file_object),
                         ("configs", self.file_object)):
            items = {k: fn(k, dict(v or {}), kind) for k, v in (doc.get(kind) or {}).items()}
            if items:
                out[kind] = dict(sorted(items.items()))
        for k in sorted(doc):
            if k.startswith("x-"):
                out[k] = doc[k]
        return out

    def network(self, key: str, cfg: dict[str, Any]) -> dict[str, Any]:
        path = f"networks.{key}"
        for flag in ("external", "internal", "attachable", "enable_ipv4", "enable_ipv6"):
            if flag in cfg:
                cfg[flag] = to_bool(cfg[flag], f"{path}.{flag}")
        if not cfg.get("name"):
            cfg["name"] = key if cfg.get("external") else f"{self.name}_{key}"
        if "labels" in cfg:
            cfg["labels"] = str_map(cfg["labels"])
        return order(cfg, NETWORK_ORDER)

    def volume(self, key: str, cfg: dict[str, Any], _kind: str = "volumes") -> dict[str, Any]:
        if "external" in cfg:
            cfg["external"] = to_bool(cfg["external"], f"volumes.{key}.external")
        if not cfg.get("name"):
            cfg["name"] = key if cfg.get("external") else f"{self.name}_{key}"
        if "labels" in cfg:
            cfg["labels"] = str_map(cfg["labels"])
        return order(cfg, VOLUME_TOP_ORDER)

    def file_object(self, key: str, cfg: dict[str, Any], kind: str) -> dict[str, Any]:
        path = f"{kind}.{key}"
        if "external" in cfg:
            cfg["external"] = to_bool(cfg["external"], f"{path}.external")
        if not cfg.get("name"):
            cfg["name"] = key if cfg.get("external") else f"{self.name}_{key}"
        if cfg.get("file"):
            cfg["file"] = resolve_path(str(cfg["file"]), self.project_dir)
        sources = [s for s in ("file", "environment", "content") if cfg.get(s) is not None]
        if not cfg.get("external") and len(sources) != 1:
            raise ConfigError(
                f"exactly one of file, environment or content must be set (found {sources or 'none'})",
                path=path,
            )
        if cfg.get("environment") is not None and cfg["environment"] not in self.environment:
            self.warn(f"{path}: environment variable {cfg['environment']} is not set")
        return order(cfg, FILE_OBJECT_ORDER)

    # --- services ------------------------------------------------------------------------

    def service(self, name: str, cfg: dict[str, Any]) -> dict[str, Any]:
        p = f"services.{name}"
        cfg.pop("extends", None)
        for key in list(cfg):
            value = cfg[key]
            here = f"{p}.{key}"
            if value is None:
                del cfg[key]
            elif key in _BOOL_FIELDS:
                cfg[key] = to_bool(value, here)
            elif key in _INT_FIELDS:
                cfg[key] = to_int(value, here)
            elif key in _BYTES_FIELDS:
                cfg[key] = byte_size(value, here)
            elif key in _DURATION_FIELDS:
                cfg[key] = duration(value, here)
            elif key == "cpus":
                cfg[key] = to_float(value, here)
        if "build" in cfg:
            cfg["build"] = self.build(cfg["build"], f"{p}.build")
        if isinstance(cfg.get("develop"), dict):
            cfg["develop"] = self.develop(dict(cfg["develop"]))
        if cfg.get("pull_policy") == "if_not_present":
            cfg["pull_policy"] = "missing"
        if isinstance(cfg.get("storage_opt"), dict):
            cfg["storage_opt"] = str_map(cfg["storage_opt"])
        for key in ("command", "entrypoint"):
            if isinstance(cfg.get(key), str):
                try:
                    cfg[key] = split_command(cfg[key])
                except ValueError as e:
                    raise ConfigError(str(e), path=f"{p}.{key}") from None
        for key in ("dns", "dns_search", "tmpfs", "env_file", "label_file"):
            if isinstance(cfg.get(key), str):
                cfg[key] = [cfg[key]]
        if "expose" in cfg:
            cfg["expose"] = [str(e) for e in cfg["expose"]]
        cfg["environment"] = self.environment_of(cfg, p)
        if not cfg["environment"]:
            del cfg["environment"]
        cfg.pop("env_file", None)
        for key in ("labels", "annotations"):
            if key in cfg:
                cfg[key] = str_map(cfg[key])
        if "label_file" in cfg:
            labels: dict[str, Any] = {}
            cfg["label_file"] = [resolve_path(str(f), self.project_dir) for f in cfg["label_file"]]
            for f in cfg["label_file"]:
                labels.update(self._read_env_file(f, True, f"{p}.label_file"))
            labels.update(cfg.get("labels") or {})
            cfg["labels"] = dict(sorted(labels.items()))
        if "sysctls" in cfg:
            cfg["sysctls"] = str_map(cfg["sysctls"])
        if "extra_hosts" in cfg:
            hosts = extra_hosts_to_map(cfg["extra_hosts"])
            cfg["extra_hosts"] = [f"{h}={ip}" for h, ip in sorted(hosts.items())]
        if "depends_on" in cfg:
            cfg["depends_on"] = self.depends_on(cfg["depends_on"], f"{p}.depends_on")
        self._implicit_dependencies(cfg)
        if "healthcheck" in cfg:
            cfg["healthcheck"] = self.healthcheck(dict(cfg["healthcheck"]), f"{p}.healthcheck")
        if "deploy" in cfg:
            cfg["deploy"] = self.deploy(dict(cfg["deploy"]), f"{p}.deploy")
        if "ports" in cfg:
            cfg["ports"] = self.ports(cfg["ports"], f"{p}.ports")
        if "volumes" in cfg:
            cfg["volumes"] = self.volumes(cfg["volumes"], f"{p}.volumes")
        if "devices" in cfg:
            try:
                cfg["devices"] = [parse_device(d) for d in cfg["devices"]]
            except ValueError as e:
                raise ConfigError(str(e), path=f"{p}.devices") from None
        for key in ("secrets", "configs"):
            if key in cfg:
                cfg[key] = [self.mount_ref(s, f"{p}.{key}[{i}]") for i, s in enumerate(cfg[key])]
        if "networks" in cfg:
            nets = cfg["networks"]
            if isinstance(nets, list):
                nets = {str(n): None for n in nets}
            cfg["networks"] = {k: self.service_network(v) for k, v in sorted(nets.items())}
            if not cfg["networks"]:
                cfg["networks"] = {"default": None}  # declared but empty: compose's corner case
        elif "network_mode" not in cfg:
            cfg["networks"] = {"default": None}
        if "ulimits" in cfg:
            cfg["ulimits"] = {
                k: (to_int(v, f"{p}.ulimits.{k}") if not isinstance(v, dict)
                    else {kk: to_int(vv, f"{p}.ulimits.{k}.{kk}") for kk, vv in v.items()})
                for k, v in sorted(cfg["ulimits"].items())
            }
        if "logging" in cfg and isinstance(cfg["logging"], dict):
            log = dict(cfg["logging"])
            if log.get("options"):
                log["options"] = str_map(log["options"])
            cfg["logging"] = order(log, ["driver", "options"])
        return order(cfg, SERVICE_ORDER)

    def build(self, value: Any, path: str) -> dict[str, Any]:
        cfg = {"context": value} if isinstance(value, str) else dict(value)
        context = str(cfg.get("context") or ".")
        if not _is_remote_context(context):
            context = resolve_path(context, self.project_dir)
        cfg["context"] = context
        if "dockerfile" not in cfg and "dockerfile_inline" not in cfg:
            cfg["dockerfile"] = "Dockerfile"
        if "args" in cfg:
            # an arg without a value takes the environment's, or is dropped (compose-go)
            args = list_to_map(cfg["args"])
            cfg["args"] = {
                k: env_string(v if v is not None else self.environment.get(k))
                for k, v in sorted(args.items())
                if v is not None or k in self.environment
            }
        if "labels" in cfg:
            cfg["labels"] = str_map(cfg["labels"])
        if "shm_size" in cfg:
            cfg["shm_size"] = byte_size(cfg["shm_size"], f"{path}.shm_size")
        if "extra_hosts" in cfg:
            hosts = extra_hosts_to_map(cfg["extra_hosts"])
            cfg["extra_hosts"] = [f"{h}={ip}" for h, ip in sorted(hosts.items())]
        if "no_cache" in cfg:
            cfg["no_cache"] = to_bool(cfg["no_cache"], f"{path}.no_cache")
        if "secrets" in cfg:
            cfg["secrets"] = [self.mount_ref(s, f"{path}.secrets[{i}]") for i, s in enumerate(cfg["secrets"])]
        return order(cfg, BUILD_ORDER)

    def develop(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """``watch`` rules: ``path`` absolute with its links resolved (compose-go's
        absSymbolicLink), ``ignore``/``include`` as lists."""
        rules = []
        for rule in cfg.get("watch") or []:
            rule = dict(rule)
            if isinstance(rule.get("path"), str) and rule["path"]:
                rule["path"] = os.path.realpath(resolve_path(rule["path"], self.project_dir))
            for key in ("ignore", "include"):
                if isinstance(rule.get(key), str):
                    rule[key] = [rule[key]]
            rules.append(rule)
        if "watch" in cfg:
            cfg["watch"] = rules
        return cfg

    def environment_of(self, cfg: dict[str, Any], path: str) -> dict[str, str | None]:
        env: dict[str, str | None] = {}
        for i, entry in enumerate(cfg.get("env_file") or []):
            spec = {"path": entry} if isinstance(entry, str) else dict(entry)
            required = to_bool(spec.get("required", True), f"{path}.env_file[{i}].required")
            file = resolve_path(str(spec["path"]), self.project_dir)
            env.update(self._read_env_file(file, required, f"{path}.env_file[{i}]"))
        for k, v in list_to_map(cfg.get("environment")).items():
            if v is None:
                # "- FOO" or "FOO:": take the value from the environment, else stay unset
                env[k] = self.environment.get(k)
            else:
                env[k] = env_string(v)
        return dict(sorted(env.items()))

    def _read_env_file(self, file: str, required: bool, path: str) -> dict[str, str | None]:
        if not os.path.isfile(file):
            if required:
                raise ConfigError(f"env file {file} not found", path=path)
            return {}
        values = dotenv_values(file, interpolate=True)
        return {k: v for k, v in values.items()}

    def depends_on(self, value: Any, path: str) -> dict[str, Any]:
        items = value if isinstance(value, dict) else {str(n): None for n in value}
        out: dict[str, Any] = {}
        for svc, spec in items.items():
            spec = dict(spec or {})
            dep: dict[str, Any] = {"condition": spec.get("condition", "service_started")}
            if spec.get("restart") is not None and to_bool(spec["restart"], f"{path}.{svc}.restart"):
                dep["restart"] = True
            dep["required"] = to_bool(spec.get("required", True), f"{path}.{svc}.required")
            out[svc] = dep
        return dict(sorted(out.items()))

    def _implicit_dependencies(self, cfg: dict[str, Any]) -> None:
        # compose-go turns network_mode/volumes_from/links pointing at a service into
        # depends_on entries, so the planner starts that service first.
        # links and shared namespaces restart with their target; volumes_from does not.
        refs: list[tuple[str, bool]] = []
        for link in cfg.get("links") or []:
            refs.append((str(link).split(":")[0], True))
        for namespace in ("network_mode", "ipc", "pid", "uts", "cgroup"):
            mode = cfg.get(namespace)
            if isinstance(mode, str) and mode.startswith("service:"):
                refs.append((mode.split(":", 1)[1], True))
        for vf in cfg.get("volumes_from") or []:
            if not str(vf).startswith("container:"):
                refs.append((str(vf).split(":")[0], False))
        if not refs:
            return
        deps = cfg.setdefault("depends_on", {})
        for ref, restart in refs:
            if ref not in deps:
                deps[ref] = {"condition": "service_started", **({"restart": True} if restart else {}),
                             "required": True}
        cfg["depends_on"] = dict(sorted(deps.items()))

    def healthcheck(self, hc: dict[str, Any], path: str) -> dict[str, Any]:
        if isinstance(hc.get("test"), str):
            hc["test"] = ["CMD-SHELL", hc["test"]]
        for key in ("timeout", "interval", "start_period", "start_interval"):
            if key in hc:
                hc[key] = duration(hc[key], f"{path}.{key}")
        if "retries" in hc:
            hc["retries"] = to_int(hc["retries"], f"{path}.retries")
        if "disable" in hc:
            hc["disable"] = to_bool(hc["disable"], f"{path}.disable")
        return order(hc, HEALTH_ORDER)

    def deploy(self, d: dict[str, Any], path: str) -> dict[str, Any]:
        if "replicas" in d:
            d["replicas"] = to_int(d["replicas"], f"{path}.replicas")
        if "labels" in d:
            d["labels"] = str_map(d["labels"])
        res = d.get("resources")
        if isinstance(res, dict):
            for kind in ("limits", "reservations"):
                r = res.get(kind)
                if isinstance(r, dict):
                    r = dict(r)
                    if "cpus" in r:
                        r["cpus"] = to_float(r["cpus"], f"{path}.resources.{kind}.cpus")
                    if "memory" in r:
                        r["memory"] = byte_size(r["memory"], f"{path}.resources.{kind}.memory")
                    if "pids" in r:
                        r["pids"] = to_int(r["pids"], f"{path}.resources.{kind}.pids")
                    res[kind] = order(r, ["cpus", "memory", "pids", "devices", "generic_resources"])
        for key in ("restart_policy", "update_config", "rollback_config"):
            sub = d.get(key)
            if isinstance(sub, dict):
                for dk in ("delay", "window", "monitor"):
                    if dk in sub:
                        sub[dk] = duration(sub[dk], f"{path}.{key}.{dk}")
                for ik in ("max_attempts", "parallelism"):
                    if ik in sub:
                        sub[ik] = to_int(sub[ik], f"{path}.{key}.{ik}")
        return order(d, DEPLOY_ORDER)

    def ports(self, ports: list[Any], path: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, spec in enumerate(ports):
            here = f"{path}[{i}]"
            if isinstance(spec, dict):
                p = dict(spec)
                if p.get("target") is None:
                    raise ConfigError("a port mapping needs a target", path=here)
                try:
                    p["target"] = to_int(p.get("target"), f"{here}.target")
                except ConfigError:
                    raise ConfigError(f"{p.get('target')!r} is not a valid port", path=f"{here}.target") from None
                if not 0 < p["target"] <= 65535:
                    raise ConfigError(f"port {p['target']} is out of range 1-65535", path=f"{here}.target")
                if p.get("published") is not None:
                    p["published"] = str(p["published"])
                p.setdefault("mode", "ingress")
                p.setdefault("protocol", "tcp")
                out.append(order(p, PORT_ORDER))
                continue
            try:
                out.extend(parse_port(spec))
            except ValueError as e:
                raise ConfigError(str(e), path=here) from None
        return out

    def volumes(self, vols: list[Any], path: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, spec in enumerate(vols):
            here = f"{path}[{i}]"
            if isinstance(spec, dict):
                v = dict(spec)
                if not v.get("target"):
                    raise ConfigError("a mount needs a target", path=here)
                v["target"] = posixpath.normpath(str(v["target"]))
                if v.get("type") == "bind" and v.get("source"):
                    v["source"] = resolve_path(str(v["source"]), self.project_dir)
                if isinstance(v.get("bind"), dict):
                    # create_host_path defaults to true and is printed only when false
                    bind = dict(v["bind"])
                    if "create_host_path" in bind:
                        if to_bool(bind["create_host_path"], f"{here}.bind.create_host_path"):
                            del bind["create_host_path"]
                        else:
                            bind["create_host_path"] = False
                    v["bind"] = order(bind, BIND_ORDER)
                if "read_only" in v:
                    v["read_only"] = to_bool(v["read_only"], f"{here}.read_only")
                if isinstance(v.get("tmpfs"), dict) and "size" in v["tmpfs"]:
                    v["tmpfs"] = dict(v["tmpfs"])
                    try:
                        v["tmpfs"]["size"] = str(parse_bytes(v["tmpfs"]["size"]))
                    except ValueError as e:
                        raise ConfigError(str(e), path=f"{here}.tmpfs.size") from None
                if isinstance(v.get("volume"), dict) and "nocopy" in v["volume"]:
                    v["volume"] = dict(v["volume"])
                    v["volume"]["nocopy"] = to_bool(v["volume"]["nocopy"], f"{here}.volume.nocopy")
                out.append(order(v, VOLUME_ORDER))
                continue
            try:
                out.append(parse_volume(str(spec), self.project_dir))
            except ValueError as e:
                raise ConfigError(str(e), path=here) from None
        return out

    def mount_ref(self, spec: Any, path: str) -> dict[str, Any]:
        if isinstance(spec, str):
            return {"source": spec}
        ref = dict(spec)
        if "mode" in ref:
            ref["mode"] = file_mode(ref["mode"], f"{path}.mode")
        for key in ("uid", "gid"):
            if key in ref:
                ref[key] = str(ref[key])
        return order(ref, ["source", "target", "uid", "gid", "mode"])

    def service_network(self, value: Any) -> Any:
        if value is None:
            return None
        net = dict(value)
        if "priority" in net:
            net["priority"] = to_int(net["priority"], "priority")
        return order(net, SERVICE_NETWORK_ORDER)
