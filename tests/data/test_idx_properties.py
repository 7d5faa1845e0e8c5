"""Property tests of the two parsers that read untrusted input: IDX files and params.yaml."""
from __future__ import annotations

import struct

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import tiny_params_dict, write_yaml
from ganpipe.data import idx
from ganpipe.config import Params, ParamsError, load_params
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


def _paths(tree: dict, prefix: tuple = ()) -> list[tuple]:
    out = []
    for k, v in tree.items():
        out.append(prefix + (k,))
        if isinstance(v, dict):
            out += _paths(v, prefix + (k,))
    return out


PATHS = _paths(tiny_params_dict())
values = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                   st.text(max_size=8), st.lists(st.integers(-5, 5), max_size=3),
                   st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.sampled_from(PATHS + [("bogus",), ("train", "bogus")]), values),
                      min_size=1, max_size=3))
def test_params_validation_either_loads_or_names_each_bad_key_in_one_line(tmp_path, edits):
    p = tiny_params_dict()
    for path, value in edits:
        node = p
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[path[-1]] = value
    f = write_yaml(tmp_path / "p.yaml", p)
    try:
        params = load_params(f)
    except ParamsError as e:
        lines = str(e).splitlines()
        assert lines and all(line.startswith(f"{f}: ") for line in lines)
        return
    assert isinstance(params, Params)
    assert params.loss_config().lr > 0   # whatever loads also resolves
