"""A private dockerd (Debian's docker.io) for the interop tests.

Own data-root, exec-root and socket under a short /tmp dir (socket paths
< 107 bytes); ``--iptables=false --ip6tables=false --bridge=none``: it touches
no firewall table and makes no ``docker0``. ``stop()`` removes what a failed
test left (containers, networks), stops dockerd and its containerd, and
unmounts and deletes the dir.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import httpx

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "engine"))

from daemon_helpers import DOCKER

from dockyard.busybox import make_rootfs


class Dockerd:
    """``host`` is its socket as ``unix://…``; ``env`` drives the docker CLI at it."""

    def __init__(self, prefix: str = "dyio-") -> None:
        self.dir = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
        self.sock = os.path.join(self.dir, "d.sock")
        self.host = f"unix://{self.sock}"
        self.env = dict(os.environ, DOCKER_HOST=self.host, DOCKER_BUILDKIT="0",
                        DOCKER_CONFIG=os.path.join(self.dir, "cli"))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Dockerd:
        exe = shutil.which("dockerd")
        assert exe, "dockerd missing: scripts/install-deps.sh installs docker.io"
        self.log = open(os.path.join(self.dir, "dockerd.log"), "wb")
        self.proc = subprocess.Popen(
            [exe, "--data-root", os.path.join(self.dir, "data"),
             "--exec-root", os.path.join(self.dir, "exec"),
             "--pidfile", os.path.join(self.dir, "dockerd.pid"), "-H", self.host,
             "--iptables=false", "--ip6tables=false", "--bridge=none"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while self.docker("version").returncode != 0:
            assert self.proc.poll() is None, open(self.log.name, errors="replace").read()[-2000:]
            assert time.monotonic() < deadline, "dockerd did not answer in 60 s"
            time.sleep(0.3)
        return self

    def import_busybox(self) -> None:
        """``busybox:latest`` from Debian's busybox-static, as dockyard's tests have it."""
        rootfs = make_rootfs(os.path.join(self.dir, "rootfs"))
        tar = subprocess.run(["tar", "-C", rootfs, "-c", "."], capture_output=True, check=True)
        r = self.docker("import", "-c", 'CMD ["sh"]', "-", "busybox:latest", input=tar.stdout)
        assert r.returncode == 0, r.stderr

    def docker(self, *args: str, input: bytes | None = None,
               check: bool = False) -> subprocess.CompletedProcess[bytes]:
        r = subprocess.run([DOCKER, *args], env=self.env, input=input, capture_output=True,
                           timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {r.returncode} {r.stderr!r}")
        return r

    def api(self) -> httpx.Client:
        return httpx.Client(base_url="http://d", timeout=30,
                            transport=httpx.HTTPTransport(uds=self.sock))

    def stop(self) -> None:
        if self.proc is None:
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        if self.proc.poll() is None:
            ids = self.docker("ps", "-aq").stdout.split()
            if ids:
                self.docker("rm", "-f", *(i.decode() for i in ids))
            self.docker("network", "prune", "-f")
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        pid_file = os.path.join(self.dir, "exec", "containerd", "containerd.pid")
        try:  # its containerd, if it outlived dockerd
            os.kill(int(open(pid_file).read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        self.log.close()
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        for m in sorted((m for m in mounts if m.startswith(self.dir + "/")), reverse=True):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
