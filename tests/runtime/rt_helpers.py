"""Helpers for the runtime's tests (imported by conftest and the tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from dockyard.runtime.spec import default_spec_dict

DOCKYARD_RUNTIME = os.path.join(os.path.dirname(sys.executable), "dockyard-runtime")
RUNC = "/usr/sbin/runc"


class Bundle:
    def __init__(self, path: Path, rootfs: Path, args: list[str]) -> None:
        self.path = path
        self.rootfs = rootfs
        self.config: dict[str, Any] = default_spec_dict(args, terminal=False, rootfs=str(rootfs))

    @property
    def process(self) -> dict[str, Any]:
        p: dict[str, Any] = self.config["process"]
        return p

    @property
    def linux(self) -> dict[str, Any]:
        x: dict[str, Any] = self.config["linux"]
        return x

    def write(self) -> Bundle:
        (self.path / "config.json").write_text(json.dumps(self.config, indent=1))
        return self


class CLI:
    def __init__(self, binary: str, root: Path, name: str) -> None:
        self.binary = binary
        self.root = root
        self.name = name

    def __call__(self, *args: str, check: bool = False, timeout: float = 30,
                 input: bytes | None = None, capture: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, "--root", str(self.root), *args],
            capture_output=capture, text=True, check=check, timeout=timeout,
            input=input.decode() if input else None,
        )

    def run(self, cid: str, bundle: Bundle) -> subprocess.CompletedProcess[str]:
        bundle.write()
        return self("run", "--bundle", str(bundle.path), cid)

    def create(self, cid: str, bundle: Bundle, *extra: str) -> subprocess.CompletedProcess[str]:
        """create with stdio to /dev/null: the init holds the runtime's stdio."""
        bundle.write()
        import tempfile

        # A file, not a pipe: the container keeps the runtime's stderr open.
        with tempfile.TemporaryFile() as err:
            done = subprocess.run(
                [self.binary, "--root", str(self.root), "create", "--bundle", str(bundle.path),
                 *extra, cid],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, timeout=30,
            )
            err.seek(0)
            return subprocess.CompletedProcess(done.args, done.returncode, "", err.read().decode())

    def state(self, cid: str) -> dict[str, Any]:
        out = self("state", cid, check=True)
        s: dict[str, Any] = json.loads(out.stdout)
        return s



def in_container(cli: CLI, bundle: Bundle, script: str, cid: str) -> subprocess.CompletedProcess[str]:
    """Run ``sh -c script`` in a fresh container; the completed `run`."""
    bundle.process["args"] = ["sh", "-c", script]
    return cli.run(cid, bundle)
