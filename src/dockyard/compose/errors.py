"""Errors of the compose package; each maps to one exit code at the CLI edge.

docker compose exits 14 when it finds no compose file and 15 for every
other failure to load a project (its ``ComposeParseFailure``); we keep both.

    ComposeError                          1   base
    ├── NoConfigFileError                14   "no configuration file provided: not found"
    └── ConfigError                      15   a project that cannot load: names file + field
        ├── YamlError                    15   not YAML, duplicate key, bad tag
        ├── InterpolationError           15   ${VAR:?msg} unset, bad ${...} syntax
        ├── SchemaError                  15   the compose-spec JSON schema rejects a field
        ├── ProjectNameError             15   a name that is not [a-z0-9][a-z0-9_-]*
        ├── ExtendsError                 15   missing base service, extends loop
        └── ProjectValidationError       15   cycles, missing depends_on, undefined refs, port conflicts
    EngineCommandError                    1   a command the engine could not carry out (up, down, …)
"""

from __future__ import annotations


class ComposeError(Exception):
    """Base of the compose package's errors."""

    exit_code = 1


class NoConfigFileError(ComposeError):
    exit_code = 14

    def __init__(self, message: str = "no configuration file provided: not found") -> None:
        super().__init__(message)


class ConfigError(ComposeError, ValueError):
    """A compose project that cannot be loaded; ``str()`` names file, field path and problem."""

    exit_code = 15

    def __init__(self, message: str, *, file: str | None = None, path: str | None = None) -> None:
        self.file = file
        self.path = path
        self.problem = message
        prefix = ""
        if file and path:
            prefix = f"{file}: {path}: "
        elif file:
            prefix = f"{file}: "
        elif path:
            prefix = f"{path}: "
        super().__init__(prefix + message)


class YamlError(ConfigError):
    pass


class InterpolationError(ConfigError):
    pass


class SchemaError(ConfigError):
    pass


class ProjectNameError(ConfigError):
    pass


class ExtendsError(ConfigError):
    pass


class ProjectValidationError(ConfigError):
    pass


class EngineCommandError(ComposeError):
    """A command the engine could not carry out: unhealthy dependency, missing image, …"""

    exit_code = 1
