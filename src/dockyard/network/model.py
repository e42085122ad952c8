"""Network and endpoint records, with Docker's field names.

``Network`` is what ``docker network inspect`` shows (minus ``Containers``,
which is computed from the endpoints); ``Endpoint`` is one sandbox's
attachment (libnetwork's endpoint). Both are msgspec structs persisted by
``store.py`` as JSON.
"""

from __future__ import annotations

import msgspec


class IPAMConfig(msgspec.Struct, omit_defaults=True):
    Subnet: str = ""
    IPRange: str = ""
    Gateway: str = ""
    AuxiliaryAddresses: dict[str, str] = msgspec.field(default_factory=dict)


class IPAM(msgspec.Struct):
    Driver: str = "default"
    Options: dict[str, str] = msgspec.field(default_factory=dict)
    Config: list[IPAMConfig] = msgspec.field(default_factory=list)


class PortMapping(msgspec.Struct, frozen=True):
    """One published port: host (ip, port) → container port/proto."""

    container_port: int
    proto: str = "tcp"
    host_ip: str = ""  # "" = every host address (Docker shows 0.0.0.0)
    host_port: int = 0  # 0 = pick a free one when publishing
    host_port_end: int = 0  # "8000-8010:80": any free port of the range


class Endpoint(msgspec.Struct):
    EndpointID: str
    ContainerID: str  # the sandbox's owner; endpoints are keyed by it
    Name: str  # the container's name (DNS)
    network_id: str
    netns_path: str
    ifname: str = "eth0"  # name inside the sandbox
    host_ifname: str = ""  # veth peer on the host (bridge driver)
    MacAddress: str = ""
    IPv4Address: str = ""  # "172.18.0.2/16"
    IPv6Address: str = ""
    Aliases: list[str] = msgspec.field(default_factory=list)
    Hostname: str = ""
    DNS: list[str] = msgspec.field(default_factory=list)  # per-container --dns upstreams
    Ports: list[PortMapping] = msgspec.field(default_factory=list)
    Links: list[str] = msgspec.field(default_factory=list)  # "target:alias" (--link)


class Network(msgspec.Struct):
    Name: str
    Id: str
    Created: str
    Driver: str = "bridge"
    Scope: str = "local"
    EnableIPv6: bool = False
    IPAM: IPAM = msgspec.field(default_factory=IPAM)
    Internal: bool = False
    Attachable: bool = False
    Ingress: bool = False
    Options: dict[str, str] = msgspec.field(default_factory=dict)
    Labels: dict[str, str] = msgspec.field(default_factory=dict)
    # dockyard's own bookkeeping, not part of Docker's JSON
    bridge: str = ""  # link name for bridge networks
    predefined: bool = False  # bridge/host/none: cannot be removed
    endpoints: dict[str, Endpoint] = msgspec.field(default_factory=dict)

    def subnets(self) -> list[IPAMConfig]:
        return [c for c in self.IPAM.Config if c.Subnet]

    def inspect(self) -> dict[str, object]:
        """``docker network inspect`` JSON for this network."""
        out: dict[str, object] = msgspec.to_builtins(self)
        for k in ("bridge", "predefined", "endpoints"):
            out.pop(k)
        out["ConfigFrom"] = {"Network": ""}
        out["ConfigOnly"] = False
        out["Containers"] = {
            cid: {
                "Name": ep.Name,
                "EndpointID": ep.EndpointID,
                "MacAddress": ep.MacAddress,
                "IPv4Address": ep.IPv4Address,
                "IPv6Address": ep.IPv6Address,
            }
            for cid, ep in self.endpoints.items()
        }
        return out
