"""The IDX format of MNIST and Fashion-MNIST: strict parsing, the inverse writer, capped gunzip, and the sha256
pins of both datasets' canonical files and arrays. Every byte from outside is checked before it is trusted."""
from __future__ import annotations

import hashlib
import math
import struct
import zlib

import numpy as np

IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# sha256 of the decompressed IDX files: independent of gzip level and of which mirror served them
IDX_SHA256 = {
    "x_train": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "y_train": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "x_test": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "y_test": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# sha256 of the arrays' raw C-order bytes (see array_sha256): what every source must end up with
ARRAY_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
# Fashion-MNIST (Xiao et al. 2017): the same four file names and shapes, pinned the same two ways
FASHION_IDX_SHA256 = {
    "x_train": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "y_train": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "x_test": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "y_test": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
FASHION_ARRAY_SHA256 = {
    "x_train": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
    "y_train": "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
    "x_test": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
    "y_test": "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
}
# the largest real file is train-images at 47,040,016 bytes; anything far bigger is not MNIST
MAX_IDX_BYTES = 64 * 2**20
_IDX_UINT8 = 0x08  # IDX type code for unsigned byte, the only one MNIST uses


class FetchError(Exception):
    """A source could not deliver a dataset; the message is one line: what failed, what to do."""


def one_line(e: BaseException) -> str:
    # mirror errors nest (URLError wrapping OSError...); keep the log to one short line each
    text = " ".join(str(e).split()) or "no detail"
    line = text if isinstance(e, FetchError) else f"{type(e).__name__} {text}"
    return line if len(line) <= 200 else line[:197] + "..."


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def array_sha256(a: np.ndarray) -> str:
    # raw bytes only: shape and dtype are recorded next to it in the manifest
    return _sha256(np.ascontiguousarray(a).tobytes())


def parse_idx(raw: bytes) -> np.ndarray:
    """IDX bytes -> uint8 array of the header's shape. Sizes are checked before anything is allocated."""
    if len(raw) < 4:
        raise FetchError(f"IDX: {len(raw)} bytes is shorter than the 4-byte magic; not an IDX file")
    if raw[0] != 0 or raw[1] != 0:
        raise FetchError(f"IDX: magic {raw[:4].hex()} does not start with 0000; not an IDX file")
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code != _IDX_UINT8:
        raise FetchError(f"IDX: type code 0x{dtype_code:02x} is not 0x08 (uint8); not an MNIST file")
    if not 1 <= ndim <= 3:
        raise FetchError(f"IDX: {ndim} dimensions, MNIST files have 1 to 3")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise FetchError(f"IDX: {len(raw)} bytes is shorter than the {header}-byte header; truncated")
    dims = struct.unpack(f">{ndim}I", raw[4:header])  # big-endian uint32 each
    want = header + math.prod(dims)  # Python ints: a forged 2**93 stays a number, not an allocation
    if len(raw) != want:
        kind = "truncated" if len(raw) < want else "trailing bytes"
        raise FetchError(f"IDX: header {list(dims)} needs {want} bytes, got {len(raw)} ({kind})")
    if max(dims) > MAX_IDX_BYTES:   # an empty array (a 0 in dims) of absurd other dims: numpy cannot shape it
        raise FetchError(f"IDX: header {list(dims)} has a dimension over {MAX_IDX_BYTES}; not an MNIST file")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def idx_bytes(a: np.ndarray) -> bytes:
    """uint8 array -> IDX bytes; the inverse of parse_idx."""
    if a.dtype != np.uint8 or not 1 <= a.ndim <= 3:
        raise ValueError(f"idx_bytes: need a uint8 array of 1 to 3 dims, got {a.dtype} {a.shape}")
    return bytes([0, 0, _IDX_UINT8, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def maybe_gunzip(raw: bytes, max_size: int) -> bytes:
    """Decompress gzip (never more than max_size + 1 bytes out); anything else is returned as is."""
    if raw[:2] != b"\x1f\x8b":
        return raw  # raw IDX, or an HTML error page that the checksum will reject
    stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # 16+: expect a gzip header
    try:
        out = stream.decompress(raw, max_size + 1)
    except zlib.error as e:
        raise FetchError(f"corrupt gzip: {e}; delete the file and fetch again") from None
    if len(out) > max_size:
        raise FetchError(f"gzip expands past {max_size} bytes; not an MNIST file, refusing it")
    if not stream.eof or stream.unused_data:
        raise FetchError("gzip stream truncated or followed by junk; delete the file and fetch again")
    return out


def checked_idx(raw: bytes, expected_sha256: str) -> tuple[np.ndarray, str]:
    raw = maybe_gunzip(raw, MAX_IDX_BYTES)
    digest = _sha256(raw)
    if digest != expected_sha256:
        hint = ", looks like an HTML page" if raw[:64].lstrip()[:1] == b"<" else ""
        raise FetchError(f"sha256 {digest[:12]}... of {len(raw)} bytes is not the pinned "
                         f"{expected_sha256[:12]}...{hint}")
    return parse_idx(raw), digest


