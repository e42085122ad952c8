"""``POST /build``, ``/build/prune``, ``/build/cancel``: the builder behind the Engine API.

The legacy build protocol, as ``DOCKER_BUILDKIT=0 docker build`` and
docker-py's ``images.build`` speak it: the body is the context as a tar
(plain, gzip, bzip2 or xz), the options are query parameters, and the
answer is a stream of JSON messages, one per line::

    {"stream":"Step 1/4 : FROM busybox\\n"}
    {"stream":" ---> Using cache\\n"}
    {"aux":{"ID":"sha256:…"}}
    {"stream":"Successfully built 0123456789ab\\n"}
    {"stream":"Successfully tagged x:latest\\n"}

A failure mid-build is the last message, ``{"errorDetail":{"message":…,
"code":N},"error":…}`` (a failed RUN carries its exit code, which the
docker CLI exits with); nothing is tagged then. Malformed parameters are a
400 before anything is read or built.

The build runs in a worker thread (the builder is synchronous) with the
daemon's own image service, so the image is at once runnable; the
builder's state (cache records, step containers) is ``<root>/build``, the
same as ``dockyard build --root``'s. A client that goes away (or ``POST
/build/cancel?id=<buildid>``) cancels the build: the step containers are
killed and the builder unmounts what it prepared. With ``q`` only the
image ID is streamed (the docker CLI prints it for ``-q``).

dockyard's extension, for build secrets and ssh agents (``RUN
--mount=type=secret|ssh``), which the Docker Engine API has no field for
(Docker's engine takes them over a BuildKit session only):

    secrets   JSON object, secret id → its value in base64:
              ``secrets={"npmrc":"dG9rZW49eHl6Cg=="}``
    ssh       JSON object, ssh id → an ssh agent's socket on the daemon's host:
              ``ssh={"default":"/tmp/ssh-XXXX/agent.123"}``

Both are refused (400) unless the request came over a unix socket (the
daemon's own, whose clients are already trusted as root): never in clear
over a network. The daemon keeps no access log, so the values are written
nowhere; the builder holds secrets in memory and mounts them for the steps
that ask, never into a layer, the history or a cache key. The request line
and each header may take 1 MiB (``server.MAX_HEADER_BYTES``, as Docker's daemon), so
secrets can total some 700 KiB (base64, then URL-encoded); a longer request line is a 400
naming the limit. ``dockyard compose``
sends them for ``build.secrets`` / ``build.ssh``, after checking through
``GET /version`` (``Platform.Name``) that the engine is dockyard's.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import posixpath
import re
import shutil
import socket
import stat
import tempfile
import threading
import weakref
from typing import IO, Any, BinaryIO, cast

from aiohttp import web

from dockyard.build import Builder, BuildOptions, BuildResult
from dockyard.build.errors import BuildError, ContextError, RunError
from dockyard.build.progress import Progress, Step
from dockyard.images.errors import InvalidReferenceError
from dockyard.images.reference import parse as parse_ref

from .. import params
from ..errors import BadRequest
from ..server import ENGINE, IMAGES, json_response

log = logging.getLogger("dockyard.api.build")

# One builder per image service (i.e. per daemon): it holds the cache
# database and the runtime its step containers run in.
_BUILDERS: weakref.WeakKeyDictionary[Any, Builder] = weakref.WeakKeyDictionary()
_BUILDERS_LOCK = threading.Lock()
# ``buildid`` → the cancel event of that running build (``POST /build/cancel``).
_RUNNING: dict[str, threading.Event] = {}

_STEP_NAME = re.compile(r"^\[[^\]]*\] ")
_RUN_COMMAND = re.compile(r'^process "(.*)" did not complete successfully', re.S)

# Parameters the legacy builder takes that do not apply here, accepted so the
# clients that always send them work:
#   rm, forcerm      step containers are always removed, failed or not
#   pull             this builder never pulls: FROM uses the daemon's images
#   extrahosts       RUN steps share the host's network and /etc/hosts
#   shmsize, memory, memswap, cpushares, cpusetcpus, cpusetmems, cpuperiod,
#   cpuquota, ulimits, cgroupparent, isolation
#                    resource limits of step containers are not applied
#   squash           (experimental in Docker) layers are kept as built
#   session, buildid (buildid does name the build for /build/cancel)
#   (secrets and ssh: dockyard's extension, see the docstring)
#   X-Registry-Config header: registry credentials for pulls, see pull
_INTEGERS = ("shmsize", "memory", "memswap", "cpushares", "cpuperiod", "cpuquota")


def _builder(app: web.Application) -> Builder:
    images = app[IMAGES]
    with _BUILDERS_LOCK:
        b = _BUILDERS.get(images)
        if b is None:
            engine = app[ENGINE]
            b = Builder(images, os.path.join(engine.opts.root, "build"))
            _BUILDERS[images] = b
        return b


def _json_param(q: Any, name: str, kind: type) -> Any:
    raw = q.get(name)
    if not raw:
        return kind()
    try:
        value = json.loads(raw)
    except ValueError:
        raise BadRequest(f"invalid {name}: {raw!r} is not JSON") from None
    if not isinstance(value, kind):
        raise BadRequest(f"invalid {name}: expected a JSON {'object' if kind is dict else 'array'}")
    return value


def _string_map(q: Any, name: str) -> dict[str, str]:
    out = {}
    for k, v in _json_param(q, name, dict).items():
        if v is None:
            continue  # docker: a build arg without a value and none in the environment
        if not isinstance(v, str):
            raise BadRequest(f"invalid {name}: the value of {k!r} must be a string")
        out[k] = v
    return out


def _extension(request: web.Request) -> tuple[dict[str, bytes], dict[str, str]]:
    """dockyard's ``secrets`` and ``ssh`` parameters (see above), checked."""
    q = request.query
    if not q.get("secrets") and not q.get("ssh"):
        return {}, {}
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is None or sock.family != socket.AF_UNIX:
        raise BadRequest("secrets, ssh: accepted only over the daemon's unix socket")
    values: dict[str, bytes] = {}
    for sid, v in _json_param(q, "secrets", dict).items():
        if not sid or not isinstance(v, str):
            raise BadRequest(f"invalid secrets: {sid!r} must map a non-empty id to a base64 string")
        try:
            values[sid] = base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(f"invalid secrets: the value of {sid!r} is not base64") from None
    agents: dict[str, str] = {}
    for sid, path in _json_param(q, "ssh", dict).items():
        if not sid or not isinstance(path, str) or not path.startswith("/"):
            raise BadRequest(f"invalid ssh: {sid!r} must map an id to an agent socket's absolute path")
        try:
            is_sock = stat.S_ISSOCK(os.stat(path).st_mode)
        except OSError as e:
            raise BadRequest(f"invalid ssh: {sid!r}: cannot use {path}: {e.strerror}") from None
        if not is_sock:
            raise BadRequest(f"invalid ssh: {sid!r}: {path} is not a socket (an ssh agent's)")
        agents[sid] = path
    return values, agents


def _options(q: Any) -> tuple[BuildOptions, str]:
    """The build options from the query (context filled in later) and the
    Dockerfile's path inside the context."""
    if q.get("remote"):
        raise BadRequest(f"remote: remote build contexts ({q['remote']!r}) are not supported; "
                         "send the context as a tar")
    if q.get("version", "1") not in ("1", ""):
        raise BadRequest(f"version: builder version {q['version']!r} (BuildKit) is not supported; "
                         "use the legacy builder (version=1, DOCKER_BUILDKIT=0)")
    if q.get("outputs"):
        raise BadRequest("outputs: exporters are only available with BuildKit")
    for name in _INTEGERS:
        params.integer(q, name)
    for name in ("rm", "forcerm", "pull", "squash"):
        params.boolean(q, name)
    dockerfile = q.get("dockerfile") or "Dockerfile"
    rel = posixpath.normpath(dockerfile)
    if rel.startswith("/") or rel == ".." or rel.startswith("../"):
        raise BadRequest(f"dockerfile: {dockerfile!r} must be a path inside the build context")
    network = q.get("networkmode") or "default"
    if network not in ("default", "host", "none"):
        raise BadRequest(f"networkmode: {network!r} is not supported (expected default, host or none)")
    cache_from = _json_param(q, "cachefrom", list)
    if not all(isinstance(c, str) for c in cache_from):
        raise BadRequest("invalid cachefrom: expected a JSON array of image names")
    tags = [t for t in q.getall("t", []) if t]
    for t in tags:
        try:
            parse_ref(t)
        except InvalidReferenceError as e:
            raise BadRequest(f"t: invalid tag {t!r}: {e}") from None
    opts = BuildOptions(
        context="", tags=tags,
        build_args=_string_map(q, "buildargs"), labels=_string_map(q, "labels"),
        target=q.get("target", ""), no_cache=params.boolean(q, "nocache"), cache_from=cache_from,
        network=network, platform=q.get("platform", ""),
    )
    return opts, rel


class StreamProgress(Progress):
    """The builder's step events as the legacy builder's ``stream`` messages."""

    def __init__(self, emit: Any, quiet: bool) -> None:
        super().__init__()
        self.emit = emit
        self.quiet = quiet
        self.total = 0
        self.count = 0

    def _stream(self, text: str) -> None:
        if not self.quiet:
            self.emit({"stream": text})

    def on_start(self, step: Step) -> None:
        with self.lock:
            self.count += 1
            self.total = max(self.total, self.count)
            n, total = self.count, self.total
        self._stream(f"Step {n}/{total} : {_STEP_NAME.sub('', step.name)}\n")

    def on_log(self, step: Step, line: str) -> None:
        self._stream(line + "\n")

    def on_done(self, step: Step) -> None:
        if step.cached:
            self._stream(" ---> Using cache\n")

    def on_warn(self, message: str) -> None:
        self._stream(f"[Warning] {message}\n")


def _count_steps(text: str) -> int:
    """The steps the builder reports: each stage's FROM and its layer steps
    (metadata instructions only change the config and show no step)."""
    from dockyard.build import instructions as ins
    from dockyard.build import parser

    try:
        stages = parser.parse(text).stages
    except BuildError:
        return 0  # the build itself reports the syntax error
    return sum(1 + sum(isinstance(i, ins.Run | ins.Copy)
                       or (isinstance(i, ins.Single) and i.kind == "WORKDIR")
                       for i in s.instructions) for s in stages)


def _run(builder: Builder, body: IO[bytes], opts: BuildOptions, dockerfile: str,
         progress: StreamProgress) -> BuildResult:
    from dockyard.build.context import unpack_context

    work = builder.new_workdir()
    try:
        context = os.path.join(work, "context")
        os.makedirs(context)
        text = unpack_context(cast(BinaryIO, body), context)
        body.close()
        if text is None:
            path = os.path.join(context, dockerfile)
            real = os.path.realpath(path)
            if not real.startswith(os.path.realpath(context) + "/"):
                raise ContextError(f"dockerfile {dockerfile!r} points outside the build context")
            if not os.path.isfile(real):
                raise ContextError(f"Cannot locate specified Dockerfile: {dockerfile}")
            with open(real, encoding="utf-8", errors="replace") as f:
                text = f.read()
            opts.dockerfile = path
        opts.dockerfile_text = text
        opts.context = context
        progress.total = _count_steps(text)
        return builder.build(opts)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _error(e: BaseException) -> dict[str, Any]:
    if isinstance(e, RunError):
        m = _RUN_COMMAND.match(str(e))
        command = m.group(1) if m else "RUN"
        message = f"The command '{command}' returned a non-zero code: {e.exit_code}"
        return {"errorDetail": {"message": message, "code": e.exit_code}, "error": message}
    message = str(e) if isinstance(e, BuildError) else f"internal error: {type(e).__name__}: {e}"
    return {"errorDetail": {"message": message}, "error": message}


def _familiar(tag: str) -> str:
    last = tag.rsplit("/", 1)[-1]
    return tag if ":" in last or "@" in last else f"{tag}:latest"


async def build(request: web.Request) -> web.StreamResponse:
    q = request.query
    opts, dockerfile = _options(q)
    opts.secrets, opts.ssh = _extension(request)
    quiet = params.boolean(q, "q")
    builder = await asyncio.to_thread(_builder, request.app)
    # The context may be large: spool it to a file, not memory.
    body = tempfile.SpooledTemporaryFile(max_size=8 << 20)
    try:
        async for chunk in request.content.iter_chunked(1 << 16):
            body.write(chunk)
    except BaseException:
        body.close()
        raise
    body.seek(0)
    if body.read(1) == b"":
        body.close()
        raise BadRequest("the request body must be the build context (a tar archive)")
    body.seek(0)

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def emit(msg: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, msg)

    progress = StreamProgress(emit, quiet)
    cancel = threading.Event()
    opts.progress = progress
    opts.cancel = cancel
    build_id = q.get("buildid", "")

    def work() -> BuildResult:
        try:
            return _run(builder, body, opts, dockerfile, progress)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    task = asyncio.ensure_future(asyncio.to_thread(work))
    if build_id:
        _RUNNING[build_id] = cancel
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    try:
        await resp.prepare(request)
        while True:
            try:
                msg = await asyncio.wait_for(queue.get(), 0.5)
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    raise ConnectionResetError("client went away") from None
                continue
            if msg is None:
                break
            await resp.write(json.dumps(msg).encode() + b"\r\n")
        try:
            result = await task
        except Exception as e:
            if not isinstance(e, BuildError):
                log.exception("build failed")
            await resp.write(json.dumps(_error(e)).encode() + b"\r\n")
            return resp
        out: list[dict[str, Any]] = [{"aux": {"ID": result.image_id}}]
        if quiet:  # what the CLI prints for -q: the ID as the only stream output
            out.append({"stream": f"{result.image_id}\n"})
        else:
            out.append({"stream": f"Successfully built {result.image_id.removeprefix('sha256:')[:12]}\n"})
            out += [{"stream": f"Successfully tagged {_familiar(t)}\n"} for t in opts.tags]
        await resp.write(b"".join(json.dumps(m).encode() + b"\r\n" for m in out))
        await resp.write_eof()
    except (ConnectionError, asyncio.CancelledError):
        cancel.set()  # the client went away: stop the build, let it clean up
        await asyncio.shield(asyncio.wait([task]))
        raise
    finally:
        if build_id:
            _RUNNING.pop(build_id, None)
    return resp


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _duration(text: str) -> float:
    """A Go duration (``24h``, ``1h30m``, ``90s``) in seconds."""
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _SECONDS[m.group(2)]
        pos = m.end()
    if not text or pos != len(text):
        raise BadRequest(f"invalid filter 'until': {text!r} is not a duration (e.g. 24h, 30m, 90s)")
    return total


async def prune(request: web.Request) -> web.StreamResponse:
    q = request.query
    filters = params.filters(q)
    until = None
    for k, values in filters.items():
        if k == "until":
            until = _duration(values[0]) if values else None
        elif k not in ("type", "inuse", "shared", "private"):
            # BuildKit's record kinds: every record here is an unshared, unused layer
            raise BadRequest(f"invalid filter {k!r}: supported are until, type, inuse, shared, private")
    # keep-storage (API < 1.48) and reserved-space (1.48+) mean the same here;
    # max-used-space / min-free-space bound the cache the same way.
    keep = None
    for name in ("keep-storage", "reserved-space", "max-used-space", "min-free-space"):
        v = params.integer(q, name)
        if v is not None and v > 0:
            keep = v if keep is None else min(keep, v)
    params.boolean(q, "all")  # every record here is reclaimable: all changes nothing
    builder = await asyncio.to_thread(_builder, request.app)
    dropped, freed = await asyncio.to_thread(
        builder.prune, all=until is None and keep is None, until=until, keep_storage=keep)
    return json_response({"CachesDeleted": [r.key.split(":", 1)[-1] for r in dropped],
                          "SpaceReclaimed": freed})


async def cancel(request: web.Request) -> web.StreamResponse:
    build_id = request.query.get("id", "")
    if not build_id:
        raise BadRequest("id: the build to cancel is required")
    ev = _RUNNING.get(build_id)
    if ev is None:
        return json_response({"message": f"no such build: {build_id}"}, 404)
    ev.set()
    return web.Response(status=200)


ROUTES = [
    ("POST", "/build", build),
    ("POST", "/build/prune", prune),
    ("POST", "/build/cancel", cancel),
]
