"""Interpolation: every form, .env and --env-file, precedence, errors with field paths."""

from __future__ import annotations

import pytest

from dockyard.compose.errors import InterpolationError
from dockyard.compose.interpolation import substitute


def test_all_forms_with_dotenv(load) -> None:
    lp = load("interpolation")
    env = lp.config["services"]["web"]["environment"]
    assert lp.config["name"] == "interp"
    assert lp.config["services"]["web"]["image"] == "busybox:1.36"
    assert env["FROM_DOTENV"] == "from-dotenv"
    assert env["DEFAULT_UNSET"] == "fallback"
    assert env["DEFAULT_EMPTY"] == "fallback"
    assert env["DASH_EMPTY"] == ""
    assert env["ALT_SET"] == "alternative"
    assert env["ALT_UNSET"] == ""
    assert env["NESTED"] == "from-dotenv"
    assert env["ESCAPED"] == "$HOME and ${BRACED}"
    assert env["BARE"] == "from-dotenv/path"
    assert env["MISSING"] == ""
    assert env["PRICE"] == "costs $ 5"
    assert env["${KEY_NOT_INTERPOLATED}"] == "kept"  # compose interpolates values only
    assert lp.config["services"]["web"]["labels"] == {"dotenv.quoted": "a b from-dotenv"}
    assert 'The "NOT_SET_AT_ALL" variable is not set. Defaulting to a blank string.' in lp.warnings


def test_process_environment_beats_dotenv(load) -> None:
    lp = load("interpolation", env={"TAG": "edge", "PROJECT": "fromenv"})
    assert lp.config["services"]["web"]["image"] == "busybox:edge"
    assert lp.config["name"] == "fromenv"


def test_env_file_replaces_dotenv(load) -> None:
    lp = load("interpolation", env_files=["override.env"])
    web = lp.config["services"]["web"]
    assert web["image"] == "busybox:1.35"
    assert web["environment"]["FROM_DOTENV"] == "from-env-file"
    # .env is not read at all when --env-file is given
    assert web["environment"]["DEFAULT_EMPTY"] == "fallback"


def test_missing_env_file_is_an_error(load) -> None:
    with pytest.raises(Exception, match="couldn't find env file"):
        load("interpolation", env_files=["nope.env"])


def test_required_variable_names_variable_message_file_and_field(load) -> None:
    with pytest.raises(InterpolationError) as e:
        load("interpolation", "required.yaml")
    msg = str(e.value)
    assert "required.yaml" in msg
    assert "services.web.environment.NEED" in msg
    assert "required variable NEEDED is missing a value: please set NEEDED" in msg
    assert e.value.exit_code == 15
    lp = load("interpolation", "required.yaml", env={"NEEDED": "ok"})
    assert lp.config["services"]["web"]["environment"]["NEED"] == "ok"


def test_invalid_template(load) -> None:
    with pytest.raises(InterpolationError, match=r"services\.web\.command\[1\]: Invalid template"):
        load("interpolation", "invalid.yaml")


def test_no_interpolate_keeps_text(load) -> None:
    lp = load("interpolation", "required.yaml", interpolate=False)
    assert lp.config["services"]["web"]["environment"]["NEED"] == "${NEEDED:?please set NEEDED}"


@pytest.mark.parametrize(
    ("template", "env", "out"),
    [
        ("${A:?}", {"A": "x"}, "x"),
        ("${A?}", {"A": ""}, ""),
        ("${A:-${B:-${C}}}", {"C": "c"}, "c"),
        ("${A:+${B}}", {"A": "1", "B": "b"}, "b"),
        ("$$$A", {"A": "a"}, "$a"),
        ("${A}${B}", {"A": "1", "B": "2"}, "12"),
        ("pre-${A-}-post", {}, "pre--post"),
        ("$", {}, "$"),
    ],
)
def test_substitute(template: str, env: dict[str, str], out: str) -> None:
    assert substitute(template, env) == out


def test_list_entries_interpolate_their_key_part(load, tmp_path) -> None:
    # mapping keys are never interpolated, but KEY=VALUE list entries are values
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    image: x\n    environment: ['${K}=v', 'PLAIN=${V}']\n"
        "    labels: ['${K}.label=1']\n")
    env = load(tmp_path, env={"K": "kk", "V": "vv"}).config["services"]["a"]
    assert env["environment"] == {"PLAIN": "vv", "kk": "v"}
    assert env["labels"] == {"kk.label": "1"}
