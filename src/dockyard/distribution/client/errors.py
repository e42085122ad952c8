"""Errors of the registry client.

A registry's answer with the spec's error body is raised as the matching
``distribution.errors`` class (``ManifestUnknownError``, ``DeniedError``,
``UnauthorizedError``…), so server and client share one tree. What only the
client can find wrong sits under ``ClientError``:

    DistributionError                      (distribution.errors)
    └── ClientError                        a failure of the client's side of a transfer
        ├── RegistryUnreachableError       connection refused, TLS failure, retries exhausted
        ├── VerificationFailedError        a blob or manifest that is not what its digest says
        ├── InvalidManifestError           a manifest that does not parse, or names a bad blob
        ├── CredentialsError               config.json or a credential helper failed
        ├── InvalidReferenceFormatError    a bad image reference or tag
        └── SearchUnsupportedError         the registry has no /v1/search
"""

from __future__ import annotations

from dockyard.distribution.errors import DistributionError


class ClientError(DistributionError):
    code = "CLIENT"
    status = 500


class RegistryUnreachableError(ClientError):
    status = 502


class VerificationFailedError(ClientError):
    code = "DIGEST_INVALID"
    status = 502


class InvalidManifestError(ClientError):
    code = "MANIFEST_INVALID"
    status = 502


class CredentialsError(ClientError):
    status = 500


class InvalidReferenceFormatError(ClientError):
    code = "NAME_INVALID"
    status = 400


class SearchUnsupportedError(ClientError):
    code = "UNSUPPORTED"
    status = 404
