"""The engine's pure parts: names, the json-file writer and reader, users, detach keys."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dockyard.engine import logfile, names
from dockyard.engine.attach import parse_detach_keys
from dockyard.engine.bundle import capabilities, merge_env, resolve_user
from dockyard.engine.errors import InvalidParameter
from dockyard.engine.model import Container, ContainerConfig, HostConfig
from dockyard.units import human_duration


@pytest.mark.parametrize("bad", ["a", "", "-x", "/", "a b", "../etc", "x/y", "名前", ".hidden"])
def test_invalid_names_are_refused(bad: str) -> None:
    with pytest.raises(InvalidParameter, match="Invalid container name"):
        names.validate(bad)


def test_valid_and_random_names() -> None:
    assert names.validate("/web_1.x-y") == "web_1.x-y"
    for i in range(50):
        names.validate(names.random_name(i % 7))


def test_json_file_lines_partials_split_and_rotation(tmp_path: Path) -> None:
    path = str(tmp_path / "c-json.log")
    w = logfile.JsonFileWriter(path, max_size=300, max_file=3)
    w.write("stdout", b"one\ntw")
    w.write("stdout", b"o\n")
    w.write("stderr", b"x" * (logfile.SPLIT + 5))  # no newline: split at 16 KiB
    w.close()  # flushes the partial rest
    recs = list(logfile.read(path))
    assert [(s, d) for s, d, _ in recs][:2] == [("stdout", b"one\n"), ("stdout", b"two\n")]
    assert recs[-1][:2] == ("stderr", b"xxxxx")
    assert os.path.exists(path + ".1") and not os.path.exists(path + ".3")
    path = str(tmp_path / "d-json.log")
    w = logfile.JsonFileWriter(path, max_size=200, max_file=2)
    for i in range(50):
        w.write("stdout", f"line {i}\n".encode())
    w.close()
    assert logfile.files(path) == [path + ".1", path]
    assert all(os.path.getsize(p) <= 200 for p in logfile.files(path))
    last = [json.loads(x) for x in open(path)][-1]
    assert last["log"] == "line 49\n" and last["stream"] == "stdout" and last["time"].endswith("Z")


def test_log_sizes_and_times() -> None:
    assert logfile.parse_size("10m") == 10 * 1024 * 1024
    assert logfile.parse_size("512k") == 512 * 1024
    assert logfile.parse_size("-1") == -1
    for bad in ("ten", "10x", ""):
        with pytest.raises(ValueError, match="max-size"):
            logfile.parse_size(bad)
    ns = 1_700_000_000_123_456_789
    assert logfile.parse_rfc3339nano(logfile.rfc3339nano(ns)) == ns
    assert human_duration(0.5) == "Less than a second"
    assert human_duration(90) == "About a minute"
    assert human_duration(7200) == "2 hours"


def test_detach_keys() -> None:
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("a,ctrl-@") == b"a\x00"
    with pytest.raises(InvalidParameter, match="detach keys"):
        parse_detach_keys("ctrl-1")


def test_users_resolve_inside_the_rootfs_only(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\napp:x:1001:\nextra:x:2000:app\n")
    assert resolve_user(str(root), "app") == (1000, 1001, [2000])
    assert resolve_user(str(root), "app:root") == (1000, 0, [2000])
    assert resolve_user(str(root), "4242:7") == (4242, 7, [])
    with pytest.raises(InvalidParameter, match="no matching entries"):
        resolve_user(str(root), "nobody-here")
    # An image whose /etc/passwd is a link out of its rootfs: the host's file
    # must not be read (a name that exists only on the host is not found).
    host = tmp_path / "host-passwd"
    host.write_text("hostonly:x:5:5::/:/bin/sh\n")
    (root / "etc" / "passwd").unlink()
    (root / "etc" / "passwd").symlink_to(host)
    with pytest.raises(InvalidParameter, match="no matching entries"):
        resolve_user(str(root), "hostonly")


def test_env_merge_and_capabilities() -> None:
    env = merge_env(["PATH=/img", "A=1"], ["A=2", "B=3"], tty=True, hostname="h")
    assert env == ["PATH=/img", "HOSTNAME=h", "TERM=xterm", "A=2", "B=3"]
    with pytest.raises(InvalidParameter):
        merge_env([], ["=x"], tty=False, hostname="h")

    def caps(**hc: object) -> list[str]:
        c = Container(Id="x", Created="", Path="", Args=[], Image="", Name="",
                      Config=ContainerConfig(), HostConfig=HostConfig(**hc))  # type: ignore[arg-type]
        return capabilities(c)

    assert "CAP_NET_RAW" in caps() and "CAP_SYS_ADMIN" not in caps()
    assert "CAP_SYS_ADMIN" in caps(CapAdd=["SYS_ADMIN"])
    assert "CAP_NET_RAW" not in caps(CapDrop=["net_raw"])
    assert caps(CapDrop=["ALL"], CapAdd=["CHOWN"]) == ["CAP_CHOWN"]
    with pytest.raises(InvalidParameter, match="unknown capability"):
        caps(CapAdd=["CAP_NOPE"])
