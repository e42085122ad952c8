"""The OCI runtime: runc's role. A bundle becomes a running container.

(Being written; see the runtime issue.) Imports from dockyard: ``oci`` and
``linux`` only; it knows nothing of images, the engine or HTTP.
"""
