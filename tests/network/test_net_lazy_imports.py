"""A daemon with no network to restore loads neither pyroute2 nor dnspython (issue 4: idle memory).

The network service's start-up (``NetworkService(...)`` and ``restore()``,
as ``dockyard daemon --bridge none`` runs them) must not import them: ~13 MiB
of modules an idle daemon would hold. The first netlink request or DNS
query imports them (``test_net_restore``, ``test_net_dns`` cover those).
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
    assert out.stdout.splitlines() == ["pyroute2 False", "dns False"]
