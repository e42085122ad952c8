"""--platform (only the host's can run a RUN), the platform args, and RUN's networks."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from dockyard.build.errors import PlatformError
from dockyard.build.progress import TtyProgress


def _layer_files(store, ref: str) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    out = {}
    for layer in store.get(ref).layers:
        with store.content.open(layer.digest) as f, tarfile.open(fileobj=f, mode="r|*") as t:
            for m in t:
                if m.isfile():
                    data = t.extractfile(m)
                    assert data is not None
                    out[m.name] = data.read()
    return out


def test_cross_platform_target_with_build_platform_stage(build, store, unique) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    build("platform", tags=[f"{unique}:arm"], platform="linux/arm64", progress=TtyProgress(out))
    img = store.get(f"{unique}:arm")
    assert (img.config.os, img.config.architecture) == ("linux", "arm64")
    files = _layer_files(store, f"{unique}:arm")
    host = f"linux/{store.platform.architecture}"
    assert files["plat"] == f"{host} -> linux/arm64\n".encode()
    assert files["nets-none"].split() == [b"lo"]  # --network=none: a fresh netns
    host_nets = sorted(os.listdir("/sys/class/net"))
    assert sorted(files["nets"].decode().split()) == host_nets  # default: the host's (for now)
    assert "FROM busybox" in out.getvalue()  # the live view rendered the steps


def test_run_for_a_foreign_platform_is_a_clear_error(build) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PlatformError, match="needs platform linux/arm64.*can only run linux/"):
        build("platform", dockerfile_text="FROM busybox\nRUN true\n", platform="linux/arm64")


def test_build_wide_network_none(build, store, unique) -> None:  # type: ignore[no-untyped-def]
    build("platform", dockerfile_text="FROM busybox\nRUN ls /sys/class/net > /n\n", network="none",
          tags=[f"{unique}:none"])
    assert _layer_files(store, f"{unique}:none")["n"].split() == [b"lo"]
