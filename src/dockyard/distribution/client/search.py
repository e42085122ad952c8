"""``docker search``: ``GET /v1/search?q=…&n=…`` on a registry that has it.

Docker Hub (``index.docker.io``) and some registries answer with
``{"num_results", "query", "results": [{"name", "description",
"star_count", "is_official", "is_automated"}]}``. The OCI distribution spec
has no search, so ``dockyard registry`` and distribution answer 404: that
is reported as ``SearchUnsupportedError`` with a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from .config import DOCKER_IO, RegistryOptions
from .errors import RegistryUnreachableError, SearchUnsupportedError
from .transport import connect


@dataclass(frozen=True)
class SearchResult:
    name: str
    description: str = ""
    star_count: int = 0
    is_official: bool = False
    is_automated: bool = False


def search(term: str, *, limit: int = 25, options: RegistryOptions | None = None) -> list[SearchResult]:
    """Search ``host/term`` on ``host`` or, without a host, ``term`` on Docker Hub."""
    options = options or RegistryOptions()
    head, _, rest = term.partition("/")
    if rest and ("." in head or ":" in head or head == "localhost"):
        domain, query = head, rest
    else:
        domain, query = DOCKER_IO, term
    if not query:
        raise ValueError("search: a term is required")
    if not 1 <= limit <= 100:
        raise ValueError(f"invalid limit {limit}: must be between 1 and 100")
    group = options.endpoints(domain, for_pull=False)[-1]
    if domain == DOCKER_IO:
        group = [type(e)("index.docker.io", e.scheme, e.verify) for e in group]
    ep, http = connect(group, options, any_answer=True)
    try:
        try:
            r = http.get("/v1/search", params={"q": query, "n": str(limit)})
        except httpx.HTTPError as e:
            raise RegistryUnreachableError(f"search on {ep.host}: {e}") from None
    finally:
        http.close()
    if r.status_code in (404, 405):
        raise SearchUnsupportedError(
            f"the registry {ep.host} does not support search (no /v1/search: answered {r.status_code})")
    if r.status_code != 200:
        raise SearchUnsupportedError(f"search on {ep.host}: answered {r.status_code}: {r.text[:200]}")
    try:
        results: list[dict[str, Any]] = r.json()["results"]
        return [SearchResult(str(x["name"]), str(x.get("description") or ""), int(x.get("star_count") or 0),
                             bool(x.get("is_official")), bool(x.get("is_automated")))
                for x in results][:limit]
    except (ValueError, KeyError, TypeError) as e:
        raise SearchUnsupportedError(f"search on {ep.host}: the answer is not a search result: {e}") from None
