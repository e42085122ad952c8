"""nftables rules in dockyard's own tables, rebuilt whole and swapped atomically.

Rules are a pure function of the network records (level-triggered, like a
controller): :func:`render` turns the records into the full text of our two
tables, :func:`apply` hands it to ``nft -f -`` as ONE transaction that
deletes and re-adds only our tables. Either the new rule set is live or the
old one still is; nobody else's tables are read, flushed or touched. A
``restore()`` after a crash is the same call.

Tables (``<name>`` is per service: ``dockyard`` for the daemon, a per-test
prefix in tests, so parallel services never collide):

``table inet <name>``
  - ``prerouting``/``output`` (nat): ``fib daddr type local`` → ``ports``:
    one DNAT per published port, so the port answers on every host address,
    from outside, from the host itself and from containers (hairpin).
  - ``postrouting`` (nat): masquerade what leaves a non-internal bridge's
    subnet for the outside; masquerade DNATed traffic that re-enters its own
    bridge (hairpin: the reply must come back through the host) and DNATed
    traffic from 127.0.0.0/8 (with ``route_localnet`` on the bridge).
  - ``forward`` (filter): drop between two of our bridges (isolation);
    drop in/out of an ``--internal`` bridge.

``table bridge <name>``
  - ``forward``: with ``com.docker.network.bridge.enable_icc=false`` drop
    frames bridged between two ports (endpoint veths) of that bridge.

Port publishing uses DNAT rather than a userland proxy: no process sits in
the data path (throughput equals the kernel's, and a ``kill -9`` of the
daemon does not break published ports).
"""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass, field

from .errors import NetworkError


@dataclass
class BridgeRules:
    bridge: str
    subnets: list[str]
    internal: bool = False
    icc: bool = True
    masquerade: bool = True
    ports: list[str] = field(default_factory=list)  # host veth names (for ICC off)


@dataclass
class DNAT:
    proto: str
    host_ip: str  # "" = every local address
    host_port: int
    addr: str  # container address
    port: int


@dataclass
class RuleSet:
    bridges: list[BridgeRules] = field(default_factory=list)
    dnats: list[DNAT] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)  # our DNS listen addresses


def _q(name: str) -> str:
    return '"' + name + '"'


def _fam(addr: str) -> str:
    return "ip6" if ipaddress.ip_address(addr).version == 6 else "ip"


def render(table: str, rs: RuleSet) -> str:
    inet: list[str] = []
    ports = []
    for d in rs.dnats:
        fam = _fam(d.addr)
        match = f"meta nfproto {'ipv6' if fam == 'ip6' else 'ipv4'} "
        if d.host_ip:
            if _fam(d.host_ip) != fam:
                continue
            match += f"{fam} daddr {d.host_ip} "
        to = f"[{d.addr}]:{d.port}" if fam == "ip6" else f"{d.addr}:{d.port}"
        ports.append(f"    {match}{d.proto} dport {d.host_port} dnat {fam} to {to}")
    post = []
    fwd = []
    names = [b.bridge for b in rs.bridges]
    for b in rs.bridges:
        br = _q(b.bridge)
        for s in b.subnets:
            fam = _fam(s.split("/")[0])
            if b.masquerade and not b.internal:
                post.append(f"    {fam} saddr {s} oifname != {br} masquerade")
            post.append(f"    oifname {br} {fam} saddr {s} ct status dnat masquerade")
        post.append(f"    oifname {br} ip saddr 127.0.0.0/8 masquerade")
        others = [_q(n) for n in names if n != b.bridge]
        if others:
            fwd.append(f"    iifname {br} oifname {{ {', '.join(others)} }} drop")
        if b.internal:
            fwd.append(f"    iifname {br} oifname != {br} drop")
            fwd.append(f"    oifname {br} iifname != {br} drop")
    inet.append(f"table inet {table} {{")
    inet.append("  chain ports {")
    inet.extend(ports)
    inet.append("  }")
    inet.append("  chain prerouting {")
    inet.append("    type nat hook prerouting priority dstnat; policy accept;")
    # A container publishing host port 53 must not capture its neighbours'
    # queries to the embedded DNS on their gateway.
    for a in rs.dns:
        fam = _fam(a)
        inet.append(f"    {fam} daddr {a} meta l4proto {{ tcp, udp }} th dport 53 return")
    inet.append("    fib daddr type local jump ports")
    inet.append("  }")
    inet.append("  chain output {")
    inet.append("    type nat hook output priority -100; policy accept;")
    inet.append("    fib daddr type local jump ports")
    inet.append("  }")
    inet.append("  chain postrouting {")
    inet.append("    type nat hook postrouting priority srcnat; policy accept;")
    inet.extend(post)
    inet.append("  }")
    inet.append("  chain forward {")
    inet.append("    type filter hook forward priority filter; policy accept;")
    inet.extend(fwd)
    inet.append("  }")
    inet.append("}")
    # meta ibrname needs nft_meta_bridge, often missing; the bridge's own
    # ports (the endpoints' host veths) say the same thing.
    brf = []
    for b in rs.bridges:
        if not b.icc and b.ports:
            ps = ", ".join(_q(p) for p in b.ports)
            brf.append(f"    iifname {{ {ps} }} oifname {{ {ps} }} drop")
    inet.append(f"table bridge {table} {{")
    inet.append("  chain forward {")
    inet.append("    type filter hook forward priority filter; policy accept;")
    inet.extend(brf)
    inet.append("  }")
    inet.append("}")
    return "\n".join(inet) + "\n"


def _run(script: str) -> None:
    p = subprocess.run(["nft", "-f", "-"], input=script, text=True, capture_output=True)
    if p.returncode != 0:
        raise NetworkError(f"nftables rejected dockyard's rules: {p.stderr.strip()}")


def apply(table: str, rs: RuleSet) -> None:
    """Replace our tables with ``rs`` in one nft transaction."""
    if not rs.bridges and not rs.dnats:
        remove(table)
        return
    # "table X" first makes the delete valid when the table does not exist yet;
    # the whole file is one transaction, so there is no moment without rules.
    head = (f"table inet {table}\ndelete table inet {table}\n"
            f"table bridge {table}\ndelete table bridge {table}\n")
    _run(head + render(table, rs))


def remove(table: str) -> None:
    _run(f"table inet {table}\ndelete table inet {table}\n"
         f"table bridge {table}\ndelete table bridge {table}\n")


def list_table(table: str) -> str:
    p = subprocess.run(["nft", "list", "table", "inet", table], text=True, capture_output=True)
    return p.stdout if p.returncode == 0 else ""
