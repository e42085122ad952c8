"""``user[:group]`` → numeric ids, read from a root filesystem's /etc/passwd
and /etc/group (never following a link out of it), as Docker does for
``USER`` and ``COPY --chown``."""

from __future__ import annotations

from dockyard.runtime.securejoin import secure_join

from .errors import BuildError


def _db(rootfs: str, rel: str) -> list[list[str]]:
    try:
        with open(secure_join(rootfs, rel), encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip() and not line.startswith("#")]
    except OSError:
        return []


def resolve(rootfs: str, spec: str, *, default_group_from_user: bool = True) -> tuple[int, int]:
    """``uid``/``gid`` for ``user``, ``uid``, ``user:group`` or ``uid:gid``."""
    user, _, group = spec.partition(":")
    uid = gid = 0
    passwd = None
    if user.isdigit():
        uid = int(user)
        if default_group_from_user:
            passwd = _db(rootfs, "etc/passwd")
            gid = next((int(p[3]) for p in passwd if len(p) > 3 and p[2] == user and p[3].isdigit()), uid
                       if not group else 0)
    elif user:
        passwd = _db(rootfs, "etc/passwd")
        row = next((p for p in passwd if p[0] == user and len(p) > 3), None)
        if row is None:
            raise BuildError(f"unable to find user {user}: no matching entries in passwd file")
        uid, gid = int(row[2]), int(row[3])
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            row = next((g for g in _db(rootfs, "etc/group") if g[0] == group and len(g) > 2), None)
            if row is None:
                raise BuildError(f"unable to find group {group}: no matching entries in group file")
            gid = int(row[2])
    return uid, gid


def home(rootfs: str, uid: int) -> str:
    """The user's home from /etc/passwd ("/" when unknown), as runc sets HOME."""
    for p in _db(rootfs, "etc/passwd"):
        if len(p) > 5 and p[2] == str(uid):
            return p[5] or "/"
    return "/"
