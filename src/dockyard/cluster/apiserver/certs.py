"""The server's PKI, kept in ``<data-dir>/tls`` and reused on restart.

- ``ca.crt``/``ca.key``        the cluster CA (signs serving and client certs)
- ``serving.crt``/``.key``     the API server's certificate; SANs 127.0.0.1,
                               ::1, localhost, kubernetes.default.svc… and the
                               bind address (the host's names and addresses for
                               0.0.0.0); re-issued when a SAN is missing
- ``admin.crt``/``.key``       CN=admin, O=system:masters: the kubeconfig's user
- ``sa.key``                   signs service-account tokens (ES256 JWTs)

``issue_client_cert`` signs more users (CN user, O groups), as
``kubeadm kubeconfig user`` does. Keys are EC P-256: fast to make and small.
Private keys are written 0600 and atomically.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dockyard.linux.atomic import write_bytes

YEARS = 10
SERVICE_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local")


@dataclass(frozen=True)
class Pki:
    directory: str

    @property
    def ca_cert(self) -> str:
        return os.path.join(self.directory, "ca.crt")

    @property
    def ca_key(self) -> str:
        return os.path.join(self.directory, "ca.key")

    @property
    def serving_cert(self) -> str:
        return os.path.join(self.directory, "serving.crt")

    @property
    def serving_key(self) -> str:
        return os.path.join(self.directory, "serving.key")

    @property
    def sa_key(self) -> str:
        return os.path.join(self.directory, "sa.key")

    @property
    def admin_cert(self) -> str:
        return os.path.join(self.directory, "admin.crt")

    @property
    def admin_key(self) -> str:
        return os.path.join(self.directory, "admin.key")


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365 * YEARS))
    )


def _load(cert_path: str, key_path: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        with open(cert_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    return cert, key


def _save(cert_path: str, key_path: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    write_bytes(key_path, _key_pem(key), 0o600)
    write_bytes(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _ensure_ca(pki: Pki) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    loaded = _load(pki.ca_cert, pki.ca_key)
    if loaded:
        return loaded
    key = _key()
    name = _name(f"dockyard-ca@{int(datetime.datetime.now(datetime.UTC).timestamp())}")
    cert = (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    _save(pki.ca_cert, pki.ca_key, cert, key)
    return cert, key


def _sans(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _leaf(ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], cn: str, orgs: tuple[str, ...],
          server_hosts: list[str] | None) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = _key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server_hosts is not None else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        _builder(_name(cn, orgs), ca_cert.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if server_hosts is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(_sans(server_hosts)), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _has_sans(cert: x509.Certificate, hosts: list[str]) -> bool:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    present = {str(v) for v in ext.get_values_for_type(x509.IPAddress)} | set(ext.get_values_for_type(x509.DNSName))
    return all(str(h) in present for h in hosts)


def _host_addresses() -> list[str]:
    """This host's name and addresses: the SANs a wildcard bind needs."""
    name = socket.gethostname()
    found = [name]
    try:
        for info in socket.getaddrinfo(name, None):
            address = str(info[4][0])
            if address not in found:
                found.append(address)
    except OSError:
        pass
    return found


def ensure_pki(directory: str, bind_address: str) -> Pki:
    """Create (or reuse) the CA, serving and admin certificates."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    pki = Pki(directory)
    ca = _ensure_ca(pki)
    hosts = ["127.0.0.1", "::1", *SERVICE_NAMES, "10.43.0.1"]
    if bind_address not in ("0.0.0.0", "::", "") and bind_address not in hosts:
        hosts.append(bind_address)
    elif bind_address in ("0.0.0.0", "::"):
        hosts += [h for h in _host_addresses() if h not in hosts]
    serving = _load(pki.serving_cert, pki.serving_key)
    if serving is None or not _has_sans(serving[0], hosts):
        _save(pki.serving_cert, pki.serving_key, *_leaf(ca, "kube-apiserver", (), hosts))
    if _load(pki.admin_cert, pki.admin_key) is None:
        _save(pki.admin_cert, pki.admin_key, *_leaf(ca, "admin", ("system:masters",), None))
    if not os.path.exists(pki.sa_key):
        write_bytes(pki.sa_key, _key_pem(_key()), 0o600)
    return pki


def load_sa_key(pki: Pki) -> ec.EllipticCurvePrivateKey:
    """The service-account token signing key (ES256)."""
    with open(pki.sa_key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def issue_client_cert(pki: Pki, user: str, groups: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    """(cert PEM, key PEM) for ``user`` in ``groups``, signed by the CA."""
    ca = _ensure_ca(pki)
    cert, key = _leaf(ca, user, groups, None)
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)
