"""Network drivers: one contract, every built-in listed in :data:`BUILTINS`.

A driver turns a network record into kernel objects (``create``/``delete``,
``restore`` after a daemon restart) and an endpoint record into a link in a
sandbox (``join``/``leave``), and says which firewall rules it needs
(``rules``). IPAM, persistence, port publishing and DNS stay in the
service, so a driver is only the kernel-facing part (libnetwork's driver
API, CNI's plugin role).

``overlay`` fits the same contract when the cluster comes: ``create`` makes
a bridge plus a vxlan link (a ``links`` function to add: an ``IFLA_INFO_KIND``
"vxlan" request through ``linux.rtnetlink``) per network, ``join`` is
the bridge driver's, scope is ``swarm``, and peers (VTEP → MAC/IP) are fed
to the vxlan FDB by the cluster store's watch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..errors import InvalidParameter
from ..firewall import BridgeRules
from ..model import Endpoint, Network


@dataclass
class Context:
    """What drivers need from the service: names and prefixes."""

    link_prefix: str  # every host link we create starts with it
    default_bridge: str  # the default network's bridge (dockyard0)

    def link_name(self, kind: str, key: str) -> str:
        """A host link name ≤ 15 chars: prefix + kind letter + as much of ``key`` as fits."""
        room = 15 - len(self.link_prefix) - 1
        return f"{self.link_prefix}{kind}{key[:room]}"


class Driver(Protocol):
    name: str
    uses_ipam: bool  # False: host/none have no addresses of their own
    has_dns: bool  # the service's DNS serves user-defined networks of this driver

    def validate(self, net: Network) -> None: ...
    def create(self, ctx: Context, net: Network) -> None: ...
    def delete(self, ctx: Context, net: Network) -> None: ...
    def restore(self, ctx: Context, net: Network) -> None: ...
    def join(self, ctx: Context, net: Network, ep: Endpoint, default_route: bool) -> None: ...
    def leave(self, ctx: Context, net: Network, ep: Endpoint) -> None: ...
    def rules(self, net: Network) -> BridgeRules | None: ...


def builtins() -> dict[str, Driver]:
    from .bridge import BridgeDriver
    from .null import HostDriver, NoneDriver
    from .vlan import IPVlanDriver, MacvlanDriver

    return {d.name: d for d in (BridgeDriver(), HostDriver(), NoneDriver(),
                                MacvlanDriver(), IPVlanDriver())}


BUILTINS = builtins()


def get(name: str) -> Driver:
    try:
        return BUILTINS[name]
    except KeyError:
        # Docker: 'plugin "foo" not found'
        raise InvalidParameter(f'plugin "{name}" not found: unknown network driver; '
                               f"built-in drivers are {', '.join(sorted(BUILTINS))}") from None
