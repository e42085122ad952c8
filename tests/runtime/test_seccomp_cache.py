"""The CLI's cache of compiled seccomp filters (runtime/seccomp_cache.py), seen from inside.

The first ``run`` with a profile compiles it and keeps the program under
``<root>/.seccomp@cache/``; later ones load that program without pyseccomp.
Each case checks what the container sees (the filter really is in force,
the same as compiled), and that a stale, corrupt or planted entry is never
trusted: it is compiled anew and the entry replaced.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from rt_helpers import CLI, DOCKYARD_RUNTIME, Bundle, in_container

from dockyard.runtime.seccomp_cache import CACHE_DIR

pytestmark = pytest.mark.needs_root

PROFILE = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 30}],
}
SCRIPT = "grep Seccomp: /proc/self/status; mkdir /tmp/d 2>&1; echo mkdir=$?"


@pytest.fixture
def bundle(bundle: Bundle) -> Bundle:
    bundle.config["root"]["readonly"] = False  # mkdir must fail because of the filter alone
    bundle.linux["seccomp"] = PROFILE
    return bundle


def _entries(cli: CLI) -> list[Path]:
    d = cli.root / CACHE_DIR
    return sorted(d.iterdir()) if d.is_dir() else []


def _filtered(cli: CLI, bundle: Bundle, cid: str) -> None:
    done = in_container(cli, bundle, SCRIPT, cid)
    assert done.returncode == 0, done.stderr
    assert "Seccomp:\t2" in done.stdout  # mode 2: a filter
    assert "Read-only file system" in done.stdout and "mkdir=1" in done.stdout  # errnoRet 30


def _imports_pyseccomp(cli: CLI, bundle: Bundle, cid: str) -> bool:
    """Did a `run` import pyseccomp (python -X importtime; stderr to a file: the init holds it)."""
    bundle.config["process"]["args"] = ["true"]
    bundle.write()
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.run([sys.executable, "-X", "importtime", DOCKYARD_RUNTIME, "--root", str(cli.root),
                            "run", "--bundle", str(bundle.path), cid],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, timeout=60)
        err.seek(0)
        text = err.read()
    assert p.returncode == 0, text[-2000:]
    return any(line.rsplit("|", 1)[-1].strip() == "pyseccomp" for line in text.splitlines())


def test_second_run_loads_the_kept_program(cli: CLI, bundle: Bundle, unique: str) -> None:
    _filtered(cli, bundle, f"{unique}-1")  # compiled, then kept
    [entry] = _entries(cli)
    assert (os.stat(entry).st_mode & 0o777) == 0o600
    assert (os.stat(entry.parent).st_mode & 0o777) == 0o700
    kept = entry.read_bytes()
    _filtered(cli, bundle, f"{unique}-2")  # from the cache: the same filter in force
    assert entry.read_bytes() == kept
    assert not _imports_pyseccomp(cli, bundle, f"{unique}-3")
    assert not (cli.root / f"{unique}-1").exists() and cli("list", "-q").stdout.split() == []


def test_a_different_profile_is_another_entry(cli: CLI, bundle: Bundle, unique: str) -> None:
    _filtered(cli, bundle, f"{unique}-1")
    bundle.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ALLOW"}]}
    done = in_container(cli, bundle, SCRIPT, f"{unique}-2")
    assert "mkdir=0" in done.stdout, done.stdout  # not the first profile's program
    assert len(_entries(cli)) == 2


def _rewrite_header(entry: Path, **changes: object) -> None:
    head, _, bpf = entry.read_bytes().partition(b"\n")
    meta = json.loads(head)
    meta.update(changes)
    entry.write_bytes(json.dumps(meta).encode() + b"\n" + bpf)


@pytest.mark.parametrize("damage", ["other-libseccomp", "other-rules", "truncated", "garbage", "version",
                                    "others-may-write"])
def test_a_stale_or_damaged_entry_is_compiled_anew(cli: CLI, bundle: Bundle, unique: str,
                                                   damage: str) -> None:
    _filtered(cli, bundle, f"{unique}-1")
    [entry] = _entries(cli)
    good = entry.read_bytes()
    meta = json.loads(good.partition(b"\n")[0])
    if damage == "other-libseccomp":
        _rewrite_header(entry, lib=[meta["lib"][0], meta["lib"][1] + 1, meta["lib"][2]])
    elif damage == "other-rules":
        _rewrite_header(entry, src=[meta["src"][0], meta["src"][1], meta["src"][2] - 1])
    elif damage == "truncated":
        entry.write_bytes(good[:-8])
    elif damage == "garbage":
        entry.write_bytes(b"\x00" * 64)
    elif damage == "version":
        _rewrite_header(entry, v=0)
    else:
        os.chmod(entry, 0o666)
    assert _imports_pyseccomp(cli, bundle, f"{unique}-2")  # a miss: compiled again
    assert entry.read_bytes() == good  # and the entry is whole again
    assert (os.stat(entry).st_mode & 0o777) == 0o600
    bundle.config["process"]["args"] = ["sh", "-c", SCRIPT]
    _filtered(cli, bundle, f"{unique}-3")


def test_an_allow_all_program_planted_through_a_symlink_is_not_loaded(
        cli: CLI, bundle: Bundle, unique: str, tmp_path: Path) -> None:
    """An attack: the entry made a symlink to a well-formed entry whose program allows everything.

    The cache opens entries without following symlinks: the container still gets
    its profile, the entry is rewritten in place of the link, the target is left alone.
    """
    _filtered(cli, bundle, f"{unique}-1")
    [entry] = _entries(cli)
    good = entry.read_bytes()
    meta = json.loads(good.partition(b"\n")[0])
    # struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}: BPF_RET|BPF_K, SECCOMP_RET_ALLOW
    allow_all = (0x06).to_bytes(2, "little") + b"\x00\x00" + (0x7FFF0000).to_bytes(4, "little")
    meta["len"] = len(allow_all)
    planted = tmp_path / "planted"
    planted.write_bytes(json.dumps(meta).encode() + b"\n" + allow_all)
    before = planted.read_bytes()
    entry.unlink()
    entry.symlink_to(planted)
    _filtered(cli, bundle, f"{unique}-2")
    assert not entry.is_symlink() and entry.read_bytes() == good
    assert planted.read_bytes() == before
    # The same entry as a plain file would be loaded (only root writes there, 0700):
    # that is what makes this test able to fail if the symlink were followed.
    entry.write_bytes(before)
    done = in_container(cli, bundle, SCRIPT, f"{unique}-3")
    assert "mkdir=0" in done.stdout, done.stdout


def test_a_bad_profile_is_refused_and_never_kept(cli: CLI, bundle: Bundle, unique: str) -> None:
    bundle.linux["seccomp"] = {"defaultAction": "SCMP_ACT_BOGUS"}
    bundle.write()
    done = cli.run(f"{unique}-1", bundle)
    assert done.returncode != 0 and "defaultAction" in done.stderr
    assert _entries(cli) == []
    assert not (cli.root / f"{unique}-1").exists()


def test_exec_uses_the_program_create_kept(cli: CLI, bundle: Bundle, unique: str) -> None:
    """``exec`` (runc's, for ``docker exec``) finds the entry ``create`` made for the same profile."""
    bundle.config["process"]["args"] = ["sleep", "60"]
    assert cli.create(unique, bundle).returncode == 0
    [entry] = _entries(cli)
    kept = entry.read_bytes()
    assert cli("start", unique).returncode == 0
    r = cli("exec", unique, "sh", "-c", SCRIPT)
    assert r.returncode == 0, r.stderr
    assert "Seccomp:\t2" in r.stdout and "mkdir=1" in r.stdout
    assert entry.read_bytes() == kept and len(_entries(cli)) == 1
    assert cli("delete", "--force", unique).returncode == 0


def test_the_cache_is_no_container(cli: CLI, bundle: Bundle, unique: str) -> None:
    """``list`` does not show it, and no container id can name it (``@`` is not allowed)."""
    _filtered(cli, bundle, f"{unique}-1")
    assert (cli.root / CACHE_DIR).is_dir()
    assert cli("list", "-q").stdout == ""
    r = cli("state", CACHE_DIR)
    assert r.returncode != 0 and "invalid container id" in r.stderr
