"""Content digests as the OCI image spec defines them (descriptor.md#digests).

A digest is ``algorithm:encoded``. The grammar is the spec's::

    digest                ::= algorithm ":" encoded
    algorithm             ::= algorithm-component (algorithm-separator algorithm-component)*
    algorithm-component   ::= [a-z0-9]+
    algorithm-separator   ::= [+._-]
    encoded               ::= [a-zA-Z0-9=_-]+

Only the registered algorithms are accepted, each with its own encoding:
``sha256`` and ``sha512``, lowercase hex of 64 and 128 characters. Anything
that follows the grammar but names another algorithm is refused as
unsupported (as go-digest's ``Validate`` does); anything else as malformed.
Uppercase hex is refused too: the spec requires ``[a-f0-9]``, and two
spellings of one digest would give two blob paths.

``Digest`` is a ``str`` subclass so it works as a dict key, a path part and
a JSON string, with ``.algorithm`` and ``.encoded`` parsed once. msgspec
only encodes exact ``str``; the image structs therefore store plain strings
(validated with ``parse_digest`` as they are built or decoded).

``Digester`` hashes a stream piece by piece (for the content store's
writers); ``verify`` compares a finished digest with the expected one.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final, Protocol

from .errors import DigestMismatchError, InvalidDigestError

SHA256: Final = "sha256"
SHA512: Final = "sha512"
CANONICAL: Final = SHA256

# Per algorithm: hex length; hashlib constructor name is the algorithm name.
ALGORITHMS: Final[dict[str, int]] = {SHA256: 64, SHA512: 128}

_GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_HEX = re.compile(r"[a-f0-9]+")


class Digest(str):
    """A validated ``algorithm:encoded`` string.

    >>> d = Digest.parse("sha256:" + "0" * 64)
    >>> d.algorithm, len(d.encoded)
    ('sha256', 64)
    """

    __slots__ = ()

    @classmethod
    def parse(cls, value: object) -> Digest:
        return parse_digest(value)

    @classmethod
    def from_bytes(cls, data: bytes, algorithm: str = CANONICAL) -> Digest:
        """The digest of ``data``."""
        d = Digester(algorithm)
        d.update(data)
        return d.digest()

    @property
    def algorithm(self) -> str:
        return self.partition(":")[0]

    @property
    def encoded(self) -> str:
        return self.partition(":")[2]

    def short(self, n: int = 12) -> str:
        """The first ``n`` hex characters (Docker's short image ids)."""
        return self.encoded[:n]


def parse_digest(value: object) -> Digest:
    """Validate ``value`` as a digest; raise ``InvalidDigestError`` saying why."""
    if isinstance(value, Digest):
        return value
    if not isinstance(value, str):
        raise InvalidDigestError(f"digest must be a string, got {type(value).__name__}")
    if not _GRAMMAR.fullmatch(value):
        raise InvalidDigestError(
            f"invalid digest {_show(value)}: expected algorithm:encoded "
            f"(e.g. sha256:<64 lowercase hex>)"
        )
    algorithm, _, encoded = value.partition(":")
    length = ALGORITHMS.get(algorithm)
    if length is None:
        raise InvalidDigestError(
            f"unsupported digest algorithm {algorithm!r} in {_show(value)}: "
            f"expected one of {', '.join(ALGORITHMS)}"
        )
    if len(encoded) != length or not _HEX.fullmatch(encoded):
        raise InvalidDigestError(
            f"invalid {algorithm} digest {_show(value)}: expected {length} lowercase hex "
            f"characters, got {len(encoded)} characters"
            + ("" if _HEX.fullmatch(encoded) else " that are not all [a-f0-9]")
        )
    return Digest(value)


def is_digest(value: object) -> bool:
    try:
        parse_digest(value)
    except InvalidDigestError:
        return False
    return True


def _show(value: str) -> str:
    # Keep error messages readable when fed a megabyte of junk.
    return repr(value if len(value) <= 200 else value[:200] + "...")


class _Hash(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...
    def copy(self) -> _Hash: ...


class Digester:
    """Incremental digest of a byte stream, with a running byte count.

    ``digest()`` may be called at any time and does not end the stream.
    """

    __slots__ = ("_algorithm", "_hash", "size")

    def __init__(self, algorithm: str = CANONICAL) -> None:
        if algorithm not in ALGORITHMS:
            raise InvalidDigestError(
                f"unsupported digest algorithm {algorithm!r}: expected one of {', '.join(ALGORITHMS)}"
            )
        self._algorithm = algorithm
        self._hash: _Hash = hashlib.new(algorithm)
        self.size = 0

    @property
    def algorithm(self) -> str:
        return self._algorithm

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._hash.update(data)
        self.size += len(data)

    def digest(self) -> Digest:
        return Digest(f"{self._algorithm}:{self._hash.hexdigest()}")


def digest_of(data: bytes, algorithm: str = CANONICAL) -> Digest:
    """The digest of ``data`` (``sha256`` unless told)."""
    return Digest.from_bytes(data, algorithm)


def verify(data: bytes, expected: str) -> Digest:
    """Check that ``data`` hashes to ``expected``; return the parsed digest.

    Raises ``InvalidDigestError`` when ``expected`` is not a digest and
    ``DigestMismatchError`` when the content differs.
    """
    want = parse_digest(expected)
    got = Digest.from_bytes(data, want.algorithm)
    if got != want:
        raise DigestMismatchError(want, got)
    return want
