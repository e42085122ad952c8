"""Where a registry is and how to talk to it: Docker's registry settings.

``RegistryOptions`` holds what dockerd reads from ``daemon.json``:

- ``insecure_registries``: hosts (``host:port``) or CIDRs that may be spoken
  to over plain HTTP, or over HTTPS without verifying the certificate.
  Loopback (``127.0.0.0/8``, ``::1``, ``localhost``) is always insecure, as
  in Docker; for an insecure host HTTPS is tried first and plain HTTP is
  the fallback (Docker's order).
- ``mirrors``: ``registry-mirrors``, tried in order for docker.io pulls
  before Docker Hub itself.
- ``certs_dir``: ``/etc/docker/certs.d`` by default; ``<dir>/<host:port>/``
  holds ``*.crt`` CA certificates and ``*.cert``/``*.key`` client pairs
  (Docker's ``client.cert``/``client.key``).

``Endpoint`` is one resolved registry: base URL plus the TLS setting httpx
wants. docker.io's API lives at ``registry-1.docker.io``.
"""

from __future__ import annotations

import glob
import ipaddress
import os
import ssl
from dataclasses import dataclass

DOCKER_IO = "docker.io"
DOCKER_IO_API = "registry-1.docker.io"
DOCKER_IO_AUTH_KEY = "https://index.docker.io/v1/"  # config.json's key for Docker Hub
DEFAULT_CERTS_DIR = "/etc/docker/certs.d"


@dataclass(frozen=True)
class Endpoint:
    """One registry endpoint: ``scheme://host`` and its TLS context."""

    host: str  # host[:port] as used in URLs
    scheme: str  # https | http
    verify: ssl.SSLContext | bool = True
    mirror: bool = False

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"


@dataclass(frozen=True)
class RegistryOptions:
    insecure_registries: tuple[str, ...] = ()
    mirrors: tuple[str, ...] = ()
    certs_dir: str = DEFAULT_CERTS_DIR
    max_concurrent_downloads: int = 3  # dockerd's defaults
    max_concurrent_uploads: int = 5
    chunk_size: int = 0  # >0: chunked uploads of this many bytes; 0: monolithic
    retries: int = 5  # attempts per blob after a broken connection
    timeout: float = 60.0

    def is_insecure(self, host: str) -> bool:
        hostname = _hostname(host)
        if hostname == "localhost":
            return True
        try:
            ip = ipaddress.ip_address(hostname)
        except ValueError:
            ip = None
        if ip is not None and ip.is_loopback:
            return True
        for entry in self.insecure_registries:
            entry = entry.removeprefix("http://").removeprefix("https://").rstrip("/")
            if entry == host or entry == hostname:
                return True
            if "/" in entry and ip is not None:
                try:
                    if ip in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
        return False

    def tls_context(self, host: str, *, verify: bool = True) -> ssl.SSLContext:
        """A context trusting the system CAs plus ``certs_dir/<host>/*.crt``,
        presenting ``*.cert``/``*.key`` from there when present."""
        ctx = ssl.create_default_context()
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        d = os.path.join(self.certs_dir, host)
        if os.path.isdir(d):
            for ca in sorted(glob.glob(os.path.join(d, "*.crt"))):
                ctx.load_verify_locations(cafile=ca)
            for cert in sorted(glob.glob(os.path.join(d, "*.cert"))):
                key = cert[: -len(".cert")] + ".key"
                if not os.path.exists(key):
                    raise ValueError(f"{cert}: client certificate without its key {key}")
                ctx.load_cert_chain(cert, key)
        return ctx

    def endpoints(self, domain: str, *, for_pull: bool = True) -> list[list[Endpoint]]:
        """The registries to try for a reference's domain, in order (mirrors of
        docker.io first, for pulls); each is a list of endpoints to probe
        (HTTPS, then HTTP for an insecure one)."""
        out: list[list[Endpoint]] = []
        if domain == DOCKER_IO and for_pull:
            for m in self.mirrors:
                scheme, _, host = m.rstrip("/").partition("://")
                if not host:
                    scheme, host = "https", m.rstrip("/")
                out.append([Endpoint(e.host, e.scheme, e.verify, mirror=True)
                            for e in self._for_host(host, scheme)])
        out.append(self._for_host(DOCKER_IO_API if domain == DOCKER_IO else domain, None))
        return out

    def _for_host(self, host: str, scheme: str | None) -> list[Endpoint]:
        insecure = self.is_insecure(host)
        if scheme == "http":
            return [Endpoint(host, "http")]
        https = Endpoint(host, "https", self.tls_context(host, verify=not insecure))
        if insecure and scheme is None:
            return [https, Endpoint(host, "http")]
        return [https]


def auth_key(domain: str) -> str:
    """The key of a registry in config.json's ``auths`` (Docker Hub's is a URL)."""
    return DOCKER_IO_AUTH_KEY if domain in (DOCKER_IO, DOCKER_IO_API, "index.docker.io") else domain


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host
