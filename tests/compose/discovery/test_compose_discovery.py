"""Finding files, project directory and project name as docker compose does."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.compose.errors import NoConfigFileError, ProjectNameError
from dockyard.compose.loader import ProjectOptions, load_project

HERE = Path(__file__).parent


def _load(cwd: Path | str, env: dict[str, str] | None = None, **kw) -> object:
    return load_project(ProjectOptions(working_dir=str(cwd), environ=env or {}, **kw))


def test_default_file_and_override_found_from_a_subdirectory() -> None:
    lp = _load(HERE / "app" / "sub")
    assert lp.files == [str(HERE / "app" / "compose.yaml"), str(HERE / "app" / "compose.override.yaml")]
    assert lp.working_dir == str(HERE / "app")
    assert lp.config["name"] == "app"
    assert lp.config["services"]["web"]["environment"] == {"LAYER": "override"}


def test_explicit_files_skip_the_override() -> None:
    lp = _load(HERE / "app", config_files=["compose.yaml"])
    assert lp.config["services"]["web"]["environment"] == {"LAYER": "base"}


def test_compose_file_variable_with_separator() -> None:
    lp = _load(HERE / "app", env={"COMPOSE_FILE": "compose.yaml:other.yaml"})
    assert sorted(lp.config["services"]) == ["db", "other", "web"]
    lp = _load(HERE / "app", env={"COMPOSE_FILE": "compose.yaml;other.yaml", "COMPOSE_PATH_SEPARATOR": ";"})
    assert sorted(lp.config["services"]) == ["db", "other", "web"]


def test_relative_paths_resolve_against_the_project_directory() -> None:
    # other.yaml is the second file: its ./data resolves against the first file's directory
    lp = _load(HERE, config_files=["app/compose.yaml", "app/other.yaml"],
               project_directory="named")
    assert lp.config["services"]["other"]["volumes"][0]["source"] == str(HERE / "named" / "data")


def test_project_name_precedence() -> None:
    named = HERE / "named"
    assert _load(named).config["name"] == "from-dotenv"  # .env's COMPOSE_PROJECT_NAME
    assert _load(named, env={"COMPOSE_PROJECT_NAME": "from-env"}).config["name"] == "from-env"
    assert _load(named, project_name="flag").config["name"] == "flag"
    assert _load(named, env_files=[str(HERE / "app" / "compose.yaml")]).config["name"] == "from-file"


def test_directory_name_is_normalised(tmp_path: Path) -> None:
    d = tmp_path / "My App.v2"
    d.mkdir()
    (d / "docker-compose.yml").write_text("services:\n  a:\n    image: busybox\n")
    lp = _load(d)
    assert lp.config["name"] == "myappv2"
    assert lp.config["networks"]["default"]["name"] == "myappv2_default"


@pytest.mark.parametrize("bad", ["My-App", "-leading", "has space", "dots.bad", "UPPER"])
def test_invalid_explicit_names_are_errors(bad: str) -> None:
    with pytest.raises(ProjectNameError, match="invalid project name"):
        _load(HERE / "named", project_name=bad)


def test_stdin_file() -> None:
    lp = _load(HERE / "named", config_files=["-"], project_name="stdin",
               stdin="services:\n  s:\n    image: busybox\n    volumes: ['./x:/x']\n")
    assert list(lp.config["services"]) == ["s"]
    assert lp.config["services"]["s"]["volumes"][0]["source"] == str(HERE / "named" / "x")


def test_no_file_found(tmp_path: Path) -> None:
    with pytest.raises(NoConfigFileError) as e:
        _load(tmp_path)
    assert e.value.exit_code == 14
    with pytest.raises(NoConfigFileError, match="no such file"):
        _load(tmp_path, config_files=["missing.yaml"])


def test_name_attribute_is_made_valid_and_usable_in_interpolation(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "name: ${PREFIX}My Project\nservices:\n  a:\n    image: busybox\n"
        "    container_name: ${COMPOSE_PROJECT_NAME}-main\n")
    lp = _load(tmp_path, env={"PREFIX": "Team."})
    assert lp.config["name"] == "teammyproject"
    assert lp.config["services"]["a"]["container_name"] == "teammyproject-main"
    lp = _load(tmp_path, env={"PREFIX": ""}, project_name="flag")
    assert lp.config["services"]["a"]["container_name"] == "flag-main"


def test_several_default_names_warn_and_compose_yaml_wins(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("services:\n  old:\n    image: busybox\n")
    (tmp_path / "compose.yaml").write_text("services:\n  new:\n    image: busybox\n")
    (tmp_path / "docker-compose.override.yml").write_text("services:\n  new:\n    user: nobody\n")
    lp = _load(tmp_path)
    assert list(lp.config["services"]) == ["new"]
    assert lp.config["services"]["new"]["user"] == "nobody"
    assert lp.warnings[0].startswith("Found multiple config files with supported names: ")
    assert lp.warnings[1] == f"Using {tmp_path / 'compose.yaml'}"
