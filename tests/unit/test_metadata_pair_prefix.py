"""A reader after one metadata key parses only the pairs that start with its prefix, so the
prefix must start every pair of that key and no pair of any other key."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from projections.elasticsearch.documents import metadata_pair, metadata_pair_prefix

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
_VALUES = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)


@given(key=st.text(max_size=12), other=st.text(max_size=12), value=_VALUES)
def test_the_prefix_of_a_key_starts_its_pairs_and_no_other_keys_pairs(key, other, value):
    pair = metadata_pair(key, value)
    if not pair.startswith("sha256:"):  # long pairs are hashed: readers treat them apart
        assert pair.startswith(metadata_pair_prefix(key))
    if other != key:
        assert not metadata_pair(other, value).startswith(metadata_pair_prefix(key))
