"""The CLI's config.json decoder (runtime.config) against oci.runtime's msgspec types.

``create`` decodes config.json without msgspec (its import cost more than
the rest of a container's creation); these tests hold the two decoders to
one behaviour: the field table is the msgspec types' (a change to
oci/runtime.py that is not mirrored fails here, printing the new table),
every value decodes the same, and every bad input fails with the same
message. Also ``jsonio`` (json's C codec without the json package): same
output as ``json``, and its errors are ``json``'s even in a fresh
interpreter where ``json`` was never imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest
from rt_helpers import RUNC

import dockyard.oci.runtime as R
from dockyard.oci.errors import InvalidSpecError
from dockyard.runtime import config, jsonio
from dockyard.runtime.config_fields import FIELDS
from dockyard.runtime.errors import InvalidConfig
from dockyard.runtime.spec import default_spec_dict


def _code(t: Any) -> str:
    args = typing.get_args(t)
    origin = typing.get_origin(t)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        assert len(inner) == 1 and len(args) == 2, t
        return "?" + _code(inner[0])
    if origin is list:
        return "[" + _code(args[0]) + "]"
    if origin is dict:
        assert args[0] is str, t
        return "{" + _code(args[1]) + "}"
    if t in (bool, int, str):
        return str(t.__name__)
    assert isinstance(t, type) and issubclass(t, msgspec.Struct), t
    return t.__name__


def expected_table() -> dict[str, tuple[tuple[str, str, str, str, object], ...]]:
    """The table config_fields.py must hold, from the msgspec types reachable from Spec."""
    out: dict[str, tuple[tuple[str, str, str, str, object], ...]] = {}
    todo = ["Spec"]
    while todo:
        name = todo.pop(0)
        if name in out:
            continue
        rows = []
        for f in msgspec.structs.fields(getattr(R, name)):
            code = _code(f.type)
            if f.default is not msgspec.NODEFAULT:
                kind, default = "=", f.default
            elif f.default_factory is not msgspec.NODEFAULT:
                kind, default = "()", f.default_factory.__name__
            else:
                kind, default = "!", None
            rows.append((f.name, f.encode_name, code, kind, default))
            todo += [p for p in code.translate(str.maketrans("?[]{}", "     ")).split() if p[0].isupper()]
        out[name] = tuple(rows)
    return out


def test_field_table_matches_the_msgspec_types() -> None:
    want = expected_table()
    if FIELDS != want:
        body = "".join(f"    {n!r}: (\n" + "".join(f"        {r!r},\n" for r in rows) + "    ),\n"
                       for n, rows in want.items())
        pytest.fail("src/dockyard/runtime/config_fields.py is out of date; FIELDS should be:\n{\n"
                    + body + "}")


RICH: dict[str, Any] = {
    "ociVersion": "1.2.0",
    "process": {
        "terminal": True, "consoleSize": {"height": 24, "width": 80},
        "user": {"uid": 1, "gid": 2, "umask": 18, "additionalGids": [3, 4], "username": "u"},
        "args": ["sh", "-c", "x"], "commandLine": "sh", "env": ["A=b"], "cwd": "/w",
        "capabilities": {"bounding": ["CAP_KILL"], "effective": [], "ambient": ["CAP_CHOWN"]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 5}],
        "noNewPrivileges": True, "apparmorProfile": "p", "oomScoreAdj": -5, "selinuxLabel": "l",
        "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 4},
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "h", "domainname": "d",
    "mounts": [{"destination": "/m", "type": "bind", "source": "/s", "options": ["rbind", "ro"],
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}],
    "hooks": {"prestart": [{"path": "/bin/true", "args": ["true"], "env": ["X=1"], "timeout": 5}],
              "poststop": [{"path": "/bin/false"}]},
    "annotations": {"a": "b"},
    "linux": {
        "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        "sysctl": {"net.ipv4.ip_forward": "1"},
        "resources": {
            "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1,
                                                            "minor": 3, "access": "rw"}],
            "memory": {"limit": 1 << 30, "swap": 2 << 30, "kernelTCP": 5, "disableOOMKiller": False,
                       "swappiness": 10, "useHierarchy": True, "checkBeforeUpdate": True},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0",
                    "realtimeRuntime": 1, "realtimePeriod": 2, "burst": 3, "idle": 0},
            "pids": {"limit": 64},
            "blockIO": {"weight": 100, "leafWeight": 10,
                        "weightDevice": [{"major": 8, "minor": 0, "weight": 50}],
                        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                        "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 10}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
            "network": {"classID": 7, "priorities": [{"name": "eth0", "priority": 1}]},
            "unified": {"memory.high": "max"},
        },
        "cgroupsPath": "/x/y",
        "namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"},
                       {"type": "mount"}],
        "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                     "fileMode": 438, "uid": 0, "gid": 0}],
        "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                    "architectures": ["SCMP_ARCH_X86_64"], "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                    "listenerPath": "/l", "listenerMetadata": "m",
                    "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 2,
                                  "args": [{"index": 0, "value": 1, "valueTwo": 2, "op": "SCMP_CMP_EQ"}]}]},
        "rootfsPropagation": "rslave", "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
        "mountLabel": "m", "personality": {"domain": "LINUX", "flags": []},
    },
    "unknownTopLevel": {"ignored": True},
}


def test_runc_spec_decodes_like_msgspec(tmp_path: Path) -> None:
    subprocess.run([RUNC, "spec", "--bundle", str(tmp_path)], check=True)
    raw = (tmp_path / "config.json").read_bytes()
    assert config.to_builtins(config.load_config(raw)) == config.to_builtins(R.load_config(raw))


@pytest.mark.parametrize("doc", [
    RICH,
    default_spec_dict(["sh"]),
    {"ociVersion": "1.0.0"},
    {"ociVersion": "1.0.2-dev", "process": {"args": ["x"], "user": {}}, "linux": {"resources": {}}},
    {"ociVersion": "1.1.0", "linux": {"resources": {"blockIO": {}}}, "process": {"user": {"uid": 2**70}}},
], ids=["rich", "default", "minimal", "empties", "defaults-and-bigint"])
def test_views_decode_like_msgspec(doc: dict[str, Any]) -> None:
    raw = json.dumps(doc).encode()
    want = R.load_config(raw)
    got = config.load_config(raw)
    assert config.to_builtins(got) == config.to_builtins(want)
    assert got == want
    # Defaults that are fresh objects stay per instance (msgspec's default_factory).
    if want.process is not None:
        assert got.process is not None
        assert type(got.process.user).__name__ == "User"
    again = config.load_config(raw)
    if got.linux and got.linux.resources and got.linux.resources.block_io:
        assert again.linux and again.linux.resources and again.linux.resources.block_io
        assert (got.linux.resources.block_io.throttle_read_iops_device
                is not again.linux.resources.block_io.throttle_read_iops_device)


@pytest.mark.parametrize("doc", [
    {"ociVersion": "1.0.2", "process": {"user": {"uid": "x"}}},
    {"ociVersion": "1.0.2", "process": {"user": {"uid": True}}},
    {"ociVersion": "1.0.2", "process": {"user": {"uid": 1.0}}},
    {"ociVersion": "1.0.2", "process": {"user": {"umask": "x"}}},
    {"ociVersion": "1.0.2", "process": {"user": None}},
    {"ociVersion": "1.0.2", "process": {"args": [1]}},
    {"ociVersion": "1.0.2", "process": {"args": "x"}},
    {"ociVersion": "1.0.2", "process": {"terminal": 1}},
    {"ociVersion": "1.0.2", "root": {}},
    {"ociVersion": "1.0.2", "root": []},
    {"ociVersion": "1.0.2", "annotations": {"a": 1}},
    {"ociVersion": "1.0.2", "linux": {"sysctl": {"a": None}}},
    {"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "pid"}, {"type": 5}]}},
    {"ociVersion": "1.0.2", "linux": {"namespaces": [{"path": "/x"}]}},
    {"ociVersion": "1.0", "linux": {"resources": {"blockIO": {"throttleReadIOPSDevice": None}}}},
    {"ociVersion": "1.0", "linux": {"resources": {"devices": [{"access": "rwm"}]}}},
    {"ociVersion": "1.0", "linux": {"uidMappings": [{"containerID": 0, "hostID": 0}]}},
    {"ociVersion": "1.0", "hooks": {"prestart": [{"path": 1}]}},
    {"ociVersion": None},
    {"ociVersion": "2.0.0"},
    {"ociVersion": "x"},
    {"ociVersion": "1.0", "linux": {"namespaces": [{"type": "pid"}, {"type": "bogus"}]}},
    {"ociVersion": "1.0", "linux": {"namespaces": [{"type": "pid"}, {"type": "pid"}]}},
    {},
    [],
    "text",
])
def test_bad_config_fails_with_msgspecs_message(doc: object) -> None:
    raw = json.dumps(doc)
    with pytest.raises(InvalidSpecError) as want:
        R.load_config(raw)
    with pytest.raises(InvalidConfig) as got:
        config.load_config(raw)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("raw", [b"", b"{", b"{not json", b'{"a":1,}', b"\xff", b"[1,]"])
def test_malformed_json_names_config_json(raw: bytes) -> None:
    with pytest.raises(InvalidConfig, match=r"^config\.json: malformed JSON: "):
        config.load_config(raw)


def test_new_and_replace_fill_defaults_and_copy() -> None:
    rule = config.new("LinuxDeviceCgroup", allow=True, type="c", major=1, minor=3, access="rwm")
    assert rule == R.LinuxDeviceCgroup(allow=True, type="c", major=1, minor=3, access="rwm")
    res = config.new("LinuxResources")
    assert res == R.LinuxResources()
    changed = config.replace(res, devices=[rule])
    assert changed.devices == [rule] and res.devices is None
    struct = config.replace(R.LinuxResources(), devices=[])
    assert isinstance(struct, R.LinuxResources) and struct.devices == []
    with pytest.raises(TypeError, match="allow"):
        config.new("LinuxDeviceCgroup")
    with pytest.raises(TypeError, match="bogus"):
        config.new("LinuxPids", limit=1, bogus=2)
    with pytest.raises(AttributeError):
        rule.bogus = 1  # type: ignore[attr-defined]  # slots: a typo is an error, as on a struct


@pytest.mark.parametrize("doc", [
    {"a": 1, "b": [1, 2.5, None, True, False, "x\u00e9\n\"", {"c": {}}], "d": [], "e": -3e10},
    RICH, [], {}, "s", 1, None,
])
def test_jsonio_matches_json(doc: object) -> None:
    text = json.dumps(doc)
    assert jsonio.loads(text) == doc and jsonio.loads(("  \n" + text + " \n").encode()) == doc
    assert jsonio.dumps(doc) == json.dumps(doc, separators=(",", ":"))
    assert jsonio.dumps(doc, compact=False) == json.dumps(doc)
    assert jsonio.dumps_indent(doc) == json.dumps(doc, indent=2)


_FRESH = """
import sys
from dockyard.runtime import jsonio
assert "json" not in sys.modules
for bad in sys.argv[1:]:
    try:
        jsonio.loads(bad)
    except ValueError as e:
        print(type(e).__name__, e)
    else:
        print("accepted", bad)
"""


def test_jsonio_errors_are_jsons_in_a_fresh_interpreter() -> None:
    """_json raises through json.decoder: without json loaded, a SystemError (the trap)."""
    bad = ["{not json", "[1,", '{"a": "\\x"}', '"abc', '{"a" 1}', "{} x", ""]
    p = subprocess.run([sys.executable, "-c", _FRESH, *bad], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    want = []
    for b in bad:
        try:
            json.loads(b)
        except ValueError as e:
            want.append(f"{type(e).__name__} {e}")
    assert p.stdout.splitlines() == want
