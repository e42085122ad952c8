"""Bad input: Docker's wording and status, and nothing half-made left behind."""

from __future__ import annotations

import pytest
from net_helpers import cid, links_with, nft_tables, sh

from dockyard.network import IPAM, IPAMConfig
from dockyard.network.errors import Conflict, Forbidden, InvalidParameter, NetworkNotFound

pytestmark = pytest.mark.needs_root


def snapshot(unique: str) -> tuple[list[str], str, str]:
    # Only our own names: parallel tests make and drop theirs meanwhile.
    ours = [t for t in nft_tables().splitlines() if unique in t]
    return (links_with(unique), "\n".join(ours),
            sh("nft", "list", "table", "inet", unique, check=False).stdout)


def cfg(**kw: str) -> IPAM:
    return IPAM(Config=[IPAMConfig(**kw)])


def test_network_create_errors_change_nothing(svc, free_subnet, unique):
    sub = free_subnet()
    svc.create_network("first", ipam_=cfg(Subnet=sub))
    before = snapshot(unique)
    cases = [
        (dict(name="dup", ipam_=cfg(Subnet=sub.replace(".0/24", ".128/25"))), Conflict,
         "Pool overlaps with other one on this address space"),
        (dict(name="first", ipam_=cfg(Subnet=free_subnet())), Conflict,
         "network with name first already exists"),
        (dict(name="bad", ipam_=cfg(Subnet="10.300.0.0/16")), InvalidParameter,
         "invalid Subnet: '10.300.0.0/16' is not a valid CIDR"),
        (dict(name="bad", ipam_=cfg(Subnet="10.1.2.0")), InvalidParameter, "not a valid CIDR"),
        (dict(name="bad", ipam_=cfg(Subnet=free_subnet(), Gateway="10.99.99.1")),
         InvalidParameter, "invalid Gateway: 10.99.99.1 is not within subnet"),
        (dict(name="bad", ipam_=cfg(Subnet=free_subnet(), IPRange="10.99.0.0/24")),
         InvalidParameter, "invalid IPRange"),
        (dict(name="bad", ipam_=cfg(Subnet=free_subnet(), AuxiliaryAddresses={"x": "1.2.3.4"})),
         InvalidParameter, "invalid AuxiliaryAddresses: x=1.2.3.4"),
        (dict(name="bad", driver="foo"), InvalidParameter, 'plugin "foo" not found'),
        (dict(name="bad", ipam_=cfg(Subnet=free_subnet()),
              options={"com.docker.network.driver.mtu": "abc"}), InvalidParameter,
         "com.docker.network.driver.mtu='abc'"),
        (dict(name="../../etc"), InvalidParameter, "invalid network name"),
        (dict(name="bridge"), Forbidden, "predefined bridge network"),
        # Never adopt (and later delete) a host interface that is not ours.
        (dict(name="steal", ipam_=cfg(Subnet=free_subnet()),
              options={"com.docker.network.bridge.name": "lo"}), InvalidParameter,
         "bridge lo already exists"),
    ]
    for kw, err, words in cases:
        name = kw.pop("name")
        with pytest.raises(err) as e:
            svc.create_network(name, **kw)
        assert words in str(e.value), (name, str(e.value))
        assert e.value.status == {Conflict: 409, InvalidParameter: 400, Forbidden: 403}[err]
        assert snapshot(unique) == before, name
    assert [n.Name for n in svc.list_networks()] == ["first"]
    assert "LOOPBACK,UP" in sh("ip", "link", "show", "lo").stdout


def test_endpoint_errors_change_nothing(svc, netns, free_subnet, unique):
    sub = free_subnet()
    svc.create_network("n", ipam_=cfg(Subnet=sub))
    a = netns()
    c = cid()
    taken = svc.connect("n", c, a.path).IPv4Address.split("/")[0]
    before = snapshot(unique)
    b = netns()
    with pytest.raises(NetworkNotFound, match="network nope not found") as e:
        svc.connect("nope", cid(), b.path)
    assert e.value.status == 404
    with pytest.raises(Conflict, match=f"Address already in use: {taken}"):
        svc.connect("n", cid(), b.path, ipv4_address=taken)
    with pytest.raises(InvalidParameter, match="is not within subnet"):
        svc.connect("n", cid(), b.path, ipv4_address="192.0.2.99")
    with pytest.raises(Conflict, match="already exists in network n"):
        svc.connect("n", c, a.path)
    with pytest.raises(InvalidParameter, match="does not exist"):
        svc.connect("n", cid(), f"/var/run/netns/{unique}-missing")
    with pytest.raises(InvalidParameter, match="MacAddress"):
        svc.connect("n", cid(), b.path, mac="zz:zz")
    assert snapshot(unique) == before  # no veth, no rule from any failed connect
    assert "eth0" not in b.run("ip", "-o", "link").stdout
    assert len(svc.get("n").endpoints) == 1
    with pytest.raises(Conflict, match="has active endpoints") as e:
        svc.remove_network("n")
    assert e.value.status == 409
    assert links_with(unique) == before[0]
    svc.disconnect("n", c)
    svc.remove_network("n")
    assert links_with(unique) == [] and unique not in nft_tables()
    with pytest.raises(NetworkNotFound):
        svc.remove_network("n")


def test_lookup_by_id_prefix_and_prune(svc, netns, free_subnet):
    n1 = svc.create_network("p1", ipam_=cfg(Subnet=free_subnet()), labels={"k": "v"})
    svc.create_network("p2", ipam_=cfg(Subnet=free_subnet()))
    used = svc.create_network("p3", ipam_=cfg(Subnet=free_subnet()))
    assert svc.get(n1.Id[:10]).Name == "p1"
    assert svc.get(n1.Id).Name == "p1"
    svc.connect("p3", cid(), netns().path)
    assert svc.prune(labels={"k": "v"}) == ["p1"]
    assert svc.prune() == ["p2"]
    assert [n.Name for n in svc.list_networks()] == [used.Name]
