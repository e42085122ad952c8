"""Finding a project's files, directory, environment and name, as docker compose does.

Files: every ``-f`` in order (``-`` reads stdin); else ``COMPOSE_FILE``
(split on ``COMPOSE_PATH_SEPARATOR``, default ``:``); else the first of
``compose.yaml``, ``compose.yml``, ``docker-compose.yaml``,
``docker-compose.yml`` in the working directory or the nearest parent that
has one, plus the first ``compose.override.y(a)ml`` /
``docker-compose.override.y(a)ml`` beside it.

Project directory: ``--project-directory``, else the first file's
directory (the working directory for stdin). Relative paths in every file
given with ``-f`` resolve against it.

Environment for interpolation: ``.env`` in the project directory, or the
``--env-file`` files in order (later wins) instead of it, then the process
environment on top (it always wins). ``COMPOSE_FILE``,
``COMPOSE_PROJECT_NAME`` and ``COMPOSE_PROFILES`` may come from ``.env``.

Project name: ``-p``, ``COMPOSE_PROJECT_NAME``, top-level ``name:`` (the
last file's, interpolated), else the project directory's base name; the
last two are made valid (lowercased, characters outside ``[a-z0-9_-]``
dropped), while ``-p`` and ``COMPOSE_PROJECT_NAME`` must already be valid.
The name is decided before interpolation, which can then use
``${COMPOSE_PROJECT_NAME}``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

from dotenv import dotenv_values

from dockyard.compose.errors import ConfigError, NoConfigFileError, ProjectNameError

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = (
    "compose.override.yaml", "compose.override.yml",
    "docker-compose.override.yaml", "docker-compose.override.yml",
)
_VALID_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def find_default_files(start: str, warn: Callable[[str], None] | None = None) -> list[str]:
    """The default compose file in ``start`` or its nearest parent, and its override."""
    directory = os.path.abspath(start)
    while True:
        found = [os.path.join(directory, n) for n in DEFAULT_FILES
                 if os.path.isfile(os.path.join(directory, n))]
        if found:
            if len(found) > 1 and warn is not None:
                warn(f"Found multiple config files with supported names: {', '.join(found)}")
                warn(f"Using {found[0]}")
            overrides = [os.path.join(directory, o) for o in OVERRIDE_FILES
                         if os.path.isfile(os.path.join(directory, o))]
            return found[:1] + overrides[:1]
        parent = os.path.dirname(directory)
        if parent == directory:
            raise NoConfigFileError()
        directory = parent


def read_env_files(paths: list[str], required: bool = True) -> dict[str, str]:
    """Read ``.env``-style files in order, later files overriding earlier ones."""
    env: dict[str, str] = {}
    for path in paths:
        if not os.path.isfile(path):
            if required:
                raise ConfigError(f"couldn't find env file: {path}")
            continue
        try:
            values = dotenv_values(path, interpolate=True)
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"failed to read env file: {e}", file=path) from None
        env.update({k: v if v is not None else "" for k, v in values.items()})
    return env


def project_environment(
    project_dir: str, env_files: list[str], environ: Mapping[str, str], cwd: str
) -> dict[str, str]:
    """The environment interpolation sees: env files (or ``.env``), the process on top."""
    if env_files:
        files = [p if os.path.isabs(p) else os.path.join(cwd, p) for p in env_files]
        env = read_env_files(files, required=True)
    else:
        env = read_env_files([os.path.join(project_dir, ".env")], required=False)
    env.update(environ)
    return env


def normalize_project_name(name: str) -> str:
    """A directory name made into a valid project name (docker compose's rule)."""
    return re.sub(r"[^a-z0-9_-]", "", name.lower()).lstrip("_-")


def check_project_name(name: str, source: str) -> str:
    if not _VALID_NAME.match(name):
        raise ProjectNameError(
            f'invalid project name "{name}" (from {source}): must consist only of lowercase '
            "alphanumeric characters, hyphens, and underscores as well as start with a "
            "letter or number"
        )
    return name


def choose_project_name(
    flag: str | None, environment: Mapping[str, str], top_level: object, project_dir: str
) -> str:
    if flag:
        return check_project_name(flag, "-p")
    if environment.get("COMPOSE_PROJECT_NAME"):
        return check_project_name(environment["COMPOSE_PROJECT_NAME"], "COMPOSE_PROJECT_NAME")
    # a `name:` in a file is made valid, like a directory name (compose-go does so)
    if isinstance(top_level, str) and normalize_project_name(top_level):
        return normalize_project_name(top_level)
    name = normalize_project_name(os.path.basename(os.path.abspath(project_dir)))
    if not name:
        raise ProjectNameError(
            f"project name can't be empty: the directory {project_dir!r} gives none; use -p"
        )
    return name
