"""docker-py's network API against the daemon: create with IPAM, list, get,
connect/disconnect a running container, remove, prune, and bad input."""

from __future__ import annotations

import random

import docker
import pytest
from daemon_helpers import Daemon

pytestmark = pytest.mark.needs_root


def test_docker_py_network_api(shared_daemon: Daemon, unique: str) -> None:
    client = docker.DockerClient(base_url=shared_daemon.host, version="auto")
    subnet = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}.0/24"
    gateway = subnet.rsplit(".", 1)[0] + ".1"
    ipam = docker.types.IPAMConfig(pool_configs=[
        docker.types.IPAMPool(subnet=subnet, gateway=gateway)])
    net = client.networks.create(unique, driver="bridge", ipam=ipam, labels={"t": unique})
    ctr = None
    try:
        assert net.name == unique
        got = client.networks.get(net.id)
        assert got.attrs["IPAM"]["Config"][0]["Subnet"] == subnet
        assert got.attrs["IPAM"]["Config"][0]["Gateway"] == gateway
        assert [n.name for n in client.networks.list(filters={"label": f"t={unique}"})] \
            == [unique]
        # the same subnet twice overlaps: refused, nothing made
        with pytest.raises(docker.errors.APIError) as e:
            client.networks.create(unique + "-2", ipam=ipam)
        assert e.value.status_code in (400, 403, 409)
        assert not client.networks.list(names=[unique + "-2"])

        ctr = client.containers.run("busybox", ["sleep", "60"], detach=True,
                                    name=unique + "-c", network_mode="none")
        with pytest.raises(docker.errors.APIError):
            net.connect(ctr)  # a container on "none" cannot join networks (Docker's rule)
        ctr.remove(force=True)
        ctr = client.containers.create("busybox", ["sleep", "60"], name=unique + "-c",
                                       network=unique)
        ctr.start()
        net.reload()
        assert ctr.id in net.attrs["Containers"]
        code, out = ctr.exec_run(["ip", "-o", "-4", "addr", "show", "eth0"])
        assert code == 0 and subnet.rsplit(".", 1)[0].encode() in out
        net.disconnect(ctr)
        code, out = ctr.exec_run(["ip", "-o", "link", "show", "eth0"])
        assert code != 0
        net.connect(ctr, aliases=["again"])
        code, out = ctr.exec_run(["ip", "-o", "-4", "addr"])
        assert subnet.rsplit(".", 1)[0].encode() in out
        with pytest.raises(docker.errors.APIError):
            net.remove()  # in use
        ctr.remove(force=True)
        ctr = None
        with pytest.raises(docker.errors.NotFound):
            client.networks.get(unique + "-missing")
    finally:
        if ctr is not None:
            ctr.remove(force=True)
        net.remove()
    assert not client.networks.list(names=[unique])
    pruned = client.networks.prune(filters={"label": f"t={unique}"})
    assert not pruned.get("NetworksDeleted")
