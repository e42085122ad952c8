"""Merging several -f files by the Compose Specification's merge rules."""

from __future__ import annotations

from dockyard.compose.merge import merge_service


def test_override_file_merges_by_the_spec_rules(load) -> None:
    cfg = load("merge", "base.yaml", "override.yaml").config
    web = cfg["services"]["web"]
    assert web["command"] == ["httpd", "-f", "-v"]  # replaced, not appended
    assert web["entrypoint"] == ["/bin/sh", "-c"]
    assert web["environment"] == {"A": "1", "B": "20", "C": "3"}  # list and map merge as maps
    assert web["labels"] == {"tier": "edge", "extra": "yes"}
    assert [(p.get("host_ip"), p.get("published"), p["target"]) for p in web["ports"]] == [
        (None, "8080", 80), (None, "9090", 90), (None, "9091", 90), ("127.0.0.1", "7070", 70),
    ]
    assert [(v["type"], v.get("source"), v["target"]) for v in web["volumes"]] == [
        ("volume", "cache", "/data"), ("volume", "cache", "/cache"),
    ]
    assert web["dns"] == ["1.1.1.1", "8.8.8.8", "9.9.9.9"]
    assert web["cap_add"] == ["NET_ADMIN", "SYS_TIME"]
    assert web["depends_on"] == {
        "db": {"condition": "service_started", "required": True},
        "cache": {"condition": "service_healthy", "required": True},
    }
    assert web["networks"] == {"back": {"aliases": ["web-back"]}, "front": None}
    assert web["healthcheck"] == {"test": ["CMD", "false"], "interval": "10s", "retries": 3}
    assert web["logging"] == {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}
    assert web["ulimits"] == {"nofile": {"soft": 4096, "hard": 8192}}
    db = cfg["services"]["db"]
    assert "ports" not in db  # !reset
    assert db["expose"] == ["6543"]  # !override
    assert set(cfg["networks"]) == {"front", "back", "default"}  # db and cache use default


def test_reset_and_override_across_three_files(load) -> None:
    web = load("merge", "base.yaml", "override.yaml", "reset.yaml").config["services"]["web"]
    assert "entrypoint" not in web and "healthcheck" not in web and "secrets" not in web
    assert web["logging"] == {"driver": "syslog"}  # replaced, json-file options gone


def test_logging_driver_change_drops_options() -> None:
    out = merge_service({"logging": {"driver": "a", "options": {"x": "1"}}},
                        {"logging": {"driver": "b"}})
    assert out["logging"] == {"driver": "b"}


def test_build_string_and_mapping_merge() -> None:
    out = merge_service({"build": "./app"}, {"build": {"target": "prod", "args": ["X=1"]}})
    assert out["build"] == {"context": "./app", "target": "prod", "args": ["X=1"]}
    out = merge_service({"build": {"context": ".", "args": {"A": "1"}}}, {"build": {"args": ["B=2"]}})
    assert out["build"]["args"] == {"A": "1", "B": "2"}
