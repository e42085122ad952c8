"""Authentication and RBAC with the real kubectl: static tokens, client
certificates, service-account tokens (``kubectl create token``),
``kubectl auth can-i``/``whoami``, impersonation (``--as``)."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from apiserver_harness import KUBECTL, Kubectl, RunningServer, start_server, stop_server

from dockyard.cluster.apiserver.certs import Pki, issue_client_cert

# one worker per module: the module shares one server
pytestmark = pytest.mark.xdist_group("apiserver-kubectl_rbac")


@pytest.fixture(scope="module")
def rbac_server(module_tmp: Path) -> Iterator[RunningServer]:
    tokens = module_tmp / "tokens.csv"
    tokens.write_text('alice-token,alice,1001,"devs"\nbob-token,bob,1002\n')
    server = start_server(module_tmp, "--token-auth-file", str(tokens))
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def admin(rbac_server: RunningServer) -> Kubectl:
    return _runner(rbac_server, [])


def _runner(server: RunningServer, auth: list[str]) -> Kubectl:
    def run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([KUBECTL, *auth, *args], input=input, env=server.env, text=True,
                           capture_output=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    return run


def _as_token(server: RunningServer, token: str) -> Kubectl:
    # a kubeconfig-free client: server, CA and token on the command line
    return _runner(server, ["--kubeconfig=/dev/null", f"--server={server.url}",
                            f"--certificate-authority={server.data_dir / 'tls' / 'ca.crt'}",
                            f"--token={token}"])


def _bind_alice(admin: Kubectl) -> None:
    """alice may read pods in default (idempotent: tests may run in any order)."""
    admin("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods", check=False)
    admin("create", "rolebinding", "alice-reads", "--role=pod-reader", "--user=alice", check=False)


def test_token_user_is_denied_until_bound(rbac_server: RunningServer, admin: Kubectl) -> None:
    bob = _as_token(rbac_server, "bob-token")
    assert bob("auth", "can-i", "list", "pods", check=False).stdout.strip() == "no"
    denied = bob("get", "pods", check=False)
    assert denied.returncode == 1
    assert 'User "bob" cannot list resource "pods" in API group "" in the namespace "default"' in denied.stderr
    alice = _as_token(rbac_server, "alice-token")
    _bind_alice(admin)
    assert alice("auth", "can-i", "list", "pods").stdout.strip() == "yes"
    assert alice("auth", "can-i", "delete", "pods", check=False).stdout.strip() == "no"
    assert alice("auth", "can-i", "list", "pods", "-n", "kube-system", check=False).stdout.strip() == "no"
    assert alice("get", "pods").returncode == 0
    rules = alice("auth", "can-i", "--list").stdout
    assert "pods" in rules and "[get list watch]" in rules
    who = alice("auth", "whoami", "-o", "json").stdout
    info = json.loads(who)["status"]["userInfo"]
    assert info["username"] == "alice" and "devs" in info["groups"] and "system:authenticated" in info["groups"]
    bad = _as_token(rbac_server, "wrong-token")("get", "pods", check=False)
    assert bad.returncode == 1 and "Unauthorized" in bad.stderr


def test_group_binding_and_client_certificate(rbac_server: RunningServer, admin: Kubectl, module_tmp: Path) -> None:
    cert, key = issue_client_cert(Pki(str(rbac_server.data_dir / "tls")), "carol", ("qa",))
    (module_tmp / "carol.crt").write_bytes(cert)
    (module_tmp / "carol.key").write_bytes(key)
    carol = _runner(rbac_server, ["--kubeconfig=/dev/null", f"--server={rbac_server.url}",
                                  f"--certificate-authority={rbac_server.data_dir / 'tls' / 'ca.crt'}",
                                  f"--client-certificate={module_tmp / 'carol.crt'}",
                                  f"--client-key={module_tmp / 'carol.key'}"])
    assert carol("get", "configmaps", check=False).returncode == 1
    admin("create", "clusterrolebinding", "qa-view", "--clusterrole=view", "--group=qa")
    assert carol("get", "configmaps", "-A").returncode == 0
    assert carol("auth", "can-i", "get", "secrets", check=False).stdout.strip() == "no"
    assert carol("auth", "can-i", "create", "configmaps", check=False).stdout.strip() == "no"


def test_impersonation(rbac_server: RunningServer, admin: Kubectl) -> None:
    _bind_alice(admin)
    assert admin("auth", "can-i", "list", "pods", "--as=bob", check=False).stdout.strip() == "no"
    assert admin("auth", "can-i", "list", "pods", "--as=alice").stdout.strip() == "yes"
    who = json.loads(admin("auth", "whoami", "--as=bob", "--as-group=ops", "-o", "json").stdout)
    assert who["status"]["userInfo"]["username"] == "bob" and "ops" in who["status"]["userInfo"]["groups"]
    bob = _as_token(rbac_server, "bob-token")
    denied = bob("get", "pods", "--as=alice", check=False)
    assert denied.returncode == 1 and 'cannot impersonate resource "users"' in denied.stderr


def test_service_account_tokens(rbac_server: RunningServer, admin: Kubectl) -> None:
    admin("create", "serviceaccount", "robot")
    token = admin("create", "token", "robot", "--duration=20m").stdout.strip()
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] == "system:serviceaccount:default:robot"
    robot = _as_token(rbac_server, token)
    info = json.loads(robot("auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]
    assert info["username"] == "system:serviceaccount:default:robot"
    assert "system:serviceaccounts:default" in info["groups"]
    assert robot("get", "cm", check=False).returncode == 1
    admin("create", "rolebinding", "robot-edit", "--clusterrole=edit", "--serviceaccount=default:robot")
    robot("create", "configmap", "made-by-robot", "--from-literal=a=b")
    admin("delete", "serviceaccount", "robot")
    gone = robot("get", "cm", check=False)
    assert gone.returncode == 1 and "Unauthorized" in gone.stderr
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert _as_token(rbac_server, forged)("get", "cm", check=False).returncode == 1


def test_bootstrap_tokens(rbac_server: RunningServer, admin: Kubectl) -> None:
    def secret(token_id: str, secret: str, expiration: str) -> None:
        admin("create", "secret", "generic", f"bootstrap-token-{token_id}", "-n", "kube-system",
              "--type=bootstrap.kubernetes.io/token", f"--from-literal=token-id={token_id}",
              f"--from-literal=token-secret={secret}", "--from-literal=usage-bootstrap-authentication=true",
              "--from-literal=auth-extra-groups=system:bootstrappers:worker",
              f"--from-literal=expiration={expiration}")

    secret("abcdef", "0123456789abcdef", "2099-01-01T00:00:00Z")
    secret("expird", "0123456789abcdef", "2000-01-01T00:00:00Z")
    joiner = _as_token(rbac_server, "abcdef.0123456789abcdef")
    info = json.loads(joiner("auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]
    assert info["username"] == "system:bootstrap:abcdef"
    assert {"system:bootstrappers", "system:bootstrappers:worker"} <= set(info["groups"])
    wrong = _as_token(rbac_server, "abcdef.0123456789abcdee")("auth", "whoami", check=False)
    assert wrong.returncode == 1 and "Unauthorized" in wrong.stderr
    expired = _as_token(rbac_server, "expird.0123456789abcdef")("auth", "whoami", check=False)
    assert expired.returncode == 1


def test_subject_access_review_needs_permission(rbac_server: RunningServer, admin: Kubectl) -> None:
    _bind_alice(admin)
    sar = json.dumps({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
        "user": "alice", "groups": ["devs"],
        "resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}}})
    out = json.loads(admin("create", "-f", "-", "-o", "json", input=sar).stdout)
    assert out["status"]["allowed"] is True  # alice-reads binds pod-reader to alice
    denied = json.loads(admin("create", "-f", "-", "-o", "json", input=sar.replace('"get"', '"delete"')).stdout)
    assert denied["status"]["allowed"] is False
    alice = _as_token(rbac_server, "alice-token")
    refused = alice("create", "-f", "-", "-o", "json", input=sar, check=False)
    assert refused.returncode == 1 and "subjectaccessreviews" in refused.stderr and "forbidden" in refused.stderr


def test_no_privilege_escalation_through_rbac_writes(rbac_server: RunningServer, admin: Kubectl) -> None:
    admin("create", "namespace", "team")
    admin("create", "rolebinding", "alice-admin", "-n", "team", "--clusterrole=admin", "--user=alice")
    alice = _as_token(rbac_server, "alice-token")
    grab = alice("create", "rolebinding", "grab", "-n", "team", "--clusterrole=cluster-admin", "--user=alice", check=False)
    assert grab.returncode == 1 and "attempting to grant RBAC permissions not currently held" in grab.stderr
    wide = alice("create", "role", "everything", "-n", "team", "--verb=*", "--resource=*", check=False)
    assert wide.returncode == 1 and "not currently held" in wide.stderr
    alice("create", "rolebinding", "bob-view", "-n", "team", "--clusterrole=view", "--user=bob")
    alice("create", "role", "pod-getter", "-n", "team", "--verb=get", "--resource=pods")
    cluster = alice("create", "clusterrolebinding", "alice-everywhere", "--clusterrole=view", "--user=alice", check=False)
    assert cluster.returncode == 1  # admin in one namespace is nothing at the cluster scope
    bob = _as_token(rbac_server, "bob-token")
    assert bob("get", "pods", "-n", "team").returncode == 0


def test_legacy_service_account_token_secret(rbac_server: RunningServer, admin: Kubectl) -> None:
    # what the token controller will do: sign a legacy token into a Secret
    from dockyard.cluster.apiserver.certs import load_sa_key
    from dockyard.cluster.apiserver.tokens import TokenIssuer

    admin("create", "serviceaccount", "old-style")
    uid = admin("get", "sa", "old-style", "-o", "jsonpath={.metadata.uid}").stdout
    issuer = TokenIssuer(load_sa_key(Pki(str(rbac_server.data_dir / "tls"))))
    token = issuer.issue_legacy("default", "old-style", uid, "old-style-token")
    admin("create", "secret", "generic", "old-style-token", "--type=kubernetes.io/service-account-token",
          f"--from-literal=token={token}")
    legacy = _as_token(rbac_server, token)
    info = json.loads(legacy("auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]
    assert info["username"] == "system:serviceaccount:default:old-style"
    admin("delete", "secret", "old-style-token")
    assert legacy("auth", "whoami", check=False).returncode == 1  # the Secret is gone: so is the token
