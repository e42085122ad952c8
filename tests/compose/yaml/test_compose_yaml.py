"""Compose's YAML dialect: YAML 1.2 scalars, duplicate keys, tags, anchors."""

from __future__ import annotations

import math

import pytest

from dockyard.compose.errors import YamlError
from dockyard.compose.yamlload import Override, Reset, load_compose_yaml, load_yaml


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", "yes"), ("on", "on"), ("No", "No"), ("y", "y"), ("off", "off"),
        ("true", True), ("True", True), ("FALSE", False),
        ("0777", 511), ("0o17", 15), ("0x1F", 31), ("0b101", 5), ("-12", -12), ("1_000", 1000),
        ("08", 8.0), ("1.5", 1.5), ("1e3", 1000.0), (".inf", math.inf),
        ("~", None), ("null", None), ("NULL", None), ("", None),
        ("2001-12-14", "2001-12-14"), ("1:30", "1:30"), ("'0777'", "0777"), ("\"yes\"", "yes"),
    ],
)
def test_scalars_resolve_as_yaml_v3(text: str, value: object) -> None:
    assert load_yaml(f"k: {text}\n", "t.yaml") == {"k": value}


def test_anchors_and_merge_keys(load) -> None:
    env = load("yaml", "compose.yaml").config["services"]["app"]["environment"]
    assert env == {
        "DATE": "2001-12-14", "ENABLED": "yes", "LITERAL": "0777", "MODE": "off",
        "PERM": "511", "RATIO": "1000", "SEXA": "1:30",
    }


def test_duplicate_key_names_file_and_lines(load) -> None:
    with pytest.raises(YamlError) as e:
        load("yaml", "duplicate.yaml")
    msg = str(e.value)
    assert "duplicate.yaml" in msg and "line 4" in msg and "'image' already defined at line 3" in msg


def test_merge_key_may_be_overridden_but_not_duplicated() -> None:
    assert load_yaml("a: &a {x: 1}\nb:\n  <<: *a\n  x: 2\n", "t") == {"a": {"x": 1}, "b": {"x": 2}}
    with pytest.raises(YamlError, match="'x' already defined"):
        load_yaml("b:\n  x: 1\n  x: 2\n", "t")


def test_reset_and_override_tags() -> None:
    data = load_yaml("a: !reset []\nb: !override {x: 1}\nc: !reset null\nd: !override 5\n", "t")
    assert data == {"a": Reset([]), "b": Override({"x": 1}), "c": Reset(None), "d": Override(5)}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("services: [1\n", "line 2"),
        ("- a\n- b\n", "Top-level object must be a mapping"),
        ("", "empty compose file"),
        ("a: *nope\n", "found undefined alias"),
        ("a: !!python/object:os.system x\n", "could not determine a constructor"),
        ("---\na: 1\n---\nb: 2\n", "expected a single document"),
        ("a: &a [*a]\n", "an anchor's value contains itself"),
        ("a: &a {b: *a}\n", "an anchor's value contains itself"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ("a: " + "[" * 500 + "]" * 500 + "\n", "nested too deeply"),
    ],
)
def test_not_yaml(text: str, problem: str) -> None:
    with pytest.raises(YamlError) as e:
        load_compose_yaml(text, "/p/compose.yaml")
    assert "/p/compose.yaml" in str(e.value) and problem in str(e.value)


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(YamlError, match="excessive aliasing"):
        load_compose_yaml("\n".join(lines) + "\n", "laughs.yaml")
    # modest reuse of anchors stays fine
    assert load_yaml("\n".join(lines[:3]) + "\n", "ok.yaml")["a2"][0][0] == ["lol"] * 10
