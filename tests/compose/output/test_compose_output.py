"""`config` output reads back as the same document under compose's YAML 1.2 rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.compose.output import escape_dollars, to_yaml
from dockyard.compose.yamlload import load_yaml

_scalars = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["1e3", "y", "NO", "08", "0o7", "1_0", ".NaN", "~", "True", "1:30", "0777",
                     "- x", "#c", "a: b", "x\n", "\ny", " ", "'", '"', "\\", "${X}"]),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.booleans(),
    st.none(),
)
_docs = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), _docs, min_size=1, max_size=4))
def test_yaml_output_round_trips(doc: dict[str, object]) -> None:
    assert load_yaml(to_yaml(doc), "out.yaml") == doc


def test_style_matches_yaml_v3() -> None:
    assert to_yaml({"a": {"b": ["8080", "x"], "c": None, "d": {}}, "e": "l1\nl2"}) == (
        'a:\n  b:\n    - "8080"\n    - x\n  c: null\n  d: {}\ne: |-\n  l1\n  l2\n'
    )
    assert escape_dollars("a: $$x ${Y}\n") == "a: $$$$x $${Y}\n"
