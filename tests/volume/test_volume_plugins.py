"""Docker volume plugins end to end: a real plugin on a unix socket (volume_plugin.py)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from volume_plugin import MIME, VolumePlugin

from dockyard.volume import Conflict, VolumeService
from dockyard.volume.errors import DriverNotFound, PluginError, PluginTimeout


@pytest.fixture
def base(short_tmp: Path) -> Path:
    b = short_tmp / "plugdata"
    b.mkdir()
    return b


def test_protocol_end_to_end(svc: VolumeService, plugin_dirs, base: Path) -> None:
    sock = str(plugin_dirs[0] / "myplug.sock")
    with VolumePlugin(sock, str(base)) as plug:
        doc = svc.create("pv1", driver="myplug", driver_opts={"size": "1g"}, labels={"l": "1"})
        assert (base / "pv1").is_dir()  # the plugin really made it
        assert json.loads((base / "pv1" / ".opts").read_text()) == {"size": "1g"}
        assert doc["Driver"] == "myplug" and doc["Scope"] == "global"
        assert doc["Mountpoint"] == str(base / "pv1")
        assert svc.create("pv1", driver="myplug") == svc.inspect("pv1")  # idempotent
        assert svc.mount("pv1", "ctr-a") == str(base / "pv1")
        svc.mount("pv1", "ctr-b")
        assert plug.mounted["pv1"] == {"ctr-a", "ctr-b"}  # every user told by ID
        assert svc.inspect("pv1")["Status"] == {"mounted_by": ["ctr-a", "ctr-b"]}
        with pytest.raises(Conflict, match=r"in use - \[ctr-a, ctr-b\]"):
            svc.remove("pv1")
        svc.release("pv1", "ctr-a")
        svc.release("pv1", "ctr-b")
        assert plug.mounted["pv1"] == set()
        # volumes the plugin has but we never created show up in the list
        (base / "made-elsewhere").mkdir()
        listed = {d["Name"]: d["Driver"] for d in svc.list({"driver": ["myplug"]})}
        assert listed == {"pv1": "myplug", "made-elsewhere": "myplug"}
        svc.remove("pv1")
        assert not (base / "pv1").exists()
        methods = [c[0] for c in plug.calls]
        assert methods[0] == "Plugin.Activate" and methods.count("Plugin.Activate") == 1
        for m in ("VolumeDriver.Capabilities", "VolumeDriver.Create", "VolumeDriver.Mount",
                  "VolumeDriver.Unmount", "VolumeDriver.Get", "VolumeDriver.List",
                  "VolumeDriver.Remove"):
            assert m in methods
        assert {c[2] for c in plug.calls} == {MIME}
        create = next(c[1] for c in plug.calls if c[0] == "VolumeDriver.Create")
        assert create == {"Name": "pv1", "Opts": {"size": "1g"}}
        mount = next(c[1] for c in plug.calls if c[0] == "VolumeDriver.Mount")
        assert mount == {"Name": "pv1", "ID": "ctr-a"}


def test_plugin_err_is_reported_and_nothing_recorded(svc: VolumeService, plugin_dirs,
                                                      base: Path) -> None:
    with VolumePlugin(str(plugin_dirs[0] / "myplug.sock"), str(base)):
        with pytest.raises(PluginError, match="VolumeDriver.Create: refusing: fail option set"):
            svc.create("bad", driver="myplug", driver_opts={"fail": "1"})
        assert svc.list() == [] and not (base / "bad").exists()


def test_discovery_spec_json_and_subdir_socket(svc: VolumeService, plugin_dirs, base: Path,
                                               short_tmp: Path) -> None:
    socks, specs = plugin_dirs
    (socks / "nested").mkdir()
    elsewhere = short_tmp / "s"
    elsewhere.mkdir()
    (specs / "viaspec.spec").write_text(f"unix://{elsewhere}/a.sock\n")
    (specs / "viajson.json").write_text(json.dumps({"Name": "viajson",
                                                    "Addr": f"unix://{elsewhere}/b.sock"}))
    with VolumePlugin(str(socks / "nested" / "nested.sock"), str(base)), \
            VolumePlugin(str(elsewhere / "a.sock"), str(base)), \
            VolumePlugin(str(elsewhere / "b.sock"), str(base)):
        assert svc.plugins.names() == ["nested", "viajson", "viaspec"]
        for i, drv in enumerate(("nested", "viaspec", "viajson")):
            assert svc.create(f"v{i}x", driver=drv)["Driver"] == drv
        assert sorted(os.listdir(base)) == ["v0x", "v1x", "v2x"]
        for i in range(3):
            svc.remove(f"v{i}x")


def test_spec_file_with_a_tcp_address(svc: VolumeService, plugin_dirs, base: Path) -> None:
    with VolumePlugin("tcp://", str(base)) as plug:
        (plugin_dirs[1] / "overtcp.spec").write_text(plug.socket_path)
        assert svc.create("tv", driver="overtcp")["Mountpoint"] == str(base / "tv")
        svc.remove("tv")
        assert not (base / "tv").exists()


def test_missing_plugin_and_wrong_plugin(svc: VolumeService, plugin_dirs, base: Path) -> None:
    with pytest.raises(DriverNotFound, match="error looking up volume plugin nope: plugin 'nope'"
                                             " not found"):
        svc.create("vx", driver="nope")
    with VolumePlugin(str(plugin_dirs[0] / "netplug.sock"), str(base), mode="not-volume"):
        with pytest.raises(DriverNotFound, match="does not implement VolumeDriver"):
            svc.create("vx", driver="netplug")
    assert svc.list() == []


def test_hanging_plugin_times_out(svc: VolumeService, plugin_dirs, base: Path) -> None:
    with VolumePlugin(str(plugin_dirs[0] / "slow.sock"), str(base), mode="hang"):
        t0 = time.monotonic()
        with pytest.raises(PluginTimeout, match=r"volume plugin slow: VolumeDriver\.\w+: no answer"
                                                r" within 2s"):
            svc.create("vx", driver="slow")
        assert time.monotonic() - t0 < 15  # capabilities + create at most, 2 s each (+ load)
    assert svc.list() == []


def test_nonsense_answers_are_clear_errors(svc: VolumeService, plugin_dirs, base: Path) -> None:
    with VolumePlugin(str(plugin_dirs[0] / "odd.sock"), str(base), mode="nonsense"):
        with pytest.raises(PluginError, match=r"VolumeDriver\.Create: invalid answer"):
            svc.create("vx", driver="odd")
        assert svc.list() == []
        drv = svc.plugins.get("odd")
        with pytest.raises(PluginError, match=r"VolumeDriver\.Mount: invalid answer.*Mountpoint"):
            drv.mount("vx", {}, first=True, ref="c1")
        with pytest.raises(PluginError, match=r"invalid answer"):
            drv.get("vx")
        with pytest.raises(PluginError, match=r"Path: Mountpoint must be an absolute host path, "
                                              r"got 'relative/dir'"):
            drv.path("vx")
