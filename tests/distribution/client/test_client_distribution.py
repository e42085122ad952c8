"""Against a registry nobody here wrote: Debian's ``docker-registry``
(distribution 2.8), plain and with htpasswd auth."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _clienttools import PASSWORDS, Distribution, start_distribution, write_htpasswd

from dockyard.distribution.client import RegistryOptions, login, pull, push
from dockyard.distribution.client.credentials import ConfigFile
from dockyard.distribution.errors import UnauthorizedError
from dockyard.images import ImageService


@pytest.fixture
def distribution(tmp_path: Path) -> Iterator[Distribution]:
    d = start_distribution(tmp_path / "distribution")
    yield d
    d.stop()


def test_round_trip_through_distribution(distribution: Distribution, busybox_store: ImageService,
                                         stores: Callable[[str], ImageService]) -> None:
    host = distribution.host
    src = busybox_store
    ref = f"{host}/lib/busybox:1.36"
    src.tag("busybox:latest", ref)
    desc = push(src, ref, options=RegistryOptions(chunk_size=500_000))
    src.tag("busybox:latest", f"{host}/other/copy:1")
    msgs: list[dict[str, object]] = []
    push(src, f"{host}/other/copy:1", progress=msgs.append)
    assert "Mounted from lib/busybox" in [m.get("status") for m in msgs]
    dst = stores("dst")
    [img] = pull(dst, ref)
    assert img.id == src.get("busybox:latest").id
    [by_digest] = pull(stores("dst2"), f"{host}/lib/busybox@{desc.digest}")
    assert by_digest.id == img.id
    [copy] = pull(dst, f"{host}/other/copy:1")
    assert copy.id == img.id


def test_htpasswd_login_push_pull(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  busybox_store: ImageService, stores: Callable[[str], ImageService]) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dc"))
    d = start_distribution(tmp_path / "authed", htpasswd=write_htpasswd(tmp_path / "htpasswd"))
    try:
        ref = f"{d.host}/team/app:1"
        busybox_store.tag("busybox:latest", ref)
        with pytest.raises(UnauthorizedError):
            push(busybox_store, ref, config=ConfigFile())
        with pytest.raises(UnauthorizedError):
            login(d.host, "alice", "wrong")
        assert login(d.host, "alice", PASSWORDS["alice"]) == "Login Succeeded"
        push(busybox_store, ref, config=ConfigFile())
        assert pull(stores("dst"), ref, config=ConfigFile())[0].id == busybox_store.get("busybox:latest").id
    finally:
        d.stop()
