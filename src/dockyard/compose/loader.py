"""Loading a compose project: files → one validated, normalised, typed project.

The pipeline, in docker compose's order:

1. discovery (``discovery.py``): files, project directory, environment;
2. per file: YAML 1.2 parse (``yamlload.py``), interpolation
   (``interpolation.py``), schema validation (``schema.py``), ``include``
   (each included project loaded on its own, paths made absolute against
   its directory, resources added; a clash with a local definition is an
   error), ``extends`` (same file or another; loops are errors);
3. merging the files in order (``merge.py``);
4. project name, profiles (and targeted services with their dependencies);
5. normalisation (``normalize.py``) and consistency checks (``checks.py``);
6. the typed model (``model.py``).

Nothing here touches an engine: a project that fails to load has created
nothing.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.compose import discovery
from dockyard.compose.checks import check_project
from dockyard.compose.errors import ConfigError, ExtendsError, NoConfigFileError, YamlError
from dockyard.compose.interpolation import interpolate
from dockyard.compose.merge import merge_files, merge_service, strip_tags
from dockyard.compose.model import Project, project_from_config
from dockyard.compose.normalize import Normalizer
from dockyard.compose.schema import validate_document
from dockyard.compose.shortsyntax import resolve_path
from dockyard.compose.yamlload import load_compose_yaml, load_yaml

RESOURCE_SECTIONS = ("services", "networks", "volumes", "secrets", "configs")


@dataclass
class ProjectOptions:
    """What ``docker compose``'s global flags and environment select."""

    config_files: list[str] = field(default_factory=list)  # -f, in order; "-" is stdin
    project_name: str | None = None  # -p
    project_directory: str | None = None  # --project-directory
    env_files: list[str] = field(default_factory=list)  # --env-file
    profiles: list[str] = field(default_factory=list)  # --profile
    services: list[str] = field(default_factory=list)  # targeted services
    working_dir: str | None = None  # default: os.getcwd()
    environ: Mapping[str, str] | None = None  # default: os.environ
    interpolate: bool = True
    consistency: bool = True  # False: skip checks.py (`config --no-consistency`)
    stdin: str | None = None  # the text of "-f -" (default: read sys.stdin)


@dataclass
class LoadedProject:
    config: dict[str, Any]  # canonical form, what `config` prints
    project: Project
    files: list[str]
    working_dir: str
    environment: dict[str, str]
    warnings: list[str]
    all_profiles: list[str]  # profiles named by any service, enabled or not
    disabled_services: list[str] = field(default_factory=list)  # by profiles or targeting


class _Loader:
    def __init__(self, options: ProjectOptions, environment: dict[str, str],
                 environ: Mapping[str, str], warn: Callable[[str], None]) -> None:
        self.options = options
        self.environment = environment
        self.environ = environ
        self.warn = warn
        self._cache: dict[tuple[str, frozenset[tuple[str, str]]], dict[str, Any]] = {}
        self._stdin: str | None = None

    def peek_name(self, files: list[str]) -> str | None:
        """The top-level ``name:`` of the last file that has one, interpolated."""
        found: str | None = None
        for path in files:
            try:
                doc = load_yaml(self.read_text(path), path)
            except YamlError:
                continue  # reported with its context when the file is loaded
            if isinstance(doc, dict) and isinstance(doc.get("name"), str) and doc["name"]:
                found = doc["name"]
                if self.options.interpolate:
                    found = interpolate(found, self.environment, file=path, path="name")
        return found

    def read_text(self, path: str) -> str:
        if path == "-":
            if self._stdin is None:
                self._stdin = self.options.stdin if self.options.stdin is not None else sys.stdin.read()
            return self._stdin
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            raise NoConfigFileError(f"open {path}: no such file or directory") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read compose file: {e}", file=path) from None

    def load_file(self, path: str, env: Mapping[str, str], stack: tuple[str, ...] = ()) -> dict[str, Any]:
        """One file: parsed, interpolated, validated, includes and extends resolved."""
        key = (path, frozenset(env.items()))
        if key in self._cache:
            return copy.deepcopy(self._cache[key])  # later stages edit documents in place
        doc = load_compose_yaml(self.read_text(path), path)
        if self.options.interpolate:
            doc = interpolate(doc, env, file=path, warn=self.warn)
        if "version" in doc:
            self.warn(f"{path}: the attribute `version` is obsolete, it will be ignored, "
                      "please remove it to avoid potential confusion")
            del doc["version"]
        validate_document(strip_tags(doc), path)
        base_dir = os.path.dirname(path) if path != "-" else self.cwd
        if "include" in doc:
            for i, entry in enumerate(doc.pop("include") or []):
                included = self.load_include(entry, path, base_dir, env, stack + (path,),
                                             f"include[{i}]")
                _add_included(doc, included, path)
        if doc.get("services"):
            doc["services"] = self.resolve_extends(doc["services"], path, env)
        self._cache[key] = copy.deepcopy(doc)
        return doc

    @property
    def cwd(self) -> str:
        return self.options.working_dir or os.getcwd()

    # --- include ---------------------------------------------------------------------------

    def load_include(self, entry: Any, parent: str, parent_dir: str, parent_env: Mapping[str, str],
                     stack: tuple[str, ...], where: str) -> dict[str, Any]:
        """An included project: the including project's environment with the include's
        env files (or its directory's ``.env``) laid over it, as compose-go does."""
        spec = {"path": entry} if isinstance(entry, str) else dict(entry)
        raw_paths = spec.get("path")
        paths = [raw_paths] if isinstance(raw_paths, str) else list(raw_paths or [])
        if not paths:
            raise ConfigError("include needs a path", file=parent, path=where)
        paths = [resolve_path(str(p), parent_dir) for p in paths]
        for p in paths:
            if p in stack:
                chain = " -> ".join([*stack, p])
                raise ConfigError(f"include cycle detected: {chain}", file=parent, path=where)
            if not os.path.isfile(p):
                raise ConfigError(f"included file {p} not found", file=parent, path=where)
        inc_dir = resolve_path(str(spec["project_directory"]), parent_dir) \
            if spec.get("project_directory") else os.path.dirname(paths[0])
        env_files = spec.get("env_file")
        if env_files is None:
            file_env = discovery.read_env_files([os.path.join(inc_dir, ".env")], required=False)
        else:
            files = [env_files] if isinstance(env_files, str) else list(env_files)
            file_env = discovery.read_env_files(
                [resolve_path(str(f), parent_dir) for f in files if f != "/dev/null"])
        env = {**parent_env, **file_env}
        docs = [self.load_file(p, env, stack) for p in paths]
        merged = merge_files(docs)
        for svc in (merged.get("services") or {}).values():
            rebase_paths(svc, inc_dir)
        for kind in ("secrets", "configs"):
            for obj in (merged.get(kind) or {}).values():
                if isinstance(obj, dict) and obj.get("file"):
                    obj["file"] = resolve_path(str(obj["file"]), inc_dir)
        merged.pop("name", None)
        return merged

    # --- extends ---------------------------------------------------------------------------

    def resolve_extends(self, services: dict[str, Any], file: str, env: Mapping[str, str]) -> dict[str, Any]:
        return {
            name: self._extend(name, services, file, env, ())
            for name in services
        }

    def _extend(self, name: str, services: Mapping[str, Any], file: str, env: Mapping[str, str],
                stack: tuple[tuple[str, str], ...]) -> dict[str, Any]:
        svc = services.get(name)
        if not isinstance(svc, dict):
            return svc  # type: ignore[return-value]  # the schema reports it
        ext = svc.get("extends")
        if not ext:
            return svc
        spec = {"service": ext} if isinstance(ext, str) else dict(ext)
        me = (file, name)
        if me in stack:
            chain = " -> ".join(f"{n}" for _, n in [*stack, me])
            raise ExtendsError(f"extends loop detected: {chain}", file=file,
                               path=f"services.{stack[-1][1] if stack else name}.extends")
        target = str(spec.get("service"))
        if spec.get("file"):
            base_dir = os.path.dirname(file) if file != "-" else self.cwd
            other = resolve_path(str(spec["file"]), base_dir)
            other_doc = self._load_for_extends(other, env, file, name)
            other_services = other_doc.get("services") or {}
            if target not in other_services:
                raise ExtendsError(f'cannot extend service "{name}": service "{target}" not found in {other}',
                                   file=file, path=f"services.{name}.extends")
            base = self._extend(target, other_services, other, env, stack + (me,))
            base = rebase_paths(dict(base), os.path.dirname(other))
        else:
            if target not in services:
                raise ExtendsError(f'cannot extend service "{name}": service "{target}" not found',
                                   file=file, path=f"services.{name}.extends")
            base = self._extend(target, services, file, env, stack + (me,))
        own = {k: v for k, v in svc.items() if k != "extends"}
        return merge_service({k: v for k, v in base.items() if k != "extends"}, own)

    def _load_for_extends(self, path: str, env: Mapping[str, str], file: str, name: str) -> dict[str, Any]:
        if not os.path.isfile(path):
            raise ExtendsError(f"extends file {path} not found", file=file, path=f"services.{name}.extends.file")
        doc = load_compose_yaml(self.read_text(path), path)
        if self.options.interpolate:
            doc = interpolate(doc, env, file=path, warn=self.warn)
        doc.pop("version", None)
        validate_document(strip_tags(doc), path)
        return doc


def rebase_paths(svc: dict[str, Any], base_dir: str) -> dict[str, Any]:
    """Make a service's relative paths absolute against ``base_dir`` (its own file's dir)."""
    build = svc.get("build")
    if isinstance(build, str) and not _remote(build):
        svc["build"] = resolve_path(build, base_dir)
    elif isinstance(build, dict):
        ctx = str(build.get("context") or ".")
        if not _remote(ctx):
            svc["build"] = {**build, "context": resolve_path(ctx, base_dir)}
    for key in ("env_file", "label_file"):
        files = svc.get(key)
        if isinstance(files, str):
            files = [files]
        if isinstance(files, list):
            svc[key] = [
                {**f, "path": resolve_path(str(f["path"]), base_dir)} if isinstance(f, dict)
                else resolve_path(str(f), base_dir)
                for f in files
            ]
    vols = svc.get("volumes")
    if isinstance(vols, list):
        out: list[Any] = []
        for v in vols:
            if isinstance(v, str) and v.startswith("."):
                src, sep, rest = v.partition(":")
                out.append(resolve_path(src, base_dir) + sep + rest)
            elif isinstance(v, dict) and v.get("type") == "bind" and v.get("source"):
                out.append({**v, "source": resolve_path(str(v["source"]), base_dir)})
            else:
                out.append(v)
        svc["volumes"] = out
    return svc


def _remote(context: str) -> bool:
    return "://" in context or context.startswith(("git@", "github.com/"))


def _add_included(doc: dict[str, Any], included: Mapping[str, Any], file: str) -> None:
    for section in RESOURCE_SECTIONS:
        for key, value in (included.get(section) or {}).items():
            if doc.get(section) is None:
                doc[section] = {}
            mine = doc[section]
            if key in mine and mine[key] != value:
                raise ConfigError(
                    f"imported resource {section}.{key} conflicts with the definition in this file",
                    file=file, path=f"{section}.{key}",
                )
            mine[key] = value


def _active_profiles(options: ProjectOptions, environment: Mapping[str, str]) -> set[str]:
    if options.profiles:
        raw = options.profiles
    else:
        raw = environment.get("COMPOSE_PROFILES", "").split(",")
    return {p.strip() for item in raw for p in item.split(",") if p.strip()}


def _select_services(doc: dict[str, Any], options: ProjectOptions,
                     environment: Mapping[str, str], warn: Callable[[str], None]) -> None:
    """Drop services disabled by profiles.

    Targeted services (``config web``, later ``up web``) are enabled whatever
    their profiles, with their dependencies, and only they are kept.
    """
    services: dict[str, Any] = doc.get("services") or {}
    active = _active_profiles(options, environment)

    def enabled(svc: Mapping[str, Any]) -> bool:
        profiles = svc.get("profiles") or []
        return not profiles or "*" in active or bool(active.intersection(profiles))

    def deps(svc: Mapping[str, Any]) -> list[str]:
        d = svc.get("depends_on") or []
        return list(d) if isinstance(d, (list, dict)) else []

    if options.services:
        keep: set[str] = set()
        todo = list(options.services)
        while todo:
            name = todo.pop()
            if name in keep:
                continue
            if name not in services:
                raise ConfigError(f"no such service: {name}")
            keep.add(name)
            todo.extend(d for d in deps(services[name]) if d in services)
    else:
        keep = {n for n, s in services.items() if enabled(s)}
    for name in list(services):
        if name in keep:
            continue
        del services[name]
    for name, svc in services.items():
        d = svc.get("depends_on")
        if isinstance(d, dict):
            for dep in list(d):
                spec = d[dep] or {}
                if dep not in services and spec.get("required") is False:
                    warn(f'service "{name}" depends on undefined service "{dep}" (required: false): ignored')
                    del d[dep]
            if not d:
                del svc["depends_on"]


def load_project(options: ProjectOptions | None = None) -> LoadedProject:
    """Load, merge, validate and normalise a compose project. Raises ComposeError."""
    options = options or ProjectOptions()
    cwd = os.path.abspath(options.working_dir or os.getcwd())
    environ = dict(options.environ if options.environ is not None else os.environ)
    warnings: list[str] = []

    first_dir = os.path.abspath(os.path.join(cwd, options.project_directory)) \
        if options.project_directory else cwd
    pre_env = discovery.project_environment(first_dir, options.env_files, environ, cwd)
    if options.config_files:
        files = [f if f == "-" else os.path.abspath(os.path.join(cwd, f)) for f in options.config_files]
    elif pre_env.get("COMPOSE_FILE"):
        sep = pre_env.get("COMPOSE_PATH_SEPARATOR") or ":"
        files = [os.path.abspath(os.path.join(cwd, f)) for f in pre_env["COMPOSE_FILE"].split(sep) if f]
    else:
        files = discovery.find_default_files(first_dir, warnings.append)
    for f in files:
        if f != "-" and not os.path.isfile(f):
            raise NoConfigFileError(f"open {f}: no such file or directory")
    if options.project_directory:
        project_dir = first_dir
    else:
        project_dir = os.path.dirname(files[0]) if files[0] != "-" else cwd
    environment = discovery.project_environment(project_dir, options.env_files, environ, cwd)

    loader = _Loader(options, environment, environ, warnings.append)
    name = discovery.choose_project_name(
        options.project_name, environment,
        None if options.project_name or environment.get("COMPOSE_PROJECT_NAME") else loader.peek_name(files),
        project_dir)
    environment["COMPOSE_PROJECT_NAME"] = name  # usable as ${COMPOSE_PROJECT_NAME}
    docs = [loader.load_file(f, environment) for f in files]
    merged = merge_files(docs)
    merged.pop("name", None)
    validate_document(merged, files[0])
    all_profiles = sorted({
        p for svc in (merged.get("services") or {}).values() for p in (svc.get("profiles") or [])
    })
    defined = set(merged.get("services") or {})
    _select_services(merged, options, environment, warnings.append)
    disabled = sorted(defined - set(merged.get("services") or {}))
    normalizer = Normalizer(name, project_dir, environment, warnings.append)
    try:
        config = normalizer.project(merged)
    except ConfigError as e:
        if e.file is None:
            raise type(e)(e.problem, file=files[0], path=e.path) from None
        raise
    if options.consistency:
        check_project(config, file=files[0])
    project = project_from_config(config, working_dir=project_dir, config_files=files,
                                  environment=environment)
    return LoadedProject(config=config, project=project, files=files, working_dir=project_dir,
                         environment=environment, warnings=_dedupe(warnings),
                         all_profiles=all_profiles, disabled_services=disabled)


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
