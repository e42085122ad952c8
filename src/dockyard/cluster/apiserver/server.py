"""The API server process: TLS, routes, authentication, bootstrap objects.

``APIServer(store, data_dir, …)`` wires the pieces: the resource table,
REST storage over the store, CRD registry, discovery, OpenAPI, and an
aiohttp application served over HTTPS with client-certificate
verification against the cluster CA (``certs.py``). ``start()`` binds
(port 0 picks a free port, see ``.port``), creates the system namespaces
and the ``default/kubernetes`` Service, and returns once ready.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import yaml
from aiohttp import web

from dockyard.cluster.store import Store

from . import admission, discovery, rbac_defaults
from .auth import Authenticator, UserInfo, impersonation_request, load_token_file
from .authz import Attributes, RBACAuthorizer, attributes, forbidden
from .certs import Pki, ensure_pki, load_sa_key
from .crd import CRDRegistry, validate_custom
from .errors import AlreadyExists, APIError, MethodNotAllowed, NotAcceptable, NotFound
from .handlers import USER, ResourceHandlers, error_response, json_response
from .openapi import OpenAPI
from .resources import ResourceTable
from .reviews import Reviews
from .schemas import KUBE_VERSION
from .storage import Storage, WriteOptions
from .tokens import TokenIssuer

log = logging.getLogger("dockyard.apiserver")
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
UNAUTHENTICATED = ("/healthz", "/livez", "/readyz", "/version")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def version_info() -> dict[str, str]:
    major, minor, _ = KUBE_VERSION.split(".")
    return {"major": major, "minor": minor, "gitVersion": f"v{KUBE_VERSION}+dockyard",
            "gitCommit": "", "gitTreeState": "clean", "buildDate": "", "goVersion": "",
            "compiler": "cpython", "platform": "linux/amd64"}


class APIServer:
    def __init__(
        self,
        store: Store,
        data_dir: str,
        *,
        bind_address: str = "127.0.0.1",
        port: int = 6443,
        token_auth_file: str | None = None,
    ) -> None:
        self.store = store
        self.data_dir = data_dir
        self.bind_address = bind_address
        self.requested_port = port
        self.port = 0
        self.pki: Pki = ensure_pki(os.path.join(data_dir, "tls"), bind_address)
        tokens = load_token_file(token_auth_file) if token_auth_file else {}
        self.table = ResourceTable()
        self.storage = Storage(store, validate_custom=validate_custom)
        self.issuer = TokenIssuer(load_sa_key(self.pki))
        self.authn = Authenticator(tokens, self.issuer, self._lookup)
        self.authz = RBACAuthorizer(store)
        self.storage.after_write.append(self.authz.written)
        self.storage.admit = admission.Admission(self.authz.check_escalation)
        self.openapi = OpenAPI(self.table)
        self.crds = CRDRegistry(self.table, self.storage, self.openapi.invalidate)
        reviews = Reviews(self.authz, self.authn, self.issuer, self.storage, self.table)
        self.resources = ResourceHandlers(self.table, self.storage, reviews)
        self._runner: web.AppRunner | None = None
        self.ready = False

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.bind_address in ("0.0.0.0", "") else self.bind_address
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{self.port}"

    # -- lifecycle ---------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=self.pki.ca_cert)
        ctx.load_cert_chain(self.pki.serving_cert, self.pki.serving_key)
        ctx.verify_mode = ssl.CERT_OPTIONAL  # tokens authenticate too
        return ctx

    async def _lookup(self, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
        rtype = self.table.lookup("", "v1", plural)
        assert rtype is not None
        try:
            return await self.storage.get(rtype, namespace, name)
        except NotFound:
            return None

    async def start(self) -> None:
        await self.authz.start()
        await self.bootstrap()
        app = self.app()
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0,
                                     access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.bind_address, self.requested_port,
                           ssl_context=self.ssl_context(), reuse_address=True)
        await site.start()
        server = site._server  # aiohttp keeps the asyncio server here
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        await self._publish_endpoints()
        self.ready = True

    async def _publish_endpoints(self) -> None:
        """``default/kubernetes`` Endpoints point at this server, as kube-apiserver's
        endpoint reconciler keeps them."""
        endpoints = self.table.lookup("", "v1", "endpoints")
        assert endpoints is not None
        host = "127.0.0.1" if self.bind_address in ("0.0.0.0", "::", "") else self.bind_address
        body: dict[str, Any] = {
                "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                "subsets": [{"addresses": [{"ip": host}],
                             "ports": [{"name": "https", "port": self.port, "protocol": "TCP"}]}]}
        opts = WriteOptions(field_manager="dockyard-apiserver")
        try:
            current = await self.storage.get(endpoints, "default", "kubernetes")
        except NotFound:
            await self.storage.create(endpoints, "default", body, opts)
            return
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        await self.storage.update(endpoints, "default", "kubernetes", body, opts)

    async def stop(self) -> None:
        self.ready = False
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.authz.stop()
        await self.crds.stop()

    async def bootstrap(self) -> None:
        """The objects every cluster starts with; idempotent across restarts."""
        await self.crds.load()
        namespaces = self.table.lookup("", "v1", "namespaces")
        services = self.table.lookup("", "v1", "services")
        assert namespaces and services
        system = WriteOptions(field_manager="dockyard-apiserver")

        async def ensure(rtype: Any, obj: dict[str, Any]) -> None:
            with contextlib.suppress(AlreadyExists):
                await self.storage.create(rtype, "", obj, system)

        # all at once: the store commits concurrent writes together (one fsync)
        writes = [ensure(namespaces, {"metadata": {"name": ns}}) for ns in SYSTEM_NAMESPACES]
        for plural, objects in (("clusterroles", rbac_defaults.cluster_roles()),
                                ("clusterrolebindings", rbac_defaults.cluster_role_bindings())):
            rtype = self.table.lookup("rbac.authorization.k8s.io", "v1", plural)
            assert rtype is not None
            writes += [ensure(rtype, obj) for obj in objects]
        await asyncio.gather(*writes)
        try:
            await self.storage.get(services, "default", "kubernetes")
        except NotFound:
            await self.storage.create(services, "default", {
                "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
                "spec": {"type": "ClusterIP", "clusterIP": "10.43.0.1",
                         "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]},
            }, system)

    # -- HTTP ----------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=4 * 1024 * 1024)
        r = app.router
        for path in ("/healthz", "/livez", "/readyz"):
            r.add_get(path, self.health)
            r.add_get(path + "/{check:.*}", self.health)
        r.add_get("/version", self.version)
        r.add_get("/api", self.api)
        r.add_get("/api/", self.api)
        r.add_get("/api/v1", self.core_resources)
        r.add_get("/apis", self.apis)
        r.add_get("/apis/", self.apis)
        r.add_get("/apis/{group}", self.group)
        r.add_get("/apis/{group}/{version}", self.group_resources)
        r.add_get("/openapi/v2", self.openapi_v2)
        r.add_get("/openapi/v3", self.openapi_v3)
        r.add_get("/openapi/v3/{gv:.+}", self.openapi_v3_gv)
        r.add_route("*", "/api/v1/{rest:.+}", self.core)
        r.add_route("*", "/apis/{group}/{version}/{rest:.+}", self.grouped)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if not request.path.startswith(UNAUTHENTICATED):
                user = await self.authenticate(request)
                user = self.impersonate(request, user)
                self.authz.authorize(attributes(user, request.method, request.path, dict(request.query)))
                request[USER] = user
            return await handler(request)
        except APIError as exc:
            return error_response(exc)
        except web.HTTPNotFound:
            return error_response(NotFound("the server could not find the requested resource"))
        except web.HTTPMethodNotAllowed:
            return error_response(MethodNotAllowed("the server does not allow this method on the requested resource"))
        except (web.HTTPException, asyncio.CancelledError, ConnectionError):
            raise
        except Exception as exc:  # a bug must still answer with a Status
            log.exception("internal error on %s %s", request.method, request.path)
            return error_response(APIError(f"Internal error occurred: {type(exc).__name__}: {exc}"))

    async def authenticate(self, request: web.Request) -> UserInfo:
        transport = request.transport
        peercert = transport.get_extra_info("peercert") if transport is not None else None
        return await self.authn.authenticate(peercert, request.headers.get("Authorization", ""))

    def impersonate(self, request: web.Request, user: UserInfo) -> UserInfo:
        """``kubectl --as/--as-group``: the requester needs ``impersonate`` on each part."""
        target = impersonation_request(request.headers, lambda key: request.headers.getall(key, []))
        if target is None:
            return user
        checks = []
        if target.name.startswith("system:serviceaccount:") and target.name.count(":") == 3:
            _, _, ns, name = target.name.split(":")
            checks.append(Attributes(user, "impersonate", "", True, "", "v1", "serviceaccounts", "", ns, name))
        else:
            checks.append(Attributes(user, "impersonate", "", True, "", "v1", "users", "", "", target.name))
        sa_groups = {"system:serviceaccounts", "system:authenticated"}
        for group in target.groups:
            if group in sa_groups or group.startswith("system:serviceaccounts:"):
                continue
            checks.append(Attributes(user, "impersonate", "", True, "", "v1", "groups", "", "", group))
        if target.uid:
            checks.append(Attributes(user, "impersonate", "", True, "authentication.k8s.io", "v1", "uids", "", "", target.uid))
        for key, values in target.extra.items():
            for value in values:
                checks.append(Attributes(user, "impersonate", "", True, "authentication.k8s.io", "v1", "userextras", key, "", value))
        for check in checks:
            if not self.authz.allowed(check):
                raise forbidden(check)
        return target

    async def health(self, request: web.Request) -> web.StreamResponse:
        if not self.ready:
            return web.Response(status=500, text="[-]ready failed: not ready\n")
        if request.query.get("verbose") is not None:
            return web.Response(text="[+]ping ok\n[+]etcd ok\nhealthz check passed\n")
        return web.Response(text="ok")

    async def version(self, request: web.Request) -> web.StreamResponse:
        return json_response(version_info())

    async def api(self, request: web.Request) -> web.StreamResponse:
        if discovery.wants_aggregated(request.headers.get("Accept", "")):
            return self._aggregated(discovery.aggregated(self.table, core=True))
        return json_response(discovery.api_versions(f"{request.host}"))

    async def apis(self, request: web.Request) -> web.StreamResponse:
        if discovery.wants_aggregated(request.headers.get("Accept", "")):
            return self._aggregated(discovery.aggregated(self.table, core=False))
        return json_response(discovery.api_group_list(self.table))

    def _aggregated(self, body: dict[str, Any]) -> web.StreamResponse:
        resp = json_response(body)
        resp.headers["Content-Type"] = discovery.AGGREGATED
        return resp

    async def core_resources(self, request: web.Request) -> web.StreamResponse:
        return self._found(discovery.resource_list(self.table, "", "v1"))

    async def group(self, request: web.Request) -> web.StreamResponse:
        return self._found(discovery.api_group(self.table, request.match_info["group"]))

    async def group_resources(self, request: web.Request) -> web.StreamResponse:
        m = request.match_info
        return self._found(discovery.resource_list(self.table, m["group"], m["version"]))

    def _found(self, body: dict[str, Any] | None) -> web.StreamResponse:
        if body is None:
            raise NotFound("the server could not find the requested resource")
        return json_response(body)

    async def openapi_v2(self, request: web.Request) -> web.StreamResponse:
        accept = request.headers.get("Accept", "*/*")
        if "json" not in accept and "*/*" not in accept:
            raise NotAcceptable("only application/json is served for /openapi/v2")
        return web.Response(body=self.openapi.v2_document(), content_type="application/json")

    async def openapi_v3(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.openapi.v3_index())

    async def openapi_v3_gv(self, request: web.Request) -> web.StreamResponse:
        doc = self.openapi.v3_document(request.match_info["gv"])
        if doc is None:
            raise NotFound("the server could not find the requested resource")
        return web.Response(body=doc, content_type="application/json",
                            headers={"Cache-Control": "public, immutable"})

    async def core(self, request: web.Request) -> web.StreamResponse:
        return await self.resources.handle(request, "", "v1", request.match_info["rest"])

    async def grouped(self, request: web.Request) -> web.StreamResponse:
        m = request.match_info
        return await self.resources.handle(request, m["group"], m["version"], m["rest"])


def kubeconfig(pki: Pki, server_url: str, cluster: str = "default") -> str:
    """An admin kubeconfig for ``server_url`` with the PKI's admin credentials."""

    def b64(path: str) -> str:
        with open(path, "rb") as f:
            return base64.b64encode(f.read()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server_url,
                                                   "certificate-authority-data": b64(pki.ca_cert)}}],
        "users": [{"name": cluster, "user": {"client-certificate-data": b64(pki.admin_cert),
                                             "client-key-data": b64(pki.admin_key)}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
        "current-context": cluster,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)
