"""A busybox root filesystem from Debian's busybox-static, with no network.

The base of ``make up`` and of every test: the static binary, one symlink
per applet, and the few files a shell expects (/etc/passwd, /etc/group).
"""

from __future__ import annotations

import os
import shutil
import subprocess

BUSYBOX = "/bin/busybox"

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n"


def applets(busybox: str = BUSYBOX) -> list[str]:
    """The applets' install paths, e.g. ``/bin/sh``, ``/usr/bin/wget``."""
    out = subprocess.run([busybox, "--list-full"], check=True, capture_output=True, text=True)
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def make_rootfs(dest: str, busybox: str = BUSYBOX) -> str:
    """Populate ``dest`` with a busybox root filesystem; returns ``dest``."""
    if not os.path.exists(busybox):
        raise FileNotFoundError(
            f"{busybox} not found: install Debian's busybox-static (make up does)"
        )
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root",
              "var", "run", "home"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    shutil.copy2(busybox, os.path.join(dest, "bin/busybox"))
    for path in applets(busybox):
        link = os.path.join(dest, path.lstrip("/"))
        if os.path.lexists(link) or path == "/bin/busybox":
            continue
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink("/bin/busybox", link)
    with open(os.path.join(dest, "etc/passwd"), "w") as f:
        f.write(PASSWD)
    with open(os.path.join(dest, "etc/group"), "w") as f:
        f.write(GROUP)
    return dest
