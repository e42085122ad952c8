"""The ``bridge`` driver: a Linux bridge per network, a veth pair per endpoint.

Options (Docker's names): ``com.docker.network.bridge.name``,
``com.docker.network.bridge.enable_icc`` (default true),
``com.docker.network.bridge.enable_ip_masquerade`` (default true),
``com.docker.network.driver.mtu``. The bridge carries each subnet's gateway
address; the sandbox end is renamed ``eth0``/``eth1``… and routes by it.
"""

from __future__ import annotations

import ipaddress
import os

from .. import links
from ..errors import InvalidParameter
from ..firewall import BridgeRules
from ..ipam import gateway_of
from ..model import Endpoint, Network
from . import Context

OPT_NAME = "com.docker.network.bridge.name"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_MASQ = "com.docker.network.bridge.enable_ip_masquerade"
OPT_MTU = "com.docker.network.driver.mtu"
KNOWN = {OPT_NAME, OPT_ICC, OPT_MASQ, OPT_MTU, "com.docker.network.bridge.default_bridge",
         "com.docker.network.bridge.host_binding_ipv4"}


def _bool(net: Network, key: str) -> bool:
    v = net.Options.get(key, "true").lower()
    if v not in ("true", "false", "1", "0"):
        raise InvalidParameter(f"invalid option {key}={v!r}: expected true or false")
    return v in ("true", "1")


def mtu(net: Network) -> int:
    v = net.Options.get(OPT_MTU, "0")
    try:
        m = int(v)
    except ValueError:
        raise InvalidParameter(f"invalid option {OPT_MTU}={v!r}: expected a number") from None
    if m and not 68 <= m <= 65535:
        raise InvalidParameter(f"invalid option {OPT_MTU}={v!r}: MTU must be 68-65535")
    return m


def gateway_cidrs(net: Network) -> list[str]:
    out = []
    for c in net.subnets():
        n = ipaddress.ip_network(c.Subnet)
        out.append(f"{gateway_of(c)}/{n.prefixlen}")
    return out


class BridgeDriver:
    name = "bridge"
    uses_ipam = True
    has_dns = True

    def validate(self, net: Network) -> None:
        _bool(net, OPT_ICC)
        _bool(net, OPT_MASQ)
        mtu(net)
        name = net.Options.get(OPT_NAME, "")
        if name and (len(name) > 15 or "/" in name or " " in name):
            raise InvalidParameter(f"invalid option {OPT_NAME}={name!r}: "
                                   f"an interface name of at most 15 characters")

    def bridge_name(self, ctx: Context, net: Network) -> str:
        return net.Options.get(OPT_NAME) or ctx.link_name("b", net.Id)

    def create(self, ctx: Context, net: Network) -> None:
        links.enable_ip_forward()
        # Adopting an existing link would be touching what we did not create:
        # only restore() reuses a bridge (ours, from the records).
        links.ensure_bridge(net.bridge, gateway_cidrs(net), mtu(net), adopt=False)

    def restore(self, ctx: Context, net: Network) -> None:
        links.enable_ip_forward()
        links.ensure_bridge(net.bridge, gateway_cidrs(net), mtu(net))

    def delete(self, ctx: Context, net: Network) -> None:
        links.delete_link(net.bridge)

    def join(self, ctx: Context, net: Network, ep: Endpoint, default_route: bool) -> None:
        key = os.urandom(8).hex()
        host = ctx.link_name("v", key)
        peer = ctx.link_name("p", key)
        ep.host_ifname = host
        fd = links.open_netns(ep.netns_path)
        try:
            links.create_veth(host, peer, net.bridge, mtu(net), peer_ns_fd=fd)
            try:
                addrs = [a for a in (ep.IPv4Address, ep.IPv6Address) if a]
                gws = [str(gateway_of(c)) for c in net.subnets()] if not net.Internal else []
                links.configure_sandbox_link(ep.netns_path, peer, ep.ifname, addrs, gws,
                                             mtu(net), ep.MacAddress, default_route, fd,
                                             in_sandbox=True)
            except BaseException:
                links.delete_link(host)  # takes the peer with it, wherever it is
                raise
        finally:
            os.close(fd)

    def leave(self, ctx: Context, net: Network, ep: Endpoint) -> None:
        if ep.host_ifname:
            links.delete_link(ep.host_ifname)

    def rules(self, net: Network) -> BridgeRules | None:
        icc = _bool(net, OPT_ICC)
        # The ports matter only to the ICC-off rule; left out otherwise, so a
        # join or leave changes no rule and the service need not reload them.
        return BridgeRules(bridge=net.bridge, subnets=[c.Subnet for c in net.subnets()],
                           internal=net.Internal, icc=icc, masquerade=_bool(net, OPT_MASQ),
                           ports=[] if icc else sorted(e.host_ifname
                                                       for e in net.endpoints.values()
                                                       if e.host_ifname))
