"""The labels docker compose puts on what it creates, and its config hash.

Containers, networks and volumes carry these so that ``ps``/``down`` find
a project's objects, ``up`` sees what changed, and docker compose itself
recognises a project dockyard created (and the other way round). Images
``build`` makes carry the project and service too: ``down --rmi`` finds
them by those labels, whatever their name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from dockyard.compose.normalize import SERVICE_ORDER, order

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
CONFIG_HASH = "com.docker.compose.config-hash"
CONTAINER_NUMBER = "com.docker.compose.container-number"
ONEOFF = "com.docker.compose.oneoff"
DEPENDS_ON = "com.docker.compose.depends_on"
WORKING_DIR = "com.docker.compose.project.working_dir"
CONFIG_FILES = "com.docker.compose.project.config_files"
ENVIRONMENT_FILE = "com.docker.compose.project.environment_file"
VERSION = "com.docker.compose.version"
NETWORK = "com.docker.compose.network"
VOLUME = "com.docker.compose.volume"
IMAGE = "com.docker.compose.image"
IMAGE_BUILDER = "com.docker.compose.image.builder"

# The docker compose release whose behaviour we follow; tools compare it.
COMPOSE_VERSION = "2.29.7"

# Fields that do not change a running container, so not part of its hash
# (docker compose's ServiceHash clears them): the build recipe, how to pull,
# how many replicas, start order, profiles.
_UNHASHED = ("build", "pull_policy", "scale", "depends_on", "profiles")


def config_hash(service: Mapping[str, Any]) -> str:
    """sha256 of the service's JSON, minus the fields above, as docker compose's ServiceHash.

    The JSON is written the way Go's ``json.Marshal`` writes compose-go's
    ServiceConfig: struct-field order, compact, ``command``/``entrypoint``
    always present (null when unset), ``x-`` extensions left out, ``<>&``
    escaped. It changes exactly when a setting that shapes the container
    changes: the canonical form gives each setting one spelling, so
    rewriting a port in long syntax or reordering ``environment`` leaves it
    unchanged.
    """
    data = service_json(service)
    for key in _UNHASHED:
        data.pop(key, None)
    deploy = data.get("deploy")
    if isinstance(deploy, dict) and "replicas" in deploy:
        data["deploy"] = {k: v for k, v in deploy.items() if k != "replicas"}
    return hashlib.sha256(go_json(data).encode()).hexdigest()


def service_json(service: Mapping[str, Any]) -> dict[str, Any]:
    """A canonical service as compose-go marshals it to JSON (extensions dropped)."""
    data = _drop_extensions(dict(service))
    data.setdefault("command", None)
    data.setdefault("entrypoint", None)
    return order(data, SERVICE_ORDER)


def _drop_extensions(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_extensions(v) for k, v in value.items() if not str(k).startswith("x-")}
    if isinstance(value, list):
        return [_drop_extensions(v) for v in value]
    return value


def go_json(value: Any, indent: int | None = None) -> str:
    """JSON as Go's encoding/json writes it (HTML-safe escapes, no ASCII escaping)."""
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(value, separators=separators, ensure_ascii=False, indent=indent)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def depends_on_label(service: Mapping[str, Any]) -> str:
    """``db:service_healthy:false,cache:service_started:true`` (name:condition:restart)."""
    deps = service.get("depends_on") or {}
    return ",".join(
        f"{name}:{d.get('condition', 'service_started')}:{str(bool(d.get('restart', False))).lower()}"
        for name, d in deps.items()
    )


def container_labels(
    project: str, service_name: str, service: Mapping[str, Any], number: int, *,
    working_dir: str, config_files: list[str], oneoff: bool = False,
    environment_file: str | None = None,
) -> dict[str, str]:
    """The labels of replica ``number`` of a service, user labels first as compose does."""
    labels = {k: str(v) for k, v in (service.get("labels") or {}).items()}
    labels.update({
        CONFIG_HASH: config_hash(service),
        CONTAINER_NUMBER: str(number),
        DEPENDS_ON: depends_on_label(service),
        IMAGE: "",
        ONEOFF: "True" if oneoff else "False",
        PROJECT: project,
        CONFIG_FILES: ",".join(config_files),
        WORKING_DIR: working_dir,
        SERVICE: service_name,
        VERSION: COMPOSE_VERSION,
    })
    if environment_file:
        labels[ENVIRONMENT_FILE] = environment_file
    if not labels[IMAGE]:
        # the image ID is known only once the engine resolved the image: up.with_image_label
        del labels[IMAGE]
    return labels


def image_labels(project: str, service_name: str,
                 build_labels: Mapping[str, str] | None = None) -> dict[str, str]:
    """The labels of an image ``build`` makes: ``build.labels``, then compose's own over
    them, as docker compose v2's builders set them: the builder (``classic``: images go
    through ``POST /build``), and the version, project and service its ``getImageBuildLabels``
    adds, by which ``down --rmi`` finds the project's built images whatever their name."""
    labels = {str(k): str(v) for k, v in (build_labels or {}).items()}
    labels[IMAGE_BUILDER] = "classic"
    labels.update({VERSION: COMPOSE_VERSION, PROJECT: project, SERVICE: service_name})
    return labels


def network_labels(project: str, key: str) -> dict[str, str]:
    return {NETWORK: key, PROJECT: project, VERSION: COMPOSE_VERSION}


def volume_labels(project: str, key: str) -> dict[str, str]:
    return {PROJECT: project, VERSION: COMPOSE_VERSION, VOLUME: key}


def container_name(project: str, service: str, number: int, oneoff: bool = False) -> str:
    """``project-service-1`` (compose v2 names, with ``-`` separators)."""
    if oneoff:
        return f"{project}-{service}-run-{number}"
    return f"{project}-{service}-{number}"
