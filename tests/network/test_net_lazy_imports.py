"""What the network service imports (issue 4: idle memory).

The network service's start-up (``NetworkService(...)`` and ``restore()``,
as ``dockyard daemon --bridge none`` runs them) must not import dnspython:
modules an idle daemon would hold; the first DNS query imports it
(``test_net_dns`` covers that). pyroute2 (~13 MiB, 163 modules) is never
imported at all, not even by netlink requests: they go through our own
``dockyard.linux.rtnetlink``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from net_helpers import cleanup_prefix

_SCRIPT = """
import sys
from dockyard.network import NetworkService

root, run, prefix = sys.argv[1:4]
s = NetworkService(root, run, link_prefix=prefix, table=prefix, default_bridge=prefix + "d0",
                   dns_upstreams=[])
s.restore()
print("pyroute2", any(m.split(".")[0] == "pyroute2" for m in sys.modules))
print("dns", any(m.split(".")[0] == "dns" for m in sys.modules))
# Netlink requests (a lookup, a dump, a bridge made and removed) load no pyroute2 either.
from dockyard.network import links
assert links.link_exists("lo") and links.host_routes()
assert links.ensure_bridge(prefix + "b0", [])
links.delete_link(prefix + "b0")
assert not links.link_exists(prefix + "b0")
print("pyroute2", any(m.split(".")[0] == "pyroute2" for m in sys.modules))
s.destroy()
"""


def test_restore_with_no_networks_imports_neither_pyroute2_nor_dnspython(
        unique: str, short_tmp: Path) -> None:
    try:
        out = subprocess.run([sys.executable, "-c", _SCRIPT, str(short_tmp / "root"),
                              str(short_tmp / "run"), unique],
                             capture_output=True, text=True, timeout=120)
    finally:
        cleanup_prefix(unique)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["pyroute2 False", "dns False", "pyroute2 False"]
