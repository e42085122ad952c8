"""``create``, ``pause``/``unpause``, ``top``, ``port``, ``images``, ``ls``,
``scale``, ``wait`` — through the real ``dockyard compose`` CLI against a
private daemon (``--bridge none``), checked on the engine directly."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from test_compose_up_cli import compose, daemon  # noqa: F401  (fixtures)


def test_create_pause_top_port_images_ls_scale_wait(compose: Any) -> None:  # noqa: F811
    c = compose("cmds_misc")
    p = c.project
    # create: containers made, none started
    c("create")
    assert {n: c.inspect(n)["State"]["Status"] for n in c.ids()} == {
        f"{p}-web-1": "created", f"{p}-job-1": "created"}
    assert [x["Name"] for x in json.loads(c("ls", "--format", "json").stdout)
            if x["Name"] == p] == []  # nothing running: not listed without -a
    [mine] = [x for x in json.loads(c("ls", "-a", "--format", "json").stdout) if x["Name"] == p]
    assert mine["Status"] == "created(2)" and mine["ConfigFiles"].endswith("compose.yaml")
    c("up", "-d")

    # ls: projects from labels, no compose file needed
    [mine] = [x for x in json.loads(c("ls", "--format", "json").stdout) if x["Name"] == p]
    assert mine["Status"] == "running(2)"
    # a container with the project's label but no config hash (one of an image compose
    # built inherits the label) is no member: not counted
    c.d.docker("run", "-d", "--name", f"{p}-stray", "--label", f"com.docker.compose.project={p}",
               "busybox", "sleep", "60", check=True)
    [mine] = [x for x in json.loads(c("ls", "--format", "json").stdout) if x["Name"] == p]
    assert mine["Status"] == "running(2)"
    c.d.docker("rm", "-f", f"{p}-stray", check=True)

    # pause / unpause
    c("pause", "web")
    assert c.inspect(f"{p}-web-1")["State"]["Paused"] is True
    assert c.inspect(f"{p}-job-1")["State"]["Paused"] is False
    c("unpause")
    assert c.inspect(f"{p}-web-1")["State"]["Paused"] is False

    # top: the container's name, then its processes
    out = c("top", "web").stdout
    assert out.startswith(f"{p}-web-1\n") and "httpd -f -p 8080" in out and "PID" in out

    # port: the published ephemeral port, and it serves
    addr = c("port", "web", "8080").stdout.strip()
    host, _, number = addr.rpartition(":")
    assert host == "127.0.0.1" and int(number) > 0
    assert urllib.request.urlopen(f"http://{addr}/", timeout=10).read() == b"hi\n"
    for args, message in ((("port", "web", "99999"), "expected 1-65535"),
                          (("port", "web", "9090"), "no port 9090/tcp"),
                          (("port", "nosuch", "80"), "no such service")):
        r = c(*args, check=False)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)

    # images: the image of every container
    items = json.loads(c("images", "--format", "json").stdout)
    assert sorted((i["ContainerName"], i["Repository"], i["Tag"]) for i in items) == [
        (f"{p}-job-1", "busybox", "latest"), (f"{p}-web-1", "busybox", "latest")]
    assert all(i["ID"].startswith("sha256:") and i["Size"] > 0 for i in items)
    assert c("images").stdout.splitlines()[0].split() == [
        "CONTAINER", "REPOSITORY", "TAG", "IMAGE", "ID", "SIZE"]

    # scale: more replicas of job only
    c("scale", "job=2")
    assert sorted(c.ids()) == [f"{p}-job-1", f"{p}-job-2", f"{p}-web-1"]
    r = c("scale", "job=x", check=False)
    assert r.returncode != 0 and "expected SERVICE=NUM" in r.stderr

    # wait: blocks until both job replicas exit, prints their codes
    for n in (1, 2):
        c("exec", "-T", "--index", str(n), "job", "touch", "/tmp/go")
    r = c("wait", "job", check=False)
    assert r.returncode == 4 and r.stdout.split() == ["4", "4"], r.stderr
    assert c.inspect(f"{p}-web-1")["State"]["Running"] is True


def test_cp_both_ways_and_no_escape(compose: Any, tmp_path: Any) -> None:  # noqa: F811
    c = compose("up_scale")
    c("up", "-d")
    src = tmp_path / "note.txt"
    src.write_text("from-host\n")
    # into the container: under a new name, then into an existing directory
    c("cp", str(src), "worker:/tmp/renamed.txt")
    c("cp", str(src), "worker:/tmp")
    assert c("exec", "-T", "worker", "cat", "/tmp/renamed.txt", "/tmp/note.txt").stdout == \
        "from-host\nfrom-host\n"
    # out of the container: a directory, into an existing local directory and renamed
    c("exec", "-T", "worker", "sh", "-c", "mkdir -p /tmp/d/sub && echo deep > /tmp/d/sub/f")
    c("cp", "worker:/tmp/d", str(tmp_path))
    assert (tmp_path / "d" / "sub" / "f").read_text() == "deep\n"
    c("cp", "worker:/tmp/d/sub/f", str(tmp_path / "copy.txt"))
    assert (tmp_path / "copy.txt").read_text() == "deep\n"
    # a link in the container pointing out of the destination is refused, nothing written
    c("exec", "-T", "worker", "sh", "-c", "mkdir /tmp/evil && ln -s ../../../etc/passwd "
      "/tmp/evil/pw && ln -s /etc/shadow /tmp/evil/sh")
    out = tmp_path / "out"
    out.mkdir()
    r = c("cp", "worker:/tmp/evil", str(out), check=False)
    assert r.returncode != 0 and "refused to extract" in r.stderr, r.stderr
    assert not (out / "evil" / "pw").is_symlink() and not (out / "evil" / "sh").is_symlink()
    for args, message in ((("cp", str(src), str(tmp_path / "x")), "exactly one of"),
                          (("cp", "nosuch:/x", str(tmp_path)), "no such service: nosuch"),
                          (("cp", str(tmp_path / "missing"), "worker:/tmp"), "does not exist")):
        r = c(*args, check=False)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)


def test_events_of_this_project_only(compose: Any) -> None:  # noqa: F811
    a, b = compose("up_scale"), compose("up_scale")
    since = f"{time.time():.9f}"
    a("up", "-d")
    b("up", "-d")
    a("pause")
    a("unpause")
    until = f"{time.time() + 0.5:.9f}"
    r = a("events", "--json", "--since", since, "--until", until)
    events = [json.loads(line) for line in r.stdout.splitlines()]
    [wid] = a.ids().values()
    assert {e["id"] for e in events} == {wid}
    assert {e["service"] for e in events} == {"worker"}
    actions = [e["action"] for e in events]
    assert {"create", "start", "pause", "unpause"} <= set(actions), actions
    assert actions.index("create") < actions.index("start") < actions.index("pause") \
        < actions.index("unpause")
    assert events[0]["attributes"]["name"] == f"{a.project}-worker-1"
    assert events[0]["time"].endswith("Z") and events[0]["type"] == "container"
    text = a("events", "--since", since, "--until", f"{time.time():.9f}").stdout.splitlines()
    assert len(text) == len(events) and f" container pause {wid} (" in "\n".join(text)
