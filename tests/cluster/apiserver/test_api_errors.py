"""Bad input gets Kubernetes' status codes and ``Status`` bodies. The API
server runs in-process here (same code as ``dockyard server``) so the test
can also compact its store."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from dockyard.cluster.apiserver.server import APIServer
from dockyard.cluster.store import open_store

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.xdist_group("apiserver-api_errors")]
CM = "/api/v1/namespaces/default/configmaps"


@dataclass
class Env:
    server: APIServer
    client: httpx.AsyncClient
    anonymous: httpx.AsyncClient
    token_client: httpx.AsyncClient


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(module_tmp: Path) -> AsyncIterator[Env]:
    tokens = module_tmp / "tokens.csv"
    tokens.write_text('s3cret,alice,1001,"devs,ops"\n')
    store = open_store(f"sqlite://{module_tmp}/state.db")
    server = APIServer(store, str(module_tmp / "data"), port=0, token_auth_file=str(tokens))
    await server.start()
    ca = ssl.create_default_context(cafile=server.pki.ca_cert)
    admin = ssl.create_default_context(cafile=server.pki.ca_cert)
    admin.load_cert_chain(server.pki.admin_cert, server.pki.admin_key)
    client = httpx.AsyncClient(base_url=server.url, verify=admin)
    anonymous = httpx.AsyncClient(base_url=server.url, verify=ca)
    token_client = httpx.AsyncClient(base_url=server.url, verify=ca, headers={"Authorization": "Bearer s3cret"})
    try:
        yield Env(server, client, anonymous, token_client)
    finally:
        for c in (client, anonymous, token_client):
            await c.aclose()
        await server.stop()
        await store.close()


def _cm(name: str, **extra: object) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}, **extra}


def _status(r: httpx.Response, code: int, reason: str) -> dict:
    assert r.status_code == code, r.text
    body = r.json()
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["code"] == code and body["reason"] == reason
    return body


async def test_health_and_version_need_no_credentials(env: Env) -> None:
    assert (await env.anonymous.get("/readyz")).text == "ok"
    assert (await env.anonymous.get("/version")).json()["major"] == "1"


async def test_anonymous_and_bad_token_are_unauthorized(env: Env) -> None:
    _status(await env.anonymous.get("/api/v1/namespaces"), 401, "Unauthorized")
    bad = httpx.AsyncClient(base_url=env.server.url, verify=ssl.create_default_context(cafile=env.server.pki.ca_cert),
                            headers={"Authorization": "Bearer nope"})
    async with bad:
        _status(await bad.get("/api"), 401, "Unauthorized")
    # alice authenticates by token; RBAC lets every user discover the API, nothing more
    assert (await env.token_client.get("/api")).status_code == 200
    body = _status(await env.token_client.get("/api/v1/namespaces"), 403, "Forbidden")
    assert body["message"] == ('namespaces is forbidden: User "alice" cannot list resource "namespaces" '
                               'in API group "" at the cluster scope')


async def test_wrong_kind_and_api_version(env: Env) -> None:
    body = _status(await env.client.post(CM, json={**_cm("x"), "kind": "Secret"}), 400, "BadRequest")
    assert "ConfigMap" in body["message"] and "Secret" in body["message"]
    body = _status(await env.client.post(CM, json={**_cm("x"), "apiVersion": "apps/v1"}), 400, "BadRequest")
    assert "apps/v1" in body["message"]
    _status(await env.client.get("/apis/nope.example.com/v1/things"), 404, "NotFound")


async def test_field_validation_modes(env: Env) -> None:
    bad = _cm("fv-strict", bogus=1)
    body = _status(await env.client.post(CM + "?fieldValidation=Strict", json=bad), 400, "BadRequest")
    assert 'unknown field "bogus"' in body["message"]
    r = await env.client.post(CM + "?fieldValidation=Warn", json=_cm("fv-warn", bogus=1))
    assert r.status_code == 201 and 'unknown field \\"bogus\\"' in r.headers["Warning"]
    assert "bogus" not in r.json()  # dropped, as kube-apiserver drops unknown fields
    r = await env.client.post(CM + "?fieldValidation=Ignore", json=_cm("fv-ignore", bogus=1))
    assert r.status_code == 201 and "Warning" not in r.headers
    _status(await env.client.post(CM + "?fieldValidation=Loose", json=_cm("fv-x")), 400, "BadRequest")
    typed = {**_cm("fv-type"), "data": "not-a-map"}
    _status(await env.client.post(CM, json=typed), 400, "BadRequest")


async def test_invalid_names_are_422_with_causes(env: Env) -> None:
    body = _status(await env.client.post(CM, json=_cm("Not_A_Name")), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert body["details"]["kind"] == "ConfigMap" and body["details"]["name"] == "Not_A_Name"
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "has.dots"}}
    body = _status(await env.client.post("/api/v1/namespaces", json=ns), 422, "Invalid")
    assert "RFC 1123 label" in body["message"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}
    body = _status(await env.client.post("/api/v1/namespaces/default/pods", json=pod), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "spec.containers[0].image"


async def test_too_large_object(env: Env) -> None:
    big = _cm("big")
    big["data"] = {"blob": "x" * (1_600_000)}
    _status(await env.client.post(CM, json=big), 413, "RequestEntityTooLarge")
    assert (await env.client.get(CM + "/big")).status_code == 404


async def test_conflicts_and_missing_namespace(env: Env) -> None:
    created = (await env.client.post(CM, json=_cm("occ"))).json()
    stale = dict(created)
    first = (await env.client.put(CM + "/occ", json={**created, "data": {"k": "2"}})).json()
    assert first["data"] == {"k": "2"}
    body = _status(await env.client.put(CM + "/occ", json={**stale, "data": {"k": "3"}}), 409, "Conflict")
    assert body["details"]["name"] == "occ"
    _status(await env.client.post(CM, json=_cm("occ")), 409, "AlreadyExists")
    body = _status(await env.client.post("/api/v1/namespaces/absent/configmaps", json=_cm("x")), 404, "NotFound")
    assert 'namespaces "absent" not found' in body["message"]
    body = _status(await env.client.request(
        "DELETE", CM + "/occ", json={"preconditions": {"resourceVersion": "1"}}), 409, "Conflict")
    assert "Precondition failed" in body["message"]


async def test_bad_selectors_and_continue_tokens(env: Env) -> None:
    _status(await env.client.get(CM, params={"labelSelector": "a in (b"}), 400, "BadRequest")
    _status(await env.client.get(CM, params={"labelSelector": "bad key!=x"}), 400, "BadRequest")
    _status(await env.client.get(CM, params={"fieldSelector": "spec.nope=1"}), 400, "BadRequest")
    escape = base64.urlsafe_b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": 1, "start": "../../secrets/"}).encode())
    _status(await env.client.get(CM, params={"limit": "1", "continue": escape.decode()}), 400, "BadRequest")
    _status(await env.client.get(CM, params={"limit": "x"}), 400, "BadRequest")


async def test_dry_run_changes_nothing(env: Env) -> None:
    r = await env.client.post(CM + "?dryRun=All", json=_cm("dry"))
    assert r.status_code == 201 and r.json()["metadata"]["uid"]
    assert (await env.client.get(CM + "/dry")).status_code == 404
    _status(await env.client.post(CM + "?dryRun=Some", json=_cm("dry")), 400, "BadRequest")


async def test_watch_from_compacted_revision_is_gone(env: Env) -> None:
    first = (await env.client.post(CM, json=_cm("compact-a"))).json()
    old_rv = int(first["metadata"]["resourceVersion"])
    for i in range(3):
        await env.client.post(CM, json=_cm(f"compact-{i}"))
    await env.server.store.compact(await env.server.store.current_revision())
    async with env.client.stream("GET", CM, params={"watch": "1", "resourceVersion": str(old_rv)}) as r:
        assert r.status_code == 200
        line = await r.aiter_lines().__anext__()
    event = json.loads(line)
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
    listed = await env.client.get(CM, params={"resourceVersion": str(old_rv), "resourceVersionMatch": "Exact"})
    _status(listed, 410, "Expired")


async def test_watch_bookmarks_and_initial_events(env: Env) -> None:
    await env.client.post(CM, json=_cm("initial-1"))
    params = {"watch": "1", "sendInitialEvents": "true", "allowWatchBookmarks": "true",
              "resourceVersionMatch": "NotOlderThan", "labelSelector": "", "timeoutSeconds": "2"}
    events = []
    async with env.client.stream("GET", CM, params=params) as r:
        async for line in r.aiter_lines():
            events.append(json.loads(line))
            if events[-1]["type"] == "BOOKMARK":
                break
    assert any(e["type"] == "ADDED" and e["object"]["metadata"]["name"] == "initial-1" for e in events)
    bookmark = events[-1]["object"]
    assert bookmark["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_discovery_documents(env: Env) -> None:
    api = (await env.client.get("/api")).json()
    assert api["kind"] == "APIVersions" and api["versions"] == ["v1"]
    groups = (await env.client.get("/apis")).json()
    names = [g["name"] for g in groups["groups"]]
    assert names[:2] == ["apps", "batch"] and "apiextensions.k8s.io" in names
    agg = await env.client.get("/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"})
    assert agg.headers["Content-Type"].startswith("application/json;g=apidiscovery.k8s.io;v=v2")
    apps = next(i for i in agg.json()["items"] if i["metadata"]["name"] == "apps")
    deploy = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deploy["scope"] == "Namespaced" and deploy["shortNames"] == ["deploy"]
    assert {s["subresource"] for s in deploy["subresources"]} == {"status", "scale"}
    core = (await env.client.get("/api/v1")).json()
    pods_scale = [r for r in core["resources"] if r["name"].startswith("pods")]
    assert {r["name"] for r in pods_scale} == {"pods", "pods/status", "pods/binding", "pods/eviction"}


async def test_openapi_documents(env: Env) -> None:
    index = (await env.client.get("/openapi/v3")).json()
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    doc = (await env.client.get(url)).json()
    schema = doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert schema["x-kubernetes-group-version-kind"] == [{"group": "apps", "version": "v1", "kind": "Deployment"}]
    patch_op = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert "fieldValidation" in {p["name"] for p in patch_op["parameters"]}
    assert (await env.client.get("/openapi/v3/apis/nope/v9")).status_code == 404
    v2 = await env.client.get("/openapi/v2", headers={"Accept": "application/json"})
    assert v2.json()["swagger"] == "2.0" and "io.k8s.api.core.v1.Pod" in v2.json()["definitions"]
    proto = await env.client.get("/openapi/v2", headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
    _status(proto, 406, "NotAcceptable")


async def test_names_and_crds_cannot_reach_other_keys(env: Env) -> None:
    body = _status(await env.client.post(CM, json=_cm("../secrets/x")), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    await env.client.post("/api/v1/namespaces/default/secrets", json={"metadata": {"name": "hidden"}, "stringData": {"k": "v"}})
    assert (await env.client.get(CM + "/..%2Fsecrets%2Fhidden")).status_code == 404
    await env.client.post("/api/v1/namespaces", json={"metadata": {"name": "default2"}})
    await env.client.post("/api/v1/namespaces/default2/configmaps", json=_cm("elsewhere"))
    names = [i["metadata"]["name"] for i in (await env.client.get(CM)).json()["items"]]
    assert "elsewhere" not in names  # "default" is not a prefix of "default2"
    takeover = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "roles.rbac.authorization.k8s.io"},
                "spec": {"group": "rbac.authorization.k8s.io", "scope": "Namespaced",
                         "names": {"plural": "roles", "kind": "Role"},
                         "versions": [{"name": "v1", "served": True, "storage": True,
                                       "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    body = _status(await env.client.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=takeover), 422, "Invalid")
    assert "reserved" in body["message"]


async def test_required_fields_from_the_schemas(env: Env) -> None:
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "rb"},
               "roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "User"}]}
    body = _status(await env.client.post(
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", json=binding), 422, "Invalid")
    fields = {c["field"] for c in body["details"]["causes"]}
    assert fields == {"roleRef.apiGroup", "subjects[0].name"}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"name": "x"}]}}
    body = _status(await env.client.post("/api/v1/namespaces/default/services", json=svc), 422, "Invalid")
    assert "spec.ports[0].port" in {c["field"] for c in body["details"]["causes"]}
