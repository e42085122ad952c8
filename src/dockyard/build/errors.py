"""The builder's errors, one tree (each maps to one HTTP status and CLI exit code).

::

    BuildError                      (400 / exit 1) anything the build refuses or fails on
    ├── DockerfileError             a syntax error, an unknown instruction or flag: carries the line
    ├── StageError                  a missing stage or image, a cycle, a bad --target
    ├── ContextError                a source outside the context, a missing file, a bad .dockerignore
    ├── RunError                    a RUN that exited non-zero: its exit code and last lines of output
    ├── PlatformError               a RUN for a platform this host can't run
    ├── SecretError                 a bad --secret/--ssh, or a required secret or ssh agent not given
    ├── FetchError                  ADD of a URL that can't be fetched or fails its --checksum
    └── CancelledError              the build was cancelled (Ctrl-C, client gone)
"""

from __future__ import annotations


class BuildError(Exception):
    """Base of the builder's errors."""


class DockerfileError(BuildError):
    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"dockerfile parse error on line {line}: {message}" if line else message)


class StageError(BuildError):
    pass


class ContextError(BuildError):
    pass


class RunError(BuildError):
    def __init__(self, message: str, exit_code: int, output: list[str]) -> None:
        self.exit_code = exit_code
        self.output = output
        tail = "\n".join(output)
        super().__init__(f"{message}: exit code: {exit_code}" + (f"\n{tail}" if tail else ""))


class PlatformError(BuildError):
    pass


class SecretError(BuildError):
    pass


class FetchError(BuildError):
    pass


class CancelledError(BuildError):
    pass
