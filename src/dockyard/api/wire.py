"""Request and response bodies of the routes we serve (swagger v1.50 names).

Container types themselves are the engine's (``engine.model``); here are
the envelopes around them and the exec bodies.
"""

from __future__ import annotations

import msgspec

from dockyard.engine import model
from dockyard.engine.model import ContainerConfig


class ContainerCreateRequest(ContainerConfig, kw_only=True):
    """``POST /containers/create``: a ContainerConfig plus HostConfig and NetworkingConfig."""

    HostConfig: model.HostConfig | None = None
    NetworkingConfig: dict[str, object] | None = None

    def aliases(self) -> list[str]:
        """``EndpointsConfig.<network>.Aliases`` (``--network-alias``), checked."""
        eps = (self.NetworkingConfig or {}).get("EndpointsConfig") or {}
        if not isinstance(eps, dict):
            raise ValueError("NetworkingConfig.EndpointsConfig: expected an object")
        out: list[str] = []
        for net, ep in eps.items():
            names = (ep or {}).get("Aliases") if isinstance(ep, dict) else None
            if names is None:
                continue
            if not isinstance(names, list) or not all(isinstance(a, str) and a for a in names):
                raise ValueError(f"NetworkingConfig.EndpointsConfig.{net}.Aliases: "
                                 "expected a list of non-empty strings")
            out += [a for a in names if a not in out]
        return out

    def split(self) -> tuple[ContainerConfig, model.HostConfig]:
        cfg = ContainerConfig(**{f: getattr(self, f) for f in ContainerConfig.__struct_fields__})
        return cfg, self.HostConfig or model.HostConfig()


class CreateResponse(msgspec.Struct):
    Id: str
    Warnings: list[str]


class WaitResponse(msgspec.Struct):
    StatusCode: int
    Error: dict[str, str] | None = None


class ExecConfig(msgspec.Struct, kw_only=True):
    AttachStdin: bool = False
    AttachStdout: bool = False
    AttachStderr: bool = False
    ConsoleSize: list[int] | None = None
    DetachKeys: str = ""
    Tty: bool = False
    Env: list[str] | None = None
    Cmd: list[str] | None = None
    Privileged: bool = False
    User: str = ""
    WorkingDir: str = ""


class ExecStartConfig(msgspec.Struct, kw_only=True):
    Detach: bool = False
    Tty: bool = False
    ConsoleSize: list[int] | None = None


class IdResponse(msgspec.Struct):
    Id: str
