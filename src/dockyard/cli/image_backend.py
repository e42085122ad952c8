"""Where the image commands send their calls: the daemon, or (``--root``) the store itself.

``DaemonImages`` goes through the Engine API (``dockyard.client``), like
every container command: ``-H``, else ``$DOCKER_HOST``/``$DOCKYARD_HOST``,
else ``/run/dockyard/dockyard.sock``. ``LocalImages`` opens the image store
in this process: only with an explicit ``--root DIR``, for work on a store
no daemon serves (the offline examples of the README, ``bench/images.py``
filling a daemon's root before it starts). Both answer with the Engine
API's JSON shapes and raise ``Failure`` with the daemon's message, so the
commands in ``image.py`` do not know which one they talk to.
"""

from __future__ import annotations

import os
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

CHUNK = 1 << 20


class Failure(Exception):
    """What the daemon (or the store) refused; ``daemon`` says whether docker's
    ``Error response from daemon:`` prefix applies."""

    def __init__(self, message: str, daemon: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.daemon = daemon


def chunks(f: IO[bytes], progress: Any = None) -> Iterator[bytes]:
    """A file's bytes in 1 MiB pieces, counted on ``progress`` as they go."""
    while data := f.read(CHUNK):
        if progress is not None:
            progress.add(len(data))
        yield data


def tar_of(path: str) -> IO[bytes]:
    """A directory as a tar stream (``import`` of a rootfs, ``load`` of an OCI
    layout): written by a thread into a pipe as it is read."""
    r, w = os.pipe()

    def write() -> None:
        with open(w, "wb") as out:
            try:
                with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as t:
                    for name in sorted(os.listdir(path)):
                        t.add(os.path.join(path, name), arcname=name)
            except BrokenPipeError:
                pass

    threading.Thread(target=write, daemon=True).start()
    return open(r, "rb")


@contextmanager
def _open_source(path: str | None) -> Iterator[IO[bytes]]:
    """stdin (``None``), a file, or a directory sent as a tar."""
    import sys

    if path is None:
        yield sys.stdin.buffer
        return
    f = tar_of(path) if os.path.isdir(path) else open(path, "rb")
    try:
        yield f
    finally:
        f.close()


class DaemonImages:
    def __init__(self, host: str | None) -> None:
        from dockyard.client import Client, ConnectionFailed

        try:
            self.client = Client(host)
        except ConnectionFailed as e:
            raise Failure(str(e), daemon=False) from None

    def __enter__(self) -> DaemonImages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        from dockyard.client import APIError, ConnectionFailed

        try:
            return fn(*args, **kw)
        except APIError as e:
            raise Failure(e.message) from None
        except ConnectionFailed as e:
            raise Failure(str(e), daemon=False) from None

    def ls(self, *, all: bool, filters: dict[str, list[str]], digests: bool
             ) -> list[dict[str, Any]]:
        return self.call(self.client.images, all=all, filters=filters,  # type: ignore[no-any-return]
                         digests=digests)

    def inspect(self, ref: str) -> dict[str, Any]:
        return self.call(self.client.image_inspect, ref)  # type: ignore[no-any-return]

    def tag(self, source: str, repo: str, tag: str) -> None:
        self.call(self.client.image_tag, source, repo, tag or None)

    def remove(self, ref: str, *, force: bool, noprune: bool) -> list[dict[str, str]]:
        return self.call(self.client.image_remove, ref,  # type: ignore[no-any-return]
                         force=force, noprune=noprune)

    def history(self, ref: str) -> list[dict[str, Any]]:
        return self.call(self.client.image_history, ref)  # type: ignore[no-any-return]

    def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        return self.call(self.client.image_prune, filters)  # type: ignore[no-any-return]

    def save(self, names: list[str], out: IO[bytes], progress: Any = None) -> None:
        def copy() -> None:
            for data in self.client.image_save(names):
                out.write(data)
                if progress is not None:
                    progress.add(len(data))

        self.call(copy)

    def load(self, source: str | None, *, quiet: bool, progress: Any = None) -> list[str]:
        with _open_source(source) as src:
            msgs = self.call(lambda: list(self.client.image_load(chunks(src, progress),
                                                                 quiet=quiet)))
        return [m["stream"].rstrip("\n") for m in msgs if m.get("stream", "").strip()]

    def import_(self, source: str, *, repo: str, tag: str, changes: list[str], message: str,
                platform: str | None, progress: Any = None) -> str:
        with _open_source(None if source == "-" else source) as src:
            msgs = self.call(lambda: list(self.client.image_import(
                chunks(src, progress), repo=repo, tag=tag, changes=changes, message=message,
                platform=platform)))
        ids = [m["status"] for m in msgs if str(m.get("status", "")).startswith("sha256:")]
        if not ids:
            raise Failure("import: the daemon answered without an image id")
        return str(ids[-1])

    def commit(self, container: str, *, repo: str, tag: str, author: str, comment: str,
               changes: list[str], pause: bool) -> str:
        return self.call(self.client.commit, container,  # type: ignore[no-any-return]
                         repo=repo, tag=tag, author=author, comment=comment,
                         changes=changes, pause=pause)


class LocalImages:
    """The store in this process (``--root``): no daemon, no containers."""

    def __init__(self, root: str) -> None:
        from dockyard.images import ImageService

        try:
            self.svc = ImageService.open(root)
        except OSError as e:
            raise Failure(f"cannot open the image store at {root}: {e}") from None

    def __enter__(self) -> LocalImages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.svc.close()

    def call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        from dockyard.images.errors import ImageError

        try:
            return fn(*args, **kw)
        except ImageError as e:
            raise Failure(str(e)) from None

    def ls(self, *, all: bool, filters: dict[str, list[str]], digests: bool
             ) -> list[dict[str, Any]]:
        return self.call(self.svc.list, all=all, filters=filters)  # type: ignore[no-any-return]

    def inspect(self, ref: str) -> dict[str, Any]:
        return self.call(self.svc.inspect, ref)  # type: ignore[no-any-return]

    def tag(self, source: str, repo: str, tag: str) -> None:
        self.call(self.svc.tag, source, f"{repo}:{tag}" if tag else repo)

    def remove(self, ref: str, *, force: bool, noprune: bool) -> list[dict[str, str]]:
        return self.call(self.svc.remove, ref, force=force,  # type: ignore[no-any-return]
                         prune=not noprune)

    def history(self, ref: str) -> list[dict[str, Any]]:
        return self.call(self.svc.history, ref)  # type: ignore[no-any-return]

    def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        filters = dict(filters)
        dangling = filters.pop("dangling", ["true"])
        return self.call(self.svc.prune,  # type: ignore[no-any-return]
                         all=dangling[0].lower() in ("false", "0"), filters=filters)

    def save(self, names: list[str], out: IO[bytes], progress: Any = None) -> None:
        self.call(self.svc.save, names, _Counted(out, progress) if progress else out)

    def load(self, source: str | None, *, quiet: bool, progress: Any = None) -> list[str]:
        import sys

        return self.call(self.svc.load,  # type: ignore[no-any-return]
                         source if source is not None else sys.stdin.buffer)

    def import_(self, source: str, *, repo: str, tag: str, changes: list[str], message: str,
                platform: str | None, progress: Any = None) -> str:
        import sys

        ref = (f"{repo}:{tag}" if tag else repo) or None
        img = self.call(self.svc.import_image, sys.stdin.buffer if source == "-" else source,
                        ref, changes=changes, message=message, platform=platform,
                        source_name=source)
        return str(img.id)

    def commit(self, container: str, **kw: Any) -> str:
        raise Failure("commit needs the daemon (its containers); drop --root", daemon=False)


class _Counted:
    """A file that counts what is written through it (save's progress)."""

    def __init__(self, f: IO[bytes], progress: Any) -> None:
        self._f, self._progress = f, progress

    def write(self, data: bytes) -> int:
        n = self._f.write(data)
        self._progress.add(len(data))
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


Images = DaemonImages | LocalImages


def open_images(host: str | None, root: str | None) -> Images:
    """``--root`` given: the store in-process; else the daemon."""
    return LocalImages(root) if root else DaemonImages(host)
