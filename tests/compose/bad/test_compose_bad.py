"""Bad input: the file, the field's path and the problem; exit 15; nothing created."""

from __future__ import annotations

import pytest

from dockyard.compose.errors import ConfigError


@pytest.mark.parametrize(
    ("file", "path", "problem"),
    [
        ("not-yaml.yaml", None, "yaml: line 4"),
        ("bad-port.yaml", "services.web.ports[0]", "invalid port 'abc'"),
        ("wrong-type.yaml", "services.web.environment", "5 is not a valid value (expected one of: array, object)"),
        ("unknown-top-level.yaml", "(root)", "additional property 'servics' not allowed"),
        ("unknown-service-key.yaml", "services.web", "additional property 'bogus_field' not allowed"),
        ("missing-var.yaml", "services.web.image",
         "required variable TAG is missing a value: set TAG to the image tag"),
        ("cycle.yaml", "services.a.depends_on", "dependency cycle detected: a -> b -> c -> a"),
        ("missing-dep.yaml", "services.web.depends_on", 'depends on undefined service "db"'),
        ("extends-loop.yaml", "services.b.extends", "extends loop detected: a -> b -> a"),
        ("port-conflict.yaml", "services.b.ports[0]",
         "host port 127.0.0.1:8080/tcp is already published by services.a.ports[0]"),
        ("undefined-network.yaml", "services.a.networks.back", "refers to undefined network back"),
        ("undefined-volume.yaml", "services.a.volumes[0]", "refers to undefined volume data"),
        ("undefined-secret.yaml", "services.a.secrets[0]", "refers to undefined secret token"),
        ("no-image.yaml", "services.a", "has neither an image nor a build context"),
        ("double-mount.yaml", "services.a.volumes[1]", "target /data already mounted as services.a.volumes[0]"),
        ("network-mode-and-networks.yaml", "services.a", "mutually exclusive `network_mode` and `networks`"),
    ],
)
def test_bad_file(load, file: str, path: str | None, problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        load("bad", file)
    err = e.value
    assert err.file is not None and err.file.endswith(f"bad/{file}")
    assert err.path == path
    assert problem in str(err)
    assert str(err).startswith(err.file)
    assert err.exit_code == 15


def test_ports_on_other_protocols_or_addresses_do_not_conflict(load) -> None:
    cfg = load("bad", "ports-ok.yaml").config
    assert len(cfg["services"]) == 3


def test_optional_dependency_on_a_missing_service_is_dropped(load) -> None:
    cfg = load("bad", "optional-dep.yaml").config
    assert "depends_on" not in cfg["services"]["a"]


def test_parent_relative_bind_resolves_but_stays_explicit(load) -> None:
    # compose allows binds outside the project directory; the canonical path
    # shows exactly where it points, with no ".." left for a later layer to misread
    src = load("bad", "parent-path.yaml").config["services"]["a"]["volumes"][0]["source"]
    assert ".." not in src and src.endswith("/etc")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("services:\n  a:\n    image: x\nvolumes:\n  v:\n    name: ../../etc\n", "invalid volume name '../../etc'"),
        ("services:\n  a:\n    image: x\n    container_name: ../escape\n", "invalid container name"),
        ("services:\n  a:\n    image: x\n    container_name: one\n    scale: 2\n", "can't set container_name"),
        ("services:\n  a:\n    image: x\n    container_name: one\n  b:\n    image: x\n    container_name: one\n",
         "already used by service a"),
    ],
)
def test_names_that_could_be_misread_as_paths_or_clash(load, tmp_path, text: str, problem: str) -> None:
    (tmp_path / "compose.yaml").write_text(text)
    with pytest.raises(ConfigError, match=problem.replace("(", r"\(").replace(".", r"\.")):
        load(tmp_path)


@pytest.mark.parametrize("name", ["../evil", "a/b", "UPPER", "_x", "a b", "a\x00b"])
def test_project_names_that_are_not_names(load, tmp_path, name: str) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: x\n")
    with pytest.raises(ConfigError, match="invalid project name"):
        load(tmp_path, project_name=name)
    with pytest.raises(ConfigError, match="invalid project name"):
        load(tmp_path, env={"COMPOSE_PROJECT_NAME": name})


def test_loading_creates_nothing(load, tmp_path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    image: x\n    volumes: ['./data:/data', 'vol:/v']\n"
        "    env_file: [{path: ./missing.env, required: false}]\nvolumes:\n  vol: {}\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    cfg = load(tmp_path).config
    assert cfg["services"]["a"]["volumes"][0]["bind"] == {}  # create_host_path: true, implied
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no ./data, no .env
