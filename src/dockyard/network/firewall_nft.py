"""The ``nft`` firewall backend: dockyard's own nftables tables, swapped whole.

:func:`render` turns a :class:`~.firewall.RuleSet` into the full text of our
two tables; :meth:`NftBackend.apply` hands it to ``nft -f -`` as ONE
transaction that deletes and re-adds only our tables. Either the new rule
set is live or the old one still is; nobody else's tables are read, flushed
or touched.

Tables (``<name>`` is per service: ``dockyard`` for the daemon, a per-test
prefix in tests, so parallel services never collide):

``table inet <name>``
  - ``prerouting``/``output`` (nat): ``fib daddr type local`` → ``ports``:
    one DNAT per published port; DNS to our listen addresses returns first.
  - ``postrouting`` (nat): masquerade out of non-internal bridges, hairpin
    and 127.0.0.0/8 DNATed traffic into its bridge.
  - ``forward`` (filter): drop between two of our bridges (isolation);
    drop in/out of an ``--internal`` bridge.

``table bridge <name>``
  - ``forward``: with ``com.docker.network.bridge.enable_icc=false`` drop
    frames bridged between two ports (endpoint veths) of that bridge.
"""

from __future__ import annotations

import ipaddress
import subprocess

from .errors import NetworkError
from .firewall import RuleSet


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
    try:
        p = subprocess.run(["nft", "-f", "-"], input=script, text=True, capture_output=True)
    except FileNotFoundError:
        raise NetworkError("the nft firewall backend needs the nft binary (nftables)") from None
    if p.returncode != 0:
        raise NetworkError(f"nftables rejected dockyard's rules: {p.stderr.strip()}")


class NftBackend:
    name = "nft"

    def __init__(self, table: str) -> None:
        self.table = table

    def _drop(self) -> str:
        # "table X" first makes the delete valid when the table does not exist yet.
        t = self.table
        return f"table inet {t}\ndelete table inet {t}\ntable bridge {t}\ndelete table bridge {t}\n"

    def apply(self, rs: RuleSet) -> None:
        """Replace our tables with ``rs`` in one nft transaction (no moment without rules)."""
        if rs.empty():
            self.remove()
            return
        _run(self._drop() + render(self.table, rs))

    def remove(self) -> None:
        _run(self._drop())

    def describe(self) -> str:
        out = []
        for fam in ("inet", "bridge"):
            p = subprocess.run(["nft", "list", "table", fam, self.table], text=True,
                               capture_output=True)
            out.append(p.stdout if p.returncode == 0 else "")
        return "".join(out)
