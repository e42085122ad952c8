"""OCI spec types: runtime (config.json, state), image and distribution.

Owns typed structures named as the specs name their fields, their loading
from and dumping to JSON (with the exact path of a bad field in errors),
digest and media-type helpers. No I/O beyond parsing bytes; imports nothing
of ours.

Modules:

- ``runtime``     runtime-spec: ``Spec`` (config.json), ``State``; ``load_config``.
- ``digest``      ``Digest`` (``sha256:…``/``sha512:…``), ``parse_digest``,
                  ``Digester`` (streaming), ``verify``.
- ``mediatypes``  OCI and Docker v2 schema 2 media types; layer compression.
- ``image``       image-spec: ``Descriptor``, ``Platform``, ``Manifest``, ``Index``
                  (also Docker's manifest list), ``ImageConfig``; ``load_manifest``,
                  ``load_index``, ``load_image_config``, ``select_platform``.
- ``errors``      the error tree.
"""
