"""``docker rmi`` and ``docker image prune``.

Docker's rules, followed here:

- ``rmi NAME`` removes that name; the image goes with its last name, unless
  a container uses it (refused without ``force``; with it, the image stays,
  dangling, for its container) or a child image was built on it (kept).
  Digest references of the same repository go with its last tag.
- ``rmi ID`` removes every name first: refused without ``force`` when the
  names span several repositories or a container uses the image, and
  always when child images depend on it.
- ``prune`` removes dangling images (``all``: every image no container
  uses), skipping those with children; ``until`` and ``label`` filters.

Each change is one metadata transaction; blobs and layer snapshots that no
image reaches any more are collected afterwards (``ImageService.gc``), and
``rm``'s output lists the removed layers as Docker's ``Deleted:`` lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dockyard.oci.digest import Digest

from . import inspect as shapes
from .errors import ImageConflictError, InvalidFilterError
from .filters import match_labels, parse_until
from .reference import parse
from .store import MetadataStore

if TYPE_CHECKING:
    from .service import ImageService


def remove(svc: ImageService, ref: str, *, force: bool = False, prune: bool = True) -> list[dict[str, str]]:
    """``docker rmi``: untag, and delete the image when no name is left.

    By name: remove that name; the image goes when it was the last one
    (and no container uses it). By id: refused when the image is tagged
    in several repositories (unless ``force``, which untags them all),
    or used by containers (unless ``force``), or has child images.
    Returns Docker's ``[{"Untagged": …}, {"Deleted": …}]``.
    """
    rec, name = svc._resolve(ref)
    short = Digest(rec.id).short()
    users = svc.users(rec.id)
    out: list[dict[str, str]] = []
    deleted = False
    with svc.metadata.transaction() as db:
        names = list(MetadataStore.names_in(db, rec.id))
        if name is not None:
            repo = parse(name, default_tag=False).name
            if users and not force and len(names) == 1:
                raise ImageConflictError(
                    f"conflict: unable to remove repository reference {ref!r} (must force) - "
                    f"container {users[0][:12]} is using its referenced image {short}"
                )
            to_untag = [name]
            rest = [n for n in names if n != name]
            # Digest references of the same repository go with its last tag.
            if all(parse(n, default_tag=False).digest is not None for n in rest):
                to_untag += [n for n in rest if parse(n, default_tag=False).name == repo]
        else:
            repos = {parse(n, default_tag=False).name for n in names}
            if len(repos) > 1 and not force:
                raise ImageConflictError(
                    f"conflict: unable to delete {short} (must be forced) - image is "
                    f"referenced in multiple repositories"
                )
            if users and not force:
                raise ImageConflictError(
                    f"conflict: unable to delete {short} (must be forced) - image is being "
                    f"used by container {users[0][:12]}"
                )
            to_untag = names
        for n in to_untag:
            MetadataStore.delete_ref(db, n)
            out.append({"Untagged": parse(n, default_tag=False).familiar()})
        if len(to_untag) == len(names) and not users:
            children = MetadataStore.children(db, rec.id)
            if children:
                if name is None:
                    raise ImageConflictError(
                        f"conflict: unable to delete {short} (cannot be forced) - image has "
                        f"dependent child images"
                    )
            else:
                MetadataStore.delete_image(db, rec.id)
                out.append({"Deleted": rec.id})
                deleted = True
    if deleted and prune:
        out += [{"Deleted": c} for c in svc.gc()]
    return out

def prune(
    svc: ImageService, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """``docker image prune``: dangling images (``all``: every unused one)."""
    filters = {k: list(v) for k, v in (filters or {}).items()}
    unknown = set(filters) - {"until", "label", "label!", "dangling"}
    if unknown:
        raise InvalidFilterError(f"invalid filter {sorted(unknown)[0]!r}")
    if filters.get("dangling") == ["false"]:
        all = True
    until = min((parse_until(u) for u in filters.get("until", [])), default=None)
    deleted: list[dict[str, str]] = []
    for img in svc.images():
        if not all and not img.dangling:
            continue
        if svc.users(img.id):
            continue
        if until is not None and shapes.created_time(img) >= until:
            continue
        labels = (img.config.config.labels if img.config.config else None) or {}
        if not match_labels(labels, filters.get("label", [])):
            continue
        if filters.get("label!") and match_labels(labels, filters["label!"], any_=True):
            continue
        with svc.metadata.transaction() as db:
            if MetadataStore.children(db, img.id):
                continue
            for n in MetadataStore.names_in(db, img.id):
                deleted.append({"Untagged": parse(n, default_tag=False).familiar()})
            MetadataStore.delete_image(db, img.id)
        deleted.append({"Deleted": img.id})
    reclaimed = 0
    if deleted:
        chains, reclaimed = svc._collect()
        deleted += [{"Deleted": c} for c in chains]
    return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}
