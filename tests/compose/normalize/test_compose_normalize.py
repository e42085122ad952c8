"""Normalisation to the canonical form `docker compose config` prints, and the typed model.

``expected.yaml`` was written from docker compose's documented behaviour
(long syntax, absolute paths, Go durations, byte sizes as strings, struct
field order, sorted maps); ``@DIR@``/``@HOME@`` stand for this folder and ~.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dockyard.compose.errors import ConfigError
from dockyard.compose.output import to_json, to_yaml
from dockyard.compose.shortsyntax import parse_port, parse_volume
from dockyard.compose.units import format_duration, parse_bytes, parse_duration

HERE = Path(__file__).parent
ENV = {"FROM_ENV": "fe", "TLS_KEY": "k"}


def _expected() -> str:
    text = (HERE / "expected.yaml").read_text()
    return text.replace("@DIR@", str(HERE)).replace("@HOME@", os.path.expanduser("~"))


def test_config_output_matches_expected(load) -> None:
    lp = load("normalize", env=ENV)
    assert to_yaml(lp.config) == _expected()
    assert lp.warnings == []


def test_json_output_is_the_same_document(load) -> None:
    import yaml

    lp = load("normalize", env=ENV)
    doc = json.loads(to_json(lp.config))
    # compose-go marshals the project as a Go map (sorted keys) and services as structs:
    # command/entrypoint always there, extensions (json:"-") left out
    assert list(doc) == ["configs", "name", "networks", "secrets", "services", "volumes",
                         "x-common", "x-top"]
    expected = yaml.safe_load(_expected())
    del expected["services"]["web"]["x-owner"]
    expected["services"]["web"]["entrypoint"] = None
    expected["services"]["api"]["command"] = None
    assert doc == expected
    assert list(doc["services"]["api"])[:4] == ["command", "devices", "dns", "entrypoint"]


def test_typed_model(load) -> None:
    p = load("normalize", env=ENV).project
    web = p.services["web"]
    assert p.name == "shop"
    assert web.build is not None and web.build.context == str(HERE / "web")
    assert web.build.args == {"VERSION": "1.2", "FROM_ENV": "fe"}
    assert web.ports[0].target == 8080 and web.ports[0].published == "8080"
    assert web.ports[0].host_ip == "127.0.0.1"
    assert web.volumes[0].type == "bind" and web.volumes[0].read_only
    assert web.volumes[2].volume_nocopy and web.volumes[3].tmpfs_size == 64 << 20
    assert web.healthcheck is not None and web.healthcheck.interval == 90.0
    assert web.healthcheck.retries == 3 and web.healthcheck.start_period == 60.0
    assert web.deploy is not None and web.deploy.limits is not None
    assert web.deploy.limits.memory == 128 << 20 and web.deploy.limits.cpus == 0.5
    assert web.depends_on["api"].condition == "service_healthy" and web.depends_on["api"].restart
    assert web.stop_grace_period == 90.0 and web.read_only and web.replicas == 1
    assert web.secrets[1].target == "/etc/tls/key.pem" and web.secrets[1].mode == 0o400
    assert web.networks["front"].aliases == ["www"]
    assert p.networks["back"].external and p.networks["back"].name == "back"
    assert p.volumes["uploads"].name == "shop_uploads"
    assert p.services["api"].network_mode == "bridge" and p.services["api"].networks == {}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("80", [("", None, 80, "tcp")]),
        (80, [("", None, 80, "tcp")]),
        ("8080:80", [("", "8080", 80, "tcp")]),
        ("127.0.0.1::80", [("127.0.0.1", None, 80, "tcp")]),
        ("3000-3002", [("", None, 3000, "tcp"), ("", None, 3001, "tcp"), ("", None, 3002, "tcp")]),
        ("9090-9091:8080-8081", [("", "9090", 8080, "tcp"), ("", "9091", 8081, "tcp")]),
        ("127.0.0.1:5000-5010:5000", [("127.0.0.1", "5000-5010", 5000, "tcp")]),
        ("6060:6060/udp", [("", "6060", 6060, "udp")]),
        ("[::1]:53:53/udp", [("::1", "53", 53, "udp")]),
    ],
)
def test_port_short_syntax(spec: object, expected: list[tuple[object, ...]]) -> None:
    got = [(p.get("host_ip", ""), p.get("published"), p["target"], p["protocol"]) for p in parse_port(spec)]
    assert got == expected


@pytest.mark.parametrize("bad", ["abc", "80:abc", "1-2:3-5", "70000", "80/tcpx", "9-1", "1.2.3.4:80:80:90", "host:80:80"])
def test_bad_ports(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_port(bad)


def test_volume_short_syntax() -> None:
    assert parse_volume("data:/data:ro", "/p") == {
        "type": "volume", "source": "data", "target": "/data", "read_only": True, "volume": {}}
    assert parse_volume("../up:/up:rshared", "/p/q")["source"] == "/p/up"
    assert parse_volume("../up:/up:rshared,Z", "/p/q")["bind"] == {"selinux": "Z", "propagation": "rshared"}
    assert parse_volume("/abs:/abs", "/p")["type"] == "bind"
    for bad in ("data:relative", "a:/b:bogus", ":/x"):
        with pytest.raises(ValueError):
            parse_volume(bad, "/p")


@pytest.mark.parametrize(
    ("text", "go"),
    [("90s", "1m30s"), ("1h", "1h0m0s"), ("1.5s", "1.5s"), ("300ms", "300ms"), ("2h45m", "2h45m0s"),
     ("0", "0s"), ("1m0.5s", "1m0.5s"), ("10us", "10µs")],
)
def test_durations_as_go_prints_them(text: str, go: str) -> None:
    assert format_duration(parse_duration(text)) == go


def test_bad_duration_and_sizes() -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration("30")  # Go needs a unit
    assert parse_bytes("50M") == 50 << 20 and parse_bytes("1gb") == 1 << 30 and parse_bytes("512") == 512
    with pytest.raises(ValueError):
        parse_bytes("lots")


def test_bad_values_name_the_field(load, tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    image: x\n    read_only: perhaps\n")
    with pytest.raises(ConfigError, match=r"compose.yaml: services\.a\.read_only: 'perhaps' is not a valid boolean"):
        load(tmp_path)
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    image: x\n    healthcheck:\n      interval: soon\n")
    with pytest.raises(ConfigError, match=r"services\.a\.healthcheck\.interval: time: invalid duration"):
        load(tmp_path)
