"""Validation of one compose document against the Compose Specification's JSON schema.

The schema (``compose-spec.json``, Apache-2.0, from compose-spec/compose-spec)
ships beside this module. Errors read like docker compose's: the field path
written ``services.web.ports[0]``, then what is wrong with it; among several
errors the most specific one is reported (jsonschema's ``best_match``).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from dockyard.compose.errors import SchemaError


@cache
def _validator() -> jsonschema.Draft7Validator:
    text = resources.files("dockyard.compose").joinpath("compose-spec.json").read_text()
    schema = json.loads(text)
    return jsonschema.Draft7Validator(schema)


def field_path(parts: Any) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def _describe(error: ValidationError) -> str:
    value = error.instance
    shown = json.dumps(value) if not isinstance(value, (dict, list)) else type(value).__name__
    if error.validator == "additionalProperties" and isinstance(value, dict):
        known = error.schema.get("properties", {})
        patterns = list(error.schema.get("patternProperties", {}))
        extra = [
            k for k in value if k not in known and not any(re.search(p, k) for p in patterns)
        ]
        names = ", ".join(repr(k) for k in extra)
        return f"additional propert{'ies' if len(extra) > 1 else 'y'} {names} not allowed"
    if error.validator == "type":
        expected = error.validator_value
        if isinstance(expected, list):
            expected = " or ".join(expected)
        return f"{shown} must be a {expected}"
    if error.validator in ("oneOf", "anyOf"):
        forms = sorted({str(sub.get("type")) for sub in error.validator_value if "type" in sub})
        expected = f" (expected one of: {', '.join(forms)})" if forms else ""
        return f"{json.dumps(value)} is not a valid value{expected}"
    return str(error.message)


def validate_document(data: dict[str, Any], filename: str) -> None:
    """Raise :class:`SchemaError` for the most relevant schema violation of ``data``."""
    errors = list(_validator().iter_errors(data))
    if not errors:
        return
    error = best_match(errors)
    assert error is not None
    raise SchemaError(_describe(error), file=filename, path=field_path(error.absolute_path))
