"""RUN --mount=type=secret: only for that step, never in a layer, the history or the cache key."""

from __future__ import annotations

import tarfile

import pytest

from dockyard.build.errors import SecretError
from dockyard.build.secrets import parse_secret

SECRET = b"s3cr3t-value-do-not-leak"


def _layer_entries(store, ref: str) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    out: dict[str, bytes] = {}
    img = store.get(ref)
    for layer in img.layers[1:]:  # the build's layers (busybox's is the first)
        with store.content.open(layer.digest) as f, tarfile.open(fileobj=f, mode="r|*") as t:
            for m in t:
                data = t.extractfile(m) if m.isfile() else None
                out[m.name] = data.read() if data else b""
    return out


def test_secret_mounted_only_for_its_step(build, store, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret_file = tmp_path / "tok"
    secret_file.write_bytes(SECRET)
    sid, value = parse_secret(f"id=tok,src={secret_file}")
    eid, evalue = parse_secret("id=envtok,env=MY_TOKEN", {"MY_TOKEN": "from-env"})
    r = build("secrets", tags=[f"{unique}:s"], secrets={sid: value, eid: evalue})
    entries = _layer_entries(store, f"{unique}:s")
    assert entries["len"].strip() == str(len(SECRET)).encode()
    assert entries["envlen"].strip() == b"8"
    # not in any layer: neither the value nor the mount point
    assert not any(SECRET in data for data in entries.values())
    assert not any("secrets" in name or name.startswith("etc/token") for name in entries)
    assert not any(name.startswith("scratch") for name in entries)  # tmpfs: nothing kept
    # not in the history or the config
    img = store.get(f"{unique}:s")
    assert SECRET.decode() not in repr(img.config)
    # not in the cache key: another value still hits the cache
    r2 = build("secrets", tags=[f"{unique}:s2"], secrets={sid: b"other", eid: b"x"})
    assert r2.run_steps == 0 and r2.cached_steps == 3
    assert r.image_id


def test_missing_required_secret(build) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SecretError, match="secret tok not found"):
        build("secrets", secrets={}, no_cache=True)


@pytest.mark.parametrize("spec, message", [
    ("id=x", "src= or env= is required"),
    ("id=x,src=/nonexistent/file", "cannot read /nonexistent/file"),
    ("id=x,env=SURELY_NOT_SET_VAR", "SURELY_NOT_SET_VAR is not set"),
    ("id=x,bogus=1", "unexpected key 'bogus'"),
])
def test_bad_secret_flags(spec: str, message: str) -> None:
    with pytest.raises(SecretError, match=message):
        parse_secret(spec, {})
