"""A dataset and generated images as arrays: the npz files stages pass on, the uint8 <-> model-range maps, and
image mosaics. "A dataset" is x_train and x_test, uint8 images (N, H, W) in grayscale or (N, H, W, 3) in RGB, and,
when it has labels, y_train and y_test, uint8 classes 0..K-1 (N,). MNIST is x_train (60000, 28, 28), y_train
(60000,), x_test (10000, 28, 28), y_test (10000,)."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from ganpipe.data.idx import one_line
from ganpipe.io import atomic_path, save_npz

SPLITS = ("x_train", "y_train", "x_test", "y_test")   # a labelled dataset's arrays; an unlabelled one has x_* only
IMAGES = ("x_train", "x_test")


def image_problem(x: np.ndarray, name: str) -> str | None:
    """Why `x` is not a stack of uint8 grayscale (N, H, W) or RGB (N, H, W, 3) images, or None."""
    if x.dtype != np.uint8:
        return f"{name} is {x.dtype}, not uint8"
    if not (x.ndim == 3 or (x.ndim == 4 and x.shape[3] == 3)) or 0 in x.shape[1:]:
        return f"{name} has shape {x.shape}, not (N, H, W) grayscale or (N, H, W, 3) RGB"
    return None


def layout_problem(arrays: dict[str, np.ndarray]) -> str | None:
    """Why `arrays` is not a dataset (see the module's docstring), or None."""
    missing = [k for k in IMAGES if k not in arrays]
    if missing:
        return f"missing {missing}"
    labelled = [k for k in ("y_train", "y_test") if k in arrays]
    if len(labelled) == 1:
        return f"{labelled[0]} without its twin: labels come for both splits or neither"
    extra = sorted(set(arrays) - set(SPLITS))
    if extra:
        return f"unknown arrays {extra}"
    for k in IMAGES:
        if problem := image_problem(arrays[k], k):
            return problem
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        return f"x_train images are {arrays['x_train'].shape[1:]}, x_test's {arrays['x_test'].shape[1:]}"
    for part in ("train", "test") if labelled else ():
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if y.dtype != np.uint8:
            return f"y_{part} is {y.dtype}, not uint8"
        if y.shape != (x.shape[0],):
            return f"y_{part} has shape {y.shape}, not ({x.shape[0]},) like x_{part}"
    return None


def is_labelled(arrays: dict[str, np.ndarray]) -> bool:
    return "y_train" in arrays


def save_dataset(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A dataset as one compressed .npz, byte-identical for identical arrays."""
    problem = layout_problem(arrays)
    if problem:
        raise ValueError(f"save_dataset: {problem}")
    save_npz(Path(path), **{k: arrays[k] for k in SPLITS if k in arrays})


def load_dataset(path: Path) -> dict[str, np.ndarray]:
    """A dataset from save_dataset's .npz, with its layout checked."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    problem = layout_problem(arrays)
    if problem:
        raise ValueError(f"{path}: {problem}; run the fetch stage again")
    return arrays


def save_samples(path: Path, images: np.ndarray) -> None:
    save_npz(Path(path), images=images)


def load_samples(path: Path) -> np.ndarray:
    """Generated images from save_samples' .npz: uint8 (N, H, W) or (N, H, W, 3), else a one-line ValueError."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if npz.files != ["images"]:
                raise ValueError(f"{path}: holds {npz.files}, expected one array 'images'")
            images = npz["images"]
    except (OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable .npz ({one_line(e)})") from None
    if image_problem(images, "images") or len(images) == 0:
        raise ValueError(f"{path}: samples must be uint8 (N, H, W) or (N, H, W, 3) with N >= 1, "
                         f"got {images.dtype} {images.shape}")
    return images


def to_model_range(images_uint8) -> torch.Tensor:
    """uint8 (N, H, W) grayscale or (N, H, W, 3) RGB in 0..255 -> float32 (N, 1, H, W) or (N, 3, H, W) in [-1, 1],
    the generator's tanh range."""
    images = images_uint8 if isinstance(images_uint8, torch.Tensor) else torch.from_numpy(np.asarray(images_uint8))
    if images.dtype != torch.uint8 or not (images.ndim == 3 or (images.ndim == 4 and images.shape[3] == 3)):
        raise ValueError(f"to_model_range: need uint8 (N, H, W) or (N, H, W, 3), got {images.dtype} "
                         f"{tuple(images.shape)}")
    # channels first while still uint8: the float copy is then made once, contiguous
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2).contiguous()
    return images.to(torch.float32) / 127.5 - 1.0


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(N, 1, H, W) or (N, H, W) in [-1, 1] -> uint8 (N, H, W); (N, 3, H, W) -> uint8 (N, H, W, 3): the exact
    inverse of to_model_range."""
    x = x.detach().to("cpu", torch.float32)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"to_uint8: need (N, 1, H, W), (N, 3, H, W) or (N, H, W), got {tuple(x.shape)}")
    if torch.isnan(x).any():
        raise ValueError("to_uint8: NaN in images (has the generator diverged?)")
    # the error of v/127.5 - 1 in float32 is far below 0.5/127.5, so rounding recovers v exactly
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return (x.squeeze(1) if x.shape[1] == 1 else x.permute(0, 2, 3, 1)).contiguous().numpy()


def tile(images: np.ndarray, cols: int | None = None, pad: int = 2) -> np.ndarray:
    """uint8 (n, h, w) or RGB (n, h, w, 3) -> one uint8 mosaic (height, width) or (height, width, 3), `pad` black
    (0: MNIST's background) pixels between images."""
    n, h, w = images.shape[:3]
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    canvas = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, *images.shape[3:]), dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    return canvas


def shown_inverted(images: np.ndarray) -> bool:
    # grayscale light ink on a dark ground (MNIST, Fashion-MNIST: median pixel below 128) is shown inverted, black
    # ink on white as digits are read on paper; other grayscale (photos: median 128 or above) and RGB as they are
    return images.ndim == 3 and bool(np.median(images) < 128)


def save_grid_png(images: np.ndarray, path: Path) -> None:
    """uint8 (n, h, w) or RGB (n, h, w, 3) images as one mosaic PNG, grayscale inverted where `shown_inverted`."""
    import matplotlib.pyplot as plt   # lazily: pyplot is slow to import, and only this needs it

    mosaic = tile(images)
    with atomic_path(path) as tmp:   # cmap, vmin and vmax apply to grayscale only; RGB is saved as it is
        plt.imsave(tmp, 255 - mosaic if shown_inverted(images) else mosaic, cmap="gray", vmin=0, vmax=255,
                   format="png")
