"""Docker's reference grammar and normalisation (distribution/reference)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dockyard.images.errors import InvalidReferenceError
from dockyard.images.reference import PATH_RE, TAG_RE, parse, parse_normalized

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("user/repo", "docker.io/user/repo:latest", "user/repo:latest"),
        ("user/repo/sub:v1", "docker.io/user/repo/sub:v1", "user/repo/sub:v1"),
        ("host:5000/repo:tag", "host:5000/repo:tag", "host:5000/repo:tag"),
        ("host:5000/repo", "host:5000/repo:latest", "host:5000/repo:latest"),
        ("localhost/repo", "localhost/repo:latest", "localhost/repo:latest"),
        ("localhost:5000/a/b", "localhost:5000/a/b:latest", "localhost:5000/a/b:latest"),
        ("registry.example.com/a_b/c-d__e.f", "registry.example.com/a_b/c-d__e.f:latest",
         "registry.example.com/a_b/c-d__e.f:latest"),
        ("[::1]:5000/repo", "[::1]:5000/repo:latest", "[::1]:5000/repo:latest"),
        ("[fe80::1]/repo:x", "[fe80::1]/repo:x", "[fe80::1]/repo:x"),
        (f"busybox@{D}", f"docker.io/library/busybox@{D}", f"busybox@{D}"),
        (f"busybox:1@{D}", f"docker.io/library/busybox:1@{D}", f"busybox:1@{D}"),
        (f"host:5000/r@{D}", f"host:5000/r@{D}", f"host:5000/r@{D}"),
        ("Host.Example/repo", "Host.Example/repo:latest", "Host.Example/repo:latest"),
    ],
)
def test_normalisation(text: str, full: str, familiar: str) -> None:
    ref = parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar
    # Normalisation is idempotent, from either form.
    assert str(parse(full)) == full
    assert str(parse(familiar)) == full


def test_parts() -> None:
    ref = parse(f"host:5000/a/b:v2@{D}")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("host:5000", "a/b", "v2", D)
    assert ref.name == "host:5000/a/b"
    assert parse_normalized("busybox").tag is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Busybox", "repository name must be lowercase"),
        ("user/Repo", "repository name must be lowercase"),
        ("", "empty reference"),
        ("busybox:", "invalid tag"),
        ("busybox:-x", "invalid tag"),
        ("busybox:" + "a" * 129, "at most 128"),
        ("busybox@sha256:abc", "invalid reference format"),
        ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("a" * 64, "cannot specify 64-byte hexadecimal strings"),
        ("/busybox", "invalid reference format"),
        ("busybox/", "invalid reference format"),
        ("bu--sy..box", "invalid reference format"),
        ("-host.com/x", "invalid domain"),
        ("a//b", "invalid reference format"),
        ("x y", "invalid reference format"),
        ("host.com/" + "a" * 260, "not be more than 255"),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidReferenceError, match="invalid") as info:
        parse(text)
    assert message in str(info.value)


def test_tag_length_limit() -> None:
    assert parse("busybox:" + "a" * 128).tag == "a" * 128


_alnum = st.text("abcz019", min_size=1, max_size=4)
_component = st.builds(lambda a, sep, b: a + sep + b if sep is not None else a, _alnum,
                       st.none() | st.sampled_from([".", "_", "__", "-", "--"]), _alnum)
_path = st.lists(_component, min_size=1, max_size=3).map("/".join)
_tag = st.builds(lambda a, b: a + b, st.sampled_from(list("aZ9_")), st.text("aZ9_.-", max_size=12))
_domain = st.sampled_from(["", "docker.io/", "localhost/", "localhost:5000/", "reg.io/",
                           "reg.io:443/", "[::1]:5000/", "10.0.0.1:5000/"])
_digest = st.sampled_from(["sha256:" + c * 64 for c in "0af"])


@given(_domain, _path, st.none() | _tag, st.none() | _digest)
def test_roundtrip(domain: str, path: str, tag: str | None, digest: str | None) -> None:
    text = domain + path + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    # Without a domain, a first component with a dot would be read as one (Docker's rule).
    assume(len(domain + path) <= 255 and not (domain == "" and "." in path.split("/")[0]))
    ref = parse_normalized(text)
    assert PATH_RE.fullmatch(ref.path)
    assert ref.tag == tag and ref.digest == digest
    # Full and familiar forms both parse back to the same reference.
    assert parse_normalized(str(ref)) == ref
    # Docker's quirk, kept: docker.io/a.b/c shows as "a.b/c", which reads back as domain a.b.
    if not (ref.domain == "docker.io" and "." in ref.path.split("/")[0]):
        assert parse_normalized(ref.familiar()) == ref


@given(st.text(max_size=40))
def test_garbage_never_crashes(text: str) -> None:
    try:
        ref = parse(text)
    except InvalidReferenceError:
        return
    assert PATH_RE.fullmatch(ref.path)
    assert ref.tag is None or TAG_RE.fullmatch(ref.tag) or ref.digest


@given(_path)
def test_uppercase_refused(path: str) -> None:
    upper = path.upper()
    if upper == path:
        return
    with pytest.raises(InvalidReferenceError, match="must be lowercase"):
        parse("reg.io/" + upper)
