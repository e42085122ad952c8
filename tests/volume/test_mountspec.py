"""``-v`` and ``--mount`` parsing: Docker's semantics and its error wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.volume import InvalidMountSpec, parse_mount, parse_mount_flag, parse_volume
from dockyard.volume.mountspec import (
    check_duplicates,
    expand_volume_flag,
    parse_volumes_from,
    ram_in_bytes,
)


def test_short_syntax_kinds(tmp_path: Path) -> None:
    anon = parse_volume("/data")
    assert (anon.Type, anon.Name, anon.Destination, anon.RW, anon.CopyData) == \
        ("volume", "", "/data", True, True)
    named = parse_volume("cache:/var/cache:ro,nocopy")
    assert (named.Type, named.Name, named.RW, named.CopyData, named.Mode) == \
        ("volume", "cache", False, False, "ro,nocopy")
    bind = parse_volume(f"{tmp_path}/missing:/srv//x/:rw,Z,rshared")
    assert (bind.Type, bind.Source, bind.Destination, bind.Propagation, bind.Relabel) == \
        ("bind", f"{tmp_path}/missing", "/srv/x", "rshared", "Z")
    assert bind.CreateSource  # -v creates a missing source (later, at resolve time)
    assert not (tmp_path / "missing").exists()  # parsing alone touches nothing
    assert parse_volume("/h:/c").Propagation == "rprivate"
    assert parse_volume("v1:/c", volume_driver="myplug").Driver == "myplug"


@pytest.mark.parametrize(("raw", "msg"), [
    ("", "invalid volume specification: ''"),
    (":/x", "invalid volume specification: ':/x'"),
    ("/a:/b:ro:extra", "invalid volume specification: '/a:/b:ro:extra'"),
    ("/foo:rw", "invalid volume specification: '/foo:rw'"),
    ("/a:/b:rw,ro", "invalid mode: rw,ro"),
    ("/a:/b:shared,slave", "invalid mode: shared,slave"),
    ("/a:/b:bogus", "invalid mode: bogus"),
    ("v:relative", "mount path must be absolute"),
    ("/a:/", "destination can't be '/'"),
    ("/a:/x/..", "destination can't be '/'"),
    ("v:/proc/sys", "is inside /proc"),
    ("v:/proc", "is inside /proc"),
    ("v:/srv/../proc/1", "is inside /proc"),
    ("foo/bar:/x", "includes invalid characters for a local volume name"),
    ("..:/x", "includes invalid characters for a local volume name"),
    ("/a:/b:nocopy", "nocopy applies to volumes"),
])
def test_short_syntax_errors(raw: str, msg: str) -> None:
    with pytest.raises(InvalidMountSpec, match=msg.replace("(", r"\(").replace(")", r"\)")):
        parse_volume(raw)


def test_long_syntax_volume_options() -> None:
    m = parse_mount_flag("type=volume,source=data,target=/d,readonly,volume-nocopy,"
                         "volume-subpath=sub/dir,volume-driver=local,"
                         "volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-label=a=b")
    assert m.Type == "volume" and m.Source == "data" and m.Target == "/d" and m.ReadOnly
    assert m.VolumeOptions is not None and m.VolumeOptions.NoCopy
    assert m.VolumeOptions.Subpath == "sub/dir"
    assert m.VolumeOptions.DriverConfig is not None
    assert m.VolumeOptions.DriverConfig.Options == {"type": "tmpfs", "device": "tmpfs"}
    assert m.VolumeOptions.Labels == {"a": "b"}
    mp = parse_mount(m)
    assert (mp.Type, mp.Name, mp.RW, mp.CopyData, mp.Driver) == ("volume", "data", False, False,
                                                                 "local")
    # default type is volume; dst/destination aliases; ro=false
    m2 = parse_mount_flag("dst=/x,ro=false")
    assert m2.Type == "volume" and m2.Target == "/x" and not m2.ReadOnly


def test_long_syntax_bind(tmp_path: Path) -> None:
    m = parse_mount_flag(f'type=bind,"src={tmp_path}",destination=/b,bind-propagation=rslave,'
                         "bind-recursive=disabled")
    mp = parse_mount(m)
    assert (mp.Type, mp.Source, mp.Propagation) == ("bind", str(tmp_path), "rslave")
    assert m.BindOptions is not None and m.BindOptions.NonRecursive
    assert not mp.CreateSource
    rel = parse_mount_flag("type=bind,src=./here,dst=/h", cwd=str(tmp_path))
    assert rel.Source == f"{tmp_path}/here"


def test_long_syntax_bind_source_must_exist(tmp_path: Path) -> None:
    with pytest.raises(InvalidMountSpec, match=r'invalid mount config for type "bind": '
                                               rf"bind source path does not exist: {tmp_path}/no"):
        parse_mount(parse_mount_flag(f"type=bind,src={tmp_path}/no,dst=/x"))
    assert not (tmp_path / "no").exists()


def test_long_syntax_tmpfs() -> None:
    m = parse_mount_flag("type=tmpfs,dst=/run/t,tmpfs-size=64m,tmpfs-mode=1770")
    assert m.TmpfsOptions is not None
    assert (m.TmpfsOptions.SizeBytes, m.TmpfsOptions.Mode) == (64 << 20, 0o1770)
    assert parse_mount(m).Type == "tmpfs"
    assert ram_in_bytes("1.5g") == 3 << 29 and ram_in_bytes("512k") == 512 << 10
    assert ram_in_bytes("100") == 100 and ram_in_bytes("2MiB") == 2 << 20


@pytest.mark.parametrize(("value", "msg"), [
    ("type=volume", "target is required"),
    ("type=volume,dst=/x,bogus", "invalid field 'bogus' must be a key=value pair"),
    ("type=volume,dst=/x,color=red", "unexpected key 'color' in 'color=red'"),
    ("type=volume,dst=/x,readonly=maybe", "invalid value for readonly: maybe"),
    ("type=bind,src=/tmp,dst=/x,volume-nocopy", "cannot mix 'volume-\\*' options with mount type 'bind'"),
    ("type=volume,dst=/x,bind-propagation=shared", "cannot mix 'bind-\\*' options with mount type 'volume'"),
    ("type=bind,src=/tmp,dst=/x,tmpfs-size=1m", "cannot mix 'tmpfs-\\*' options with mount type 'bind'"),
    ("type=tmpfs,dst=/x,tmpfs-size=lots", "invalid value for tmpfs-size: lots"),
    ("type=tmpfs,dst=/x,tmpfs-mode=999", "invalid value for tmpfs-mode: 999"),
    ("type=bind,src=/tmp,dst=/x,bind-recursive=sideways", "invalid value for bind-recursive"),
    ("type=bind,src=/tmp,dst=/x,bind-recursive=writable", "requires 'readonly'"),
])
def test_long_syntax_cli_errors(value: str, msg: str) -> None:
    with pytest.raises(InvalidMountSpec, match=msg):
        parse_mount_flag(value)


@pytest.mark.parametrize(("value", "msg"), [
    ("type=tmpfs,src=x,dst=/t", "field Source must not be specified"),
    ("type=bind,dst=/t", "field Source must not be empty"),
    ("type=bind,src=rel,dst=/t", "invalid mount path: 'rel' mount path must be absolute"),
    ("type=bind,src=/tmp,dst=/t,bind-propagation=sideways", "invalid propagation mode: sideways"),
    ("type=volume,dst=/t,volume-subpath=a", "must not set Subpath when using anonymous volumes"),
    ("type=volume,src=v1,dst=/t,volume-subpath=../x", "subpath must be a relative path within"),
    ("type=volume,src=v1,dst=/t,volume-subpath=/etc", "subpath must be a relative path within"),
    ("type=volume,src=v1,dst=/t,volume-subpath=a/../../x", "subpath must be a relative path"),
    ("type=volume,src=v1,dst=/proc/self", "is inside /proc"),
    ("type=volume,src=v1,dst=/", "destination can't be '/'"),
    ("type=npipe,src=x,dst=/t", "mount type unknown"),
    ("type=volume,src=a/b,dst=/t", "invalid characters for a local volume name"),
])
def test_long_syntax_daemon_errors(value: str, msg: str) -> None:
    with pytest.raises(InvalidMountSpec, match=msg):
        parse_mount(parse_mount_flag(value))


def test_api_mount_objects_decode_with_msgspec() -> None:
    import msgspec

    from dockyard.volume import Mount

    body = b'{"Type":"volume","Source":"v1","Target":"/d","VolumeOptions":{"Subpath":"a",' \
           b'"DriverConfig":{"Name":"local","Options":{"type":"tmpfs"}}}}'
    m = msgspec.json.decode(body, type=Mount)
    assert parse_mount(m).Name == "v1"
    assert msgspec.json.decode(msgspec.json.encode(m)) == msgspec.json.decode(body)


def test_volumes_from_and_duplicates() -> None:
    assert parse_volumes_from("web") == ("web", "rw")
    assert parse_volumes_from("web:ro") == ("web", "ro")
    for bad in ("web:rshared", "web:nocopy", "web:bogus"):
        with pytest.raises(InvalidMountSpec, match="invalid mode"):
            parse_volumes_from(bad)
    with pytest.raises(InvalidMountSpec, match="cannot be an empty string"):
        parse_volumes_from("")
    with pytest.raises(InvalidMountSpec, match="Duplicate mount point: /d"):
        check_duplicates([parse_volume("a1:/d"), parse_volume("/d/")])


def test_cli_expands_relative_bind_sources(tmp_path: Path) -> None:
    assert expand_volume_flag("./d:/x:ro", cwd=str(tmp_path)) == f"{tmp_path}/d:/x:ro"
    assert expand_volume_flag("../up:/x", cwd=str(tmp_path)) == f"{tmp_path.parent}/up:/x"
    assert expand_volume_flag("name:/x", cwd=str(tmp_path)) == "name:/x"
    assert expand_volume_flag("/anon") == "/anon"
    assert parse_volume(expand_volume_flag("./d:/x", cwd=str(tmp_path))).Type == "bind"
