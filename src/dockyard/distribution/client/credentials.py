"""Docker's ``config.json``: where ``docker login`` keeps credentials.

The file is ``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``)
and this module reads and writes it as the docker CLI does:

- ``auths``: ``{"<registry>": {"auth": base64("user:password")}}``, plus
  ``identitytoken`` (an OAuth2 refresh token) and ``registrytoken`` (a
  bearer token used as is). Docker Hub's key is ``https://index.docker.io/v1/``.
- ``credHelpers``: ``{"<registry>": "<name>"}`` and ``credsStore``: ``"<name>"``
  send credentials to ``docker-credential-<name>`` instead: ``get`` (stdin: the
  server URL; stdout: ``{"ServerURL","Username","Secret"}``), ``store``
  (stdin: that JSON) and ``erase`` (stdin: the server URL). A helper's
  "credentials not found" answer means no credentials. When a helper is in
  use the ``auths`` entry is kept as ``{}`` (Docker does that so ``docker
  info`` can list registries).
- Other keys of the file are kept untouched; it is written atomically, mode 0600.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass, field
from typing import Any

from dockyard.linux.atomic import write_bytes

from .errors import CredentialsError

TOKEN_USERNAME = "<token>"  # a helper's Username when Secret is an identity token


@dataclass(frozen=True)
class Credentials:
    # Secrets stay out of repr: credentials end up in tracebacks and logs.
    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)  # OAuth2 refresh token
    registry_token: str = field(default="", repr=False)  # bearer token, sent as is

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)


def decode_registry_auth(header: str) -> Credentials:
    """The Docker API's ``X-Registry-Auth``: base64url JSON ``{"username",
    "password", "serveraddress", "identitytoken", "registrytoken"}``."""
    if not header:
        return Credentials()
    try:
        raw = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as e:
        raise CredentialsError(f"X-Registry-Auth: expected base64url JSON credentials: {e}") from None
    return Credentials(str(doc.get("username") or ""), str(doc.get("password") or ""),
                       str(doc.get("identitytoken") or ""), str(doc.get("registrytoken") or ""))


def config_dir() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


class ConfigFile:
    """One ``config.json``, loaded; ``save`` writes it back."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or os.path.join(config_dir(), "config.json")
        self.doc: dict[str, Any] = {}
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return
        if raw.strip():
            try:
                doc = json.loads(raw)
            except ValueError as e:
                raise CredentialsError(f"{self.path}: not valid JSON: {e}") from None
            if not isinstance(doc, dict):
                raise CredentialsError(f"{self.path}: expected a JSON object")
            self.doc = doc

    @property
    def auths(self) -> dict[str, Any]:
        auths = self.doc.setdefault("auths", {})
        if not isinstance(auths, dict):
            raise CredentialsError(f"{self.path}: 'auths' must be an object")
        return auths

    def helper_for(self, key: str) -> str:
        helpers = self.doc.get("credHelpers") or {}
        name = helpers.get(key) or helpers.get(_host_of(key))
        return str(name or self.doc.get("credsStore") or "")

    def get(self, key: str) -> Credentials:
        helper = self.helper_for(key)
        if helper:
            return helper_get(helper, key)
        entry = self.auths.get(key)
        if entry is None:  # Docker also accepts "https://host" and "http://host" keys
            for k, v in self.auths.items():
                if _host_of(k) == key:
                    entry = v
                    break
        if not isinstance(entry, dict):
            return Credentials()
        user, password = entry.get("username", ""), entry.get("password", "")
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise CredentialsError(f"{self.path}: auths[{key!r}].auth is not base64 'user:password'") from None
        return Credentials(user, password, entry.get("identitytoken", ""),
                           entry.get("registrytoken", ""))

    def store(self, key: str, creds: Credentials) -> None:
        helper = self.helper_for(key)
        if helper:
            secret = creds.identity_token or creds.password
            user = TOKEN_USERNAME if creds.identity_token else creds.username
            helper_store(helper, key, user, secret)
            self.auths[key] = {}
        else:
            entry: dict[str, str] = {}
            if creds.identity_token:
                entry["identitytoken"] = creds.identity_token
                entry["auth"] = _b64(f"{creds.username}:")
            else:
                entry["auth"] = _b64(f"{creds.username}:{creds.password}")
            self.auths[key] = entry
        self.save()

    def erase(self, key: str) -> bool:
        """Forget ``key``'s credentials; False when there were none."""
        helper = self.helper_for(key)
        found = key in self.auths
        if helper:
            found = helper_erase(helper, key) or found
        self.auths.pop(key, None)
        self.save()
        return found

    def save(self) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
        write_bytes(self.path, json.dumps(self.doc, indent="\t").encode() + b"\n", mode=0o600)


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def _host_of(key: str) -> str:
    return key.removeprefix("https://").removeprefix("http://").split("/", 1)[0]


# --- credential helpers ---------------------------------------------------------------


def _run_helper(name: str, verb: str, stdin: str) -> subprocess.CompletedProcess[str]:
    program = f"docker-credential-{name}"
    try:
        return subprocess.run([program, verb], input=stdin, capture_output=True, text=True,
                              timeout=60)
    except FileNotFoundError:
        raise CredentialsError(
            f"error getting credentials - err: exec: \"{program}\": executable file not found in $PATH"
        ) from None
    except subprocess.TimeoutExpired:
        raise CredentialsError(f"credential helper {program} {verb}: no answer after 60s") from None


def _not_found(out: str) -> bool:
    return "credentials not found" in out.lower()


def helper_get(name: str, server: str) -> Credentials:
    p = _run_helper(name, "get", server)
    if p.returncode != 0:
        if _not_found(p.stdout + p.stderr):
            return Credentials()
        raise CredentialsError(
            f"error getting credentials - docker-credential-{name} get: {(p.stdout + p.stderr).strip()}"
        )
    try:
        doc = json.loads(p.stdout)
        user, secret = str(doc.get("Username", "")), str(doc.get("Secret", ""))
    except (ValueError, AttributeError):
        raise CredentialsError(f"docker-credential-{name} get: answer is not JSON: {p.stdout[:200]!r}") from None
    if user == TOKEN_USERNAME:
        return Credentials(identity_token=secret)
    return Credentials(user, secret)


def helper_store(name: str, server: str, user: str, secret: str) -> None:
    payload = json.dumps({"ServerURL": server, "Username": user, "Secret": secret})
    p = _run_helper(name, "store", payload)
    if p.returncode != 0:
        raise CredentialsError(
            f"error storing credentials - docker-credential-{name} store: {(p.stdout + p.stderr).strip()}"
        )


def helper_erase(name: str, server: str) -> bool:
    p = _run_helper(name, "erase", server)
    if p.returncode != 0:
        if _not_found(p.stdout + p.stderr):
            return False
        raise CredentialsError(
            f"error erasing credentials - docker-credential-{name} erase: {(p.stdout + p.stderr).strip()}"
        )
    return True
