"""A stage's state while it builds: the image so far, its scopes and its cache key."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field

from dockyard.oci.image import ContainerConfig, Descriptor, History, Platform

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def step_key(parent: str, *parts: object) -> str:
    """A step's cache key: its parent's and what it does (JSON, so unambiguous)."""
    h = hashlib.sha256(parent.encode())
    h.update(json.dumps(parts, sort_keys=True, default=str).encode())
    return "sha256:" + h.hexdigest()


@dataclass
class State:
    platform: Platform
    config: ContainerConfig = field(default_factory=ContainerConfig)
    layers: list[Descriptor] = field(default_factory=list)
    diff_ids: list[str] = field(default_factory=list)
    history: list[History] = field(default_factory=list)
    chain: str = ""  # top chain ID ("" for scratch)
    key: str = ""  # cache key of the last step
    env: dict[str, str] = field(default_factory=dict)  # ENV, in order
    args: dict[str, str | None] = field(default_factory=dict)  # ARGs in scope
    cmd_set: bool = False  # CMD given in this stage (ENTRYPOINT keeps it)
    author: str = ""

    def clone(self) -> State:
        s = copy.deepcopy(self)
        s.args = {}
        s.cmd_set = False
        return s

    @property
    def shell(self) -> list[str]:
        return list(self.config.shell or ["/bin/sh", "-c"])

    @property
    def workdir(self) -> str:
        return self.config.working_dir or "/"

    def scope(self) -> dict[str, str]:
        """Variables for expansion: ARGs with values, then ENV (ENV wins)."""
        out = {k: v for k, v in self.args.items() if v is not None}
        out.update(self.env)
        return out

    def run_env(self) -> list[str]:
        env = dict(self.env)
        env.setdefault("PATH", DEFAULT_PATH)
        for k, v in self.args.items():
            if v is not None and k not in env:
                env[k] = v
        return [f"{k}={v}" for k, v in env.items()]
