"""``Repository``: one repository of one registry, spoken to over HTTP.

Every request goes through ``send``: it adds the ``Authorization`` the
registry asked for last time (cached token or Basic), and on a ``401``
reads the challenge, gets a token for the scopes this repository needs
(``pull``, or ``pull,push`` plus ``pull`` on mount sources) and tries once
more. A second 401, or a 403, is raised as the spec's error.

Errors: an answer >= 400 whose body is the spec's ``{"errors": […]}``
is raised as the ``distribution.errors`` class of its first code (with the
registry's message); other failures as ``DistributionError`` naming the
status. Connection failures are ``RegistryUnreachableError``.

The endpoint is picked once by ``GET /v2/`` in Docker's order (HTTPS, then
plain HTTP for insecure registries). One ``httpx.Client`` is shared by the
worker threads of a pull or push (httpx clients are thread-safe).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx

from dockyard.distribution.errors import (
    BY_CODE,
    BlobUnknownError,
    DeniedError,
    DistributionError,
    ManifestUnknownError,
    NameUnknownError,
    UnauthorizedError,
)

from .auth import Challenge, TokenCache, basic_header, fetch_token, identity, parse_challenges
from .config import Endpoint, RegistryOptions
from .credentials import Credentials
from .errors import RegistryUnreachableError

USER_AGENT = "dockyard (registry client; docker/28 compatible)"
_TOKENS = TokenCache()  # per process, as dockerd keeps them


def connect(endpoints: Sequence[Endpoint], options: RegistryOptions,
            *, any_answer: bool = False) -> tuple[Endpoint, httpx.Client]:
    """The first endpoint answering ``GET /v2/`` (200, or 401/403: an auth
    challenge is an answer; ``any_answer``: any status, for ``/v1/search``)."""
    errors: list[str] = []
    for ep in endpoints:
        http = httpx.Client(
            base_url=ep.url, verify=ep.verify, timeout=options.timeout, follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=max(options.max_concurrent_downloads,
                                                    options.max_concurrent_uploads) + 4),
        )
        try:
            r = http.get("/v2/")
        except httpx.HTTPError as e:
            http.close()
            errors.append(f"{ep.url}: {e}")
            continue
        if r.status_code not in (200, 401, 403) and not (ep.mirror or any_answer):
            errors.append(f"{ep.url}/v2/: answered {r.status_code}")
            http.close()
            continue
        return ep, http
    raise RegistryUnreachableError("cannot reach the registry: " + "; ".join(errors))


def raise_for(r: httpx.Response, what: str) -> None:
    """Raise the spec's error for an answer >= 400 (reading a streamed body first)."""
    if r.status_code < 400:
        return
    try:
        body = r.read()
    except httpx.HTTPError:
        body = b""
    code, message, detail = "", "", None
    try:
        first = json.loads(body)["errors"][0]
        code, message, detail = str(first.get("code", "")), str(first.get("message", "")), first.get("detail")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        pass
    cls = BY_CODE.get(code)
    if cls is None:
        cls = {401: UnauthorizedError, 403: DeniedError}.get(r.status_code, DistributionError)
        if r.status_code == 404:  # a registry that says no more than 404
            cls = (BlobUnknownError if what.startswith("blob") else
                   ManifestUnknownError if what.startswith("manifest") else NameUnknownError)
    text = message or (body[:200].decode(errors="replace").strip() or r.reason_phrase)
    raise cls(f"{what}: {text}" if what else text, detail=detail)


class Repository:
    """A repository on a connected registry endpoint, with auth."""

    def __init__(self, endpoint: Endpoint, http: httpx.Client, name: str, creds: Credentials,
                 *, actions: Sequence[str] = ("pull",), extra_scopes: Iterable[str] = ()) -> None:
        self.endpoint = endpoint
        self.http = http
        self.name = name  # the repository's path on the registry: library/busybox
        self.creds = creds
        self.scopes = [f"repository:{name}:{','.join(actions)}", *extra_scopes]
        self._auth: str | None = None  # the last Authorization that worked
        self._challenge: Challenge | None = None
        self._lock = threading.Lock()
        self._auth_lock = threading.Lock()
        if creds.registry_token:
            self._auth = f"Bearer {creds.registry_token}"

    def close(self) -> None:
        self.http.close()

    def url(self, path: str) -> str:
        return f"/v2/{self.name}/{path}"

    def add_scope(self, scope: str) -> None:
        with self._lock:
            if scope not in self.scopes:
                self.scopes.append(scope)
                if self._challenge is not None and self._challenge.scheme == "bearer":
                    self._auth = None  # the next request fetches a token covering it

    def send(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
             content: Any = None, params: Mapping[str, str] | None = None,
             stream: bool = False, what: str = "") -> httpx.Response:
        """One request with auth. Returns the answer (callers check it with
        ``raise_for``, some statuses are answers: 404 on a HEAD); a 401 that a
        fresh token or Basic credentials did not cure is raised here as
        ``UnauthorizedError`` saying why, with ``what`` as its subject."""
        for attempt in range(2):
            hdrs = dict(headers or {})
            auth = self._auth
            if auth:
                hdrs["Authorization"] = auth
            try:
                req = self.http.build_request(method, url, headers=hdrs, content=content, params=params)
                r = self.http.send(req, stream=stream)
            except httpx.TransportError as e:
                raise RegistryUnreachableError(f"{method} {self.endpoint.url}{url}: {e}") from e
            if r.status_code != 401 or attempt == 1 or self.creds.registry_token:
                if r.status_code == 401:
                    self._explain_401(r, what)
                return r
            r.close()
            if callable(getattr(content, "seek", None)):
                content.seek(0)  # a file body is sent again from the start
            self._authorize(r, used=auth)
        raise AssertionError("unreachable")

    def _explain_401(self, r: httpx.Response, what: str) -> None:
        header = r.headers.get("WWW-Authenticate", "")
        ch = parse_challenges(header)
        err = ch[0].params.get("error", "") if ch else ""
        if self.creds.registry_token:
            reason = "the registry token from config.json was refused"
        elif err == "invalid_token":
            reason = "the registry refused the token (expired or invalid)"
        elif err == "insufficient_scope":
            reason = f"insufficient scope: the token does not grant {ch[0].params.get('scope', '')}"
        elif self.creds.empty:
            reason = "authentication required (no credentials: run dockyard login)"
        else:
            reason = "incorrect username or password"
        try:
            said = json.loads(r.read())["errors"][0]["message"]
            reason += f" ({said})"
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError):
            pass
        r.close()
        raise UnauthorizedError(f"{what + ': ' if what else ''}unauthorized: {reason}",
                                detail={"challenge": header})

    def _authorize(self, r: httpx.Response, *, used: str | None) -> None:
        # One thread at a time: parallel blob requests refused together must
        # not each buy a token; the ones that wait use the first one's.
        with self._auth_lock:
            if self._auth != used and self._auth is not None:
                return
            self._authorize_locked(r)

    def _authorize_locked(self, r: httpx.Response) -> None:
        challenges = parse_challenges(r.headers.get("WWW-Authenticate", ""))
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        with self._lock:
            scopes = list(self.scopes)
        if bearer is not None:
            service = bearer.params.get("service", "")
            err = bearer.params.get("error", "")
            who = identity(self.creds)
            token = None if err else _TOKENS.get(bearer.realm, service, who, scopes)
            if token is None or token == (self._auth or "").removeprefix("Bearer "):
                got = fetch_token(self.http, bearer, scopes, self.creds)
                token = got.token
                _TOKENS.put(bearer.realm, service, who, scopes, token, got.ttl)
            self._auth, self._challenge = f"Bearer {token}", bearer
        elif basic is not None:
            self._auth, self._challenge = basic_header(self.creds), basic
        else:
            self._auth = None


def open_repository(endpoints: Sequence[Endpoint], path: str, options: RegistryOptions,
                    creds: Credentials, *, actions: Sequence[str] = ("pull",),
                    extra_scopes: Iterable[str] = ()) -> Repository:
    ep, http = connect(endpoints, options)
    return Repository(ep, http, path, creds, actions=actions, extra_scopes=extra_scopes)
