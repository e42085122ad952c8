"""Compiled seccomp filters kept between CLI calls, and loading a compiled filter.

Every container Docker or containerd starts has a seccomp profile, and
``seccomp.prepare`` pays for it in each new runtime process: pyseccomp's
import (which runs ``ldconfig -p`` through ``ctypes.util.find_library``),
libseccomp compiling Docker's default profile, and the modules around them:
~65 ms of CPU per ``create``, more than the whole rest of it. The compiled
BPF program only depends on the profile, the libseccomp that compiled it
and ``seccomp.py``'s rules; so the CLI keeps it under the state root:
``<root>/.seccomp@cache/<sha256 of the profile and machine>``, a JSON header line
then the program. A hit loads that program in the init with ``seccomp(2)``
itself, importing none of the above.

An entry is used only while the libseccomp file it was compiled with (path,
size, mtime) and ``seccomp.py`` are unchanged; anything else (a missing,
short or foreign file) is a miss, and the entry is rewritten. Only filters
without SCMP_ACT_NOTIFY are kept (the listener needs libseccomp). The
directory is root's, mode 0700, and entries are written atomically
(``container.write_private``) and read without following symlinks; an
entry or directory that another user owns or could write is ignored. Errors
in a profile never reach the cache: a profile is stored only once it
compiled, and its key is its full text.

Callers with pyseccomp loaded already (the engine) keep using
``seccomp.prepare`` and its in-memory cache.
"""

from __future__ import annotations

import ctypes
import errno
import os

from . import config, jsonio
from .container import write_private

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.oci.runtime import LinuxSeccomp

    from .seccomp import SeccompFilter

VERSION = 1
CACHE_DIR = ".seccomp@cache"  # hidden from `list`, and "@" is no container id's character
SECCOMP_SET_MODE_FILTER = 1
FILTER_FLAG_NEW_LISTENER = 8
NR_SECCOMP = {"x86_64": 317, "aarch64": 277, "ppc64le": 358, "s390x": 348, "riscv64": 277}
_SECCOMP_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seccomp.py")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)


def load_bpf(bpf: bytes, flags: int, listener: bool = False) -> int:
    """``seccomp(SECCOMP_SET_MODE_FILTER)`` with this program; the listener fd if asked for, else 0."""
    nr = NR_SECCOMP.get(os.uname().machine)
    if nr is None:
        raise OSError(errno.ENOSYS, f"seccomp: no syscall number known for {os.uname().machine}")
    code = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.addressof(code))
    flags |= FILTER_FLAG_NEW_LISTENER if listener else 0
    ret = int(_libc.syscall(nr, SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(prog)))
    if ret < 0:
        err = ctypes.get_errno()
        hint = " (needs no_new_privs or CAP_SYS_ADMIN)" if err == errno.EACCES else ""
        raise OSError(err, f"seccomp: loading the filter: {os.strerror(err)}{hint}")
    return ret


class CachedFilter:
    """A compiled filter read back from the cache: what the init needs of a ``SeccompFilter``."""

    uses_notify = False

    def __init__(self, bpf: bytes, flags: int, skipped: list[str]) -> None:
        self.bpf = bpf
        self.flags = flags
        self.skipped = skipped

    def load(self) -> None:
        load_bpf(self.bpf, self.flags)


def _sha256_hex(data: bytes) -> str:
    try:
        from _sha256 import sha256  # the C module: hashlib would load OpenSSL's
    except ImportError:  # pragma: no cover (a Python built without it)
        from hashlib import sha256
    digest: str = sha256(data).hexdigest()
    return digest


def _key(spec: LinuxSeccomp) -> str:
    text = jsonio.dumps([VERSION, os.uname().machine, config.to_builtins(spec)])
    return _sha256_hex(text.encode())


def _identity(path: str) -> list[object] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [path, st.st_size, st.st_mtime_ns]


def _loaded_libseccomp() -> str | None:
    """The libseccomp file this process mapped (pyseccomp loads it by soname)."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.rstrip("\n").partition("/")[2]
                if path and "/libseccomp.so" in "/" + path:
                    return "/" + path
    except OSError:
        pass
    return None


def _private(st: os.stat_result) -> bool:
    """Ours and writable by nobody else: what a cached program must be to be trusted."""
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def lookup(root: str, spec: LinuxSeccomp) -> CachedFilter | None:
    directory = os.path.join(root, CACHE_DIR)
    try:
        if not _private(os.stat(directory, follow_symlinks=False)):
            return None  # made by someone else (a --root in a shared place): not trusted
        fd = os.open(os.path.join(directory, _key(spec)), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not _private(os.fstat(fd)):
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    head, nl, bpf = b"".join(chunks).partition(b"\n")
    try:
        meta = jsonio.loads(head) if nl else None
    except ValueError:
        return None
    if (not isinstance(meta, dict) or meta.get("v") != VERSION or meta.get("len") != len(bpf)
            or not bpf or len(bpf) % 8):
        return None
    lib = meta.get("lib")
    if not isinstance(lib, list) or not lib or _identity(str(lib[0])) != lib:
        return None  # libseccomp changed (or is gone): compile anew
    if _identity(_SECCOMP_PY) != meta.get("src"):
        return None  # our rules changed
    return CachedFilter(bpf, int(meta.get("flags") or 0), list(meta.get("skipped") or []))


def store(root: str, spec: LinuxSeccomp, flt: SeccompFilter) -> None:
    """Keep ``flt`` for later calls; quietly nothing if it cannot be kept."""
    lib = _loaded_libseccomp()
    if flt.uses_notify or not flt.bpf or lib is None or os.uname().machine not in NR_SECCOMP:
        return
    meta = {"v": VERSION, "len": len(flt.bpf), "flags": flt.flags, "skipped": flt.skipped,
            "lib": _identity(lib), "src": _identity(_SECCOMP_PY)}
    directory = os.path.join(root, CACHE_DIR)
    try:
        os.makedirs(directory, 0o700, exist_ok=True)
        if not _private(os.stat(directory, follow_symlinks=False)):
            return  # not ours alone: lookup would not trust it either
        write_private(os.path.join(directory, _key(spec)), jsonio.dumps(meta).encode() + b"\n" + flt.bpf)
    except OSError:
        pass  # a cache: the container does not need it


def prepare(root: str, spec: LinuxSeccomp) -> SeccompFilter | CachedFilter:
    """The filter for ``linux.seccomp``: from the cache, else compiled (and then kept)."""
    import sys

    from_cache = "pyseccomp" not in sys.modules  # loaded: the engine, with seccomp's memory cache
    if from_cache:
        hit = lookup(root, spec)
        if hit is not None:
            return hit
    from . import seccomp

    flt = seccomp.prepare(spec)
    if from_cache:
        store(root, spec, flt)
    return flt
