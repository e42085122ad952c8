"""The image service: dockerd's images over containerd's content and snapshots.

Owns image references and their normalisation (``reference``: ``busybox`` →
``docker.io/library/busybox:latest``), the metadata DB of names → images
(``store``; an image's id is its config digest, as Docker's), and the verbs:

- ``ImageService`` (``service``): resolve/get, list (``filters``), inspect
  and history in Docker's JSON shapes (``inspect``), tag, rm and prune
  (``remove``: untag semantics, ``force``, dangling or all), df
  (shared/unique sizes from the reference graph GC follows, ``graph``),
  unpack into snapshots keyed by chain ID (``model.chain_ids``), register
  (what pull/build/load end with), GC of blobs and layer snapshots;
- formats, one module each: ``importing`` (``docker import`` with
  ``--change``, parsed by ``changes``), ``load`` (docker save archives and
  OCI layouts), ``save`` (both at once, or plain OCI), ``export`` (a
  filesystem to a tar);
- ``busybox_image(service)``: ``busybox:latest`` from Debian's
  busybox-static, with no network (``make up``).

Entry point: ``ImageService.open(root)``. Errors: ``errors.py``.
Imports ``content``, ``snapshot``, ``oci`` and ``linux``; must never import
``engine``, ``api``, ``cli`` or anything else above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .reference import Reference, parse

if TYPE_CHECKING:
    from .model import Image
    from .service import ImageService


def __getattr__(name: str) -> object:
    # The service pulls in content and snapshot; references alone stay light.
    if name == "ImageService":
        from .service import ImageService

        return ImageService
    if name == "Image":
        from .model import Image

        return Image
    raise AttributeError(name)


def busybox_image(service: ImageService, ref: str = "busybox:latest", *, replace: bool = False) -> Image:
    """Create ``ref`` (default ``busybox:latest``) from Debian's busybox-static:
    a busybox root filesystem imported with ``CMD ["sh"]``. An existing
    ``ref`` is kept unless ``replace`` (so ``make up`` can run again)."""
    import shutil
    import tempfile

    from dockyard.busybox import make_rootfs

    from .errors import ImageNotFoundError

    if not replace:
        try:
            return service.get(ref)
        except ImageNotFoundError:
            pass

    tmp = tempfile.mkdtemp(prefix="dockyard-busybox-")
    try:
        make_rootfs(tmp)
        return service.import_image(tmp, ref, changes=['CMD ["sh"]'],
                                    message="busybox from Debian's busybox-static")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["Image", "ImageService", "Reference", "busybox_image", "parse"]
