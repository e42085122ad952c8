"""The builder: Dockerfiles to images (BuildKit's Dockerfile frontend and solver).

The story of a build: ``parser`` turns the Dockerfile (BuildKit's own Go
parser, via the ``dockerfile`` package) into typed ``instructions`` grouped
in stages; ``solver.Builder.build`` resolves the global ARGs and the
target, walks the stage graph (skipping what the target does not need,
refusing cycles and missing stages) and builds every needed stage in its
own thread, so independent stages run in parallel. ``steps`` runs a
stage's instructions: metadata ones change the config (``metadata``);
RUN runs a container through the in-process runtime on an overlay
snapshot (``runner``, ``mounts`` for ``RUN --mount``, ``secrets``,
``ssh`` for agent forwarding);
COPY/ADD copy from the context (``copy``, filtered by ``dockerignore``) or
another stage or image. Each layer step has a cache key (``state.step_key``)
and a record in ``cache`` (SQLite, with usage, prune and a size cap);
cached steps keep the times they were first built at, so a rebuild with
nothing changed gives the same image ID. The image is registered with the image service once every stage succeeded.
``outputs`` writes ``--output type=local|tar``; ``progress`` shows steps;
``context`` unpacks a context sent as a tar (stdin, ``POST /build``).

Entry points: ``Builder(images, root)`` with ``build(BuildOptions)``,
``prune(...)``, ``du()``; ``parser.parse(text)``; the CLI is
``dockyard build`` / ``dockyard builder prune|du`` (``cli/build.py``).
Errors: ``errors.py``.

Imports ``images``, ``content``, ``snapshot``, ``runtime``, ``oci`` and
``linux``; must never import ``engine``, ``api``, ``cli`` or anything else
above it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .solver import Builder, BuildOptions, BuildResult

__all__ = ["BuildOptions", "BuildResult", "Builder"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from . import solver

        return getattr(solver, name)
    raise AttributeError(name)
