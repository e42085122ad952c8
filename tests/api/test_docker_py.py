"""docker-py (the `docker` package) as a client of the same API."""

from __future__ import annotations

import docker
import pytest
from daemon_helpers import Daemon

pytestmark = pytest.mark.needs_root


def test_docker_py_surface(shared_daemon: Daemon, unique: str) -> None:
    client = docker.DockerClient(base_url=shared_daemon.host, version="auto")
    try:
        assert client.ping() is True
        assert client.version()["ApiVersion"] == "1.50"
        assert client.containers.run("busybox", ["echo", "hi"], remove=True) == b"hi\n"
        c = client.containers.run("busybox", ["sleep", "100"], detach=True, name=unique,
                                  labels={"k": "v"}, environment={"A": "1"})
        assert c.status in ("created", "running")
        c.reload()
        assert c.status == "running" and c.labels["k"] == "v"
        res = c.exec_run(["sh", "-c", "echo $A out; echo err >&2; exit 3"])
        assert res.exit_code == 3 and b"1 out\n" in res.output and b"err\n" in res.output
        assert list(c.exec_run(["echo", "streamed"], stream=True).output) == [b"streamed\n"]
        assert [x.name for x in client.containers.list(filters={"label": "k=v"})] == [unique]
        with pytest.raises(docker.errors.APIError) as err:
            client.containers.run("busybox", "true", name=unique)
        assert err.value.status_code == 409
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(unique + "-nope")
        c.kill()
        assert c.wait()["StatusCode"] == 137
        c.remove()
        with pytest.raises(docker.errors.NotFound):
            c.reload()
    finally:
        client.close()


def test_short_exec_is_not_running_once_its_output_ended(shared_daemon: Daemon, unique: str) -> None:
    """A process that exits before the exec-started reply is handled was
    once reported ``Running: true`` for good (its exit landed first)."""
    client = docker.DockerClient(base_url=shared_daemon.host, version="auto")
    c = client.containers.run("busybox", ["sleep", "100"], detach=True, name=unique)
    try:
        for i in range(8):
            ex = client.api.exec_create(c.id, ["sh", "-c", f"echo {i}; exit {i}"])
            assert client.api.exec_start(ex["Id"]) == f"{i}\n".encode()
            info = client.api.exec_inspect(ex["Id"])
            assert (info["Running"], info["ExitCode"]) == (False, i), info
    finally:
        c.remove(force=True)
        client.close()
