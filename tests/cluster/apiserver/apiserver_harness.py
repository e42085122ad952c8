"""Starting and stopping a real ``dockyard server`` for the API server tests
(a uniquely named module, so test files can import it whatever other
``conftest`` modules the whole suite loads)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

KUBECTL = "/usr/bin/kubectl"


@dataclass
class RunningServer:
    url: str
    port: int
    data_dir: Path
    kubeconfig: Path
    home: Path
    process: subprocess.Popen[str]
    log: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.home), "KUBECONFIG": str(self.kubeconfig)}


def start_server(base: Path, *extra: str, data_dir: Path | None = None) -> RunningServer:
    data_dir = data_dir or base / "data"
    kubeconfig = base / "kubeconfig"
    home = base / "home"
    home.mkdir(exist_ok=True)
    log = base / f"server-{time.monotonic_ns()}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "dockyard"), "server", "--port", "0",
             "--data-dir", str(data_dir), "--write-kubeconfig", str(kubeconfig), *extra],
            stdout=out, stderr=subprocess.STDOUT, text=True,
        )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = log.read_text()
        m = re.search(r"listening on (https://[\d.]+:(\d+))", text)
        if m:
            return RunningServer(m.group(1), int(m.group(2)), data_dir, kubeconfig, home, proc, log)
        if proc.poll() is not None:
            raise RuntimeError(f"dockyard server exited {proc.returncode}:\n{text}")
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"dockyard server not ready:\n{log.read_text()}")


def stop_server(server: RunningServer) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


Kubectl = Callable[..., subprocess.CompletedProcess[str]]
