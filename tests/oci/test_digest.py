"""Digests: the spec's grammar, registered algorithms, streaming, verification."""

import hashlib

import pytest

from dockyard.oci.digest import Digest, Digester, digest_of, is_digest, parse_digest, verify
from dockyard.oci.errors import DigestMismatchError, InvalidDigestError

SHA256_HELLO = "sha256:" + hashlib.sha256(b"hello").hexdigest()
SHA512_HELLO = "sha512:" + hashlib.sha512(b"hello").hexdigest()


def test_parse_sha256_and_sha512() -> None:
    d = parse_digest(SHA256_HELLO)
    assert isinstance(d, Digest) and isinstance(d, str)
    assert d.algorithm == "sha256" and d.encoded == hashlib.sha256(b"hello").hexdigest()
    assert d.short() == d.encoded[:12]
    assert parse_digest(SHA512_HELLO).algorithm == "sha512"
    assert parse_digest(d) is d


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "expected algorithm:encoded"),
        ("sha256", "expected algorithm:encoded"),
        ("sha256:", "expected algorithm:encoded"),
        (":abc", "expected algorithm:encoded"),
        ("SHA256:" + "a" * 64, "expected algorithm:encoded"),  # algorithm is [a-z0-9]
        ("sha256:" + "a" * 63, "expected 64 lowercase hex characters, got 63"),
        ("sha256:" + "a" * 65, "got 65"),
        ("sha256:" + "A" * 64, "not all [a-f0-9]"),
        ("sha256:" + "g" * 64, "not all [a-f0-9]"),
        ("sha512:" + "a" * 64, "expected 128 lowercase hex"),
        ("md5:" + "a" * 32, "unsupported digest algorithm 'md5'"),
        ("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", "unsupported digest algorithm"),
        ("sha256:../../etc/passwd", "expected algorithm:encoded"),
        ("sha256:" + "a" * 64 + "\n", "expected algorithm:encoded"),
        ("sha256:" + "a" * 64 + "/x", "expected algorithm:encoded"),
    ],
)
def test_bad_digests_say_why(value: str, fragment: str) -> None:
    with pytest.raises(InvalidDigestError) as e:
        parse_digest(value)
    assert fragment in str(e.value)
    assert not is_digest(value)


def test_non_string_and_huge_input() -> None:
    with pytest.raises(InvalidDigestError, match="must be a string, got int"):
        parse_digest(5)
    with pytest.raises(InvalidDigestError) as e:
        parse_digest("x" * 100_000)
    assert len(str(e.value)) < 400  # the junk is cut in the message


def test_streaming_digester_matches_one_shot() -> None:
    data = bytes(range(256)) * 5000
    for alg in ("sha256", "sha512"):
        d = Digester(alg)
        for i in range(0, len(data), 7777):
            d.update(memoryview(data)[i : i + 7777])
        assert d.size == len(data)
        assert d.digest() == digest_of(data, alg)
        assert d.digest() == f"{alg}:" + hashlib.new(alg, data).hexdigest()
    with pytest.raises(InvalidDigestError, match="unsupported digest algorithm 'md5'"):
        Digester("md5")


def test_verify() -> None:
    assert verify(b"hello", SHA256_HELLO) == SHA256_HELLO
    assert verify(b"hello", SHA512_HELLO) == SHA512_HELLO
    with pytest.raises(DigestMismatchError) as e:
        verify(b"hellO", SHA256_HELLO)
    assert e.value.expected == SHA256_HELLO and e.value.actual == digest_of(b"hellO")
    with pytest.raises(InvalidDigestError):
        verify(b"hello", "sha256:nothex")
