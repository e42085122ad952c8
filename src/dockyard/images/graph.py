"""The reference graph of an image's blobs: index → manifests → config, layers.

The same walk serves three things, so they can never disagree:

- GC labels (``gc_labels``): the content store follows
  ``containerd.io/gc.ref.content.<name>`` labels from each image's target,
  so what an image reaches is never collected;
- ``df``/``prune`` sizes (``reachable``): an image's blobs, shared or unique;
- ``save``: the blobs an archive must carry.

Children that are not in the store (other platforms of a multi-platform
index that were never fetched) are skipped by ``reachable``, as containerd's
GC skips missing content.
"""

from __future__ import annotations

from dockyard.content import LABEL_GC_REF_CONTENT, ContentStore
from dockyard.oci import mediatypes as mt
from dockyard.oci.image import Descriptor, Index, Manifest, load_index, load_manifest

from .errors import InvalidImageError, UnsupportedMediaTypeError


def gc_labels(node: Manifest | Index) -> dict[str, str]:
    """The labels that make ``node``'s children reachable from it."""
    labels: dict[str, str] = {}
    if isinstance(node, Manifest):
        labels[f"{LABEL_GC_REF_CONTENT}.config"] = node.config.digest
        for i, layer in enumerate(node.layers):
            labels[f"{LABEL_GC_REF_CONTENT}.l.{i}"] = layer.digest
    else:
        for i, m in enumerate(node.manifests):
            labels[f"{LABEL_GC_REF_CONTENT}.m.{i}"] = m.digest
    return labels


def read_node(content: ContentStore, desc: Descriptor) -> Manifest | Index:
    """Read and verify a manifest or index blob named by ``desc``."""
    from dockyard.oci.errors import InvalidSpecError, UnknownMediaTypeError

    data = content.read(desc.digest)
    if len(data) != desc.size:
        raise InvalidImageError(f"{desc.media_type} {desc.digest}: size {len(data)}, expected {desc.size}")
    try:
        if mt.is_index(desc.media_type):
            return load_index(data)
        if mt.is_manifest(desc.media_type):
            return load_manifest(data)
    except UnknownMediaTypeError as e:
        raise UnsupportedMediaTypeError(str(e)) from None
    except InvalidSpecError as e:
        raise InvalidImageError(str(e)) from None
    raise UnsupportedMediaTypeError(
        f"{desc.digest}: media type {desc.media_type!r} is not an image manifest or index"
    )


def reachable(content: ContentStore, target: Descriptor) -> dict[str, int]:
    """Every blob reachable from ``target`` that is in the store: digest → size."""
    out: dict[str, int] = {}
    stack = [target]
    while stack:
        desc = stack.pop()
        if desc.digest in out or not content.exists(desc.digest):
            continue
        out[desc.digest] = desc.size
        if mt.is_index(desc.media_type) or mt.is_manifest(desc.media_type):
            node = read_node(content, desc)
            if isinstance(node, Manifest):
                stack.append(node.config)
                stack.extend(node.layers)
            else:
                stack.extend(node.manifests)
    return out
