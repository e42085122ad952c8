"""Printing a canonical project as ``docker compose config`` does.

YAML as Go's yaml.v3 encoder writes it: two-space indent with sequences
indented under their key, keys in the order the canonical form gives
(compose-go's struct order, maps sorted), double quotes only where a
plain scalar would read back as something else (``"8080"``, ``"yes"``),
``|-`` blocks for multi-line strings, no line folding. JSON is Go's
``json.MarshalIndent(project, "", "  ")``. After interpolation every
``$`` prints as ``$$``, as docker compose does, so the output can be fed
back to compose without being interpolated twice.
"""

from __future__ import annotations

from typing import Any

import yaml

from dockyard.compose.labels import _drop_extensions, go_json, service_json
from dockyard.compose.yamlload import ComposeLoader


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # yaml.v3 indents a sequence under its mapping key; PyYAML would not
        super().increase_indent(flow, False)

    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


# yaml.v3 quotes YAML 1.1 booleans too, so old parsers read them back as strings
_OLD_BOOLS = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
              "on", "On", "ON", "off", "Off", "OFF"}
_STR = "tag:yaml.org,2002:str"


def _needs_quotes(value: str) -> bool:
    if value in _OLD_BOOLS or any(c in value for c in "\r\x85\u2028\u2029"):
        return True
    # would a YAML 1.2 reader (compose) or a 1.1 reader take it for a number, bool, null…?
    for resolver in (ComposeLoader, yaml.SafeLoader):
        if resolver.resolve(resolver, yaml.ScalarNode, value, (True, False)) != _STR:  # type: ignore[arg-type,no-untyped-call]
            return True
    return False


def _str(dumper: _Dumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and not any(c in value for c in "\r\x85\u2028\u2029"):
        # a literal block, unless YAML 1.1 line breaks would not survive it
        return dumper.represent_scalar(_STR, value, style="|")
    return dumper.represent_scalar(_STR, value, style='"' if _needs_quotes(value) else None)


def _float(dumper: _Dumper, value: float) -> yaml.ScalarNode:
    if value != value:
        text = ".nan"
    elif value in (float("inf"), float("-inf")):
        text = ".inf" if value > 0 else "-.inf"
    elif value.is_integer() and abs(value) < 1e16:
        text = str(int(value))  # Go prints float64(8) as 8
    else:
        text = repr(value)
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(float, _float)


def to_yaml(config: Any) -> str:
    return yaml.dump(config, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1 << 30, indent=2)


def to_json(config: dict[str, Any]) -> str:
    """compose-go's Project.MarshalJSON: a Go map at the top (so keys sorted), services as
    structs (``command``/``entrypoint`` always present, extensions left out)."""
    doc: dict[str, Any] = {}
    for key, value in config.items():
        if key == "services":
            doc[key] = {name: service_json(svc) for name, svc in value.items()}
        elif key.startswith("x-"):
            doc[key] = value
        else:
            doc[key] = _drop_extensions(value)
    return go_json(dict(sorted(doc.items())), indent=2)


def escape_dollars(text: str) -> str:
    """``$`` → ``$$``: printed after interpolation, the output reads back unchanged."""
    return text.replace("$", "$$")
