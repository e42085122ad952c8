"""``ImageAPI``: the ``/images/…`` endpoints the image commands use, mixed into ``Client``.

List, history, remove, prune, save (a byte stream), load and import (a
streamed body, JSON messages back), commit. Kept apart from ``api.py`` so
the transport there can change without touching these.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast

from .errors import APIError

if TYPE_CHECKING:
    from .http import Connection, Response


class ImageAPI:
    if TYPE_CHECKING:  # what ``api.Client`` provides
        _prefix: str
        _http: Connection

        def _json(self, method: str, path: str, **kw: Any) -> Any: ...

        def _negotiate(self) -> str: ...

    def images(self, *, all: bool = False,
               filters: dict[str, builtins.list[str]] | None = None,
               digests: bool = False) -> builtins.list[dict[str, Any]]:
        """``GET /images/json``: Docker's ImageSummary objects."""
        return self._json("GET", "/images/json", params={  # type: ignore[no-any-return]
            "all": all, "digests": digests or None,
            "filters": json.dumps(filters) if filters else None})

    def image_history(self, ref: str) -> builtins.list[dict[str, Any]]:
        return self._json("GET", f"/images/{ref}/history")  # type: ignore[no-any-return]

    def image_remove(self, ref: str, *, force: bool = False,
                     noprune: bool = False) -> builtins.list[dict[str, str]]:
        """``DELETE /images/{name}``: ``[{"Untagged": …}, {"Deleted": …}]``."""
        return self._json("DELETE", f"/images/{ref}",  # type: ignore[no-any-return]
                          params={"force": force, "noprune": noprune})

    def image_prune(self, filters: dict[str, builtins.list[str]] | None = None
                    ) -> dict[str, Any]:
        """``POST /images/prune``: ``ImagesDeleted`` and ``SpaceReclaimed``; pass
        ``dangling=["false"]`` for ``prune -a``."""
        return self._json("POST", "/images/prune", params={  # type: ignore[no-any-return]
            "filters": json.dumps(filters) if filters else None})

    def image_save(self, names: builtins.list[str]) -> Iterator[bytes]:
        """``GET /images/get?names=…``: the archive's bytes as they come."""
        r = _send_query(self, "GET", "/images/get", [("names", n) for n in names])
        try:
            _check(r, (200,))
            yield from r.iter_raw()
        finally:
            r.close()

    def image_load(self, body: Iterable[bytes], *, quiet: bool = False
                   ) -> Iterator[dict[str, Any]]:
        """``POST /images/load``: send the archive, yield the JSON messages."""
        r = _send_query(self, "POST", "/images/load", [("quiet", "1" if quiet else "0")],
                        body, "application/x-tar")
        yield from _messages(r)

    def image_import(self, body: Iterable[bytes], *, repo: str = "", tag: str = "",
                     changes: builtins.list[str] | None = None, message: str = "",
                     platform: str | None = None) -> Iterator[dict[str, Any]]:
        """``POST /images/create?fromSrc=-``: the tarball as the body."""
        q = [("fromSrc", "-"), ("repo", repo), ("tag", tag), ("message", message),
             *(("changes", c) for c in changes or []),
             *((("platform", platform),) if platform else ())]
        r = _send_query(self, "POST", "/images/create", q, body, "application/x-tar")
        yield from _messages(r)

    def commit(self, container: str, *, repo: str = "", tag: str = "",
               author: str = "", comment: str = "", changes: builtins.list[str] | None = None,
               pause: bool = True) -> str:
        """``POST /commit``: the new image's id."""
        q = [("container", container), ("repo", repo), ("tag", tag), ("author", author),
             ("comment", comment), ("pause", "1" if pause else "0"),
             *(("changes", c) for c in changes or [])]
        r = _send_query(self, "POST", "/commit", q)
        body = r.read()
        _check(r, (200, 201))
        return str(json.loads(body)["Id"])


def _send_query(c: ImageAPI, method: str, path: str, query: builtins.list[tuple[str, str]],
                body: Iterable[bytes] | None = None, ctype: str | None = None) -> Response:
    """A request whose query repeats keys (``names=a&names=b``, ``changes=…``),
    which ``Client._send``'s dict of params cannot say."""
    if not c._prefix:
        c._prefix = f"/v{c._negotiate()}"
    return c._http.request(method, c._prefix + path,
                           params=cast("dict[str, str]", [(k, v) for k, v in query if v]),
                           headers={"Content-Type": ctype} if ctype else None,
                           body=body if body is not None else (b"" if method == "POST" else None))


def _check(r: Response, ok: tuple[int, ...]) -> None:
    if r.status_code not in ok:
        r.read()
        from .api import _message

        raise APIError(r.status_code, _message(r))


def _messages(r: Response) -> Iterator[dict[str, Any]]:
    """The JSON lines of a streamed answer; an ``error`` message raises."""
    try:
        _check(r, (200,))
        for line in r.iter_lines():
            if not line.strip():
                continue
            msg = json.loads(line)
            if msg.get("error") or msg.get("errorDetail"):
                detail = msg.get("errorDetail") or {}
                raise APIError(500, str(msg.get("error") or detail.get("message")))
            yield msg
    finally:
        r.close()
