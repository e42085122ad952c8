"""Helpers for the network tests: namespaces, traffic, cleanup checks.

Everything a test makes carries its ``unique`` prefix: the service's link
prefix and nftables table are ``unique`` itself, namespaces are
``<unique>-<n>``. Teardown removes the service's networks and tables, then
anything left with the prefix (a failed test must not leak links).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

BUSYBOX = "/bin/busybox"


def sh(*args: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=timeout)


class NS:
    """A network namespace made by the test (what a container's sandbox is)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.path = f"/var/run/netns/{name}"
        sh("ip", "netns", "add", name)
        sh("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")

    def run(self, *args: str, check: bool = False, timeout: float = 20
            ) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", self.name, BUSYBOX, *args, check=check, timeout=timeout)

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(["ip", "netns", "exec", self.name, BUSYBOX, *args],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ping(self, addr: str) -> bool:
        return self.run("ping", "-c", "1", "-W", "1", addr).returncode == 0

    def wget(self, url: str, timeout: int = 3) -> str | None:
        # busybox 1.35's `wget -T` segfaults: bound it with the timeout applet.
        p = self.run("timeout", str(timeout), BUSYBOX, "wget", "-q", "-O", "-", url,
                     timeout=timeout + 5)
        return p.stdout if p.returncode == 0 else None

    def delete(self) -> None:
        sh("ip", "netns", "del", self.name, check=False)


def serve_http(ns: NS, docroot: Path, port: int = 80, body: str = "hello") -> subprocess.Popen[bytes]:
    """busybox httpd in the foreground inside ``ns``; waits until it listens."""
    docroot.mkdir(parents=True, exist_ok=True)
    (docroot / "index.html").write_text(body)
    p = ns.spawn("httpd", "-f", "-p", str(port), "-h", str(docroot))
    for _ in range(100):
        # busybox httpd listens on :: when IPv6 exists, so look in tcp6 too.
        table = ns.run("cat", "/proc/net/tcp", "/proc/net/tcp6").stdout
        if f":{port:04X} 00000000" in table or f":{port:04X} 0000000000000000" in table:
            return p
        time.sleep(0.05)
    p.kill()
    raise AssertionError("httpd did not start")


def wget_host(url: str, timeout: int = 3) -> str | None:
    p = sh(BUSYBOX, "timeout", str(timeout), BUSYBOX, "wget", "-q", "-O", "-", url, check=False,
           timeout=timeout + 5)
    return p.stdout if p.returncode == 0 else None


def host_address() -> str:
    """The host's own primary address (route lookup only; nothing is sent)."""
    out = sh("ip", "-4", "route", "get", "192.0.2.200").stdout.split()
    if "src" in out:
        return out[out.index("src") + 1]
    out = sh("ip", "-4", "-o", "addr", "show", "scope", "global").stdout.split()
    return out[3].split("/")[0]


def cleanup_prefix(unique: str) -> None:
    for line in sh("ip", "-o", "link", "show").stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(unique):
            sh("ip", "link", "del", name, check=False)
    for t in ("inet", "bridge"):
        sh("nft", "delete", "table", t, unique, check=False)


def links_with(prefix: str) -> list[str]:
    return [line.split(":")[1].strip().split("@")[0]
            for line in sh("ip", "-o", "link", "show").stdout.splitlines()
            if line.split(":")[1].strip().startswith(prefix)]


def nft_tables() -> str:
    return sh("nft", "list", "tables").stdout


def cid() -> str:
    return os.urandom(32).hex()
