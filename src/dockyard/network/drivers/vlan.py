"""``macvlan`` (bridge mode) and ``ipvlan`` (l2, l3): sandboxes straight on a host link.

Options: ``parent=<host link>`` (required here: we never pick the host's
uplink for the user), ``macvlan_mode=bridge``, ``ipvlan_mode=l2|l3``. No
bridge, no NAT, no DNS of ours in the kernel path; the gateway is an
address on the parent's LAN, used as the default route (not in l3 mode,
where the route is the link itself).
"""

from __future__ import annotations

import os

from .. import links
from ..errors import InvalidParameter
from ..firewall import BridgeRules
from ..ipam import gateway_of
from ..model import Endpoint, Network
from . import Context
from .bridge import mtu


class _VlanDriver:
    name = ""
    kind = ""
    mode_opt = ""
    modes: tuple[str, ...] = ()
    uses_ipam = True
    has_dns = False  # the gateway is not ours to listen on

    def mode(self, net: Network) -> str:
        return net.Options.get(self.mode_opt, self.modes[0])

    def validate(self, net: Network) -> None:
        if not net.Options.get("parent"):
            raise InvalidParameter(f"the {self.name} driver needs -o parent=<host interface>")
        if self.mode(net) not in self.modes:
            raise InvalidParameter(f"invalid option {self.mode_opt}={self.mode(net)!r}: "
                                   f"expected one of {', '.join(self.modes)}")
        mtu(net)

    def create(self, ctx: Context, net: Network) -> None:
        parent = net.Options["parent"]
        if not links.link_exists(parent):
            raise InvalidParameter(f"invalid parent: host interface {parent!r} does not exist")

    def delete(self, ctx: Context, net: Network) -> None:
        pass

    def restore(self, ctx: Context, net: Network) -> None:
        pass

    def join(self, ctx: Context, net: Network, ep: Endpoint, default_route: bool) -> None:
        tmp = ctx.link_name("m", os.urandom(8).hex())
        links.create_sublink(self.kind, tmp, net.Options["parent"], self.mode(net), mtu(net))
        try:
            fd = links.open_netns(ep.netns_path)
            try:
                addrs = [a for a in (ep.IPv4Address, ep.IPv6Address) if a]
                gws = [] if self.mode(net) == "l3" else [str(gateway_of(c))
                                                         for c in net.subnets()]
                mac = ep.MacAddress if self.kind == "macvlan" else ""
                links.configure_sandbox_link(ep.netns_path, tmp, ep.ifname, addrs, gws,
                                             mtu(net), mac, default_route, fd,
                                             device_default=self.mode(net) == "l3")
            finally:
                os.close(fd)
        except BaseException:
            # Wherever it got to (host, or the sandbox before its rename).
            links.delete_link(tmp)
            links.delete_link(tmp, ep.netns_path)
            raise

    def leave(self, ctx: Context, net: Network, ep: Endpoint) -> None:
        links.delete_link(ep.ifname, ep.netns_path)

    def rules(self, net: Network) -> BridgeRules | None:
        return None


class MacvlanDriver(_VlanDriver):
    name = "macvlan"
    kind = "macvlan"
    mode_opt = "macvlan_mode"
    modes = ("bridge",)


class IPVlanDriver(_VlanDriver):
    name = "ipvlan"
    kind = "ipvlan"
    mode_opt = "ipvlan_mode"
    modes = ("l2", "l3")
