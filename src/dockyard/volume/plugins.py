"""Docker volume plugins (the v1 "legacy" plugin protocol), found and called.

Discovery is Docker's (``pkg/plugins/discovery.go``): a plugin named NAME is

1. a unix socket ``<socket dir>/NAME.sock`` or ``<socket dir>/NAME/NAME.sock``
   (socket dir: ``/run/docker/plugins``), else
2. a spec file ``<spec dir>/NAME.spec`` holding one URL (``unix:///path`` or
   ``tcp://host:port``) or ``<spec dir>/NAME.json`` (``{"Name", "Addr"}``)
   (spec dirs: ``/etc/docker/plugins``, ``/usr/lib/docker/plugins``).

Every directory is a constructor argument so tests use private ones.

The wire: ``POST /<Method>`` with a JSON body and
``Accept: application/vnd.docker.plugins.v1.2+json``; first
``/Plugin.Activate`` (the answer's ``Implements`` must list
``VolumeDriver``), then ``/VolumeDriver.Create|Remove|Mount|Unmount|Path|
Get|List|Capabilities``. Each answer may carry ``Err``; a non-empty one is
the plugin refusing. Answers are decoded into typed structs, so a plugin
that answers nonsense (not JSON, a number for ``Mountpoint``, a relative
mount point) gets a ``PluginError`` saying which call and what was wrong,
and one that hangs gets a ``PluginTimeout`` after ``timeout`` seconds.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, TypeVar
from urllib.parse import urlparse

import msgspec

from .errors import DriverNotFound, PluginError, PluginTimeout

MIME = "application/vnd.docker.plugins.v1.2+json"
SOCKET_DIRS = ("/run/docker/plugins",)
SPEC_DIRS = ("/etc/docker/plugins", "/usr/lib/docker/plugins")
DEFAULT_TIMEOUT = 30.0  # seconds, Docker's plugin client default


class _Answer(msgspec.Struct, kw_only=True):
    Err: str = ""


class ActivateAnswer(_Answer, kw_only=True):
    Implements: list[str] = msgspec.field(default_factory=list)


class MountAnswer(_Answer, kw_only=True):
    Mountpoint: str = ""


class PluginVolume(msgspec.Struct, kw_only=True):
    Name: str
    Mountpoint: str = ""
    CreatedAt: str = ""
    Status: dict[str, Any] | None = None


class GetAnswer(_Answer, kw_only=True):
    Volume: PluginVolume | None = None


class ListAnswer(_Answer, kw_only=True):
    Volumes: list[PluginVolume] = msgspec.field(default_factory=list)


class Capabilities(msgspec.Struct, kw_only=True):
    Scope: str = "local"


class CapabilitiesAnswer(_Answer, kw_only=True):
    Capabilities: Capabilities = msgspec.field(default_factory=Capabilities)


A = TypeVar("A", bound=_Answer)


class PluginClient:
    """One plugin endpoint: ``unix:///path``, ``tcp://host:port`` or ``http(s)://…``."""

    def __init__(self, name: str, addr: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        import httpx  # here: a daemon with no volume plugin never loads it (~15 MiB)

        self.name, self.addr = name, addr
        u = urlparse(addr)
        if u.scheme == "unix":
            transport = httpx.HTTPTransport(uds=u.path)
            base = "http://plugin"
        elif u.scheme in ("tcp", "http"):
            transport, base = httpx.HTTPTransport(), f"http://{u.netloc}"
        elif u.scheme == "https":
            transport, base = httpx.HTTPTransport(), f"https://{u.netloc}"
        else:
            raise PluginError(f"plugin {name}: unsupported address {addr!r} "
                              "(want unix://, tcp://, http:// or https://)")
        self._http = httpx.Client(transport=transport, base_url=base, timeout=timeout,
                                  headers={"Accept": MIME, "Content-Type": MIME})
        self.timeout = timeout

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, body: dict[str, Any] | None, answer: type[A],
             *, allow_404: bool = False) -> A | None:
        import httpx

        what = f"volume plugin {self.name}: {method}"
        try:
            r = self._http.post("/" + method, content=json.dumps(body).encode())
        except httpx.TimeoutException:
            raise PluginTimeout(f"{what}: no answer within {self.timeout:g}s") from None
        except httpx.HTTPError as e:
            raise PluginError(f"{what}: {e}") from None
        if r.status_code == 404 and allow_404:
            return None
        if r.status_code != 200:
            err = ""
            try:
                err = str(json.loads(r.content).get("Err", ""))
            except (ValueError, AttributeError):
                pass
            raise PluginError(f"{what}: HTTP {r.status_code}: {err or r.text[:200]!r}")
        try:
            out = msgspec.json.decode(r.content, type=answer)
        except msgspec.DecodeError as e:
            raise PluginError(f"{what}: invalid answer ({e}): {r.text[:200]!r}") from None
        if out.Err:
            raise PluginError(f"{what}: {out.Err}")
        return out


class PluginDriver:
    """A volume driver served by a plugin; same shape as ``LocalDriver``."""

    def __init__(self, client: PluginClient) -> None:
        self.client = client
        self.name = client.name
        caps = client.call("VolumeDriver.Capabilities", {}, CapabilitiesAnswer, allow_404=True)
        self.scope = caps.Capabilities.Scope if caps else "local"
        if self.scope not in ("local", "global"):
            raise PluginError(f"volume plugin {self.name}: Capabilities.Scope must be "
                              f"'local' or 'global', got {self.scope!r}")

    def validate(self, opts: dict[str, str]) -> None:
        pass  # the plugin judges its own options in Create

    def create(self, name: str, opts: dict[str, str]) -> None:
        self.client.call("VolumeDriver.Create", {"Name": name, "Opts": opts}, _Answer)

    def remove(self, name: str, opts: dict[str, str]) -> None:
        self.client.call("VolumeDriver.Remove", {"Name": name}, _Answer)

    def _mountpoint(self, method: str, answer: MountAnswer | None) -> str:
        mp = answer.Mountpoint if answer else ""
        if not mp or not os.path.isabs(mp):
            raise PluginError(f"volume plugin {self.name}: {method}: Mountpoint must be an "
                              f"absolute host path, got {mp!r}")
        return os.path.normpath(mp)

    def mount(self, name: str, opts: dict[str, str], *, first: bool, ref: str = "") -> str:
        a = self.client.call("VolumeDriver.Mount", {"Name": name, "ID": ref}, MountAnswer)
        return self._mountpoint("VolumeDriver.Mount", a)

    def unmount(self, name: str, opts: dict[str, str], *, last: bool, ref: str = "") -> None:
        self.client.call("VolumeDriver.Unmount", {"Name": name, "ID": ref}, _Answer)

    def path(self, name: str) -> str:
        a = self.client.call("VolumeDriver.Path", {"Name": name}, MountAnswer)
        return self._mountpoint("VolumeDriver.Path", a)

    def get(self, name: str) -> PluginVolume | None:
        a = self.client.call("VolumeDriver.Get", {"Name": name}, GetAnswer)
        return a.Volume if a else None

    def list(self) -> list[PluginVolume]:
        a = self.client.call("VolumeDriver.List", {}, ListAnswer)
        return a.Volumes if a else []


class PluginRegistry:
    """Finds, activates and caches volume plugins by name."""

    def __init__(self, *, socket_dirs: tuple[str, ...] = SOCKET_DIRS,
                 spec_dirs: tuple[str, ...] = SPEC_DIRS, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.socket_dirs, self.spec_dirs, self.timeout = socket_dirs, spec_dirs, timeout
        self._active: dict[str, PluginDriver] = {}
        self._lock = threading.Lock()

    def address(self, name: str) -> str | None:
        """Where plugin ``name`` listens, by Docker's discovery order; None if nowhere."""
        if "/" in name or name in ("", ".", ".."):
            return None
        for d in self.socket_dirs:
            for p in (os.path.join(d, name + ".sock"), os.path.join(d, name, name + ".sock")):
                if os.path.exists(p):
                    return "unix://" + p
        for d in self.spec_dirs:
            spec = os.path.join(d, name + ".spec")
            if os.path.isfile(spec):
                with open(spec) as f:
                    url = f.read().strip()
                if not url:
                    raise PluginError(f"plugin {name}: {spec} is empty (want a URL)")
                return url
            js = os.path.join(d, name + ".json")
            if os.path.isfile(js):
                try:
                    with open(js) as f:
                        addr = json.load(f)["Addr"]
                except (ValueError, KeyError, TypeError) as e:
                    raise PluginError(f"plugin {name}: {js}: want {{\"Name\", \"Addr\"}}: {e}") \
                        from None
                return str(addr)
        return None

    def names(self) -> list[str]:
        found: set[str] = set()
        for d in self.socket_dirs:
            for entry in _listdir(d):
                if entry.endswith(".sock"):
                    found.add(entry[:-5])
                elif os.path.exists(os.path.join(d, entry, entry + ".sock")):
                    found.add(entry)
        for d in self.spec_dirs:
            for entry in _listdir(d):
                base, ext = os.path.splitext(entry)
                if ext in (".spec", ".json"):
                    found.add(base)
        return sorted(found)

    def active(self) -> list[PluginDriver]:
        with self._lock:
            return list(self._active.values())

    def get(self, name: str) -> PluginDriver:
        with self._lock:
            if name in self._active:
                return self._active[name]
        addr = self.address(name)
        if addr is None:
            raise DriverNotFound(
                f"error looking up volume plugin {name}: plugin {name!r} not found")
        client = PluginClient(name, addr, timeout=self.timeout)
        try:
            act = client.call("Plugin.Activate", None, ActivateAnswer)
            if act is None or "VolumeDriver" not in act.Implements:
                raise DriverNotFound(
                    f"error looking up volume plugin {name}: plugin {name!r} does not implement "
                    f"VolumeDriver (Implements: {act.Implements if act else []})")
            driver = PluginDriver(client)
        except BaseException:
            client.close()
            raise
        with self._lock:
            self._active.setdefault(name, driver)
            return self._active[name]

    def close(self) -> None:
        with self._lock:
            for d in self._active.values():
                d.client.close()
            self._active.clear()


def _listdir(d: str) -> list[str]:
    try:
        return os.listdir(d)
    except (FileNotFoundError, NotADirectoryError):
        return []
