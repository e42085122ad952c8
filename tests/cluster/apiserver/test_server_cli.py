"""``dockyard server`` and ``dockyard kubeconfig`` as a user runs them:
startup time, certificates kept across restarts, a ``kill -9`` during a
write burst losing no acknowledged write, bad flags."""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml
from apiserver_harness import KUBECTL, start_server, stop_server
from cryptography import x509

# one worker per module: the module shares one server
pytestmark = pytest.mark.xdist_group("apiserver-server_cli")

DOCKYARD = os.path.join(os.path.dirname(sys.executable), "dockyard")


def _client(data_dir: Path, url: str) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(data_dir / "tls" / "ca.crt"))
    ctx.load_cert_chain(str(data_dir / "tls" / "admin.crt"), str(data_dir / "tls" / "admin.key"))
    return httpx.Client(base_url=url, verify=ctx, timeout=10)


def test_ready_fast_and_kubeconfig(module_tmp: Path) -> None:
    (module_tmp / "a").mkdir()
    started = time.monotonic()
    server = start_server(module_tmp / "a")
    try:
        # The 3 s target is measured by bench/apiserver.py (~0.5 s); on a loaded,
        # shared test machine this only bounds readiness loosely.
        reported = float(re.search(r"ready in ([\d.]+)s", server.log.read_text()).group(1))
        assert reported < 15.0 and time.monotonic() - started < 30.0
        cfg = yaml.safe_load(server.kubeconfig.read_text())
        assert cfg["clusters"][0]["cluster"]["server"] == server.url
        assert oct(server.kubeconfig.stat().st_mode & 0o777) == "0o600"
        printed = subprocess.run([DOCKYARD, "kubeconfig", "--kubeconfig", str(server.kubeconfig)],
                                 capture_output=True, text=True, check=True).stdout
        assert printed == server.kubeconfig.read_text()
        cert = x509.load_pem_x509_certificate((server.data_dir / "tls" / "admin.crt").read_bytes())
        assert cert.subject.rfc4514_string() == "CN=admin,O=system:masters"
        serving = x509.load_pem_x509_certificate((server.data_dir / "tls" / "serving.crt").read_bytes())
        sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "localhost" in sans.get_values_for_type(x509.DNSName)
        out = subprocess.run([KUBECTL, "version", "-o", "json"], env=server.env, capture_output=True,
                             text=True, check=True).stdout
        assert json.loads(out)["serverVersion"]["major"] == "1"
        assert oct((server.data_dir / "tls" / "ca.key").stat().st_mode & 0o777) == "0o600"
    finally:
        stop_server(server)
    assert server.process.returncode == 0


def test_restart_keeps_state_and_certs_and_kill9_loses_no_acked_write(module_tmp: Path) -> None:
    base = module_tmp / "b"
    base.mkdir()
    server = start_server(base)
    ca_before = (server.data_dir / "tls" / "ca.crt").read_bytes()
    acked: list[str] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        with _client(server.data_dir, server.url) as c:
            i = 0
            while not stop.is_set():
                name = f"burst-{n}-{i}"
                try:
                    r = c.post("/api/v1/namespaces/default/configmaps",
                               json={"metadata": {"name": name}, "data": {"i": str(i)}})
                except httpx.HTTPError:
                    return
                if r.status_code == 201:
                    acked.append(name)
                i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acked) > 5  # writes were in flight when the server died
    again = start_server(base, data_dir=server.data_dir)
    try:
        assert (again.data_dir / "tls" / "ca.crt").read_bytes() == ca_before
        with _client(again.data_dir, again.url) as c:
            items = c.get("/api/v1/namespaces/default/configmaps").json()["items"]
        present = {i["metadata"]["name"] for i in items}
        assert set(acked) <= present
        # the old kubeconfig's credentials still work: same CA, same admin cert
        out = subprocess.run([KUBECTL, "get", "ns", "default", "-o", "name"], env=again.env,
                             capture_output=True, text=True)
        assert out.stdout.strip() == "namespace/default", out.stderr
    finally:
        stop_server(again)


def test_bad_flags_fail_clearly(module_tmp: Path) -> None:
    r = subprocess.run([DOCKYARD, "server", "--datastore", "mysql://x", "--data-dir", str(module_tmp / "c")],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "--datastore" in r.stderr
    bad_tokens = module_tmp / "tokens.csv"
    bad_tokens.write_text("onlytoken\n")
    r = subprocess.run([DOCKYARD, "server", "--port", "0", "--data-dir", str(module_tmp / "c"),
                        "--write-kubeconfig", str(module_tmp / "c" / "kc"), "--token-auth-file", str(bad_tokens)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "tokens.csv:1" in r.stderr
    r = subprocess.run([DOCKYARD, "server", "--port", "0", "--data-dir", str(module_tmp / "c"),
                        "--write-kubeconfig", str(module_tmp / "c" / "kc"), "--datastore", "etcd://127.0.0.1:1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "no etcd member" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([DOCKYARD, "kubeconfig", "--kubeconfig", str(module_tmp / "absent")],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "cannot read" in r.stderr
