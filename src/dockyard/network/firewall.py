"""The firewall contract: what rules the networks need, and who puts them in the kernel.

Rules are a pure function of the network records (level-triggered, like a
controller): the service turns the records into a :class:`RuleSet` and a
:class:`Backend` replaces *all of dockyard's* rules with it in one go; a
``restore()`` after a crash is the same call. A backend never reads,
flushes or changes anything it did not create.

Two backends, chosen in one place (:func:`select`):

``nft`` (``firewall_nft.py``, the default)
    Our own ``inet``/``bridge`` tables, swapped whole in ONE ``nft -f``
    transaction.
``iptables`` (``firewall_iptables.py``)
    Where nftables is unavailable (no ``nft`` binary, or no nf_tables in the
    kernel: then the legacy x_tables variant). Our own ``<TABLE>-*`` chains
    (``DOCKYARD-PORTS``...) in the shared ``nat``/``filter`` tables, one jump
    each from the built-in chains, rewritten with ``iptables-restore
    --noflush`` (each table's ``COMMIT`` is atomic).

What both must do (``tests/network/test_net_firewall.py`` runs the same
traffic tests against each):

- DNAT every published port on every local address (or its ``host_ip``)
  from outside, from the host itself and from containers (hairpin), but
  never the embedded DNS's ``<gateway>:53``;
- masquerade what leaves a non-internal bridge for the outside, DNATed
  traffic re-entering its own bridge (hairpin) and DNATed traffic from
  127.0.0.0/8 (``route_localnet`` on the bridge);
- drop forwarding between two of our bridges (isolation), in/out of an
  ``--internal`` bridge, and between the endpoints of an ICC-off bridge.

Port publishing uses DNAT rather than a userland proxy: no process sits in
the data path (throughput equals the kernel's, and a ``kill -9`` of the
daemon does not break published ports).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Protocol

from .errors import InvalidParameter, NetworkError

BACKENDS = ("nft", "iptables")


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

    def empty(self) -> bool:
        return not self.bridges and not self.dnats


class Backend(Protocol):
    name: str  # "nft" or "iptables" (docker info's "Firewall Backend")

    def apply(self, rs: RuleSet) -> None:
        """Make ``rs`` the only dockyard rules, atomically; an empty set removes them."""

    def remove(self) -> None:
        """Delete everything this backend created (idempotent)."""

    def describe(self) -> str:
        """Our rules as the kernel lists them (for tests and ``--debug``)."""


def _works(*argv: str) -> bool:
    if shutil.which(argv[0]) is None:
        return False
    p = subprocess.run(list(argv), capture_output=True, text=True)
    return p.returncode == 0


def nft_available() -> bool:
    """The ``nft`` binary exists and the kernel answers nf_tables requests."""
    return _works("nft", "list", "tables")


def select(table: str, backend: str = "") -> Backend:
    """THE place a backend is chosen. ``backend`` forces one (``nft``/``iptables``);
    ``""`` picks nft when it works, else iptables (nft variant when the kernel has
    nf_tables, else legacy)."""
    from .firewall_iptables import IptablesBackend
    from .firewall_nft import NftBackend

    if backend not in ("", *BACKENDS):
        raise InvalidParameter(f"invalid firewall backend {backend!r}: expected one of "
                               f"{', '.join(BACKENDS)}")
    if os.geteuid() != 0 and not backend:
        # nothing can be probed (nor applied) without root: a read-only service
        return NftBackend(table) if shutil.which("nft") else IptablesBackend(table)
    if backend == "nft" or (not backend and nft_available()):
        return NftBackend(table)
    variant = "nft" if _works("iptables-nft-save", "-t", "filter") else "legacy"
    if not _works(f"iptables-{variant}-save", "-t", "filter"):
        raise NetworkError("no usable firewall: neither nft nor iptables-nft/iptables-legacy "
                           "works on this host (install nftables or iptables)")
    return IptablesBackend(table, variant)
