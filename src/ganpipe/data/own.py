"""The user's own images as a dataset (see ganpipe.data.arrays): a folder of PNG/JPEG files, or an .npz holding `x`
and optionally `y`. Only reads; writes nothing.

Folder: one subfolder per class gives labels, as torchvision's ImageFolder does (classes sorted by name, label =
index; a class folder is searched recursively); images directly in a flat folder are unlabelled. Names starting with
'.' are ignored; files are read in sorted path order. Each image is decoded by Pillow, turned upright by its EXIF
orientation and converted to RGB (palette, L, LA, RGBA...: alpha dropped).
.npz: `x` uint8 (N, H, W), (N, H, W, 1) or (N, H, W, 3); `y` integer labels 0..K-1, every class present.
Either way: if every image has R == G == B the dataset is grayscale (N, H, W), else RGB (N, H, W, 3). With
image_size set, each image not already image_size x image_size is center-cropped to the largest square and resized
to it with Pillow's BICUBIC (no distortion); without it, images of mixed sizes are refused. Own data has no test
split: a seeded one keeps round(test_fraction * N) images as x_test, both parts shuffled by it (a folder
is read class by class; the floors' reference set is the end of x_train).

Refused, with a one-line DataError naming the file or key: a missing path, anything neither a folder nor an .npz,
a folder without images, images both loose and in class folders, a non-PNG/JPEG file, a file Pillow cannot decode
(truncated included), a 16-bit or float image (Pillow would clip it to 255), mixed sizes without image_size, a
single class, more than 256 classes, an .npz without `x`, with other arrays, with x not uint8 of a supported
shape, with y not integer, negative, of another length or skipping a class, and a split leaving either part
empty."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ganpipe.data.arrays import layout_problem
from ganpipe.data.idx import one_line

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_CLASSES = 256   # labels are stored uint8
RESAMPLE = Image.Resampling.BICUBIC
_RESIZE_HINT = "set datasets.own.image_size to center-crop and resize every image to one square size"


class DataError(ValueError):
    """The user's data cannot become a dataset; the message is one line: which file or key, and what to do."""


def read_own(path: Path, *, image_size: int | None, test_fraction: float,
             split_seed: int) -> tuple[dict[str, np.ndarray], dict]:
    """The dataset's arrays (x_train, x_test and, when labelled, y_train, y_test) and a JSON-able manifest."""
    path = Path(path)
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int)
                                   or image_size < 1):
        raise DataError(f"datasets.own.image_size is {image_size!r}; need a positive integer, or null to keep sizes")
    if path.is_dir():
        kind, (x, y, classes, resized) = "folder", _read_folder(path, image_size)
    elif path.is_file() and path.suffix.lower() == ".npz":
        kind, (x, y, classes, resized) = "npz", _read_npz(path, image_size)
    elif not path.exists():
        raise DataError(f"{path} does not exist; put a folder of images or an .npz there")
    else:
        raise DataError(f"{path} is neither a folder of PNG/JPEG images nor an .npz")
    if x.ndim == 4 and (x[..., 0] == x[..., 1]).all() and (x[..., 1] == x[..., 2]).all():
        x = np.ascontiguousarray(x[..., 0])
    arrays = _split(x, y, test_fraction, split_seed)
    problem = layout_problem(arrays)
    if problem:  # pragma: no cover - the checks above should make this impossible
        raise DataError(f"{path}: {problem}")
    manifest = {
        "source": kind,
        "path": str(path),
        "images": int(x.shape[0]),
        "shape": [int(x.shape[1]), int(x.shape[2]), 1 if x.ndim == 3 else 3],   # H, W, channels
        "classes": classes,
        "resized": resized,
        "counts": {"train": int(arrays["x_train"].shape[0]), "test": int(arrays["x_test"].shape[0])},
        "test_fraction": test_fraction,
        "split_seed": split_seed,
    }
    return arrays, manifest


def _split(x: np.ndarray, y: np.ndarray | None, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    n = x.shape[0]
    n_test = round(test_fraction * n) if 0 < test_fraction < 1 else 0
    if not 0 < n_test < n:
        raise DataError(f"datasets.own.test_fraction {test_fraction} of {n} images gives {n_test} test images; "
                        f"need at least one test and one training image")
    # both parts stay in the permutation's order: a folder is read class by class, and the floors' reference set
    # is the last classifier.reference_images training images, which must not be the last classes alone
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:n_test], order[n_test:]
    arrays = {"x_train": x[train], "x_test": x[test]}
    if y is not None:
        arrays |= {"y_train": y[train], "y_test": y[test]}
    return arrays


def _visible(p: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in p.relative_to(root).parts)


def _images_only(files: list[Path]) -> list[Path]:
    for p in files:
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"{p} is not a PNG or JPEG file (.png .jpg .jpeg); remove it, or hide it with a "
                            f"name starting with '.'")
    return files


def _read_folder(folder: Path, image_size: int | None):
    entries = sorted(p for p in folder.iterdir() if _visible(p, folder))
    dirs = [p for p in entries if p.is_dir()]
    files = [p for p in entries if not p.is_dir()]
    if dirs and files:
        raise DataError(f"{folder} holds both files ({files[0].name}) and folders ({dirs[0].name}); put images "
                        f"directly in it (unlabelled) or in one folder per class (labelled), not both")
    if not dirs:
        if not files:
            raise DataError(f"{folder} has no PNG or JPEG images")
        x, resized = _read_images(_images_only(files), image_size)
        return x, None, None, resized
    if len(dirs) == 1:
        raise DataError(f"{folder} has a single class folder ({dirs[0].name}); labelled data needs two or more, "
                        f"or put the images directly in {folder} for unlabelled data")
    if len(dirs) > MAX_CLASSES:
        raise DataError(f"{folder} has {len(dirs)} class folders; at most {MAX_CLASSES} classes are supported")
    paths, labels = [], []
    for label, d in enumerate(dirs):
        found = _images_only(sorted(p for p in d.rglob("*") if not p.is_dir() and _visible(p, d)))
        if not found:
            raise DataError(f"class folder {d} has no PNG or JPEG images")
        paths += found
        labels += [label] * len(found)
    x, resized = _read_images(paths, image_size)
    return x, np.array(labels, dtype=np.uint8), [d.name for d in dirs], resized


def _fit(im: Image.Image, image_size: int | None) -> tuple[Image.Image, bool]:
    if image_size is None or im.size == (image_size, image_size):
        return im, False
    return ImageOps.fit(im, (image_size, image_size), method=RESAMPLE), True   # center-crop, then resize


def _read_images(paths: list[Path], image_size: int | None) -> tuple[np.ndarray, bool]:
    """RGB uint8 (N, H, W, 3), filled in place once the first image's size is known, and whether any was resized."""
    x, first, resized = None, None, False
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as im:
                im.load()   # decode now: a truncated file fails here, not later
                mode = im.mode
                rgb = ImageOps.exif_transpose(im).convert("RGB")
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
            raise DataError(f"{p} cannot be read as an image ({one_line(e)}); fix or remove it") from None
        if mode in ("I", "F") or mode.startswith("I;"):
            raise DataError(f"{p} is a 16-bit or float image (mode {mode}); save it as 8-bit")
        if image_size is None:
            first = first or (p, rgb.size)
            if rgb.size != first[1]:
                (w0, h0), (w, h) = first[1], rgb.size
                raise DataError(f"{first[0]} is {w0}x{h0} but {p} is {w}x{h} (width x height); {_RESIZE_HINT}")
        rgb, changed = _fit(rgb, image_size)
        resized |= changed
        if x is None:
            x = np.empty((len(paths), rgb.height, rgb.width, 3), dtype=np.uint8)
        x[i] = np.asarray(rgb)
    return x, resized


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    npz = np.load(path, allow_pickle=False)
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise OSError("a single .npy array, not an .npz archive of named arrays")
    with npz:
        return {k: npz[k] for k in npz.files}


def _read_npz(path: Path, image_size: int | None):
    try:
        arrays = _npz_arrays(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:   # ValueError: pickled data, a broken header
        raise DataError(f"{path} is not a readable .npz ({one_line(e)})") from None
    if "x" not in arrays or not set(arrays) <= {"x", "y"}:
        raise DataError(f"{path} holds {sorted(arrays)}; need 'x' (images) and optionally 'y' (labels)")
    x = arrays["x"]
    if x.dtype != np.uint8:
        raise DataError(f"{path}: x is {x.dtype}, not uint8; scale pixels to 0..255 and save x.astype(np.uint8)")
    if x.ndim == 4 and x.shape[3] == 1:
        x = x[..., 0]
    if not (x.ndim == 3 or (x.ndim == 4 and x.shape[3] == 3)) or 0 in x.shape:
        raise DataError(f"{path}: x has shape {x.shape}; need (N, H, W), (N, H, W, 1) or (N, H, W, 3), none 0")
    y = classes = None
    if "y" in arrays:
        y = arrays["y"]
        if y.dtype.kind not in "iu":
            raise DataError(f"{path}: y is {y.dtype}, not integer; labels are classes 0..K-1")
        if y.shape != (x.shape[0],):
            raise DataError(f"{path}: y has shape {y.shape} but x holds {x.shape[0]} images; need one label each")
        if y.min() < 0:
            raise DataError(f"{path}: y has negative labels (min {y.min()}); labels are classes 0..K-1")
        if y.max() >= MAX_CLASSES:
            raise DataError(f"{path}: y has label {y.max()}; at most {MAX_CLASSES} classes (0..255) are supported")
        present = np.unique(y)
        if len(present) == 1:
            raise DataError(f"{path}: y has a single class ({present[0]}); labelled data needs two or more, "
                            f"or leave y out for unlabelled data")
        missing = sorted(set(range(int(present[-1]) + 1)) - set(present.tolist()))
        if missing:
            raise DataError(f"{path}: y skips classes {missing[:5]}; need every class 0..{present[-1]} present")
        y, classes = y.astype(np.uint8), list(range(len(present)))
    resized = False
    if image_size is not None and x.shape[1:3] != (image_size, image_size):
        out = np.empty((x.shape[0], image_size, image_size, *x.shape[3:]), dtype=np.uint8)
        for i, img in enumerate(x):
            out[i] = np.asarray(_fit(Image.fromarray(img), image_size)[0])
        x, resized = out, True
    return x, y, classes, resized
