"""Property tests: digest and descriptor parsing never accept what the spec's
grammar refuses, always accept what it allows, and round-trip exactly."""

from __future__ import annotations

import hashlib
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import ALGORITHMS, Digest, Digester, is_digest, parse_digest
from dockyard.oci.errors import InvalidSpecError
from dockyard.oci.image import dump, load_descriptor

GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")

valid_digests = st.one_of(
    *(
        st.text("0123456789abcdef", min_size=n, max_size=n).map(lambda h, a=a: f"{a}:{h}")
        for a, n in ALGORITHMS.items()
    )
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=140))
def test_anything_accepted_follows_the_grammar_and_a_registered_encoding(s: str) -> None:
    if is_digest(s):
        assert GRAMMAR.fullmatch(s)
        alg, _, enc = s.partition(":")
        assert len(enc) == ALGORITHMS[alg] and re.fullmatch(r"[a-f0-9]+", enc)


@settings(max_examples=200, deadline=None, database=None)
@given(valid_digests)
def test_valid_digests_parse_and_split(s: str) -> None:
    d = parse_digest(s)
    assert d == s and f"{d.algorithm}:{d.encoded}" == s


@settings(max_examples=200, deadline=None, database=None)
@given(valid_digests, st.integers(0, 127), st.characters(blacklist_categories=["Cs"]))
def test_any_single_character_change_outside_hex_is_refused(s: str, pos: int, ch: str) -> None:
    alg, _, enc = s.partition(":")
    i = pos % len(enc)
    mutated = f"{alg}:{enc[:i]}{ch}{enc[i + 1:]}"
    assert is_digest(mutated) == (ch in "0123456789abcdef")


@settings(max_examples=100, deadline=None, database=None)
@given(st.binary(max_size=5000), st.sampled_from(sorted(ALGORITHMS)), st.integers(1, 997))
def test_streaming_equals_hashlib_for_any_chunking(data: bytes, alg: str, step: int) -> None:
    d = Digester(alg)
    for i in range(0, len(data), step):
        d.update(data[i : i + step])
    assert d.digest() == f"{alg}:{hashlib.new(alg, data).hexdigest()}" == Digest.from_bytes(data, alg)


media_types = st.from_regex(r"\A[a-z][a-z0-9.+-]{0,20}/[a-z][a-z0-9.+-]{0,30}\Z")
descriptors = st.builds(
    dict,
    mediaType=media_types,
    digest=valid_digests,
    size=st.integers(0, 2**62),
    annotations=st.none() | st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
    urls=st.none() | st.lists(st.text(max_size=20), max_size=2),
)


@settings(max_examples=200, deadline=None, database=None)
@given(descriptors)
def test_descriptor_round_trip(doc: dict[str, object]) -> None:
    doc = {k: v for k, v in doc.items() if v is not None}
    d = load_descriptor(json.dumps(doc))
    assert json.loads(dump(d)) == doc
    assert load_descriptor(dump(d)) == d


@settings(max_examples=200, deadline=None, database=None)
@given(descriptors, st.sampled_from(["mediaType", "digest", "size"]), st.one_of(
    st.text(max_size=30), st.integers(max_value=-1), st.none(), st.booleans()
))
def test_a_bad_required_field_is_named(doc: dict[str, object], field: str, value: object) -> None:
    doc = {k: v for k, v in doc.items() if v is not None}
    doc[field] = value
    ok = (
        (field == "mediaType" and isinstance(value, str) and mt.is_valid(value))
        or (field == "digest" and is_digest(value))
        or (field == "size" and isinstance(value, int) and not isinstance(value, bool) and value >= 0)
    )
    try:
        load_descriptor(json.dumps(doc))
    except InvalidSpecError as e:
        assert not ok
        assert f"$.{field}" in str(e)
    else:
        assert ok
