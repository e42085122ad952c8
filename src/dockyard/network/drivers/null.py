"""``host`` and ``none``: no links of their own.

``host`` means the sandbox *is* the host's namespace and ``none`` an empty
one with only ``lo`` (the engine arranges both when it makes the sandbox);
the service records the endpoint so inspect lists the container.
"""

from __future__ import annotations

from ..errors import InvalidParameter
from ..firewall import BridgeRules
from ..model import Endpoint, Network
from . import Context


class _Null:
    name = ""
    uses_ipam = False
    has_dns = False

    def validate(self, net: Network) -> None:
        if net.IPAM.Config:
            raise InvalidParameter(f"the {self.name} driver takes no --subnet/--gateway")

    def create(self, ctx: Context, net: Network) -> None:
        pass

    def delete(self, ctx: Context, net: Network) -> None:
        pass

    def restore(self, ctx: Context, net: Network) -> None:
        pass

    def join(self, ctx: Context, net: Network, ep: Endpoint, default_route: bool) -> None:
        pass

    def leave(self, ctx: Context, net: Network, ep: Endpoint) -> None:
        pass

    def rules(self, net: Network) -> BridgeRules | None:
        return None


class HostDriver(_Null):
    name = "host"


class NoneDriver(_Null):
    name = "null"  # Docker's driver name for the "none" network
