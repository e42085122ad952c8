"""The solver: a Dockerfile's stage graph, built stage by stage in parallel.

``Builder.build(options)`` parses the Dockerfile, resolves the global ARGs
(with the predefined platform args), picks the target stage and walks its
dependencies (``FROM <stage>``, ``COPY --from``, ``RUN --mount=…,from=``):
stages the target does not need are never built, a missing stage or a
cycle is an error before anything runs. Every needed stage then gets its
own thread, which waits for the stages it depends on: independent stages
build at the same time.

A stage's steps (``steps.py``) go through the cache: a hit reuses the
layer, a miss runs the step on an overlay snapshot and commits it. The
image is registered only after every stage succeeded, in one call, with
every ``-t`` name: a failed build tags nothing.

Ctrl-C (KeyboardInterrupt in the calling thread) kills the running step
containers; each stage thread unmounts and removes what it prepared
before the error propagates.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dockyard.content import LABEL_GC_ROOT
from dockyard.content import errors as content_errors
from dockyard.images.errors import ImageError
from dockyard.linux import atomic
from dockyard.linux.procs import pid_alive
from dockyard.oci import mediatypes as mt
from dockyard.oci.errors import InvalidSpecError
from dockyard.oci.image import (
    Descriptor,
    ImageConfig,
    Manifest,
    Platform,
    RootFS,
    dump,
    format_platform,
    host_platform,
    parse_platform,
)
from dockyard.runtime import Runtime
from dockyard.snapshot import Kind, unmount_all
from dockyard.snapshot import errors as snapshot_errors

from . import cache as cache_mod
from . import dockerignore, parser
from .errors import BuildError, CancelledError, DockerfileError, PlatformError, StageError
from .instructions import Arg
from .lex import expand
from .outputs import export
from .progress import Progress
from .runner import Containers

if TYPE_CHECKING:
    from dockyard.images import ImageService

    from .state import State

PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
              "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")
ACTIVE_PREFIX = "build-"


@dataclass
class BuildOptions:
    context: str
    dockerfile: str = ""  # path; default <context>/Dockerfile
    dockerfile_text: str | None = None  # given instead of a file (stdin)
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    no_cache_filter: list[str] = field(default_factory=list)
    cache_from: list[str] = field(default_factory=list)  # images whose layers may stand for steps
    network: str = "default"
    platform: str = ""
    secrets: dict[str, bytes] = field(default_factory=dict)
    ssh: dict[str, str] = field(default_factory=dict)  # --ssh: id -> agent socket path
    outputs: list[dict[str, str]] = field(default_factory=list)  # outputs.parse_output
    iidfile: str = ""
    progress: Progress | None = None
    # Set from another thread to cancel (``POST /build``'s client went away):
    # the step containers are killed and the build raises CancelledError.
    cancel: threading.Event | None = None


@dataclass
class BuildResult:
    image_id: str
    state: State
    warnings: list[str]
    cached_steps: int = 0
    run_steps: int = 0


def platform_args(build: Platform, target: Platform) -> dict[str, str]:
    out = {}
    for prefix, p in (("BUILD", build), ("TARGET", target)):
        out[f"{prefix}PLATFORM"] = format_platform(p)
        out[f"{prefix}OS"] = p.os
        out[f"{prefix}ARCH"] = p.architecture
        out[f"{prefix}VARIANT"] = p.variant or ""
    return out


class Builder:
    """The builder over an image service; its state lives under ``root``."""

    def __init__(self, images: ImageService, root: str, *, runtime_root: str | None = None,
                 cap: int = cache_mod.DEFAULT_CAP) -> None:
        self.images = images
        self.root = root
        self.cap = cap
        os.makedirs(os.path.join(root, "tmp"), exist_ok=True)
        self.cache = cache_mod.CacheStore(os.path.join(root, "cache.db"))
        self.runtime = Runtime(runtime_root or os.path.join(root, "runtime"))
        self.cleanup()

    def close(self) -> None:
        self.cache.close()

    def __enter__(self) -> Builder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- crash leftovers -----------------------------------------------------------

    def cleanup(self) -> None:
        """Remove what dead builds left: step containers, mounts and work dirs,
        active snapshots."""
        from dockyard.runtime.container import list_ids

        for cid in list_ids(self.runtime.root):
            pid = cid.removeprefix(ACTIVE_PREFIX).split("-", 1)[0]
            if cid.startswith(ACTIVE_PREFIX) and pid.isdigit() and not pid_alive(int(pid)):
                try:
                    self.runtime.delete(cid, force=True)
                except Exception:  # gone meanwhile, or half-made: nothing to keep
                    pass
        tmp = os.path.join(self.root, "tmp")
        for name in os.listdir(tmp):
            pid = name.split("-", 1)[0]
            if pid.isdigit() and not pid_alive(int(pid)):
                _unmount_under(os.path.join(tmp, name))
                shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)
        for info in self.images.snapshotter.walk(kind=Kind.ACTIVE):
            if info.name.startswith(ACTIVE_PREFIX):
                pid = info.name[len(ACTIVE_PREFIX):].split("-", 1)[0]
                if pid.isdigit() and not pid_alive(int(pid)):
                    try:
                        self.images.snapshotter.remove(info.name)
                    except snapshot_errors.SnapshotError:
                        pass

    def new_workdir(self) -> str:
        path = os.path.join(self.root, "tmp", f"{os.getpid()}-{uuid.uuid4().hex[:10]}")
        os.makedirs(path)
        return path

    def active_key(self) -> str:
        return f"{ACTIVE_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"

    # --- build -----------------------------------------------------------------------

    def build(self, opts: BuildOptions) -> BuildResult:
        """Build, register and tag the image; BuildError (nothing tagged) on failure."""
        from dockyard.images.reference import parse as parse_ref

        progress = opts.progress or Progress()
        names = []
        for t in opts.tags:
            try:
                names.append(str(parse_ref(t)))
            except ImageError as e:
                raise BuildError(f"invalid tag {t!r}: {e}") from None
        if opts.network not in ("default", "none", "host"):
            raise BuildError(f"invalid --network {opts.network!r}: expected default, none or host")
        context = os.path.abspath(opts.context)
        if not os.path.isdir(context):
            raise BuildError(f"unable to prepare context: path {opts.context!r} not found")
        df_path = opts.dockerfile or os.path.join(context, "Dockerfile")
        if opts.dockerfile_text is None:
            try:
                with open(df_path, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise BuildError(f"failed to read dockerfile: {df_path}: {e.strerror}") from None
        else:
            text = opts.dockerfile_text
        df = parser.parse(text)
        ignore = dockerignore.load(context, df_path if opts.dockerfile else None)

        host = host_platform()
        try:
            target_platform = parse_platform(opts.platform) if opts.platform else host
        except InvalidSpecError as e:
            raise BuildError(str(e)) from None
        predefined = platform_args(host, target_platform)
        meta: dict[str, str] = dict(predefined)
        declared: set[str] = set()
        for a in df.global_args:
            for name, default in a.args:
                declared.add(name)
                if name in opts.build_args:
                    meta[name] = opts.build_args[name]
                elif default is not None:
                    meta[name] = expand(default, meta, escape=df.escape)
        stages = df.stages
        target = stages[-1]
        if opts.target:
            found = [s for s in stages if s.name == opts.target.lower()]
            if not found:
                raise StageError(f"target stage {opts.target!r} could not be found (stages: "
                                 f"{', '.join(s.name or str(s.index) for s in stages)})")
            target = found[0]

        session = _Session(self, opts, df, context, ignore, meta, predefined, target_platform, progress)
        needed = session.needed(target)
        for s in needed:
            for inst in s.instructions:
                if isinstance(inst, Arg):
                    declared.update(name for name, _ in inst.args)
        watch = session.watch_cancel(opts.cancel) if opts.cancel is not None else None
        try:
            state = session.run(needed, target)
            if opts.cancel is not None and opts.cancel.is_set():
                raise CancelledError("build cancelled")
            unused = sorted(k for k in opts.build_args if k not in declared and k not in PROXY_ARGS
                            and k not in predefined)
            if unused:
                progress.warn(f"One or more build-args [{' '.join(unused)}] were not consumed")
            image_id = ""
            exports = [o for o in opts.outputs if o["type"] in ("local", "tar")]
            for o in exports:
                export(self, state.chain, o)
            if names or not exports:
                image_id = self._register(state, names, opts.labels, session.lease)
                if opts.iidfile:
                    atomic.write_bytes(opts.iidfile, image_id.encode(), sync=False)
        finally:
            session.close()
            if watch is not None:
                watch.join()
            progress.close()
        self.gc(keep_storage=self.cap)
        return BuildResult(image_id, state, list(progress.warnings), session.cached, session.ran)

    def _register(self, st: State, names: list[str], labels: Mapping[str, str], lease: str) -> str:
        from dockyard.images.inspect import rfc3339
        from dockyard.images.model import dump_config

        cfg = st.config
        if labels:
            cfg.labels = {**(cfg.labels or {}), **labels}
        # The image's time is its last step's (from the cache when cached), so
        # a rebuild with nothing changed gives the same config, hence the same ID.
        now = rfc3339(time.time())
        for h in st.history:
            if h.created is None:
                h.created = now
        last = st.history[-1].created if st.history else None
        config = ImageConfig(
            created=last or now, author=st.author or None, architecture=st.platform.architecture, os=st.platform.os,
            variant=st.platform.variant, config=cfg, rootfs=RootFS(diff_ids=list(st.diff_ids)),
            history=list(st.history),
        )
        data = dump_config(config)
        digest, _ = self.images.write_blob(data, lease=lease)
        manifest = Manifest(schema_version=2, media_type=mt.OCI_MANIFEST,
                            config=Descriptor(media_type=mt.OCI_CONFIG, digest=digest, size=len(data)),
                            layers=list(st.layers))
        mdata = dump(manifest)
        mdigest, _ = self.images.write_blob(mdata, lease=lease)
        img = self.images.register(Descriptor(media_type=mt.OCI_MANIFEST, digest=mdigest, size=len(mdata)),
                                   names)
        return img.id

    # --- cache maintenance -------------------------------------------------------------

    def du(self) -> list[cache_mod.Record]:
        return self.cache.all()

    def prune(self, *, all: bool = True, until: float | None = None,
              keep_storage: int | None = None) -> tuple[list[cache_mod.Record], int]:
        """``docker builder prune``: drop records; returns them and the bytes freed."""
        return self.gc(until=until, keep_storage=keep_storage, everything=all)

    def gc(self, *, until: float | None = None, keep_storage: int | None = None,
           everything: bool = False) -> tuple[list[cache_mod.Record], int]:
        drop = self.cache.select_prune(until=until, keep_storage=keep_storage, all=everything)
        if not drop:
            return [], 0
        for r in drop:
            self.cache.delete(r.key)
        still = {r.digest for r in self.cache.all()}
        for r in drop:
            if r.digest not in still:
                try:
                    self.images.content.update_labels(r.digest, {LABEL_GC_ROOT: None})
                except content_errors.NotFoundError:
                    pass  # already collected
        self.images.gc()  # the images' GC: blobs and layer snapshots nothing references now
        return drop, sum(r.size for r in drop if r.digest not in still)




def _unmount_under(path: str) -> None:
    try:
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
    except OSError:
        return
    for m in sorted((p for p in points if p == path or p.startswith(path + "/")), reverse=True):
        try:
            unmount_all(m)
        except OSError:
            pass


class _Session:
    """One build: the stage threads, the lease on new blobs, the running containers."""

    def __init__(self, builder: Builder, opts: BuildOptions, df: parser.Dockerfile, context: str,
                 ignore: dockerignore.Matcher, meta: dict[str, str], predefined: dict[str, str],
                 target_platform: Platform, progress: Progress) -> None:
        self.builder = builder
        self.images = builder.images
        self.opts = opts
        self.df = df
        self.context = context
        self.ignore = ignore
        self.meta = meta
        self.predefined = predefined
        self.target_platform = target_platform
        self.progress = progress
        self.lease = builder.images.new_lease()
        self.containers = Containers(builder.runtime)
        self.futures: dict[int, Future[State]] = {}
        self.cached = 0
        self.ran = 0
        self.lock = threading.Lock()
        self.closed = threading.Event()

    def watch_cancel(self, cancel: threading.Event) -> threading.Thread:
        """Kill the step containers once ``cancel`` is set; ends with the session."""

        def watch() -> None:
            while not self.closed.is_set():
                if cancel.wait(0.1):
                    self.containers.kill_all()
                    return

        t = threading.Thread(target=watch, name="build-cancel", daemon=True)
        t.start()
        return t

    def close(self) -> None:
        self.closed.set()
        try:
            self.images.content.delete_lease(self.lease)
        except content_errors.ContentError:
            pass  # a cleanup of the store removed it already

    # --- the graph -----------------------------------------------------------------

    def stage_ref(self, name: str) -> parser.Stage | None:
        """The stage ``name`` (an AS name or an index) refers to, or None (an image)."""
        low = name.lower()
        for s in self.df.stages:
            if s.name and s.name == low:
                return s
        if name.isdigit():
            i = int(name)
            if i >= len(self.df.stages):
                raise StageError(f"invalid from flag value {name}: stage index {i} out of range "
                                 f"({len(self.df.stages)} stages)")
            return self.df.stages[i]
        return None

    def base_name(self, stage: parser.Stage) -> str:
        base = expand(stage.source.base, self.meta, escape=self.df.escape)
        if not base:
            raise DockerfileError(f"base name ({stage.source.base}) should not be blank", stage.source.line)
        return base

    def deps(self, stage: parser.Stage) -> list[parser.Stage]:
        from . import instructions as ins
        from .mounts import parse_mount

        out: list[parser.Stage] = []
        base = self.base_name(stage)
        low = base.lower()
        for s in self.df.stages:
            if s.name and s.name == low:
                out.append(s)
        for inst in stage.instructions:
            refs: list[str] = []
            if isinstance(inst, ins.Copy) and inst.from_:
                refs.append(expand(inst.from_, self.meta, escape=self.df.escape))
            if isinstance(inst, ins.Run):
                for m in inst.mounts:
                    rm = parse_mount(expand(m, self.meta, escape=self.df.escape))
                    if rm.from_:
                        refs.append(rm.from_)
            for r in refs:
                dep = self.stage_ref(r)
                if dep is not None:
                    out.append(dep)
        return out

    def needed(self, target: parser.Stage) -> list[parser.Stage]:
        """The target and every stage it depends on, dependencies first; cycles refused."""
        order: list[parser.Stage] = []
        state: dict[int, str] = {}

        def visit(s: parser.Stage, path: list[str]) -> None:
            if state.get(s.index) == "done":
                return
            if state.get(s.index) == "visiting":
                raise StageError(f"circular dependency detected on stage: {s.label} "
                                 f"({' -> '.join([*path, s.label])})")
            state[s.index] = "visiting"
            for d in self.deps(s):
                visit(d, [*path, s.label])
            state[s.index] = "done"
            order.append(s)

        visit(target, [])
        return order

    # --- running ---------------------------------------------------------------------

    def run(self, stages: list[parser.Stage], target: parser.Stage) -> State:
        from .steps import StageRun

        threads = []
        for s in stages:
            fut: Future[State] = Future()
            self.futures[s.index] = fut

        def work(s: parser.Stage) -> None:
            fut = self.futures[s.index]
            try:
                fut.set_result(StageRun(self, s).run())
            except BaseException as e:
                fut.set_exception(e)
                if not isinstance(e, CancelledError):
                    self.containers.kill_all()  # one failed stage stops the others

        for s in stages:
            t = threading.Thread(target=work, args=(s,), name=f"stage-{s.label}", daemon=True)
            threads.append(t)
            t.start()
        try:
            result = self.futures[target.index].result()
            for s in stages:
                self.futures[s.index].result()
            return result
        except KeyboardInterrupt:
            self.containers.kill_all()
            for t in threads:
                t.join()
            raise
        except BaseException as e:
            self.containers.kill_all()
            for t in threads:
                t.join()
            first = self._first_error()
            if first is not None and first is not e and isinstance(e, CancelledError):
                raise first from None
            raise

    def _first_error(self) -> BaseException | None:
        for f in self.futures.values():
            if f.done():
                e = f.exception()
                if e is not None and not isinstance(e, CancelledError):
                    return e
        return None

    def wait_stage(self, stage: parser.Stage) -> State:
        fut = self.futures.get(stage.index)
        if fut is None:
            raise StageError(f"stage {stage.label} was not scheduled")
        while True:
            if self.containers.cancelled.is_set() and not fut.done():
                raise CancelledError("build cancelled")
            try:
                return fut.result(timeout=0.1)
            except TimeoutError:
                continue

    def check_platform(self, st: State, what: str) -> None:
        host = host_platform()
        if (st.platform.os, st.platform.architecture, st.platform.variant or "") != (
            host.os, host.architecture, host.variant or ""
        ):
            raise PlatformError(f"{what} needs platform {format_platform(st.platform)}, but this host "
                                f"can only run {format_platform(host)} (no emulation)")


Callback = Callable[[str], None]
