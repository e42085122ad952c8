"""``dockyard daemon`` flags: --config-file, several -H, --docker-socket, one daemon per root."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from daemon_helpers import DOCKYARD, Daemon

pytestmark = pytest.mark.needs_root


def test_config_file_sockets_and_root_lock(daemon: Daemon, short_tmp: object) -> None:
    d = daemon
    d.stop()
    extra = os.path.join(d.dir, "extra.sock")
    docker_sock = os.path.join(d.dir, "docker.sock")
    conf = os.path.join(d.dir, "daemon.json")
    with open(conf, "w") as f:
        json.dump({"hosts": [d.host, "unix://" + extra], "log-opts": {"max-size": "1k"}}, f)
    log = open(os.path.join(d.dir, "daemon.log"), "ab")
    d.proc = subprocess.Popen([DOCKYARD, "daemon", "--root", d.root, "--run-root", d.run_root,
                               "--config-file", conf, f"--docker-socket={docker_sock}",
                               "--bridge", "none"],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    import time

    for _ in range(200):
        if all(os.path.exists(p) for p in (d.sock, extra, docker_sock)):
            break
        time.sleep(0.05)
    for sock in (d.sock, extra, docker_sock):
        env = {**os.environ, "DOCKER_HOST": "unix://" + sock, "DOCKER_CONFIG": d.dir}
        r = subprocess.run(["/usr/local/bin/docker", "version", "--format",
                            "{{.Server.APIVersion}}"], capture_output=True, env=env, timeout=30)
        assert r.stdout == b"1.50\n", r.stderr
        assert os.stat(sock).st_mode & 0o777 == 0o660
    # daemon-wide log options reach new containers: rotation at 1k
    d.docker("run", "--name", "rot", "busybox", "sh", "-c", "seq 1 400", check=True)
    path = d.docker("inspect", "-f", "{{.LogPath}}", "rot", check=True).stdout.decode().strip()
    assert os.path.getsize(path) <= 1024 and os.path.exists(path + ".1")
    # a second daemon on the same root is refused, and changes nothing
    r = subprocess.run([DOCKYARD, "daemon", "--root", d.root, "--run-root", d.run_root + "2",
                        "-H", f"unix://{d.dir}/second.sock"], capture_output=True, timeout=30)
    assert r.returncode != 0 and b"another dockyard daemon is running" in r.stderr
    assert not os.path.exists(f"{d.dir}/second.sock")


def test_bad_daemon_flags(short_tmp: object) -> None:
    root = str(short_tmp)
    bad = os.path.join(root, "bad.json")
    with open(bad, "w") as f:
        f.write('{"hosts": ["unix:///x"], "no-such-key": 1}')
    r = subprocess.run([DOCKYARD, "daemon", "--root", root + "/r", "--config-file", bad],
                       capture_output=True, timeout=30)
    assert r.returncode == 2 and b"no-such-key" in r.stderr
    r = subprocess.run([DOCKYARD, "daemon", "--root", root + "/r", "-H", "tcp://0.0.0.0:2375"],
                       capture_output=True, timeout=30)
    assert r.returncode == 2 and b"only unix://" in r.stderr
    assert not os.path.exists(root + "/r")
