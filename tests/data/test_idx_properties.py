"""Property tests of the IDX parser, which reads untrusted input (params.yaml's are in tests/test_config.py)."""
from __future__ import annotations

import struct

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ganpipe.data import idx
from ganpipe.data.idx import FetchError


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_parse_idx_on_any_bytes_returns_a_consistent_array_or_fetch_error(raw):
    try:
        a = idx.parse_idx(raw)
    except FetchError as e:
        assert "\n" not in str(e)
        return
    assert a.dtype == np.uint8 and 4 + 4 * a.ndim + a.size == len(raw)


@settings(max_examples=300, deadline=None)
@given(dims=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=3), payload=st.integers(0, 64))
@example(dims=[0, 3_036_988_439, 3_037_012_561], payload=0)   # once crashed numpy's reshape
def test_parse_idx_never_trusts_the_header(dims, payload):
    # any claimed shape over a small body: refused unless the body is exactly that size
    raw = bytes([0, 0, 8, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + b"\x07" * payload
    try:
        a = idx.parse_idx(raw)
    except FetchError as e:
        assert ("truncated" in str(e)) or ("trailing" in str(e)) or ("has a dimension over" in str(e))
        return
    assert list(a.shape) == dims and a.size == payload
