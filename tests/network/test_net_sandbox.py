"""What the engine asks for beyond links: sandbox files and filtered lists."""

from __future__ import annotations

import pytest
from net_helpers import cid

from dockyard.network import IPAM, IPAMConfig
from dockyard.network.errors import InvalidParameter

pytestmark = pytest.mark.needs_root


def test_sandbox_files_follow_the_networks(svc, netns, free_subnet):
    svc.ensure_predefined(bridge_subnet=free_subnet())
    svc.create_network("user", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    dflt_gw = svc.get("bridge").IPAM.Config[0].Gateway
    user_gw = svc.get("user").IPAM.Config[0].Gateway
    a, b = netns(), netns()
    c1, c2 = cid(), cid()
    e1 = svc.connect("user", c1, a.path, name="api")
    f = svc.sandbox_files(c1, hostname="api", extra_hosts=["host.docker.internal:host-gateway"],
                          dns=["192.0.2.53"], dns_search=["corp.example"],
                          dns_options=["ndots:1"])
    assert f["/etc/resolv.conf"] == (f"search corp.example\nnameserver {user_gw}\n"
                                     f"options ndots:1\n")  # ours; --dns is its upstream
    assert f"{dflt_gw}\thost.docker.internal\n" in f["/etc/hosts"]
    assert f["/etc/hosts"].endswith(f"{e1.IPv4Address.split('/')[0]}\tapi\n")
    assert f["/etc/hostname"] == "api\n"
    svc.connect("bridge", c2, b.path)
    f2 = svc.sandbox_files(c2, hostname="x", dns=["192.0.2.53"])
    assert f2["/etc/resolv.conf"] == "nameserver 192.0.2.53\n"  # default bridge: no DNS of ours


def test_list_filters(svc, netns, free_subnet):
    svc.ensure_predefined(bridge_subnet=free_subnet())
    svc.create_network("front-a", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]),
                       labels={"tier": "web", "x": ""})
    back = svc.create_network("back", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    svc.connect("back", cid(), netns().path)

    def names(**f):
        return [n.Name for n in svc.list_networks({k: v for k, v in f.items()})]

    assert names() == ["back", "bridge", "front-a", "host", "none"]
    assert names(name=["front"]) == ["front-a"]
    assert names(id=[back.Id[:6]]) == ["back"]
    assert names(driver=["null"]) == ["none"]
    assert names(label=["tier=web"]) == ["front-a"] == names(label=["x"])
    assert names(type=["builtin"]) == ["bridge", "host", "none"]
    assert names(type=["custom"]) == ["back", "front-a"]
    assert names(dangling=["true"]) == ["front-a"]
    with pytest.raises(InvalidParameter, match="invalid filter 'colour'"):
        names(colour=["red"])


def test_container_mode_shares_the_sandbox(svc, netns, free_subnet):
    """--network container:X: the joiner runs in X's netns with X's files, no endpoint."""
    svc.create_network("shared", ipam_=IPAM(Config=[IPAMConfig(Subnet=free_subnet())]))
    x, peer = netns(), netns()
    x_id, joiner = cid(), cid()
    svc.connect("shared", x_id, x.path, name="x")
    ep = svc.connect("shared", cid(), peer.path, name="peer")
    files = svc.sandbox_files(x_id, hostname="x")
    # The joiner is just another process in x's namespace (the engine's setns).
    gw = svc.dns_address("shared")
    assert f"nameserver {gw}\n" in files["/etc/resolv.conf"]
    p = x.run("timeout", "5", "/bin/busybox", "nslookup", "peer", gw, timeout=10)
    assert ep.IPv4Address.split("/")[0] in p.stdout.split("Name:", 1)[-1]
    assert svc.endpoints_of(joiner) == []
    assert list(svc.get("shared").endpoints) == [x_id, ep.ContainerID]
