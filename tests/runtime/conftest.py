"""Fixtures for the runtime's tests: bundles, a private state root, the CLIs.

``Bundle`` is a busybox rootfs plus a config.json (``dockyard-runtime
spec``'s defaults, terminal off) that a test tweaks as a dict before
``write()``. ``cli`` runs a runtime binary with a private ``--root``;
``runtime_cli`` is parametrized over ``dockyard`` and Debian's ``runc`` so a
test written against it shows both behave alike.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from rt_helpers import CLI, DOCKYARD_RUNTIME, RUNC, Bundle


@pytest.fixture
def bundle(busybox_rootfs: Path, tmp_path: Path) -> Bundle:
    b = tmp_path / "bundle"
    b.mkdir()
    os.chmod(busybox_rootfs, 0o755)  # mktemp made it 0700: non-root users could not enter /
    return Bundle(b, busybox_rootfs, ["sh", "-c", "true"])


@pytest.fixture
def state_root(short_tmp: Path) -> Path:
    return short_tmp / "state"


def _cleanup(cli: CLI) -> None:
    out = cli("list", "-q")
    for cid in out.stdout.split():
        cli("delete", "--force", cid)
    shutil.rmtree(cli.root, ignore_errors=True)


@pytest.fixture
def cli(state_root: Path) -> Iterator[CLI]:
    c = CLI(DOCKYARD_RUNTIME, state_root, "dockyard")
    yield c
    _cleanup(c)


@pytest.fixture(params=["dockyard", "runc"])
def runtime_cli(request: pytest.FixtureRequest, short_tmp: Path) -> Iterator[CLI]:
    name = request.param
    c = CLI(DOCKYARD_RUNTIME if name == "dockyard" else RUNC, short_tmp / f"state-{name}", name)
    yield c
    _cleanup(c)




@pytest.fixture
def userns_bundle(busybox_rootfs_template: Path, short_tmp: Path) -> Bundle:
    """A bundle the mapped root (host uid 200000) can reach: every parent traversable."""
    import subprocess

    os.chmod(short_tmp, 0o755)
    b = short_tmp / "ub"
    b.mkdir()
    rootfs = b / "rootfs"
    subprocess.run(["cp", "-a", str(busybox_rootfs_template), str(rootfs)], check=True)
    os.chmod(b, 0o755)
    os.chmod(rootfs, 0o755)
    bundle = Bundle(b, rootfs, ["true"])
    bundle.linux["namespaces"].append({"type": "user"})
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    return bundle
