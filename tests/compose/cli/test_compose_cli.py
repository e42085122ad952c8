"""`dockyard compose config`: output formats, listing flags, errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dockyard.cli.compose import compose

HERE = Path(__file__).parent


def _run(*args: str, env: dict[str, str] | None = None, input: str | None = None):
    runner = CliRunner()
    base = {k: None for k in os.environ if k.startswith("COMPOSE_") or k == "TAG"}
    return runner.invoke(compose, list(args), env={**base, **(env or {})}, input=input,
                         catch_exceptions=False)


def test_config_yaml_as_docker_compose_prints_it() -> None:
    r = _run("-f", str(HERE / "compose.yaml"), "-p", "cliproj", "config", env={"TAG": "1.36"})
    assert r.exit_code == 0, r.output
    assert r.stdout == (HERE / "expected.yaml").read_text()


def test_config_json() -> None:
    r = _run("-f", str(HERE / "compose.yaml"), "-p", "cliproj", "config", "--format", "json",
             env={"TAG": "1.36"})
    assert r.exit_code == 0
    assert r.stdout == (HERE / "expected.json").read_text()  # Go's MarshalIndent: no final newline
    doc = json.loads(r.stdout)
    expected = yaml.safe_load((HERE / "expected.yaml").read_text())
    expected["services"]["web"].update(command=None, entrypoint=None)
    assert doc == expected


@pytest.mark.parametrize(
    ("flags", "lines"),
    [
        (["--services"], ["web"]),
        (["--volumes"], ["data", "logs"]),
        (["--profiles"], ["build", "jobs"]),
        (["--images"], ["busybox:latest"]),
    ],
)
def test_listing_flags(flags: list[str], lines: list[str]) -> None:
    r = _run("-f", str(HERE / "compose.yaml"), "-p", "cliproj", "config", *flags)
    assert r.exit_code == 0 and r.stdout.splitlines() == lines


def test_profiles_and_build_images() -> None:
    r = _run("-f", str(HERE / "compose.yaml"), "-p", "cliproj", "--profile", "build",
             "--profile", "jobs", "config", "--images")
    assert r.stdout.splitlines() == ["cliproj-builder", "busybox:latest", "busybox"]
    r = _run("-f", str(HERE / "compose.yaml"), "-p", "cliproj", "config", "--services", "worker")
    assert r.stdout.splitlines() == ["worker"]


def test_quiet_hash_and_output_file(tmp_path: Path) -> None:
    r = _run("-f", str(HERE / "compose.yaml"), "config", "-q")
    assert r.exit_code == 0 and r.stdout == ""
    r = _run("-f", str(HERE / "compose.yaml"), "-p", "cliproj", "config", "--hash", "web")
    name, digest = r.stdout.split()
    assert name == "web" and len(digest) == 64
    out = tmp_path / "out.yaml"
    r = _run("-f", str(HERE / "compose.yaml"), "-p", "cliproj", "config", "-o", str(out), env={"TAG": "1.36"})
    assert r.stdout == "" and out.read_text() == (HERE / "expected.yaml").read_text()


def test_stdin_and_warnings() -> None:
    r = _run("-f", "-", "-p", "s", "config", "--services",
             input="version: '3'\nservices:\n  a:\n    image: x${NOPE}\n")
    assert r.exit_code == 0 and r.stdout == "a\n"
    assert 'WARN[0000] The "NOPE" variable is not set. Defaulting to a blank string.' in r.stderr
    assert "the attribute `version` is obsolete" in r.stderr


def test_dollars_are_escaped_after_interpolation() -> None:
    # docker compose doubles "$" in its output so that it reads back unchanged
    r = _run("-f", str(HERE.parent / "interpolation" / "compose.yaml"), "config")
    assert r.exit_code == 0
    assert "ESCAPED: $$HOME and $${BRACED}" in r.stdout
    assert "PRICE: costs $$ 5" in r.stdout


def test_no_interpolate() -> None:
    r = _run("-f", str(HERE / "compose.yaml"), "-p", "cliproj", "config", "--no-interpolate")
    assert "image: busybox:${TAG:-latest}" in r.stdout


def test_no_consistency_skips_the_checks(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: x\n    depends_on: [b]\n")
    assert _run("-f", str(tmp_path / "compose.yaml"), "config", "-q").exit_code == 15
    r = _run("-f", str(tmp_path / "compose.yaml"), "config", "--no-consistency")
    assert r.exit_code == 0 and "depends_on:\n      b:\n" in r.stdout


def test_real_command_exit_codes(tmp_path: Path) -> None:
    """The installed `dockyard` entry point: 15 for a bad project, 14 for no file."""
    (tmp_path / "bad").mkdir()
    bad = tmp_path / "bad" / "compose.yaml"
    bad.write_text("services:\n  a:\n    image: busybox\n    depends_on: [b]\n")
    exe = [str(Path(sys.executable).parent / "dockyard")]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    p = subprocess.run([*exe, "compose", "config"], cwd=bad.parent, env=env, capture_output=True, text=True)
    assert p.returncode == 15
    assert p.stderr.strip() == f'{bad}: services.a.depends_on: service "a" depends on undefined service "b"'
    assert p.stdout == ""
    empty = tmp_path / "empty"
    empty.mkdir()
    p = subprocess.run([*exe, "compose", "config"], cwd=empty, env=env, capture_output=True, text=True)
    assert p.returncode == 14 and "no configuration file provided: not found" in p.stderr
