"""``Client``: the endpoints the CLI needs, over HTTP/1.1 on a unix socket (``http``)."""

from __future__ import annotations

import builtins
import json
import os
import socket
import struct
from collections.abc import Iterable, Iterator
from typing import IO, Any

from .detach import DEFAULT_DETACH_KEYS, parse_detach_keys
from .errors import APIError, ConnectionFailed
from .http import Connection, Response
from .images import ImageAPI

DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"
API_VERSION = "1.50"
Filters = dict[str, builtins.list[str]]


def resolve_host(host: str | None = None) -> str:
    return host or os.environ.get("DOCKYARD_HOST") or os.environ.get("DOCKER_HOST") or DEFAULT_HOST


class Hijacked:
    """The raw socket of an attach/exec after ``101 UPGRADED``. ``detach_keys``: the
    sequence the engine ends this session on (with a tty), for the client to watch for
    too; empty when there is none."""

    def __init__(self, response: Response, sock: socket.socket, file: IO[bytes]) -> None:
        self.response = response
        self.sock = sock
        self.detach_keys = b""
        self._file = file  # reads go through it: it holds what came with the headers

    def read(self, n: int = 65536) -> bytes:
        return self._file.read1(n)  # type: ignore[attr-defined,no-any-return]

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self.sock.close()

    def frames(self, tty: bool) -> Iterator[tuple[int, bytes]]:
        """(stream, bytes) until the daemon closes: raw with a tty, else demultiplexed."""
        buf = b""
        while True:
            try:
                chunk = self.read()
            except OSError:
                chunk = b""
            if not chunk:
                return
            if tty:
                yield 1, chunk
                continue
            buf += chunk
            while len(buf) >= 8:
                stream, size = struct.unpack(">BxxxI", buf[:8])
                if len(buf) < 8 + size:
                    break
                yield stream, buf[8:8 + size]
                buf = buf[8 + size:]


class Client(ImageAPI):
    def __init__(self, host: str | None = None, timeout: float | None = None) -> None:
        self.host = resolve_host(host)
        if not self.host.startswith("unix://"):
            raise ConnectionFailed(f"unsupported host {self.host!r}: only unix:// sockets")
        self.path = self.host[len("unix://"):]
        self._http = Connection(self.path, timeout)
        # The API version: $DOCKER_API_VERSION, or negotiated on the first
        # request as the docker CLI does (an older engine, e.g. Docker 20.10 at
        # 1.41, refuses a newer client's versioned paths).
        pinned = os.environ.get("DOCKER_API_VERSION", "")
        self._prefix = f"/v{pinned}" if pinned else ""

    def close(self) -> None:
        self._http.close()

    def another(self) -> Client:
        """A client of the same daemon on its own connection (for a request that
        blocks, like ``wait``), reusing the API version already negotiated."""
        c = Client(self.host, self._http.timeout)
        c._prefix = c._prefix or self._prefix
        return c

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------

    def _send(self, method: str, path: str, *, params: dict[str, Any] | None = None,
              headers: dict[str, str] | None = None,
              content: bytes | Iterable[bytes] | None = None) -> Response:
        """One request; the response's body is still to be read (or streamed)."""
        if not self._prefix:
            self._prefix = f"/v{self._negotiate()}"
        return self._http.request(method, self._prefix + path, params=_params(params),
                                  headers=headers, body=content)

    def _negotiate(self) -> str:
        """The lower of our API version and the engine's (``Api-Version`` of
        ``GET /_ping``, unversioned); ours when the engine names none."""
        r = self._http.request("GET", "/_ping", params=None, headers=None, body=None)
        r.read()
        theirs = r.headers.get("api-version", "")
        try:
            older = tuple(map(int, theirs.split("."))) < tuple(map(int, API_VERSION.split(".")))
        except ValueError:
            older = False
        return theirs if older else API_VERSION

    def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                 body: Any = None, ok: tuple[int, ...] = (200, 201, 204, 304)) -> Response:
        r = self._send(method, path, params=params,
                       content=json.dumps(body).encode() if body is not None else None,
                       headers={"Content-Type": "application/json"} if body is not None else None)
        r.read()
        if r.status_code not in ok:
            raise APIError(r.status_code, _message(r))
        return r

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        return self._request(method, path, **kw).json()

    def _hijack(self, path: str, *, params: dict[str, Any] | None = None,
                body: Any = None) -> Hijacked:
        r = self._send("POST", path, params=params,
                       content=json.dumps(body).encode() if body is not None else b"",
                       headers={"Upgrade": "tcp", "Connection": "Upgrade",
                                "Content-Type": "application/json"})
        if r.status_code not in (101, 200):
            r.read()
            raise APIError(r.status_code, _message(r))
        sock, file = r.detach()
        return Hijacked(r, sock, file)

    # --- system ----------------------------------------------------------------

    def ping(self) -> str:
        return self._request("GET", "/_ping").text

    def version(self) -> dict[str, Any]:
        return self._json("GET", "/version")  # type: ignore[no-any-return]

    def info(self) -> dict[str, Any]:
        return self._json("GET", "/info")  # type: ignore[no-any-return]

    # --- containers -----------------------------------------------------------------

    def create(self, config: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        return self._json("POST", "/containers/create",  # type: ignore[no-any-return]
                          params={"name": name}, body=config)

    def list(self, *, all: bool = False, filters: dict[str, list[str]] | None = None,
             limit: int | None = None) -> list[dict[str, Any]]:
        return self._json("GET", "/containers/json", params={  # type: ignore[no-any-return]
            "all": all, "limit": limit, "filters": json.dumps(filters) if filters else None})

    def inspect(self, ref: str) -> dict[str, Any]:
        return self._json("GET", f"/containers/{ref}/json")  # type: ignore[no-any-return]

    def start(self, ref: str) -> None:
        self._request("POST", f"/containers/{ref}/start")

    def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        self._request("POST", f"/containers/{ref}/stop", params={"t": timeout, "signal": signal})

    def restart(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        self._request("POST", f"/containers/{ref}/restart", params={"t": timeout, "signal": signal})

    def pause(self, ref: str) -> None:
        self._request("POST", f"/containers/{ref}/pause")

    def unpause(self, ref: str) -> None:
        self._request("POST", f"/containers/{ref}/unpause")

    def rename(self, ref: str, name: str) -> None:
        self._request("POST", f"/containers/{ref}/rename", params={"name": name})

    def top(self, ref: str, ps_args: str | None = None) -> dict[str, Any]:
        return self._json("GET", f"/containers/{ref}/top",  # type: ignore[no-any-return]
                          params={"ps_args": ps_args})

    def kill(self, ref: str, signal: str | None = None) -> None:
        self._request("POST", f"/containers/{ref}/kill", params={"signal": signal})

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        self._request("DELETE", f"/containers/{ref}", params={"force": force, "v": volumes})

    def wait(self, ref: str, condition: str | None = None) -> dict[str, Any]:
        return self._json("POST", f"/containers/{ref}/wait",  # type: ignore[no-any-return]
                          params={"condition": condition})

    def resize(self, ref: str, h: int, w: int) -> None:
        self._request("POST", f"/containers/{ref}/resize", params={"h": h, "w": w})

    def logs(self, ref: str, **params: Any) -> Iterator[bytes]:
        r = self._send("GET", f"/containers/{ref}/logs", params=params)
        if r.status_code != 200:
            r.read()
            raise APIError(r.status_code, _message(r))
        try:
            yield from r.iter_raw()
        finally:
            r.close()

    def attach(self, ref: str, *, stdin: bool, stdout: bool = True, stderr: bool = True,
               detach_keys: str | None = None) -> Hijacked:
        """Hijacked ``POST /containers/{id}/attach``; ``detach_keys`` as ``--detach-keys``
        (``InvalidDetachKeys`` before anything is sent), else the engine's default."""
        keys = parse_detach_keys(detach_keys) if detach_keys else DEFAULT_DETACH_KEYS
        h = self._hijack(f"/containers/{ref}/attach", params={
            "stream": True, "stdin": stdin, "stdout": stdout, "stderr": stderr,
            "detachKeys": detach_keys or None})
        h.detach_keys = keys
        return h

    def exec_create(self, ref: str, config: dict[str, Any]) -> str:
        return self._json("POST", f"/containers/{ref}/exec", body=config)["Id"]  # type: ignore[no-any-return]

    def exec_start(self, xid: str, *, tty: bool, detach: bool = False,
                   size: tuple[int, int] | None = None,
                   detach_keys: str | None = None) -> Hijacked | None:
        """``POST /exec/{id}/start``, hijacked unless ``detach``. ``detach_keys``: the
        ``DetachKeys`` the exec was created with ("": the engine's default), for the
        client to watch for too (a tty session only)."""
        body: dict[str, Any] = {"Detach": detach, "Tty": tty}
        if size:
            body["ConsoleSize"] = list(size)
        if detach:
            self._request("POST", f"/exec/{xid}/start", body=body)
            return None
        h = self._hijack(f"/exec/{xid}/start", body=body)
        if tty:
            h.detach_keys = parse_detach_keys(detach_keys) if detach_keys else DEFAULT_DETACH_KEYS
        return h

    def exec_inspect(self, xid: str) -> dict[str, Any]:
        return self._json("GET", f"/exec/{xid}/json")  # type: ignore[no-any-return]

    def exec_resize(self, xid: str, h: int, w: int) -> None:
        self._request("POST", f"/exec/{xid}/resize", params={"h": h, "w": w})

    def archive_stat(self, ref: str, path: str) -> dict[str, Any]:
        """``HEAD /containers/{id}/archive``: the path's stat (``name``, ``mode``, …)."""
        import base64

        r = self._request("HEAD", f"/containers/{ref}/archive", params={"path": path})
        return json.loads(base64.b64decode(  # type: ignore[no-any-return]
            r.headers.get("X-Docker-Container-Path-Stat", "") or "e30="))

    def get_archive(self, ref: str, path: str) -> bytes:
        """A tar of ``path`` in the container (its last component as the top entry)."""
        return self._request("GET", f"/containers/{ref}/archive", params={"path": path}).content

    def put_archive(self, ref: str, path: str, data: bytes) -> None:
        """Extract the tar ``data`` into the directory ``path`` of the container."""
        r = self._send("PUT", f"/containers/{ref}/archive", params={"path": path},
                       content=data, headers={"Content-Type": "application/x-tar"})
        r.read()
        if r.status_code != 200:
            raise APIError(r.status_code, _message(r))

    # --- images ----------------------------------------------------------------------

    def build(self, context: Iterable[bytes], **params: Any) -> Iterator[dict[str, Any]]:
        """``POST /build``: send a tar context (chunks), yield the JSON progress messages
        (``stream``, ``aux``, ``error``…). Query values that are dicts/lists go as JSON."""
        q = {k: json.dumps(v) if isinstance(v, dict | builtins.list) else v
             for k, v in params.items()}
        yield from self._stream_json("POST", "/build", q, context, "application/x-tar")

    def events(self, filters: Filters | None = None, since: str | None = None,
               until: str | None = None) -> Iterator[dict[str, Any]]:
        """``GET /events``: the engine's events as they come (until ``until``)."""
        yield from self._stream_json("GET", "/events", {
            "filters": json.dumps(filters) if filters else None, "since": since,
            "until": until}, None, None)

    def image_tag(self, ref: str, repo: str, tag: str | None = None) -> None:
        self._request("POST", f"/images/{ref}/tag", params={"repo": repo, "tag": tag})

    def pull(self, image: str, tag: str | None = None) -> Iterator[dict[str, Any]]:
        """``POST /images/create?fromImage=``: the JSON progress messages."""
        yield from self._stream_json("POST", "/images/create",
                                     {"fromImage": image, "tag": tag}, None, None)

    def push(self, name: str, tag: str | None = None) -> Iterator[dict[str, Any]]:
        """``POST /images/{name}/push``: the JSON progress messages."""
        yield from self._stream_json("POST", f"/images/{name}/push", {"tag": tag}, None, None,
                                     headers={"X-Registry-Auth": "e30="})

    def _stream_json(self, method: str, path: str, params: dict[str, Any],
                     content: Iterable[bytes] | None, ctype: str | None,
                     headers: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        h = dict(headers or {})
        if ctype:
            h["Content-Type"] = ctype
        r = self._send(method, path, params=params, headers=h,
                       content=content if content is not None else b"")
        try:
            if r.status_code != 200:
                r.read()
                raise APIError(r.status_code, _message(r))
            for line in r.iter_lines():
                if line.strip():
                    yield json.loads(line)
        finally:
            r.close()

    def image_inspect(self, ref: str) -> dict[str, Any]:
        return self._json("GET", f"/images/{ref}/json")  # type: ignore[no-any-return]

    # --- networks and volumes (compose creates and removes these) --------------------

    def networks(self, filters: Filters | None = None) -> builtins.list[dict[str, Any]]:
        return self._json("GET", "/networks", params={  # type: ignore[no-any-return]
            "filters": json.dumps(filters) if filters else None})

    def network_create(self, config: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/networks/create", body=config)  # type: ignore[no-any-return]

    def network_remove(self, ref: str) -> None:
        self._request("DELETE", f"/networks/{ref}")

    def volumes(self, filters: Filters | None = None) -> builtins.list[dict[str, Any]]:
        doc = self._json("GET", "/volumes", params={
            "filters": json.dumps(filters) if filters else None})
        return builtins.list(doc.get("Volumes") or [])

    def volume_create(self, config: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/volumes/create", body=config)  # type: ignore[no-any-return]

    def volume_inspect(self, name: str) -> dict[str, Any]:
        return self._json("GET", f"/volumes/{name}")  # type: ignore[no-any-return]

    def volume_remove(self, name: str, force: bool = False) -> None:
        self._request("DELETE", f"/volumes/{name}", params={"force": force})


def _params(params: dict[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    out = {}
    for k, v in params.items():
        if v is None:
            continue
        out[k] = ("1" if v else "0") if isinstance(v, bool) else str(v)
    return out


def _message(r: Response) -> str:
    try:
        return str(r.json()["message"])
    except (ValueError, KeyError, TypeError):
        return r.text.strip() or f"HTTP {r.status_code}"
