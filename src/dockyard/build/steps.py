"""One stage's steps: FROM, then each instruction, through the cache.

Layer steps (RUN, COPY, ADD, and WORKDIR when it has to create the
directory) share one path, ``_layer_step``: compute the cache key; on a
hit whose blob is still in the content store, reuse the layer (its
snapshot is recreated from the blob if GC took it); on a miss prepare an
active snapshot on the parent chain, mount it, do the work, unmount,
write the diff (gzip) to the content store, commit the snapshot under the
new chain ID and record the result. Whatever happens, the mount and the
active snapshot are gone when the step returns.

Metadata steps only change the config (``metadata.py``) and extend the
cache key, so a later layer step's key depends on every ENV/ARG before it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import posixpath
import re
import shutil
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from dockyard.content import LABEL_GC_ROOT
from dockyard.images.errors import ImageError
from dockyard.images.inspect import rfc3339
from dockyard.images.model import chain_ids
from dockyard.images.service import LABEL_LAYER
from dockyard.oci import mediatypes as mt
from dockyard.oci.errors import InvalidSpecError
from dockyard.oci.image import ContainerConfig, Descriptor, History, parse_platform
from dockyard.runtime.securejoin import secure_join
from dockyard.snapshot import errors as snapshot_errors
from dockyard.snapshot import mount_all, unmount_all
from dockyard.snapshot.apply import apply_layer_to_mounts
from dockyard.snapshot.diff import diff_snapshot

from . import copy as copy_mod
from . import instructions as ins
from . import metadata, parser, users
from .cache import GC_ROOT_OWNER
from .errors import BuildError, ContextError, DockerfileError, FetchError, SecretError, StageError
from .lex import expand
from .mounts import RunMount, parse_mount
from .runner import RunSpec
from .runner import run as run_container
from .ssh import AgentProxy
from .state import DEFAULT_PATH, State, step_key

if TYPE_CHECKING:
    from .progress import Step
    from .solver import _Session

_HEREDOC_ONLY = re.compile(r"^\s*<<-?([\"']?)([A-Za-z0-9_.-]+)\1\s*$")


class StageRun:
    def __init__(self, session: _Session, stage: parser.Stage) -> None:
        self.s = session
        self.stage = stage
        self.escape = session.df.escape
        self.images = session.images
        self.sn = session.images.snapshotter
        self.total = len(stage.instructions) + 1
        self.n = 1
        self.no_cache = session.opts.no_cache or (stage.name and stage.name in session.opts.no_cache_filter)

    def name(self, text: str) -> str:
        label = self.stage.name or f"stage-{self.stage.index}"
        return f"[{label} {self.n}/{self.total}] {text}"

    # --- FROM -------------------------------------------------------------------------

    def _from(self) -> State:
        src = self.stage.source
        base = self.s.base_name(self.stage)
        plat_text = expand(src.platform, self.s.meta, escape=self.escape) if src.platform else ""
        try:
            platform = parse_platform(plat_text) if plat_text else self.s.target_platform
        except InvalidSpecError as e:
            raise DockerfileError(f"FROM --platform: {e}", src.line) from None
        step = self.s.progress.start(self.name(f"FROM {base}"))
        ref = self.s.stage_ref(base) if not base.isdigit() else None
        if ref is not None and ref.index != self.stage.index:
            st = self.s.wait_stage(ref).clone()
        elif base == "scratch":
            st = State(platform=platform, key=step_key("", "scratch", platform.architecture))
        else:
            try:
                img = self.images.get(base)
                chain = self.images.unpack(base)
            except ImageError as e:
                self.s.progress.done(step, error=str(e))
                raise StageError(f"FROM {base} (line {src.line}): {e} (this builder does not pull: "
                                 "load or pull the image first)") from None
            cfg = img.config.config or ContainerConfig()
            st = State(platform=platform, config=ContainerConfig(**{f: getattr(cfg, f) for f in cfg.__struct_fields__}),
                       layers=list(img.layers), diff_ids=list(img.diff_ids),
                       history=list(img.config.history or []), chain=chain,
                       key=step_key("", "image", img.id))
            for kv in cfg.env or []:
                k, _, v = kv.partition("=")
                st.env[k] = v
        if "PATH" not in st.env and platform.os == "linux":
            st.env["PATH"] = DEFAULT_PATH  # BuildKit writes the default PATH into the config
            st.config.env = [f"{k}={v}" for k, v in st.env.items()]
        if st.config.on_build:
            triggers = list(st.config.on_build)
            st.config.on_build = None
            self.stage.instructions[:0] = [parser.parse_trigger(t, src.line) for t in triggers]
            self.total += len(triggers)
        self.s.progress.done(step, cached=False)
        return st

    # --- the loop ---------------------------------------------------------------------

    def run(self) -> State:
        st = self._from()
        i = 0
        while i < len(self.stage.instructions):
            inst = self.stage.instructions[i]
            i += 1
            self.n += 1
            try:
                self.dispatch(inst, st)
            except BuildError:
                raise
            except OSError as e:
                raise BuildError(f"line {inst.line}: {inst.original.splitlines()[0]}: {e}") from None
        return st

    def dispatch(self, inst: ins.Instruction, st: State) -> None:
        if isinstance(inst, ins.Arg):
            return self._arg(inst, st)
        if isinstance(inst, ins.Run):
            return self._run(inst, st)
        if isinstance(inst, ins.Copy):
            return self._copy(inst, st)
        if isinstance(inst, ins.Single) and inst.kind == "WORKDIR":
            return self._workdir(inst, st)
        try:
            created_by = metadata.apply(inst, st, self.escape)
        except DockerfileError:
            raise
        except BuildError as e:
            raise DockerfileError(str(e), inst.line) from None
        self._empty_step(st, created_by)

    def _arg(self, inst: ins.Arg, st: State) -> None:
        opts = self.s.opts
        parts = []
        for name, default in inst.args:
            if name in opts.build_args:
                value: str | None = opts.build_args[name]
            elif default is not None:
                value = expand(default, st.scope(), escape=self.escape)
            elif name in self.s.meta:
                value = self.s.meta[name]
            else:
                value = None
            st.args[name] = value
            parts.append(f"{name}={value}" if value is not None else name)
        created_by = "ARG " + " ".join(parts)
        self._empty_step(st, created_by)

    def _workdir(self, inst: ins.Single, st: State) -> None:
        path = expand(inst.value, st.scope(), escape=self.escape)
        path = posixpath.normpath(posixpath.join(st.workdir, path))
        st.config.working_dir = path
        created_by = f"WORKDIR {path}"

        def make(rootfs: str, _step: Step) -> None:
            host = secure_join(rootfs, path)
            os.makedirs(host, 0o755, exist_ok=True)

        with self.mounted(st) as (rootfs, _):
            exists = os.path.isdir(secure_join(rootfs, path))
        if exists:
            self._empty_step(st, created_by)
            return
        self._layer_step(st, created_by, step_key(st.key, created_by), make)

    # --- RUN --------------------------------------------------------------------------

    def _run(self, inst: ins.Run, st: State) -> None:
        s = self.s
        s.check_platform(st, f"RUN (line {inst.line})")
        scope = st.scope()
        if inst.json:
            args = list(inst.command)
        elif inst.heredocs and _HEREDOC_ONLY.match(inst.command[0]):
            script_doc = inst.heredocs[0]
            if script_doc.content.startswith("#!"):
                # a script with its own interpreter (BuildKit runs it as a
                # file): bind-mounted into /dev (a tmpfs, so never in a layer)
                args = [f"/dev/pipes/{script_doc.name}"]
            else:
                args = [*st.shell, script_doc.content]
        else:
            script = inst.command[0] if inst.command else ""
            for h in inst.heredocs:
                script += "\n" + h.content + h.name
            args = [*st.shell, script]
        security = expand(inst.security, scope, escape=self.escape) if inst.security else "sandbox"
        if security != "sandbox":
            raise DockerfileError(f"RUN --security={security} is not allowed: builds run sandboxed "
                                  "(no insecure entitlement)", inst.line)
        network = expand(inst.network, scope, escape=self.escape) if inst.network else s.opts.network
        if network not in ("default", "none", "host"):
            raise DockerfileError(f"RUN --network={network}: expected default, none or host", inst.line)
        mounts: list[RunMount] = []
        for spec in inst.mounts:
            mounts.append(parse_mount(expand(spec, scope, escape=self.escape), st.workdir,
                                      ssh_index=sum(m.type == "ssh" for m in mounts)))
        env = st.run_env()
        in_scope = {k: v for k, v in st.args.items() if v is not None and k not in st.env}
        prefix = f"|{len(in_scope)} " + " ".join(f"{k}={v}" for k, v in in_scope.items()) + " " if in_scope else ""
        created_by = f"RUN {prefix}{' '.join(args)} # buildkit"
        key_mounts = []
        for m in mounts:
            extra = ""
            if m.type == "bind" or (m.type == "cache" and m.from_):
                extra = self._bind_key(m)
            key_mounts.append(m.key() + extra)
        key = step_key(st.key, "RUN", args, sorted(env), key_mounts, network, st.config.user or "",
                       st.workdir)

        def work(rootfs: str, step: Step) -> None:
            with contextlib.ExitStack() as stack:
                oci_all = [self._oci_mount(m, stack) for m in mounts]
                oci_mounts = [om for om in oci_all if om is not None]
                if args[0].startswith("/dev/pipes/"):
                    script = os.path.join(stack.enter_context(self.workdir()), "script")
                    with open(script, "w") as f:
                        f.write(inst.heredocs[0].content)
                    os.chmod(script, 0o755)
                    oci_mounts.append({"destination": args[0], "type": "bind", "source": script,
                                       "options": ["bind", "ro"]})
                uid, gid = users.resolve(rootfs, st.config.user) if st.config.user else (0, 0)
                work_dir = stack.enter_context(self.workdir())
                run_env = env if any(e.startswith("HOME=") for e in env) else [
                    *env, f"HOME={users.home(rootfs, uid)}"]  # runc sets HOME; our runtime leaves it to us
                ssh_targets = [str(om["destination"]) for m, om in zip(mounts, oci_all, strict=True)
                               if m.type == "ssh" and om is not None]
                if ssh_targets:  # this step only: never in the image's env or the cache key
                    run_env = [e for e in run_env if not e.startswith("SSH_AUTH_SOCK=")]
                    run_env.append(f"SSH_AUTH_SOCK={ssh_targets[0]}")
                spec = RunSpec(args=args, env=run_env, cwd=st.workdir, uid=uid, gid=gid, network=network,
                               mounts=oci_mounts)
                run_container(s.containers, rootfs, work_dir, spec,
                              output=lambda line: s.progress.log(step, line), name=step.name)

        self._layer_step(st, created_by, key, work, display=f"RUN {' '.join(inst.command)}")

    def _bind_key(self, m: RunMount) -> str:
        ref = self.s.stage_ref(m.from_) if m.from_ else None
        if ref is not None:
            return "|" + self.s.wait_stage(ref).key
        if m.from_:
            try:
                return "|" + self.images.get(m.from_).id
            except ImageError as e:
                raise StageError(f"--mount from={m.from_}: not a stage of this Dockerfile and not an image "
                                 f"in the store: {e}") from None
        root = copy_mod.SourceRoot(self.s.context, self.s.ignore)
        return "|" + copy_mod.plan(root, [m.source or "."], "/x/", dest_is_dir=lambda _d: True).digest

    def _oci_mount(self, m: RunMount, stack: contextlib.ExitStack[bool | None]) -> dict[str, object] | None:
        opts = ["rbind", "ro" if m.readonly else "rw"]
        if m.type == "tmpfs":
            o = ["nosuid", "nodev"] + ([f"size={m.size}"] if m.size else [])
            return {"destination": m.target, "type": "tmpfs", "source": "tmpfs", "options": o}
        if m.type == "secret":
            value = self.s.opts.secrets.get(m.id)
            if value is None:
                if m.required:
                    raise SecretError(f"secret {m.id} not found (pass it with --secret id={m.id},src=…)")
                return None
            d = stack.enter_context(self.workdir())
            path = os.path.join(d, "secret")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
            with os.fdopen(fd, "wb") as f:
                f.write(value)
            os.chmod(path, m.mode if m.mode is not None else 0o400)
            os.chown(path, m.uid, m.gid)
            return {"destination": m.target, "type": "bind", "source": path, "options": ["bind", "ro"]}
        if m.type == "ssh":
            agent = self.s.opts.ssh.get(m.id)
            if agent is None:
                if m.required:
                    raise SecretError(f"no ssh agent for id {m.id!r} (pass it with --ssh {m.id}[=SOCKET])")
                return None
            d = stack.enter_context(self.workdir())
            proxy = AgentProxy(agent, os.path.join(d, "agent.sock"),
                               m.mode if m.mode is not None else 0o600, m.uid, m.gid)
            stack.callback(proxy.close)
            return {"destination": m.target, "type": "bind", "source": proxy.path, "options": ["bind"]}
        if m.type == "cache":
            if m.from_:
                src = stack.enter_context(self.source_root(m.from_))
                path = secure_join(src, m.source or "/")
            else:
                path = os.path.join(self.s.builder.root, "cache-mounts",
                                    step_key("", m.id).split(":")[1][:32])
                if not os.path.isdir(path):
                    os.makedirs(path, exist_ok=True)
                    os.chown(path, m.uid, m.gid)
                    if m.mode is not None:
                        os.chmod(path, m.mode)
                if m.sharing == "locked":
                    # one step at a time, across threads and processes: flock
                    # on a file beside the cache dir, held until the step ends
                    lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                    stack.callback(os.close, lock)
                    fcntl.flock(lock, fcntl.LOCK_EX)
            return {"destination": m.target, "type": "bind", "source": path, "options": opts}
        # bind: from a stage, an image or the context. Read-only by default;
        # with rw the step writes to a scratch copy, discarded afterwards (as
        # BuildKit does), so neither the context nor a stage ever changes.
        src = stack.enter_context(self.source_root(m.from_)) if m.from_ else self.s.context
        path = secure_join(src, m.source or "/")
        if not os.path.exists(path):
            raise ContextError(f"RUN --mount=type=bind: source {m.source!r} not found")
        if not m.readonly:
            scratch = os.path.join(stack.enter_context(self.workdir()), "rw")
            if os.path.isdir(path):
                shutil.copytree(path, scratch, symlinks=True)
            else:
                shutil.copy2(path, scratch)
            path = scratch
        return {"destination": m.target, "type": "bind", "source": path, "options": opts}

    # --- COPY / ADD -------------------------------------------------------------------

    def _copy(self, inst: ins.Copy, st: State) -> None:
        scope = st.scope()
        word = "ADD" if inst.add else "COPY"
        from_ = expand(inst.from_, scope, escape=self.escape) if inst.from_ else ""
        if inst.add and inst.from_:
            raise DockerfileError("ADD does not support --from", inst.line)
        sources = [s if s.startswith("<<") else expand(s, scope, escape=self.escape) for s in inst.sources]
        dest = expand(inst.dest, scope, escape=self.escape)
        if not dest.startswith("/"):
            dest = posixpath.join(st.workdir, dest) + ("/" if dest.endswith("/") or dest in (".", "./") else "")
        heredocs = {h.name: (expand(h.content, scope, escape=self.escape) if h.expand else h.content).encode()
                    for h in inst.heredocs}
        chmod = copy_mod.parse_chmod(expand(inst.chmod, scope, escape=self.escape)) if inst.chmod else None
        chown = expand(inst.chown, scope, escape=self.escape) if inst.chown else ""
        checksum = expand(inst.checksum, scope, escape=self.escape) if inst.checksum else ""
        exclude = [expand(e, scope, escape=self.escape) for e in inst.exclude]
        flags = [f"--{k}={v}" for k, v in (("from", from_), ("chown", chown), ("chmod", inst.chmod)) if v]
        flags += ["--link"] if inst.link else []
        flags += ["--parents"] if inst.parents else []
        flags += [f"--exclude={e}" for e in exclude]
        created_by = f"{word} {' '.join([*flags, *sources, dest])} # buildkit"
        with contextlib.ExitStack() as stack:
            if from_:
                root = copy_mod.SourceRoot(stack.enter_context(self.source_root(from_)), None, keep_owner=True)
            else:
                root = copy_mod.SourceRoot(self.s.context, self.s.ignore)
            with self.mounted(st) as (rootfs, _):
                def dest_is_dir(d: str) -> bool:
                    return os.path.isdir(secure_join(rootfs, d))

                plan = copy_mod.plan(root, sources, dest, dest_is_dir=dest_is_dir, heredocs=heredocs,
                                     add=inst.add, parents=inst.parents, exclude=exclude,
                                     fetch=lambda url: _fetch(url, checksum))
            key = step_key(st.key, word, flags, dest, plan.digest, chown, inst.chmod)

            def work(rootfs: str, _step: Step) -> None:
                owner = users.resolve(rootfs, chown) if chown else None
                copy_mod.execute(rootfs, plan, owner=owner, chmod=chmod)

            self._layer_step(st, created_by, key, work, reusable=False,
                             display=f"{word} {' '.join([*flags, *sources, dest])}")

    # --- shared machinery -------------------------------------------------------------

    @contextlib.contextmanager
    def workdir(self) -> Iterator[str]:
        d = self.s.builder.new_workdir()
        try:
            yield d
        finally:
            shutil.rmtree(d, ignore_errors=True)

    @contextlib.contextmanager
    def mounted(self, st: State, *, key: str | None = None) -> Iterator[tuple[str, str]]:
        """A mounted active snapshot on the stage's chain: (rootfs, snapshot key).
        Removed afterwards unless ``key`` is given (the caller commits it)."""
        own = key is None
        key = key or self.s.builder.active_key()
        mounts = self.sn.prepare(key, st.chain)
        with self.workdir() as d:
            rootfs = os.path.join(d, "rootfs")
            os.mkdir(rootfs)
            try:
                mount_all(mounts, rootfs)
                try:
                    yield rootfs, key
                finally:
                    unmount_all(rootfs)
            finally:
                if own:
                    self.sn.remove(key)

    @contextlib.contextmanager
    def source_root(self, ref: str) -> Iterator[str]:
        """A read-only mounted view of a stage's result or an image (``--from``)."""
        stage = self.s.stage_ref(ref)
        if stage is not None:
            if stage.index == self.stage.index:
                raise StageError(f"stage {stage.label} cannot copy from itself")
            chain = self.s.wait_stage(stage).chain
        else:
            try:
                chain = self.images.unpack(ref)
            except ImageError as e:
                raise StageError(f"--from={ref}: not a stage of this Dockerfile and not an image "
                                 f"in the store: {e}") from None
        if not chain:
            with self.workdir() as d:
                yield d
            return
        key = self.s.builder.active_key()
        mounts = self.sn.view(key, chain)
        try:
            with self.workdir() as d:
                mount_all(mounts, d)
                try:
                    yield d
                finally:
                    unmount_all(d)
        finally:
            self.sn.remove(key)

    def _empty_step(self, st: State, created_by: str) -> None:
        """A metadata-only step: no layer; its time is when its key was first built."""
        st.key = step_key(st.key, created_by)
        created = self.s.builder.cache.step_time(st.key, fresh=bool(self.no_cache))
        st.history.append(History(created_by=created_by, empty_layer=True, created=rfc3339(created)))

    def _layer_step(self, st: State, created_by: str, key: str, work: Callable[[str, Step], None],
                    display: str = "", reusable: bool = True) -> None:
        s = self.s
        step = s.progress.start(self.name(display or created_by.removesuffix(" # buildkit")))
        if not self.no_cache:
            rec = s.builder.cache.get(key)
            if rec is not None and self.images.content.exists(rec.digest):
                try:
                    chain = self._ensure_snapshot(st.chain, rec.diff_id, rec.digest, rec.media_type)
                except (snapshot_errors.SnapshotError, OSError):
                    chain = None
                if chain is not None:
                    s.builder.cache.touch(key)
                    self.images.content.add_to_lease(s.lease, rec.digest)
                    self._append(st, Descriptor(media_type=rec.media_type, digest=rec.digest, size=rec.size),
                                 rec.diff_id, chain, key, created_by, rec.created)
                    s.progress.done(step, cached=True)
                    with s.lock:
                        s.cached += 1
                    return
            hit = self._cache_from(st, created_by) if reusable else None
            if hit is not None:
                layer, diff_id = hit
                chain = self._ensure_snapshot(st.chain, diff_id, layer.digest, layer.media_type)
                self.images.content.update_labels(layer.digest, {LABEL_GC_ROOT: GC_ROOT_OWNER})
                created = s.builder.cache.put(key, created_by, layer.digest, diff_id, layer.media_type, layer.size)
                self._append(st, layer, diff_id, chain, key, created_by, created)
                s.progress.done(step, cached=True)
                with s.lock:
                    s.cached += 1
                return
        active = s.builder.active_key()
        committed = False
        try:
            with self.mounted(st, key=active) as (rootfs, _):
                work(rootfs, step)
            with self.workdir() as d:
                tmp = os.path.join(d, "layer.tar.gz")
                with open(tmp, "wb") as f:
                    result = diff_snapshot(self.sn, active, f, compression="gzip")
                with open(tmp, "rb") as f:
                    digest, size = self.images.write_blob(
                        f, lease=s.lease, labels={LABEL_GC_ROOT: GC_ROOT_OWNER})
            chain = chain_ids([st.chain, result.diff_id])[-1] if st.chain else result.diff_id
            try:
                self.sn.commit(chain, active, labels={LABEL_LAYER: result.diff_id})
                committed = True
            except snapshot_errors.AlreadyExistsError:
                pass
        except BaseException as e:
            s.progress.done(step, error=str(e) or type(e).__name__)
            raise
        finally:
            if not committed:
                with contextlib.suppress(snapshot_errors.SnapshotError):
                    self.sn.remove(active)
        created = s.builder.cache.put(key, created_by, digest, result.diff_id, mt.OCI_LAYER_GZIP, size)
        self._append(st, Descriptor(media_type=mt.OCI_LAYER_GZIP, digest=digest, size=size),
                     result.diff_id, chain, key, created_by, created)
        s.progress.done(step)
        with s.lock:
            s.ran += 1

    def _cache_from(self, st: State, created_by: str) -> tuple[Descriptor, str] | None:
        """``--cache-from``: an image whose history so far is ours, step for step
        (created_by of every entry, and the same layers), gives its next layer
        for this step, as the legacy builder matches them. Only for steps whose
        created_by says all they do (RUN, WORKDIR): a COPY's history line does
        not name its content, so COPY/ADD run, and as their layers are
        deterministic the steps after them match again when nothing changed."""
        ours = [h.created_by or "" for h in st.history] + [created_by]
        n = len(st.diff_ids)
        for ref in self.s.opts.cache_from:
            try:
                img = self.images.get(ref)
            except ImageError:
                continue
            theirs = [h.created_by or "" for h in img.config.history or []]
            if theirs[:len(ours)] == ours and img.diff_ids[:n] == st.diff_ids and len(img.diff_ids) > n:
                return img.layers[n], img.diff_ids[n]
        return None

    def _append(self, st: State, layer: Descriptor, diff_id: str, chain: str, key: str, created_by: str,
                created: float) -> None:
        st.layers.append(layer)
        st.diff_ids.append(diff_id)
        st.chain = chain
        st.key = key
        st.history.append(History(created_by=created_by, created=rfc3339(created)))

    def _ensure_snapshot(self, parent: str, diff_id: str, digest: str, media_type: str) -> str:
        chain = chain_ids([parent, diff_id])[-1] if parent else diff_id
        try:
            self.sn.stat(chain)
            return chain
        except snapshot_errors.NotFoundError:
            pass
        key = self.s.builder.active_key()
        mounts = self.sn.prepare(key, parent)
        try:
            with self.images.content.open(digest) as f:
                apply_layer_to_mounts(f, mounts, media_type=media_type, limits=self.images.limits)
            self.sn.commit(chain, key, labels={LABEL_LAYER: diff_id})
        except snapshot_errors.AlreadyExistsError:
            self.sn.remove(key)
        except BaseException:
            with contextlib.suppress(snapshot_errors.SnapshotError):
                self.sn.remove(key)
            raise
        return chain


def _fetch(url: str, checksum: str) -> tuple[str, bytes]:
    """ADD <url>: fetch it (no retries), verify ``--checksum``."""
    import hashlib
    import urllib.parse

    import httpx

    try:
        r = httpx.get(url, timeout=10, follow_redirects=True)
        r.raise_for_status()
    except httpx.HTTPError as e:
        raise FetchError(f"ADD {url}: cannot fetch it: {e}") from None
    data = r.content
    if checksum:
        algo, _, want = checksum.partition(":")
        if algo not in ("sha256", "sha384", "sha512") or not want:
            raise FetchError(f"ADD --checksum={checksum}: expected sha256:<hex>")
        got = hashlib.new(algo, data).hexdigest()
        if got != want:
            raise FetchError(f"ADD {url}: checksum mismatch: expected {checksum}, got {algo}:{got}")
    name = posixpath.basename(urllib.parse.urlparse(url).path) or "__unnamed__"
    return name, data

