"""COPY and ADD: what to copy (a *plan*, hashed for the cache key), then doing it.

Sources are read from a *source root*: the build context (filtered by
``.dockerignore``: an ignored file does not exist for the build) or
another stage's or image's root filesystem (``--from``). Every source path
is resolved inside its root as if the root were ``/`` (``secure_join``):
``../x`` is refused, ``/x`` means ``<root>/x`` and a symlink in the
context pointing out of it resolves inside the context (and then is
usually "not found"); nothing outside the root is ever opened. Below a
copied directory, symlinks are copied as symlinks, never followed.

Docker's directory semantics: a directory source copies its *contents*;
several sources (or a wildcard) need a destination ending in ``/``; a file
lands at ``dest/<name>`` when ``dest`` ends in ``/`` or is an existing
directory, else at ``dest``. Files from the context belong to 0:0 unless
``--chown``; modes are kept unless ``--chmod``; mtimes are kept.
``--parents`` keeps each source's path; ``--exclude`` drops matches.
ADD extracts a local tar (plain, gzip, bzip2, xz) into the destination and
fetches http(s) URLs (``--checksum`` verified).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard.runtime.securejoin import secure_join

from .dockerignore import Matcher, Pattern, _regex, parse_patterns
from .errors import ContextError, FetchError

_GLOB = re.compile(r"[*?\[]")


@dataclass
class Entry:
    kind: str  # "file" | "dir" | "symlink" | "data" | "archive"
    target: str  # path inside the destination rootfs (absolute, clean)
    source: str = ""  # host path (file, dir, archive)
    mode: int = 0o644
    data: bytes = b""  # "data" entries; link target for "symlink"
    mtime: float | None = None
    uid: int | None = None  # kept from a --from root; None = the build's owner (0 or --chown)
    gid: int | None = None


@dataclass
class Plan:
    entries: list[Entry] = field(default_factory=list)
    digest: str = ""  # the content checksum of everything copied


@dataclass
class SourceRoot:
    path: str
    ignore: Matcher | None = None  # .dockerignore (context only)
    keep_owner: bool = False  # --from: ownership comes along


def _clean_rel(p: str, what: str) -> str:
    norm = posixpath.normpath("/" + p) if p.startswith("/") else posixpath.normpath(p)
    if not p.startswith("/") and (norm == ".." or norm.startswith("../")):
        raise ContextError(f"forbidden path outside the build context: {what} ({p!r})")
    return norm.lstrip("/") if norm not in ("/", ".") else ""


def _component_match(pattern: str, name: str) -> bool:
    return bool(_regex(pattern).match(name))


def _glob(root: SourceRoot, rel: str) -> list[str]:
    """Paths (relative) under ``root`` matching ``rel`` component by component."""
    parts = rel.split("/")
    found = [""]
    for i, part in enumerate(parts):
        nxt = []
        for base in found:
            base_abs = secure_join(root.path, base) if base else root.path
            if not _GLOB.search(part):
                cand = posixpath.join(base, part) if base else part
                if os.path.lexists(os.path.join(base_abs, part)):
                    nxt.append(cand)
                continue
            try:
                names = sorted(os.listdir(base_abs))
            except (NotADirectoryError, FileNotFoundError):
                continue
            for name in names:
                if _component_match(part, name):
                    nxt.append(posixpath.join(base, name) if base else name)
        found = nxt
        if i < len(parts) - 1:
            found = [f for f in found if os.path.isdir(secure_join(root.path, f))]
    return [f for f in found if not (root.ignore and root.ignore.matches(f))]


class _Builder:
    def __init__(self, exclude: list[Pattern]) -> None:
        self.entries: list[Entry] = []
        self.exclude = exclude

    def _excluded(self, rel: str) -> bool:
        return bool(self.exclude) and Matcher(self.exclude).matches(rel)

    def add_path(self, root: SourceRoot, rel: str, target: str, as_contents: bool) -> None:
        """Add ``rel`` (a resolved source path) to land at ``target``."""
        src = secure_join(root.path, rel) if rel else root.path
        st = os.lstat(src)
        if stat.S_ISDIR(st.st_mode):
            # ``target`` is the directory itself (as_contents=False) or the
            # destination its contents go into; either way it takes the
            # source directory's mode and mtime
            self.entries.append(self._entry("dir", target, src, st))
            self._walk(root, rel, src, target)
        elif stat.S_ISLNK(st.st_mode):
            e = self._entry("symlink", target, src, st)
            e.data = os.readlink(src).encode()
            self.entries.append(e)
        elif stat.S_ISREG(st.st_mode):
            self.entries.append(self._entry("file", target, src, st))

    def _entry(self, kind: str, target: str, src: str, st: os.stat_result) -> Entry:
        return Entry(kind, target, src, stat.S_IMODE(st.st_mode), mtime=st.st_mtime,
                     uid=st.st_uid, gid=st.st_gid)

    def _walk(self, root: SourceRoot, rel: str, src: str, target: str) -> None:
        for name in sorted(os.listdir(src)):
            child_rel = posixpath.join(rel, name) if rel else name
            if root.ignore and root.ignore.matches(child_rel):
                if not root.ignore.could_reinclude_under(child_rel):
                    continue
                if not os.path.isdir(os.path.join(src, name)) or os.path.islink(os.path.join(src, name)):
                    continue
            if self._excluded(child_rel):
                continue
            path = os.path.join(src, name)
            st = os.lstat(path)
            child_target = posixpath.join(target, name)
            if stat.S_ISDIR(st.st_mode):
                ignored_dir = bool(root.ignore and root.ignore.matches(child_rel))
                if not ignored_dir:
                    self.entries.append(self._entry("dir", child_target, path, st))
                self._walk(root, child_rel, path, child_target)
            elif root.ignore and root.ignore.matches(child_rel):
                continue
            elif stat.S_ISLNK(st.st_mode):
                e = self._entry("symlink", child_target, path, st)
                e.data = os.readlink(path).encode()
                self.entries.append(e)
            elif stat.S_ISREG(st.st_mode):
                self.entries.append(self._entry("file", child_target, path, st))


def is_url(src: str) -> bool:
    return src.startswith(("http://", "https://"))


def plan(
    root: SourceRoot,
    sources: list[str],
    dest: str,
    *,
    dest_is_dir: Callable[[str], bool],
    heredocs: dict[str, bytes] | None = None,
    add: bool = False,
    parents: bool = False,
    exclude: list[str] | None = None,
    fetch: Callable[[str], tuple[str, bytes]] | None = None,
) -> Plan:
    """What COPY/ADD ``sources`` → ``dest`` (absolute, already expanded) will write."""
    b = _Builder(parse_patterns("\n".join(exclude or [])))
    heredocs = heredocs or {}
    many = len(sources) > 1 or any(_GLOB.search(s) for s in sources if not s.startswith("<<"))
    as_dir = dest.endswith("/") or dest_is_dir(dest)
    if many and not dest.endswith("/") and not as_dir:
        raise ContextError("When using COPY with more than one source file, the destination must be a "
                           f"directory and end with a / (destination {dest!r})")
    dest_clean = posixpath.normpath(dest)
    for src in sources:
        if src.startswith("<<"):
            name = src[2:].lstrip("-").strip("\"'")
            target = posixpath.join(dest_clean, name) if as_dir else dest_clean
            b.entries.append(Entry("data", target, mode=0o644, data=heredocs.get(name, b"")))
            continue
        if is_url(src):
            if not add:
                raise ContextError(f"source can't be a URL for COPY: {src!r}")
            if fetch is None:
                raise FetchError(f"cannot fetch {src}")
            name, data = fetch(src)
            target = posixpath.join(dest_clean, name) if as_dir else dest_clean
            b.entries.append(Entry("data", target, mode=0o600, data=data))
            continue
        rel = _clean_rel(src, src)
        if _GLOB.search(rel):
            matches = _glob(root, rel)
            if not matches:
                raise ContextError(f"no source files were specified: {src!r} matches nothing in the build context")
        else:
            if root.ignore and rel and root.ignore.matches(rel):
                raise ContextError(f"{src!r}: not found in the build context (excluded by .dockerignore)")
            try:
                os.lstat(secure_join(root.path, rel) if rel else root.path)
            except OSError:
                raise ContextError(f"failed to compute cache key: {'/' + rel!r}: not found in the "
                                   "build context") from None
            matches = [rel]
        for m in matches:
            path = secure_join(root.path, m) if m else root.path
            is_dir = os.path.isdir(path)
            if parents:
                base = posixpath.join(dest_clean, m)
                target = base
            elif is_dir:
                target = dest_clean
            else:
                target = posixpath.join(dest_clean, posixpath.basename(m)) if as_dir or many else dest_clean
            if add and not is_dir and _is_archive(path):
                b.entries.append(Entry("archive", dest_clean, path))
                continue
            b.add_path(root, m, target, as_contents=True)
    return Plan(b.entries, _digest(b.entries, root.keep_owner))


def _is_archive(path: str) -> bool:
    try:
        with tarfile.open(path, "r:*") as t:
            return t.next() is not None
    except (tarfile.TarError, OSError, EOFError):
        return False


def _digest(entries: list[Entry], keep_owner: bool) -> str:
    h = hashlib.sha256()
    for e in entries:
        h.update(f"{e.kind}\0{e.target}\0{e.mode:o}\0".encode())
        if keep_owner:
            h.update(f"{e.uid}:{e.gid}\0".encode())
        if e.kind in ("file", "archive"):
            with open(e.source, "rb") as f:
                h.update(hashlib.file_digest(f, "sha256").digest())
        elif e.kind in ("data", "symlink"):
            h.update(hashlib.sha256(e.data).digest())
        h.update(b"\n")
    return "sha256:" + h.hexdigest()


def _mkparents(rootfs: str, target: str, created: Callable[[str], None]) -> str:
    """Create the parents of ``target`` inside ``rootfs``; returns its host path."""
    parent = posixpath.dirname(target)
    cur = "/"
    for comp in [c for c in parent.split("/") if c]:
        cur = posixpath.join(cur, comp)
        host = secure_join(rootfs, cur)
        if not os.path.lexists(host):
            os.mkdir(host, 0o755)
            created(host)
        elif not os.path.isdir(host):
            raise ContextError(f"cannot copy to {target!r}: {cur!r} is not a directory")
    return secure_join(rootfs, target)


def execute(rootfs: str, p: Plan, *, owner: tuple[int, int] | None, chmod: int | None) -> None:
    """Write the plan into a mounted root filesystem."""
    def own(path: str, e: Entry, follow: bool = True) -> None:
        if owner is not None:
            uid, gid = owner
        elif e.uid is not None and e.gid is not None and keep:
            uid, gid = e.uid, e.gid
        else:
            uid, gid = 0, 0
        os.chown(path, uid, gid, follow_symlinks=follow)

    keep = any(e.uid is not None for e in p.entries)
    for e in p.entries:
        if e.kind == "archive":
            dest = _mkparents(rootfs, posixpath.join(e.target, "x"), lambda _p: None)
            dest = os.path.dirname(dest)
            os.makedirs(dest, exist_ok=True)
            # the "data" filter refuses any member whose real path (symlinks
            # followed) leaves ``dest``: a link in the image cannot redirect
            # the extraction onto the host
            with tarfile.open(e.source, "r:*") as t:
                try:
                    t.extractall(dest, filter="data")
                except tarfile.FilterError as err:
                    raise ContextError(f"ADD {os.path.basename(e.source)}: {err}") from None
                if owner is not None:
                    for m in t.getmembers():
                        os.chown(secure_join(rootfs, posixpath.join(e.target, m.name)), *owner,
                                 follow_symlinks=False)
            continue
        host = _mkparents(rootfs, e.target, lambda _p: None) if e.target != "/" else rootfs
        mode = chmod if chmod is not None and e.kind != "symlink" else e.mode
        if e.kind == "dir":
            if not os.path.isdir(host) or os.path.islink(host):
                if os.path.lexists(host):
                    os.unlink(host)
                os.mkdir(host, 0o755)
            own(host, e)
            os.chmod(host, mode)
            continue
        if os.path.isdir(host) and not os.path.islink(host):
            host = secure_join(rootfs, posixpath.join(e.target, posixpath.basename(e.source or e.target)))
        if os.path.lexists(host):
            os.unlink(host)
        if e.kind == "symlink":
            os.symlink(e.data, host)
            own(host, e, follow=False)
            continue
        fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            if e.kind == "data":
                out.write(e.data)
            else:
                src_fd = os.open(e.source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                with os.fdopen(src_fd, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            own(host, e)
            os.fchmod(out.fileno(), mode)
        if e.mtime is not None:
            os.utime(host, (e.mtime, e.mtime), follow_symlinks=False)
    # Directory mtimes last: writing into a directory changes its mtime.
    for e in reversed(p.entries):
        if e.kind == "dir" and e.mtime is not None:
            os.utime(secure_join(rootfs, e.target), (e.mtime, e.mtime), follow_symlinks=False)


def parse_chmod(value: str) -> int:
    if not re.fullmatch(r"[0-7]{3,4}", value):
        raise ContextError(f"invalid --chmod {value!r}: expected an octal mode such as 755")
    return int(value, 8)
