"""``--secret id=x,src=file|env=VAR`` (and ``type=file|env``), as ``docker build`` takes it.

Secrets are read once at the start of the build into memory; a RUN that
asks for one gets a private 0400 copy bind-mounted read-only at
``/run/secrets/<id>`` (or its ``target``), removed after the step. Their
bytes never reach a layer, the history or a cache key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .errors import SecretError


def parse_secret(spec: str, environ: Mapping[str, str] | None = None) -> tuple[str, bytes]:
    """``id=x,src=path`` / ``id=x,env=VAR`` → (id, value)."""
    environ = os.environ if environ is None else environ
    fields: dict[str, str] = {}
    for part in spec.split(","):
        k, eq, v = part.partition("=")
        if not eq:
            raise SecretError(f"invalid --secret {spec!r}: field {part!r} must be key=value")
        k = k.strip().lower()
        if k == "source":
            k = "src"
        if k not in ("id", "src", "env", "type"):
            raise SecretError(f"invalid --secret {spec!r}: unexpected key {k!r} (expected id, src, env, type)")
        fields[k] = v
    sid = fields.get("id") or os.path.basename(fields.get("src", "")) or fields.get("env", "")
    if not sid:
        raise SecretError(f"invalid --secret {spec!r}: no id")
    kind = fields.get("type", "env" if "env" in fields else "file")
    if kind == "env" or ("env" in fields and "src" not in fields):
        var = fields.get("env") or fields.get("src") or sid
        if var not in environ:
            raise SecretError(f"--secret {sid}: environment variable {var} is not set")
        return sid, environ[var].encode()
    src = fields.get("src")
    if not src:
        if sid in environ:
            return sid, environ[sid].encode()
        raise SecretError(f"invalid --secret {spec!r}: src= or env= is required")
    try:
        with open(src, "rb") as f:
            return sid, f.read()
    except OSError as e:
        raise SecretError(f"--secret {sid}: cannot read {src}: {e.strerror}") from None
