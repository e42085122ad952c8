"""Start private etcd members: for tests, benchmarks and trying things out.

Runs Debian's ``/usr/bin/etcd`` (etcd-server 3.4) on loopback ports the
kernel picked, with a private data dir, never touching a system etcd.

    with launch.cluster(3, "/tmp/etcd-test") as members:
        store = open_store("etcd://" + ",".join(m.address for m in members))
        members[0].stop()   # the other two keep quorum

Short heartbeat/election timeouts make a leader election after a stopped
member take a fraction of a second on loopback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

from dockyard.linux import ports

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
START_TIMEOUT = 20.0


def free_port() -> int:
    return ports.free_port("127.0.0.1")


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: str
    log_path: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    def start(self, initial_cluster: str) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [
                ETCD,
                "--name", self.name,
                "--data-dir", self.data_dir,
                "--listen-client-urls", f"http://{self.address}",
                "--advertise-client-urls", f"http://{self.address}",
                "--listen-peer-urls", self.peer_url,
                "--initial-advertise-peer-urls", self.peer_url,
                "--initial-cluster", initial_cluster,
                "--initial-cluster-state", "new",
                "--initial-cluster-token", self.name.rsplit("-", 1)[0],
                "--heartbeat-interval", "50",
                "--election-timeout", "500",
                "--logger", "zap",
                "--log-outputs", "stderr",
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        log.close()

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.address}/health", timeout=1) as r:
                return b'"true"' in r.read()
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class PortTaken(RuntimeError):
    """A member lost its port to another process between pick and bind."""


@contextlib.contextmanager
def cluster(size: int, base_dir: str) -> Iterator[list[Member]]:
    """``size`` members forming one cluster; all stopped and their dirs
    removed on exit. A member that finds its port taken at start (nothing can
    reserve a port for a child) makes the whole cluster start again on new
    ports, up to three times."""
    os.makedirs(base_dir, exist_ok=True)
    for attempt in range(3):
        try:
            members = _start(size, base_dir)
        except PortTaken:
            if attempt == 2:
                raise
            continue
        try:
            yield members
        finally:
            for m in members:
                m.stop()
            shutil.rmtree(base_dir, ignore_errors=True)
        return


def _start(size: int, base_dir: str) -> list[Member]:
    token = f"dy{os.getpid()}x{time.monotonic_ns() % 10**6}"
    members = [
        Member(
            f"{token}-{i}",
            free_port(),
            free_port(),
            os.path.join(base_dir, f"{token}-{i}"),
            os.path.join(base_dir, f"{token}-{i}.log"),
        )
        for i in range(size)
    ]
    initial = ",".join(f"{m.name}={m.peer_url}" for m in members)
    try:
        for m in members:
            m.start(initial)
        deadline = time.monotonic() + START_TIMEOUT
        while not all(m.healthy() for m in members):
            for m in members:
                if m.process is not None and m.process.poll() is not None:
                    with open(m.log_path, errors="replace") as f:
                        tail = f.read()[-2000:]
                    if "address already in use" in tail:
                        raise PortTaken(f"etcd member {m.name}: port taken")
                    raise RuntimeError(f"etcd member {m.name} exited at start:\n{tail}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"etcd members did not become healthy in {START_TIMEOUT}s")
            time.sleep(0.05)
    except BaseException:
        for m in members:
            m.stop()
        raise
    return members
