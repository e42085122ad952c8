"""Small static C programs of the engine, built with the host's gcc on first use.

``--init``'s docker-init (``init/docker-init.c``) and the supervisor's shim
(``shim/dockyard-shim.c``) are compiled ``-static -Os`` into a cache
directory under the daemon's root, named by a checksum of their source, so a
new dockyard builds them again and an unchanged one never does. Concurrent
builders take a lock: the first builds, the others wait and reuse its file.

The checksum is zlib's crc32 with the length, not a sha256: ``hashlib`` maps
OpenSSL's libcrypto (~3.6 MiB) into the process, and the zygote — whose
pages every supervisor shares — checks the shim here. The cache is the
daemon's own root-owned directory, so the key only tells versions apart.
"""

from __future__ import annotations

import os


def is_static(path: str) -> bool:
    """An ELF file that names no dynamic loader."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return False
    return head[:4] == b"\x7fELF" and b"ld-linux" not in head


def cached_path(source: str, cache_dir: str, name: str) -> str:
    """Where ``source``'s build is (or will be) kept; "" if the source is unreadable."""
    import zlib

    try:
        with open(source, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    return os.path.join(cache_dir, f"{name}-{zlib.crc32(data):08x}{len(data):x}")


def build_static(source: str, cache_dir: str, name: str) -> tuple[str, str]:
    """(path of ``source`` built static, "") or ("", why it cannot be had)."""
    import fcntl
    import shutil
    import subprocess

    out = cached_path(source, cache_dir, name)
    if not out:
        return "", f"cannot read the source {source}"
    if os.path.exists(out):
        return out, ""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        return "", "no C compiler (gcc) on PATH"
    try:
        os.makedirs(cache_dir, mode=0o755, exist_ok=True)
        lock = os.open(os.path.join(cache_dir, ".build.lock"),
                       os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as e:
        return "", f"cannot use {cache_dir}: {e}"
    tmp = f"{out}.{os.getpid()}.tmp"
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(out):
            return out, ""
        r = subprocess.run([gcc, "-static", "-Os", "-o", tmp, source],
                           capture_output=True, timeout=120)
        if r.returncode != 0:
            return "", f"gcc failed: {r.stderr.decode(errors='replace')[-400:]}"
        if not is_static(tmp):
            return "", "gcc did not link statically (no static libc: libc6-dev)"
        os.replace(tmp, out)
        return out, ""
    except (OSError, subprocess.SubprocessError) as e:
        return "", f"cannot build {name}: {e}"
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        os.close(lock)
