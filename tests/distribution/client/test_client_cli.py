"""``dockyard pull/push/login/logout/search`` in-process, docker.io mirrors,
and TLS with ``certs.d`` CA certificates."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from _clienttools import PASSWORDS, free_port, write_htpasswd
from _regtools import Running
from click.testing import CliRunner
from test_registry_auth import self_signed

from dockyard.cli.main import cli
from dockyard.distribution.client import RegistryOptions, pull, push
from dockyard.images import ImageService


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_cli_login_push_pull_search_logout(registry_factory: Callable[..., Running], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           busybox_store: ImageService) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dc"))
    reg = registry_factory({"auth": {"htpasswd": {"path": str(write_htpasswd(tmp_path / "htpasswd"))}}})
    ref = f"{reg.host}/cli/bb:1"
    busybox_store.tag("busybox:latest", ref)
    busybox_store.close()  # the CLI opens the root itself
    src_root = str(tmp_path / "src")

    code, out, err = run("push", "--root", src_root, ref)
    assert code == 1 and err.startswith("Error response from daemon: ") and "no credentials" in err

    code, out, err = run("login", "-u", "alice", "--password-stdin", reg.host, input="wrong\n")
    assert code == 1 and "incorrect username or password" in err
    code, out, err = run("login", "-u", "alice", "--password-stdin", reg.host, input=PASSWORDS["alice"] + "\n")
    assert (code, out) == (0, "Login Succeeded\n"), err
    assert reg.host in json.loads((tmp_path / "dc" / "config.json").read_text())["auths"]

    code, out, err = run("push", "--root", src_root, ref)
    assert code == 0, err
    assert "Pushed" in out and out.rstrip().splitlines()[-1].startswith("1: digest: sha256:")
    code, out, err = run("push", "-q", "--root", src_root, ref)
    assert (code, out) == (0, ref + "\n"), err

    dst = str(tmp_path / "dst")
    code, out, err = run("pull", "--root", dst, ref)
    assert code == 0, err
    lines = out.rstrip().splitlines()
    assert lines[0] == "1: Pulling from cli/bb" or lines[0] == "Pulling from cli/bb"
    assert lines[-3].startswith("Digest: sha256:") and lines[-2] == f"Status: Downloaded newer image for {ref}"
    assert lines[-1] == ref
    code, out, err = run("pull", "-q", "--root", dst, ref)
    assert (code, out) == (0, ref + "\n")
    with ImageService.open(dst, snapshotter="native") as svc, \
            ImageService.open(src_root, snapshotter="native") as src:
        assert svc.get(ref).id == src.get(ref).id

    code, out, err = run("pull", "--root", dst, f"{reg.host}/cli/bb:nope")
    assert code == 1 and "manifest for cli/bb:nope" in err
    code, out, err = run("pull", "--root", dst, f"{reg.host}/cli/bb:bad tag")
    assert code == 1 and "invalid reference format" in err
    code, out, err = run("search", f"{reg.host}/bb")
    assert code == 1 and "does not support search" in err

    code, out, err = run("logout", reg.host)
    assert (code, out) == (0, f"Removing login credentials for {reg.host}\n")


def test_docker_io_through_a_mirror(registry: Running, busybox_store: ImageService,
                                    stores: Callable[[str], ImageService]) -> None:
    """``busybox`` (docker.io/library/busybox) comes from the second mirror
    (the first is down): there is no internet here, so only it can have served it."""
    busybox_store.tag("busybox:latest", f"{registry.host}/library/busybox:latest")
    push(busybox_store, f"{registry.host}/library/busybox:latest")
    dst = stores("dst")
    msgs: list[dict[str, object]] = []
    dead = f"http://127.0.0.1:{free_port()}"  # a mirror that is down is skipped
    [img] = pull(dst, "busybox", options=RegistryOptions(mirrors=(dead, f"http://{registry.host}")),
                 progress=msgs.append)
    assert img.id == busybox_store.get("busybox:latest").id
    assert dst.get("docker.io/library/busybox:latest").repo_tags == ["busybox:latest"]
    assert msgs[0] == {"status": "Pulling from library/busybox", "id": "latest"}


def test_tls_registry_and_certs_d(registry_factory: Callable[..., Running], tmp_path: Path,
                                  busybox_store: ImageService, stores: Callable[[str], ImageService]) -> None:
    cert, key = self_signed(tmp_path / "pki")
    reg = registry_factory(args=("--tls-cert", str(cert), "--tls-key", str(key)))
    assert reg.url.startswith("https://")
    # Loopback is insecure (as in Docker): HTTPS without verification works.
    ref = f"{reg.host}/tls/bb:1"
    busybox_store.tag("busybox:latest", ref)
    push(busybox_store, ref)
    assert pull(stores("dst"), ref)[0].id == busybox_store.get("busybox:latest").id
    # A verifying context trusts the registry only with certs.d/<host:port>/ca.crt.
    certs = tmp_path / "certs.d"
    opts = RegistryOptions(certs_dir=str(certs))
    with httpx.Client(verify=opts.tls_context(reg.host)) as c, pytest.raises(httpx.ConnectError):
        c.get(f"{reg.url}/v2/")
    (certs / reg.host).mkdir(parents=True)
    (certs / reg.host / "ca.crt").write_bytes(cert.read_bytes())
    with httpx.Client(verify=opts.tls_context(reg.host)) as c:
        assert c.get(f"{reg.url}/v2/").status_code == 200
    # A client certificate needs its key beside it.
    (certs / reg.host / "client.cert").write_bytes(cert.read_bytes())
    with pytest.raises(ValueError, match="client.key"):
        opts.tls_context(reg.host)
    (certs / reg.host / "client.key").write_bytes(key.read_bytes())
    assert isinstance(opts.tls_context(reg.host), ssl.SSLContext)
