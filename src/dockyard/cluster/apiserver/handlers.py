"""HTTP handlers: decode the request, make one storage call, encode the answer.

Resource URLs (kube-apiserver's layout):

    /api/v1/<plural>[/<name>[/<sub>]]                          cluster-scoped
    /api/v1/namespaces/<ns>/<plural>[/<name>[/<sub>]]          namespaced
    /apis/<group>/<version>/…                                  the same, per group
    /api/v1/<plural>  (namespaced type)                        list/watch across namespaces

Query parameters understood: ``labelSelector``, ``fieldSelector``,
``limit``, ``continue``, ``resourceVersion``, ``resourceVersionMatch``,
``watch``, ``allowWatchBookmarks``, ``sendInitialEvents``,
``timeoutSeconds``, ``dryRun``, ``fieldValidation``, ``fieldManager``,
``force``, ``gracePeriodSeconds``, ``propagationPolicy``, ``includeObject``.
Errors leave as ``Status`` objects (``errors.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from . import patch as patches
from . import protobuf
from . import table as tables
from .auth import UserInfo
from .errors import (
    APIError,
    BadRequest,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    UnsupportedMediaType,
)
from .pods import PodSubresources
from .resources import ResourceTable, ResourceType
from .reviews import Reviews
from .storage import Storage, WriteOptions, qualified
from .watch import watch

Obj = dict[str, Any]
USER = web.RequestKey("user", UserInfo)
MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's request size limit
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Target:
    rtype: ResourceType
    namespace: str
    name: str
    subresource: str


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=json.dumps(body, separators=(",", ":")).encode(), status=status,
                        content_type="application/json", headers=headers)


def error_response(exc: APIError) -> web.Response:
    return json_response(exc.status(), status=exc.code)


def parse_target(table: ResourceTable, group: str, version: str, rest: str) -> Target:
    parts = [p for p in rest.split("/") if p]
    if not parts:
        raise NotFound("the server could not find the requested resource")
    namespace = ""
    if parts[0] == "namespaces" and len(parts) >= 3 and not (len(parts) == 3 and parts[2] in ("status", "finalize")):
        namespace, parts = parts[1], parts[2:]
    plural = parts[0]
    rtype = table.lookup(group, version, plural)
    if rtype is None or len(parts) > 3:
        raise NotFound("the server could not find the requested resource")
    name = parts[1] if len(parts) > 1 else ""
    sub = parts[2] if len(parts) > 2 else ""
    if namespace and not rtype.namespaced:
        raise NotFound("the server could not find the requested resource")
    if sub and sub not in rtype.subresources:
        raise NotFound("the server could not find the requested resource")
    return Target(rtype, namespace, name, sub)


async def read_body(request: web.Request) -> Any:
    ctype = request.content_type
    data = await request.read()
    if len(data) > MAX_BODY:
        raise RequestEntityTooLarge(f"Request entity too large: limit is {MAX_BODY}")
    if not data:
        return None
    if ctype == protobuf.CONTENT_TYPE:
        return protobuf.decode(data)
    try:
        if "yaml" in ctype:
            return yaml.load(data, Loader=_YAML_LOADER)
        return json.loads(data)
    except (ValueError, yaml.YAMLError) as exc:
        raise BadRequest(f"the body of the request could not be decoded: {exc}") from None


def write_options(request: web.Request) -> WriteOptions:
    q = request.query
    dry = q.getall("dryRun", [])
    if any(d != "All" for d in dry):
        raise BadRequest(f"Invalid dryRun value {dry!r}: only All is supported")
    validation = q.get("fieldValidation", "Warn") or "Warn"
    if validation not in ("Strict", "Warn", "Ignore"):
        raise BadRequest(f'fieldValidation "{validation}" is invalid: must be one of Ignore, Warn, Strict')
    manager = q.get("fieldManager", "")
    if not manager and request.content_type != patches.APPLY_PATCH:
        # kube-apiserver names an unnamed manager after the client's user agent
        manager = request.headers.get("User-Agent", "unknown").split("/", 1)[0][:128]
    force = q.get("force", "") in ("true", "1")
    return WriteOptions(dry_run=bool(dry), field_validation=validation, field_manager=manager, force=force,
                        user=request.get(USER))


def _with_warnings(resp: web.StreamResponse, opts: WriteOptions) -> web.StreamResponse:
    for w in opts.warnings[:20]:
        resp.headers.add("Warning", '299 - "' + w.replace('"', '\\"') + '"')
    return resp


def wants_table(request: web.Request) -> bool:
    return any("as=Table" in part and "g=meta.k8s.io" in part
               for part in request.headers.get("Accept", "").split(","))


def _int_param(request: web.Request, name: str) -> int:
    raw = request.query.get(name, "")
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f'invalid {name} "{raw}": must be an integer') from None
    if value < 0:
        raise BadRequest(f"invalid {name} {value}: must not be negative")
    return value


# Encoded watch lines by (event type, id(object)), the object kept alongside so
# its id cannot be reused while cached: a change sent to 100 watchers is
# encoded once (watch.py shares the decoded object between them).
_LINES: dict[tuple[str, int], tuple[Obj, bytes]] = {}
_LINES_MAX = 512


def _event_line(event: Obj) -> bytes:
    key = (event["type"], id(event["object"]))
    hit = _LINES.get(key)
    if hit is not None and hit[0] is event["object"]:
        return hit[1]
    line = json.dumps(event, separators=(",", ":")).encode() + b"\n"
    if len(_LINES) >= _LINES_MAX:
        _LINES.pop(next(iter(_LINES)))
    _LINES[key] = (event["object"], line)
    return line


class ResourceHandlers:
    def __init__(self, table: ResourceTable, storage: Storage, reviews: Reviews) -> None:
        self.table = table
        self.storage = storage
        self.reviews = reviews
        self.pods = PodSubresources(table, storage)

    async def handle(self, request: web.Request, group: str, version: str, rest: str) -> web.StreamResponse:
        t = parse_target(self.table, group, version, rest)
        method = request.method
        if t.rtype.virtual or t.subresource in ("token", "binding", "eviction"):
            if method != "POST" or (t.name and not t.subresource):
                raise MethodNotAllowed("the server does not allow this method on the requested resource")
            return json_response(await self.create_only(request, t), status=201)
        if not t.name:
            if method == "GET":
                if request.query.get("watch", "") in ("1", "true", "True"):
                    return await self.watch(request, t)
                return await self.list(request, t)
            if method == "POST":
                return await self.create(request, t)
            if method == "DELETE":
                return await self.delete_collection(request, t)
            raise MethodNotAllowed("the server does not allow this method on the requested resource")
        if method == "GET":
            if t.subresource == "scale":
                return json_response(await self.storage.get_scale(t.rtype, t.namespace, t.name))
            obj = await self.storage.get(t.rtype, t.namespace, t.name)
            if wants_table(request) and not t.subresource:
                return json_response(tables.to_table(t.rtype, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]},
                                                     request.query.get("includeObject", "Metadata")))
            return json_response(obj)
        if method == "PUT":
            return await self.update(request, t)
        if method == "PATCH":
            return await self.patch(request, t)
        if method == "DELETE" and not t.subresource:
            return await self.delete(request, t)
        raise MethodNotAllowed("the server does not allow this method on the requested resource")

    async def create_only(self, request: web.Request, t: Target) -> Obj:
        body = await read_body(request)
        if t.subresource == "token":
            return await self.reviews.token_request(t.rtype, t.namespace, t.name, body)
        if t.subresource == "binding" or t.rtype.kind == "Binding":
            return await self.pods.bind(t.namespace, t.name, body, write_options(request))
        if t.subresource == "eviction":
            return await self.pods.evict(t.namespace, t.name, body, write_options(request))
        return await self.reviews.create(t.rtype, t.namespace, body, request[USER])

    async def list(self, request: web.Request, t: Target) -> web.StreamResponse:
        q = request.query
        if not (q.get("labelSelector") or q.get("fieldSelector") or wants_table(request)):
            raw = await self.storage.list_json(
                t.rtype, t.namespace, limit=_int_param(request, "limit"),
                continue_token=q.get("continue", ""), resource_version=q.get("resourceVersion", ""),
                resource_version_match=q.get("resourceVersionMatch", ""))
            if raw is not None:
                return web.Response(body=raw, content_type="application/json")
        result = await self.storage.list(
            t.rtype, t.namespace, label_selector=q.get("labelSelector", ""),
            field_selector=q.get("fieldSelector", ""), limit=_int_param(request, "limit"),
            continue_token=q.get("continue", ""), resource_version=q.get("resourceVersion", ""),
            resource_version_match=q.get("resourceVersionMatch", ""))
        if wants_table(request):
            return json_response(tables.to_table(t.rtype, result["items"], result["metadata"],
                                                 q.get("includeObject", "Metadata")))
        return json_response(result)

    async def watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        q = request.query
        # errors in the selectors must be a plain 400, before the stream starts
        self.storage.matcher(t.rtype, q.get("labelSelector", ""), q.get("fieldSelector", ""))
        send_initial = q.get("sendInitialEvents")
        events = watch(
            self.storage, t.rtype, t.namespace,
            resource_version=q.get("resourceVersion", ""),
            label_selector=q.get("labelSelector", ""), field_selector=q.get("fieldSelector", ""),
            bookmarks=q.get("allowWatchBookmarks", "") in ("true", "1"),
            send_initial_events=None if send_initial is None else send_initial == "true",
            timeout=float(_int_param(request, "timeoutSeconds")))
        as_table = wants_table(request)
        include = q.get("includeObject", "Metadata")
        resp = web.StreamResponse(headers={"Content-Type": "application/json",
                                           "Transfer-Encoding": "chunked"})
        await resp.prepare(request)
        try:
            async for event in events:
                obj = event["object"]
                if as_table and event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                    obj = tables.to_table(t.rtype, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion", "")}, include)
                    event = {"type": event["type"], "object": obj}
                await resp.write(_event_line(event))
        except (ConnectionError, RuntimeError):
            pass  # the client went away
        finally:
            await events.aclose()
        return resp

    async def create(self, request: web.Request, t: Target) -> web.StreamResponse:
        opts = write_options(request)
        body = await read_body(request)
        obj = await self.storage.create(t.rtype, t.namespace, body, opts)
        return _with_warnings(json_response(obj, status=201), opts)

    async def update(self, request: web.Request, t: Target) -> web.StreamResponse:
        opts = write_options(request)
        opts.subresource = t.subresource
        body = await read_body(request)
        if t.subresource == "scale":
            return json_response(await self.storage.update_scale(t.rtype, t.namespace, t.name, body, opts))
        obj = await self.storage.update(t.rtype, t.namespace, t.name, body, opts)
        return _with_warnings(json_response(obj), opts)

    async def patch(self, request: web.Request, t: Target) -> web.StreamResponse:
        ptype = request.content_type
        if ptype not in patches.PATCH_TYPES:
            raise UnsupportedMediaType(
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join(patches.PATCH_TYPES)}")
        opts = write_options(request)
        opts.subresource = t.subresource
        body = await read_body(request)
        if body is None:
            raise BadRequest("the patch is empty")
        obj = await self.storage.patch(t.rtype, t.namespace, t.name, ptype, body, opts)
        return _with_warnings(json_response(obj), opts)

    async def _delete_options(self, request: web.Request) -> Obj:
        body = await read_body(request)
        options: Obj = dict(body) if isinstance(body, dict) else {}
        q = request.query
        if "gracePeriodSeconds" in q:
            options["gracePeriodSeconds"] = _int_param(request, "gracePeriodSeconds")
        if q.get("propagationPolicy"):
            options["propagationPolicy"] = q["propagationPolicy"]
        if q.get("orphanDependents") in ("true", "false"):
            options["orphanDependents"] = q["orphanDependents"] == "true"
        if options.get("dryRun"):
            request_dry = options["dryRun"]
            if request_dry != ["All"]:
                raise BadRequest(f"Invalid dryRun value {request_dry!r}: only All is supported")
        return options

    async def delete(self, request: web.Request, t: Target) -> web.StreamResponse:
        options = await self._delete_options(request)
        opts = write_options(request)
        opts.dry_run = opts.dry_run or bool(options.get("dryRun"))
        obj = await self.storage.delete(t.rtype, t.namespace, t.name, options, opts)
        return json_response(obj)

    async def delete_collection(self, request: web.Request, t: Target) -> web.StreamResponse:
        if "deletecollection" not in t.rtype.verbs:
            raise MethodNotAllowed(f'the server does not allow this method on the requested '
                                   f'resource ({qualified(t.rtype)})')
        options = await self._delete_options(request)
        opts = write_options(request)
        opts.dry_run = opts.dry_run or bool(options.get("dryRun"))
        q = request.query
        result = await self.storage.delete_collection(
            t.rtype, t.namespace, options, opts,
            label_selector=q.get("labelSelector", ""), field_selector=q.get("fieldSelector", ""))
        return json_response(result)
