"""IPAM: subnets for networks and addresses for endpoints (libnetwork's default IPAM).

Subnets come from ``--subnet`` or from the default pools, as Docker's:
``172.17.0.0/16`` is the default ``bridge`` network's, then ``172.18.0.0/16``
… ``172.31.0.0/16``, ``192.168.0.0/16`` cut into /20s (or the daemon's
``default-address-pools``). A pool subnet is skipped when it overlaps another
network of ours *or a route already on the host* (Docker does the same, so a
LAN on 172.18/16 is never shadowed). IPv6 without a subnet gets a random ULA
/64.

Addresses are derived from the records themselves (every endpoint stores its
address), so what is allocated survives a restart with nothing else to keep
in sync: the free address is the lowest one in the range that is not the
network/broadcast address, the gateway, an aux address or an endpoint's.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import Conflict, InvalidParameter, PoolExhausted
from .model import IPAMConfig

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
Addr = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class AddressPool:
    """One ``default-address-pools`` entry: ``{"base": "172.18.0.0/16", "size": 16}``."""

    base: str
    size: int


DEFAULT_BRIDGE_SUBNET = "172.17.0.0/16"
DEFAULT_POOLS = (AddressPool("172.18.0.0/15", 16), AddressPool("172.20.0.0/14", 16),
                 AddressPool("172.24.0.0/13", 16), AddressPool("192.168.0.0/16", 20))


def parse_subnet(value: str, field: str = "Subnet") -> Net:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise InvalidParameter(f"invalid {field}: {value!r} is not a valid CIDR "
                               f"(expected e.g. 172.20.0.0/16)") from None
    if "/" not in value:
        raise InvalidParameter(f"invalid {field}: {value!r} is not a valid CIDR "
                               f"(expected e.g. 172.20.0.0/16)")
    return net


def parse_address(value: str, field: str) -> Addr:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise InvalidParameter(f"invalid {field}: {value!r} is not an IP address") from None


def validate_config(cfg: IPAMConfig) -> IPAMConfig:
    """Check one ``--subnet/--ip-range/--gateway/--aux-address`` set; returns it normalized."""
    net = parse_subnet(cfg.Subnet)
    # libnetwork keeps the address bits in --subnet (172.20.1.0/16 is legal);
    # we store the canonical network to compare overlaps reliably.
    rng = ""
    if cfg.IPRange:
        r = parse_subnet(cfg.IPRange, "IPRange")
        if r.version != net.version or not r.subnet_of(net):  # type: ignore[arg-type]
            raise InvalidParameter(f"invalid IPRange: {cfg.IPRange} is not within subnet {net}")
        rng = str(r)
    gw = ""
    if cfg.Gateway:
        g = parse_address(cfg.Gateway, "Gateway")
        if g not in net:
            raise InvalidParameter(f"invalid Gateway: {cfg.Gateway} is not within subnet {net}")
        gw = str(g)
    aux: dict[str, str] = {}
    for host, addr in cfg.AuxiliaryAddresses.items():
        a = parse_address(addr, f"AuxiliaryAddresses[{host}]")
        if a not in net:
            raise InvalidParameter(f"invalid AuxiliaryAddresses: {host}={addr} is not "
                                   f"within subnet {net}")
        aux[host] = str(a)
    if net.num_addresses < 4 and net.version == 4:
        raise InvalidParameter(f"invalid Subnet: {net} is too small (at least a /30 is needed)")
    return IPAMConfig(Subnet=str(net), IPRange=rng, Gateway=gw, AuxiliaryAddresses=aux)


def overlaps(a: Net, b: Net) -> bool:
    return a.version == b.version and a.overlaps(b)


def check_no_overlap(cfg: IPAMConfig, taken: Iterable[tuple[str, Net]]) -> None:
    net = ipaddress.ip_network(cfg.Subnet)
    for owner, other in taken:
        if overlaps(net, other):
            # Docker: "Pool overlaps with other one on this address space"
            raise Conflict(f"Pool overlaps with other one on this address space: "
                           f"{net} overlaps {other} of network {owner}")


def _pool_subnets(pools: Iterable[AddressPool]) -> Iterator[Net]:
    for pool in pools:
        base = ipaddress.ip_network(pool.base)
        if pool.size < base.prefixlen:
            yield base
        else:
            yield from base.subnets(new_prefix=pool.size)


def pick_subnet(pools: Iterable[AddressPool], taken: Iterable[Net]) -> Net:
    """The first pool subnet overlapping nothing in ``taken`` (ours and host routes)."""
    taken = list(taken)
    for cand in _pool_subnets(pools):
        if not any(overlaps(cand, t) for t in taken):
            return cand
    raise PoolExhausted("could not find an available, non-overlapping IPv4 address pool "
                        "among the defaults to assign to the network")


def random_ula() -> ipaddress.IPv6Network:
    # RFC 4193: fd + 40 random bits, one /64 of it.
    gid = int.from_bytes(secrets.token_bytes(5), "big")
    return ipaddress.IPv6Network(((0xFD << 120) | (gid << 80), 64))


def gateway_of(cfg: IPAMConfig) -> Addr:
    if cfg.Gateway:
        return ipaddress.ip_address(cfg.Gateway)
    net = ipaddress.ip_network(cfg.Subnet)
    return net.network_address + 1


def reserved(cfg: IPAMConfig, with_gateway: bool = True) -> set[Addr]:
    net = ipaddress.ip_network(cfg.Subnet)
    out: set[Addr] = {net.network_address}
    if net.version == 4:
        out.add(net.broadcast_address)
    if with_gateway:
        out.add(gateway_of(cfg))
    out.update(ipaddress.ip_address(a) for a in cfg.AuxiliaryAddresses.values())
    return out


def allocate(cfg: IPAMConfig, used: Iterable[Addr], want: str = "",
             with_gateway: bool = True) -> Addr:
    """An address of ``cfg``: ``want`` if given and free, else the lowest free one."""
    net = ipaddress.ip_network(cfg.Subnet)
    busy = reserved(cfg, with_gateway) | set(used)
    if want:
        a = parse_address(want, "IPAddress")
        if a not in net:
            raise InvalidParameter(f"invalid IPAddress: {want} is not within subnet {net}")
        if cfg.IPRange and a not in ipaddress.ip_network(cfg.IPRange):
            # Docker: a user-specified address must come from the subnet; the
            # range only constrains automatic allocation. Accept it.
            pass
        if a in busy:
            raise Conflict(f"Address already in use: {want}")
        return a
    rng = ipaddress.ip_network(cfg.IPRange) if cfg.IPRange else net
    # hosts() excludes network/broadcast for v4; a /31 or /32 range has none.
    for cand in (rng.hosts() if rng.num_addresses > 2 else iter(rng)):
        if cand not in busy:
            return ipaddress.ip_address(str(cand))
    raise PoolExhausted(f"no available IPv{net.version} addresses on this network's "
                        f"address pools: {net}")
