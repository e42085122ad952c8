"""Fixtures for the API server tests.

- ``apiserver``: one real ``dockyard server --port 0`` per test module, with
  a private data dir and kubeconfig under /tmp, stopped (SIGTERM) after.
- ``kubectl``: runs the real /usr/bin/kubectl against it with a fresh HOME
  (kubectl caches discovery under ~/.kube).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from apiserver_harness import KUBECTL, Kubectl, RunningServer, start_server, stop_server


@pytest.fixture(scope="module")
def module_tmp() -> Iterator[Path]:
    d = tempfile.mkdtemp(prefix="dy-api-", dir="/tmp")
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def apiserver(module_tmp: Path) -> Iterator[RunningServer]:
    server = start_server(module_tmp)
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def kubectl(apiserver: RunningServer) -> Kubectl:
    def run(*args: str, input: str | None = None, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([KUBECTL, *args], input=input, env=apiserver.env, text=True,
                                capture_output=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    return run
