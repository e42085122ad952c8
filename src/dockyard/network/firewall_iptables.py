"""The ``iptables`` firewall backend, for hosts where nftables is unavailable.

Our rules live in our own chains (``<P>`` is the service's table name in
upper case: ``DOCKYARD`` for the daemon, a per-test prefix in tests; names
over 16 characters are cut and given a hash suffix)::

    nat     <P>-PREROUTING   ← one "-j" from PREROUTING   (DNS return, then local → PORTS)
            <P>-OUTPUT       ← one "-j" from OUTPUT       (local → PORTS)
            <P>-PORTS          one DNAT per published port
            <P>-POSTROUTING  ← one "-j" from POSTROUTING  (masquerade)
    filter  <P>-FORWARD      ← one "-I" at the top of FORWARD (isolation, internal, ICC)

the same rules as the nft backend, per address family (``iptables`` and
``ip6tables``). Each apply is one ``iptables-restore --noflush`` per family:
declaring our chains (``:<P>-X - [0:0]``) empties and refills only them,
and the jumps from the built-in chains are added only when ``-save`` does
not list them yet. Within a family each table's ``COMMIT`` is atomic.
Removal deletes our jumps, then our chains; the built-in chains keep
everybody else's rules and policies.

The ``nft`` variant (``iptables-nft-restore``, shared ``ip nat``/``ip
filter`` tables) is used when the kernel has nf_tables (the ``nft`` binary
is what is missing); ``legacy`` (x_tables) when it has not.

ICC off drops ``-i br -o br`` in FORWARD: bridged frames reach iptables only
through ``br_netfilter`` (``net.bridge.bridge-nf-call-iptables=1``), as with
Docker; without it the network is refused with a clear error rather than
silently leaving ICC on.
"""

from __future__ import annotations

import hashlib
import ipaddress
import subprocess

from .errors import NetworkError
from .firewall import RuleSet

NAT_HOOKS = ("PREROUTING", "OUTPUT", "POSTROUTING")
BR_NF = {4: "/proc/sys/net/bridge/bridge-nf-call-iptables",
         6: "/proc/sys/net/bridge/bridge-nf-call-ip6tables"}


def _version(addr: str) -> int:
    return ipaddress.ip_address(addr.split("/")[0]).version


def _br_netfilter(version: int) -> bool:
    try:
        with open(BR_NF[version]) as f:
            return f.read().strip() == "1"
    except OSError:
        return False


class IptablesBackend:
    name = "iptables"

    def __init__(self, table: str, variant: str = "nft") -> None:
        self.prefix = table.upper()
        if len(self.prefix) > 16:
            # chain names are at most 28 characters ("-POSTROUTING" takes 12); a hash
            # keeps two long table names apart
            digest = hashlib.sha256(table.encode()).hexdigest()[:6].upper()
            self.prefix = f"{self.prefix[:9]}_{digest}"
        self.variant = variant

    # -- tools ------------------------------------------------------------
    def _tool(self, version: int, what: str) -> str:
        return f"{'ip6tables' if version == 6 else 'iptables'}-{self.variant}-{what}"

    def _save(self, version: int, table: str) -> list[str]:
        try:
            p = subprocess.run([self._tool(version, "save"), "-t", table], text=True,
                               capture_output=True)
        except FileNotFoundError:
            raise NetworkError(f"the iptables firewall backend needs "
                               f"{self._tool(version, 'save')} (package iptables)") from None
        if p.returncode != 0:
            raise NetworkError(f"{self._tool(version, 'save')} -t {table} failed: "
                               f"{p.stderr.strip()}")
        return p.stdout.splitlines()

    def _restore(self, version: int, text: str) -> None:
        # -w: wait for the xtables lock (legacy) rather than fail beside another writer
        p = subprocess.run([self._tool(version, "restore"), "-w", "--noflush"], input=text,
                           text=True, capture_output=True)
        if p.returncode != 0:
            raise NetworkError(f"{self._tool(version, 'restore')} rejected dockyard's rules: "
                               f"{p.stderr.strip()}")

    # -- names --------------------------------------------------------------
    def chain(self, hook: str) -> str:
        return f"{self.prefix}-{hook}"

    def _jumps(self) -> dict[str, list[tuple[str, str]]]:
        """table → [(save-format line that must exist, restore line that adds it)]."""
        nat = [(f"-A {h} -j {self.chain(h)}", f"-A {h} -j {self.chain(h)}") for h in NAT_HOOKS]
        fwd = f"-A FORWARD -j {self.chain('FORWARD')}"
        return {"nat": nat, "filter": [(fwd, f"-I FORWARD 1 -j {self.chain('FORWARD')}")]}

    def _ours(self) -> dict[str, list[str]]:
        return {"nat": [self.chain(h) for h in (*NAT_HOOKS, "PORTS")],
                "filter": [self.chain("FORWARD")]}

    # -- rules ----------------------------------------------------------------
    def render(self, rs: RuleSet, version: int) -> dict[str, list[str]]:
        """Our chains' rules for one family, by table (restore syntax, no headers)."""
        pre, out, ports, post, fwd = (self.chain(h) for h in
                                      ("PREROUTING", "OUTPUT", "PORTS", "POSTROUTING", "FORWARD"))
        nat: list[str] = []
        for a in rs.dns:
            if _version(a) == version:
                # a container publishing host port 53 must not capture its neighbours'
                # queries to the embedded DNS on their gateway
                nat += [f"-A {pre} -d {a} -p {p} --dport 53 -j RETURN" for p in ("udp", "tcp")]
        nat.append(f"-A {pre} -m addrtype --dst-type LOCAL -j {ports}")
        nat.append(f"-A {out} -m addrtype --dst-type LOCAL -j {ports}")
        for d in rs.dnats:
            if _version(d.addr) != version or (d.host_ip and _version(d.host_ip) != version):
                continue
            dst = f"-d {d.host_ip} " if d.host_ip else ""
            to = f"[{d.addr}]:{d.port}" if version == 6 else f"{d.addr}:{d.port}"
            nat.append(f"-A {ports} {dst}-p {d.proto} -m {d.proto} --dport {d.host_port} "
                       f"-j DNAT --to-destination {to}")
        # a bridge without a subnet of this family forwards none of its packets
        bridges = [b for b in rs.bridges if any(_version(s) == version for s in b.subnets)]
        names = [b.bridge for b in bridges]
        filt: list[str] = []
        for b in bridges:
            br = b.bridge
            for s in b.subnets:
                if _version(s) != version:
                    continue
                if b.masquerade and not b.internal:
                    nat.append(f"-A {post} -s {s} ! -o {br} -j MASQUERADE")
                nat.append(f"-A {post} -s {s} -o {br} -m conntrack --ctstate DNAT "
                           f"-j MASQUERADE")
            if version == 4:
                nat.append(f"-A {post} -s 127.0.0.0/8 -o {br} -j MASQUERADE")
            filt += [f"-A {fwd} -i {br} -o {o} -j DROP" for o in names if o != br]
            if b.internal:
                filt += [f"-A {fwd} -i {br} ! -o {br} -j DROP",
                         f"-A {fwd} -o {br} ! -i {br} -j DROP"]
            if not b.icc:
                if not _br_netfilter(version):
                    raise NetworkError(
                        f"enable_icc=false on bridge {br} with the iptables firewall needs "
                        f"br_netfilter: modprobe br_netfilter; sysctl -w "
                        f"net.bridge.bridge-nf-call-ip{'6' if version == 6 else ''}tables=1")
                filt.append(f"-A {fwd} -i {br} -o {br} -j DROP")
        return {"nat": nat, "filter": filt}

    def _script(self, version: int, body: dict[str, list[str]] | None) -> str:
        """The restore text that makes our chains hold ``body`` (None: removes them)."""
        text = []
        for table, chains in self._ours().items():
            saved = self._save(version, table)
            present = {line for line in saved if line.startswith("-A ")}
            have = {line.split()[0][1:] for line in saved if line.startswith(":")}
            lines = [f":{c} - [0:0]" for c in chains]  # create, or empty if it exists
            if body is None:
                if not any(c in have for c in chains):
                    continue
                # every copy of our jumps (a crashed older run may have left two)
                jumps = {must for must, _ in self._jumps()[table]}
                lines += [f"-D {line[3:]}" for line in saved if line in jumps]
                lines += [f"-X {c}" for c in chains]
            else:
                lines += body[table]
                lines += [add for must, add in self._jumps()[table] if must not in present]
            text += [f"*{table}", *lines, "COMMIT"]
        return "\n".join(text) + "\n" if text else ""

    def _families(self) -> list[int]:
        try:
            with open("/proc/net/if_inet6") as f:
                return [4, 6] if f.read().strip() else [4]
        except OSError:
            return [4]

    def apply(self, rs: RuleSet) -> None:
        if rs.empty():
            self.remove()
            return
        scripts = [(v, self._script(v, self.render(rs, v))) for v in self._families()]
        for v, text in scripts:
            self._restore(v, text)

    def remove(self) -> None:
        for v in self._families():
            text = self._script(v, None)
            if text:
                self._restore(v, text)

    def describe(self) -> str:
        out = []
        for v in self._families():
            for table in ("nat", "filter"):
                out += [line for line in self._save(v, table)
                        if self.prefix + "-" in line and not line.startswith("#")]
        return "\n".join(out) + "\n" if out else ""
