"""Atomic file output: a reader never sees a half-written file, a failed writer leaves nothing."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


def first_line(e: BaseException) -> str:
    """An exception's message cut to its first line, or its type when it has none (an empty file's EOFError)."""
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_json(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """A compressed .npz whose bytes depend only on the arrays: np.savez stamps each member with the current
    time, which would change the file's md5 (and so re-run every downstream DVC stage) on identical data."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.ascontiguousarray(array), allow_pickle=False)


def save_torch(path: Path, obj: Any) -> None:
    """torch.save, atomically, whose bytes depend only on `obj`: saved to a path, torch names the archive's
    folder after the file, here a random temporary name, which would change the md5 of identical weights (and
    so re-run every downstream DVC stage). Saved to a file object, the folder is always `archive`."""
    import torch   # here, so that the numpy-only users of this module do not load torch

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(obj, fh)
