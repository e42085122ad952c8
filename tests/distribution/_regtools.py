"""Helpers for the registry tests: run ``dockyard registry``, run skopeo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml


@dataclass
class Running:
    url: str  # http://127.0.0.1:PORT
    root: Path
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def host(self) -> str:  # HOST:PORT, as skopeo wants it
        return self.url.split("://", 1)[1]

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kw)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_registry(workdir: Path, config: dict[str, object] | None = None,
                   args: tuple[str, ...] = ()) -> Running:
    workdir.mkdir(parents=True, exist_ok=True)
    root = workdir / "root"
    cmd = [sys.executable, "-c", "from dockyard.cli.main import main; main()", "registry",
           "--root", str(root)]
    if not any(a.startswith("--addr") for a in args):
        cmd += ["--addr", "127.0.0.1:0"]
    if config is not None:
        cfg = workdir / "config.yml"
        cfg.write_text(yaml.safe_dump(config))
        cmd += ["--config", str(cfg)]
    cmd += list(args)
    log = workdir / "registry.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log.read_text()
        if "listening on " in text:
            url = text.split("listening on ", 1)[1].split()[0]
            return Running(url, root, proc, log)
        if proc.poll() is not None:
            raise RuntimeError(f"registry exited {proc.returncode}:\n{text}")
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"registry did not start:\n{log.read_text()}")


def skopeo(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": os.environ.get("HOME", "/root")}
    p = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=timeout, env=env)
    if check and p.returncode != 0:
        raise AssertionError(f"skopeo {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p
