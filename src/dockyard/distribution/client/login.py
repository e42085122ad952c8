"""``docker login`` / ``docker logout``.

``login`` checks the credentials against the registry before keeping them:
``GET /v2/``; a 401 with a Basic challenge is answered with Basic
credentials, one with a Bearer challenge by asking the token realm (no
scope, ``offline_token=true``, as Docker does) with them; a refresh token
in the answer is kept as the ``identitytoken`` instead of the password. Only a success writes ``config.json`` (or
hands them to the credential helper). ``logout`` forgets them.
"""

from __future__ import annotations

import httpx

from dockyard.distribution.errors import UnauthorizedError

from .auth import basic_header, fetch_token, parse_challenges
from .config import DOCKER_IO, RegistryOptions, auth_key
from .credentials import ConfigFile, Credentials
from .errors import RegistryUnreachableError
from .transport import connect


def server_domain(server: str | None) -> str:
    """``https://host:5000/`` → ``host:5000``; Docker Hub's names → ``docker.io``."""
    if not server:
        return DOCKER_IO
    host = server.removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    if host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return DOCKER_IO
    return host


def login(server: str | None, username: str, password: str, *,
          options: RegistryOptions | None = None, config: ConfigFile | None = None) -> str:
    """Verify and store credentials; returns Docker's ``Login Succeeded``."""
    options = options or RegistryOptions()
    config = config or ConfigFile()
    domain = server_domain(server)
    creds = Credentials(username, password)
    _, http = connect(options.endpoints(domain, for_pull=False)[-1], options)
    try:
        try:
            r = http.get("/v2/")
            if r.status_code == 401:
                challenges = parse_challenges(r.headers.get("WWW-Authenticate", ""))
                bearer = next((c for c in challenges if c.scheme == "bearer"), None)
                if bearer is not None:
                    got = fetch_token(http, bearer, [], creds, offline=True)
                    if got.refresh_token:  # kept instead of the password, as Docker does
                        creds = Credentials(username, identity_token=got.refresh_token)
                else:
                    r = http.get("/v2/", headers={"Authorization": basic_header(creds)})
                    if r.status_code == 401:
                        raise UnauthorizedError("unauthorized: incorrect username or password")
            if r.status_code >= 400 and r.status_code != 401:
                raise UnauthorizedError(f"login to {domain}: the registry answered {r.status_code}")
        except httpx.HTTPError as e:
            raise RegistryUnreachableError(f"login to {domain}: {e}") from None
    finally:
        http.close()
    config.store(auth_key(domain), creds)
    return "Login Succeeded"


def logout(server: str | None, *, config: ConfigFile | None = None) -> str:
    """Forget a registry's credentials; returns Docker's message."""
    config = config or ConfigFile()
    domain = server_domain(server)
    key = auth_key(domain)
    if not config.erase(key):
        return f"Not logged in to {key}"
    return f"Removing login credentials for {key}"
