"""``POST /build`` and ``/build/prune`` proven with the real docker CLI
(``DOCKER_BUILDKIT=0 docker build``) and docker-py, plus the attacks and
a client that goes away mid-build."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import tarfile
import time

import docker
import pytest
from daemon_helpers import Daemon

MULTI_STAGE = """\
ARG BASE=busybox:latest
FROM $BASE AS gen
ARG GREETING=hi
COPY msg.txt /src/msg.txt
RUN echo "$GREETING from $(cat /src/msg.txt)" > /out.txt && echo generated
FROM busybox:latest
LABEL org.example.kind=multi
COPY --from=gen /out.txt /out.txt
CMD ["cat", "/out.txt"]
"""


def _context(tmp_path: object, dockerfile: str, **files: str) -> str:
    d = os.path.join(str(tmp_path), "ctx")
    os.makedirs(d)
    with open(os.path.join(d, "Dockerfile"), "w") as f:
        f.write(dockerfile)
    for name, text in files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    return d


def _legacy(d: Daemon, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    os.environ["DOCKER_BUILDKIT"] = "0"  # the docker CLI reads it from its environment
    try:
        return d.docker(*args, timeout=timeout)
    finally:
        del os.environ["DOCKER_BUILDKIT"]


def _tar(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _messages(body: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def test_docker_cli_multi_stage_build_then_run(shared_daemon: Daemon, unique: str, tmp_path: object) -> None:
    ctx = _context(tmp_path, MULTI_STAGE, **{"msg.txt": "world\n"})
    tag = f"{unique}-multi:1"
    r = _legacy(shared_daemon, "build", "--build-arg", "GREETING=hello", "--label", "extra=yes",
                "-t", tag, ctx)
    out = r.stdout.decode()
    assert r.returncode == 0, (out, r.stderr)
    assert "Step 1/" in out and "RUN echo" in out and "generated" in out
    assert f"Successfully tagged {tag}" in out
    built = out.split("Successfully built ")[1].split()[0]
    r = shared_daemon.docker("run", "--rm", tag, timeout=60, check=True)
    assert r.stdout == b"hello from world\n"
    r = shared_daemon.docker("image", "inspect", tag, check=True)
    img = json.loads(r.stdout)[0]
    assert img["Id"].removeprefix("sha256:").startswith(built)
    assert img["Config"]["Labels"] == {"org.example.kind": "multi", "extra": "yes"}
    assert img["Config"]["Cmd"] == ["cat", "/out.txt"]
    # A rebuild with nothing changed runs no step.
    r = _legacy(shared_daemon, "build", "--build-arg", "GREETING=hello", "--label", "extra=yes",
                "-t", tag, ctx)
    assert r.returncode == 0 and "Using cache" in r.stdout.decode()
    assert "\ngenerated\n" not in r.stdout.decode()


def test_docker_cli_failing_run(shared_daemon: Daemon, unique: str, tmp_path: object) -> None:
    ctx = _context(tmp_path, "FROM busybox:latest\nRUN echo boom-output; exit 3\n")
    tag = f"{unique}-fail:1"
    r = _legacy(shared_daemon, "build", "-t", tag, ctx)
    assert r.returncode == 3, (r.stdout, r.stderr)  # the RUN's exit code, as docker
    assert b"boom-output" in r.stdout
    assert b"The command '/bin/sh -c echo boom-output; exit 3' returned a non-zero code: 3" in r.stderr
    assert shared_daemon.docker("image", "inspect", tag).returncode != 0  # nothing tagged


def test_docker_py_build(shared_daemon: Daemon, unique: str, tmp_path: object) -> None:
    ctx = _context(tmp_path, "FROM busybox:latest\nARG WHO=nobody\nRUN echo \"hi $WHO\" > /who\n"
                             "CMD [\"cat\", \"/who\"]\n")
    client = docker.DockerClient(base_url=shared_daemon.host, timeout=60)
    try:
        tag = f"{unique}-py:1"
        image, logs = client.images.build(path=ctx, tag=tag, buildargs={"WHO": "docker-py"}, rm=True)
        lines = [m.get("stream", "") for m in logs]
        assert any(line.startswith("Step 2/") for line in lines)
        assert tag in image.tags
        assert client.containers.run(tag, remove=True) == b"hi docker-py\n"
        with pytest.raises(docker.errors.BuildError, match="returned a non-zero code: 7"):
            client.images.build(fileobj=io.BytesIO(b"FROM busybox:latest\nRUN exit 7\n"), tag=f"{unique}-py:2")
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(f"{unique}-py:2")
    finally:
        client.close()


def test_builder_prune(shared_daemon: Daemon, unique: str, tmp_path: object) -> None:
    ctx = _context(tmp_path, f"FROM busybox:latest\nRUN echo {unique} > /f\n")
    r = _legacy(shared_daemon, "build", "-q", ctx)
    assert r.returncode == 0 and r.stdout.startswith(b"sha256:")  # -q: only the ID (the aux message)
    r = shared_daemon.docker("builder", "prune", "-f", check=True)
    assert b"Total reclaimed space" in r.stdout
    with shared_daemon.api() as c:
        doc = c.post("/v1.45/build/prune").json()
        assert doc == {"CachesDeleted": [], "SpaceReclaimed": 0}  # nothing left
        bad = c.post("/build/prune", params={"filters": json.dumps({"until": ["soon"]})})
        assert bad.status_code == 400 and "until" in bad.json()["message"]


def test_context_escapes_refused(shared_daemon: Daemon, unique: str) -> None:
    victim = f"/tmp/{unique}-escaped"
    evil = _tar({"Dockerfile": b"FROM busybox:latest\n", f"../../../../..{victim}": b"pwned"})
    with shared_daemon.api() as c:
        r = c.post("/build", params={"t": f"{unique}-evil:1"}, content=evil,
                   headers={"Content-Type": "application/x-tar"})
        assert r.status_code == 200
        last = _messages(r.content)[-1]
        assert "outside the context" in str(last["error"])
        assert not os.path.exists(victim)
        # The Dockerfile path is checked before anything is read.
        r = c.post("/build", params={"dockerfile": "../etc/passwd"}, content=_tar({"a": b""}))
        assert r.status_code == 400 and "dockerfile" in r.json()["message"]
        # A Dockerfile that is a symlink out of the context is not read.
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            link = tarfile.TarInfo("Dockerfile")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/hostname"
            tar.addfile(link)
        r = c.post("/build", content=buf.getvalue())
        assert "outside the build context" in str(_messages(r.content)[-1]["error"])
        for q, word in (({"buildargs": "{nope"}, "buildargs"), ({"networkmode": "bridge"}, "networkmode"),
                        ({"shmsize": "big"}, "shmsize"), ({"version": "2"}, "version"),
                        ({"t": "Bad:Tag:x"}, "t: invalid tag")):
            r = c.post("/build", params=q, content=_tar({"Dockerfile": b"FROM busybox:latest\n"}))
            assert r.status_code == 400 and word in r.json()["message"], (q, r.text)
    assert shared_daemon.docker("image", "inspect", f"{unique}-evil:1").returncode != 0


def test_compressed_contexts(shared_daemon: Daemon, unique: str) -> None:
    import bz2
    import gzip
    import lzma

    plain = _tar({"Dockerfile": f"FROM busybox:latest\nLABEL dy.test={unique}\n".encode()})
    with shared_daemon.api() as c:
        for kind, pack in (("gz", gzip.compress), ("bz2", bz2.compress), ("xz", lzma.compress)):
            tag = f"{unique}-{kind}:1"
            r = c.post("/v1.41/build", params={"t": tag, "rm": "1", "forcerm": "0", "pull": "0",
                                              "extrahosts": "a:1.2.3.4", "memory": "0"},
                       content=pack(plain), headers={"X-Registry-Config": "e30="})
            msgs = _messages(r.content)
            assert r.status_code == 200 and "error" not in msgs[-1], (kind, msgs)
            image_id = next(m["aux"]["ID"] for m in msgs if "aux" in m)  # type: ignore[index]
            assert {"stream": f"Successfully tagged {tag}\n"} in msgs
            inspect = c.get(f"/images/{tag}/json").json()
            assert inspect["Id"] == image_id and inspect["Config"]["Labels"] == {"dy.test": unique}


def _build_processes(marker: str) -> list[int]:
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        pids.append(int(pid))
            except OSError:
                pass
    return pids


def test_client_disconnect_cancels_build(shared_daemon: Daemon, unique: str) -> None:
    marker = f"{unique}-sleeper"
    ctx = _tar({"Dockerfile": f"FROM busybox:latest\nRUN echo started; sleep 60; echo {marker}\n".encode()})
    s = socket.socket(socket.AF_UNIX)
    s.connect(shared_daemon.sock)
    s.sendall(b"POST /build?t=" + marker.encode() + b":1 HTTP/1.1\r\nHost: d\r\n"
              b"Content-Type: application/x-tar\r\nContent-Length: " + str(len(ctx)).encode()
              + b"\r\n\r\n" + ctx)
    got = b""
    deadline = time.monotonic() + 30
    while b'"started\\n"' not in got and time.monotonic() < deadline:
        got += s.recv(65536)
    assert b'"started\\n"' in got  # the RUN's output, not the Step line
    assert _build_processes(marker)  # the step is running
    s.close()
    deadline = time.monotonic() + 15
    while _build_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _build_processes(marker), "the step container outlived its client"
    build_tmp = os.path.join(shared_daemon.root, "build", "tmp")
    while time.monotonic() < deadline:
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if build_tmp in line]
        if not mounts and not os.listdir(build_tmp):
            break
        time.sleep(0.1)
    assert not mounts and not os.listdir(build_tmp)
    assert shared_daemon.docker("image", "inspect", f"{marker}:1").returncode != 0


def test_build_cancel_by_id(shared_daemon: Daemon, unique: str) -> None:
    import threading

    marker = f"{unique}-cancelme"
    ctx = _tar({"Dockerfile": f"FROM busybox:latest\nRUN echo started; sleep 60; echo {marker}\n".encode()})
    with shared_daemon.api() as c:
        assert c.post("/build/cancel", params={"id": marker}).status_code == 404
        seen = threading.Event()
        lines: list[dict[str, object]] = []

        def watch() -> None:
            deadline = time.monotonic() + 15
            while not _build_processes(marker) and time.monotonic() < deadline:
                time.sleep(0.05)
            seen.set()

        t = threading.Thread(target=watch)
        t.start()
        with c.stream("POST", "/build", params={"buildid": marker, "t": f"{marker}:1"}, content=ctx) as r:
            for line in r.iter_lines():
                if line.strip():
                    lines.append(json.loads(line))
                if lines and lines[-1].get("stream") == "started\n":
                    assert seen.wait(15)
                    assert c.post("/build/cancel", params={"id": marker}).status_code == 200
        t.join()
    assert "build cancelled" in str(lines[-1].get("error")), lines
    deadline = time.monotonic() + 5
    while _build_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _build_processes(marker)
    assert shared_daemon.docker("image", "inspect", f"{marker}:1").returncode != 0
