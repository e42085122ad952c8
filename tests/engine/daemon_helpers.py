"""Start and stop a private ``dockyard daemon`` for tests (shared by tests/engine, api, cli).

Each daemon gets its own ``--root``/``--run-root`` under a short /tmp dir
(unix socket paths < 107 bytes) with ``busybox:latest`` imported from
Debian's busybox-static before it starts.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

DOCKER = "/usr/local/bin/docker"
DOCKYARD = os.path.join(os.path.dirname(sys.executable), "dockyard")


@dataclass
class Daemon:
    dir: str
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    # No default bridge unless a test asks: daemons running side by side
    # (xdist workers, a `make up` daemon) must not fight over one bridge.
    args: list[str] = field(default_factory=lambda: ["--bridge", "none"])

    @property
    def root(self) -> str:
        return os.path.join(self.dir, "root")

    @property
    def run_root(self) -> str:
        return os.path.join(self.dir, "run")

    @property
    def sock(self) -> str:
        return os.path.join(self.dir, "d.sock")

    @property
    def host(self) -> str:
        return "unix://" + self.sock

    def start(self) -> None:
        log = open(os.path.join(self.dir, "daemon.log"), "ab")
        self.proc = subprocess.Popen(
            [DOCKYARD, "daemon", "--root", self.root, "--run-root", self.run_root,
             "-H", self.host, *self.args], stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited {self.proc.returncode}: {self.log()}")
            try:
                with httpx.Client(transport=httpx.HTTPTransport(uds=self.sock)) as c:
                    if c.get("http://d/_ping").text == "OK":
                        return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"daemon did not answer: {self.log()}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log(self) -> str:
        try:
            with open(os.path.join(self.dir, "daemon.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def docker(self, *args: str, input: bytes | None = None, timeout: float = 30,
               check: bool = False) -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, "DOCKER_HOST": self.host, "DOCKER_CONFIG": self.dir}
        r = subprocess.run([DOCKER, *args], input=input, capture_output=True, env=env,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {r.returncode} {r.stderr!r}")
        return r

    def api(self) -> httpx.Client:
        return httpx.Client(base_url="http://d", timeout=30,
                            transport=httpx.HTTPTransport(uds=self.sock))

    def cleanup(self) -> None:
        """Stop the daemon, kill every container it left, remove the dir."""
        self.stop()
        run = os.path.join(self.run_root, "runtime")
        if os.path.isdir(run):
            for cid in os.listdir(run):
                subprocess.run([DOCKYARD + "-runtime", "--root", run, "delete", "--force", cid],
                               capture_output=True, timeout=30)
        # Supervisors (and anything they forked) carry this daemon's command
        # line, which names our private dir: end any left behind, by pid.
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if f"--root\0{self.root}\0".encode() in cmd:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        for m in sorted((m for m in mounts if m.startswith(self.dir + "/")), reverse=True):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def new_daemon(args: list[str] | None = None) -> Daemon:
    from dockyard.images import ImageService, busybox_image

    d = Daemon(tempfile.mkdtemp(prefix="dy-", dir="/tmp"))
    if args is not None:
        d.args = args
    images = ImageService.open(d.root)
    try:
        busybox_image(images)
    finally:
        images.close()
    d.start()
    return d


def wait_for(cond: Callable[[], object], timeout: float = 30) -> None:
    """Poll ``cond`` until it is true; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def tmux_pane(session: str) -> bytes:
    """What a tmux session's window shows now (tests drive real terminals with tmux)."""
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                          capture_output=True).stdout
