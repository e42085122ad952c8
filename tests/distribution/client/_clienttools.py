"""Helpers for the registry client's tests: Debian's distribution registry,
a TCP proxy that breaks connections, a scripted HTTP server that lies, and
image stores with busybox in them."""

from __future__ import annotations

import http.server
import os
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import bcrypt
import httpx

from dockyard.linux import ports

PASSWORDS = {"alice": "wonderland", "bob": "builder"}


def free_port() -> int:
    return ports.free_port("127.0.0.1")


def write_htpasswd(path: Path) -> Path:
    path.write_text("".join(
        f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode()}\n" for u, p in PASSWORDS.items()))
    return path


@dataclass
class Distribution:
    """Debian's ``docker-registry`` (distribution 2.8) on a free loopback port."""

    host: str
    proc: subprocess.Popen[bytes]
    root: Path
    log: BinaryIO

    def stop(self) -> None:
        self.log.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_distribution(workdir: Path, *, htpasswd: Path | None = None) -> Distribution:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = (f"auth:\n  htpasswd:\n    realm: basic-realm\n    path: {htpasswd}\n" if htpasswd else "")
    cfg = workdir / "config.yml"
    cfg.write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {workdir / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}")
    log = open(workdir / "registry.log", "wb")
    proc = subprocess.Popen(["docker-registry", "serve", str(cfg)], stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code in (200, 401):
                return Distribution(f"127.0.0.1:{port}", proc, workdir, log)
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    log.close()
    raise RuntimeError(f"docker-registry did not start:\n{(workdir / 'registry.log').read_text()}")


@dataclass
class CuttingProxy:
    """A TCP proxy to ``target`` that closes each of the first ``cuts``
    connections after ``after`` bytes from the server; records request heads."""

    target: tuple[str, int]
    after: int
    cuts: int
    stall: bool = False  # instead of cutting, stop forwarding (for kill -9 tests)
    requests: list[bytes] = field(default_factory=list)
    cut_done: int = 0

    def __post_init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.host = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _take_cut(self) -> bool:
        with self._lock:
            if self.cut_done < self.cuts:
                self.cut_done += 1
                return True
            return False

    def _serve(self, c: socket.socket) -> None:
        s = socket.create_connection(self.target)

        def up() -> None:
            try:
                while data := c.recv(65536):
                    with self._lock:
                        self.requests.append(data)
                    s.sendall(data)
            except OSError:
                pass

        threading.Thread(target=up, daemon=True).start()
        sent = 0
        try:
            while data := s.recv(65536):
                if sent + len(data) > self.after and self._take_cut():
                    c.sendall(data[: self.after - sent])
                    if self.stall:
                        time.sleep(3600)
                    break
                c.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for x in (c, s):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                x.close()

    def ranges(self) -> list[str]:
        out = []
        for chunk in self.requests:
            for line in chunk.split(b"\r\n"):
                if line.lower().startswith(b"range:"):
                    out.append(line.split(b":", 1)[1].strip().decode())
        return out


Route = tuple[int, dict[str, str], bytes]


class ScriptedServer:
    """An HTTP server answering fixed (status, headers, body) per path: a
    registry that lies, for the client's verification tests."""

    def __init__(self, routes: dict[str, Route] | Callable[[str, str], Route | None]) -> None:
        self.routes = routes
        self.seen: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, body_too: bool) -> None:
                outer.seen.append(f"{self.command} {self.path}")
                route = (outer.routes(self.command, self.path) if callable(outer.routes)
                         else outer.routes.get(self.path))
                code = ("BLOB_UNKNOWN" if "/blobs/" in self.path else
                        "MANIFEST_UNKNOWN" if "/manifests/" in self.path else "NAME_UNKNOWN")
                status, headers, body = route or (404, {"Content-Type": "application/json"},
                                                  b'{"errors":[{"code":"%s","message":"unknown"}]}' % code.encode())
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body_too:
                    self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer(True)

            def do_HEAD(self) -> None:
                self._answer(False)

            def log_message(self, *args: object) -> None:
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def credential_helper(bindir: Path, store: Path) -> Path:
    """``docker-credential-dytest``: a real helper program keeping secrets in a JSON file."""
    bindir.mkdir(parents=True, exist_ok=True)
    helper = bindir / "docker-credential-dytest"
    helper.write_text(f"""#!{os.environ.get('PYTHON', '/usr/bin/python3')}
import json, sys
path = {str(store)!r}
try:
    db = json.load(open(path))
except FileNotFoundError:
    db = {{}}
verb, data = sys.argv[1], sys.stdin.read()
open(path + ".log", "a").write(verb + " " + data.strip().split()[0][:80] + "\\n")
if verb == "store":
    doc = json.loads(data)
    db[doc["ServerURL"]] = [doc["Username"], doc["Secret"]]
elif verb == "get":
    if data.strip() not in db:
        print("credentials not found in native keychain"); sys.exit(1)
    u, s = db[data.strip()]
    print(json.dumps({{"ServerURL": data.strip(), "Username": u, "Secret": s}}))
elif verb == "erase":
    if db.pop(data.strip(), None) is None:
        print("credentials not found in native keychain"); sys.exit(1)
json.dump(db, open(path, "w"))
""")
    helper.chmod(0o755)
    return helper
