"""ganpipe.data.idx: IDX bytes and their parser, gunzip with a cap."""
from __future__ import annotations

import gzip
import struct
import time
import tracemalloc

import numpy as np
import pytest

from ganpipe.data import idx
from ganpipe.data.idx import FetchError
from tests.helpers import sha


def test_idx_bytes_layout_and_round_trip(synthetic):
    arrays, raw, _ = synthetic
    # images: magic 00 00 08 03, then 5, 28, 28 as big-endian uint32, then the pixels
    assert raw["x_train"][:16] == bytes([0, 0, 8, 3]) + struct.pack(">3I", 5, 28, 28)
    assert raw["y_train"][:8] == bytes([0, 0, 8, 1, 0, 0, 0, 5])
    assert len(raw["x_train"]) == 16 + 5 * 784
    for k, a in arrays.items():
        back = idx.parse_idx(raw[k])
        assert back.dtype == np.uint8 and back.shape == a.shape
        np.testing.assert_array_equal(back, a)
        back[...] = 0  # a copy, not a read-only view of the bytes
    assert idx.parse_idx(idx.idx_bytes(np.zeros((2, 3), np.uint8))).shape == (2, 3)


@pytest.mark.parametrize("raw, why", [
    (b"", "shorter than the 4-byte magic"),
    (bytes([1, 0, 8, 1, 0, 0, 0, 1, 7]), "magic"),
    (bytes([0, 0, 0x0D, 1, 0, 0, 0, 1]) + b"\0" * 4, "type code 0x0d"),  # float32 IDX
    (bytes([0, 0, 8, 0]), "0 dimensions"),
    (bytes([0, 0, 8, 4]) + b"\0" * 16, "4 dimensions"),
    (bytes([0, 0, 8, 3, 0, 0, 0, 2]), "header"),  # header itself cut short
    (bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2]), "truncated"),
    (bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3, 4]), "trailing bytes"),
])
def test_parse_idx_rejects_malformed(raw, why):
    with pytest.raises(FetchError, match=why):
        idx.parse_idx(raw)


@pytest.mark.parametrize("dims", [(2**31, 2**31, 2**31), (60000, 28, 28), (2**32 - 1,)])
def test_parse_idx_huge_header_fails_before_allocating(dims):
    # 2**93 bytes claimed, or a real 47 MB header on a 100-byte download: refused from the header alone
    raw = bytes([0, 0, 8, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + b"\0" * 100
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(FetchError, match="truncated"):
        idx.parse_idx(raw)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 1_000_000  # bytes; numpy allocations are traced too


def test_maybe_gunzip():
    payload = bytes(range(256)) * 10
    assert idx.maybe_gunzip(gzip.compress(payload), max_size=len(payload)) == payload
    html = b"<!DOCTYPE html><html><body>404 Not Found</body></html>"
    assert idx.maybe_gunzip(html, max_size=10) is html  # passed through; the checksum rejects it
    with pytest.raises(FetchError, match="sha256 .* looks like an HTML page"):
        idx.checked_idx(html, sha(payload))
    with pytest.raises(FetchError, match="corrupt gzip"):
        idx.maybe_gunzip(b"\x1f\x8b" + b"not deflate at all" * 3, max_size=1000)
    with pytest.raises(FetchError, match="truncated"):
        idx.maybe_gunzip(gzip.compress(payload)[:-20], max_size=10_000)


def test_maybe_gunzip_caps_a_bomb():
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 kB that expands to 50 MB
    tracemalloc.start()
    with pytest.raises(FetchError, match="expands past 1000000 bytes"):
        idx.maybe_gunzip(bomb, max_size=1_000_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 5_000_000  # bytes: the cap, not the bomb's 50 MB
