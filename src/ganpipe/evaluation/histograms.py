"""Histogram divergences between image sets, each reported next to its real-vs-real noise floor.

Owns: binning uint8 images on shared fixed edges (pixel-intensity marginal and per-position
marginals), JS / smoothed KL / symmetrised KL in float64 nats, and the `<metric>_floor` twins
computed between two disjoint sets of real images (definitions: docs/reference/metrics.md).
Images are grayscale (N, H, W) or RGB (N, H, W, 3). The intensity histogram pools every value of every
channel. Per position, each (position, channel) of RGB images is its own variable: perpixel_js_mean is the
mean JS over all H*W*3 of them, and the (H, W) map the report draws is that JS averaged over the channels.
Refuses: anything but uint8 images (generated images must be quantised exactly as real ones are
stored before they are compared), file I/O, seeding, torch. Feature-space metrics live elsewhere.
"""
from __future__ import annotations

import numpy as np
from scipy.special import rel_entr

LN2 = float(np.log(2.0))  # the upper bound of JS in nats (disjoint supports)


def _check_bins(bins: int, name: str = "bins") -> int:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 1 <= bins <= 256:
        raise ValueError(f"{name} must be an int in [1, 256], got {bins!r}")
    return int(bins)


def _check_uint8(images: np.ndarray, what: str) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8 array, got {images.dtype} {images.shape}")
    return images


def _check_images(images: np.ndarray, what: str) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8 or not (images.ndim == 3 or (images.ndim == 4 and images.shape[3] == 3)):
        raise ValueError(f"{what} must be uint8 (N,H,W) or (N,H,W,3), got {images.dtype} {images.shape}")
    if images.shape[0] == 0:
        raise ValueError(f"{what} must hold at least one image, got shape {images.shape}")
    return images


def _bin_lut(bins: int) -> np.ndarray:
    # bin of each uint8 value v on edges linspace(0, 256, K+1), bins [e_i, e_{i+1}):
    # floor(v*K/256) in exact integer math, so edges never drift with float rounding. (256,) int64
    return (np.arange(256, dtype=np.int64) * bins) // 256


def intensity_counts(images: np.ndarray, bins: int) -> np.ndarray:
    """Pixel-intensity histogram over all pixels of `images` (uint8, any shape): (K,) int64."""
    images, bins = _check_uint8(images, "images"), _check_bins(bins)
    per_value = np.bincount(images.ravel(), minlength=256)  # (256,): one pass, no int64 copy of the images
    counts = np.zeros(bins, dtype=np.int64)
    np.add.at(counts, _bin_lut(bins), per_value)
    return counts


def image_intensity_counts(images: np.ndarray, bins: int) -> np.ndarray:
    """One intensity histogram per image of uint8 (N,H,W) or (N,H,W,3) images, over all its values: (N, K) int64;
    the rows sum to intensity_counts."""
    images, bins = _check_images(images, "images"), _check_bins(bins)
    n = len(images)
    flat = _bin_lut(bins)[images.reshape(n, -1)] + np.arange(n, dtype=np.int64)[:, None] * bins   # (N, H*W*C)
    return np.bincount(flat.ravel(), minlength=n * bins).reshape(n, bins)


def position_counts(images: np.ndarray, bins: int) -> np.ndarray:
    """One intensity histogram per pixel position of uint8 (N,H,W) images, (H*W, K) int64, or per (position,
    channel) of (N,H,W,3) images, (H*W*3, K) in the images' row-major order."""
    images, bins = _check_images(images, "images"), _check_bins(bins)
    n_pos = int(np.prod(images.shape[1:]))
    # flat index pos*K + bin for every value; a single bincount fills all the histograms. (N, n_pos)
    flat = _bin_lut(bins)[images.reshape(len(images), n_pos)] + np.arange(n_pos, dtype=np.int64) * bins
    return np.bincount(flat.ravel(), minlength=n_pos * bins).reshape(n_pos, bins)


def _normalise(counts, what: str) -> np.ndarray:
    # float64 before dividing: float32 shares would make JS(p, p) depend on input precision
    x = np.asarray(counts, dtype=np.float64)
    if x.ndim == 0 or np.any(x < 0) or not np.all(np.isfinite(x)):
        raise ValueError(f"{what} must be finite non-negative counts along the last axis, got shape {x.shape}")
    total = x.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError(f"{what} has a histogram with zero total mass")
    return x / total


def _scalar_or_array(x: np.ndarray) -> np.ndarray | float:
    return float(x) if x.ndim == 0 else x


def js_divergence(p, q) -> np.ndarray | float:
    """JS(P,Q) = ½KL(P‖M) + ½KL(Q‖M), M = (P+Q)/2, in nats within [0, ln 2]; histograms on the last axis.

    Needs no smoothing: M > 0 wherever P or Q is. Not scipy's jensenshannon, which is sqrt(JS).
    """
    pn, qn = _normalise(p, "p"), _normalise(q, "q")
    if pn.shape != qn.shape:
        raise ValueError(f"p and q must have the same shape, got {pn.shape} and {qn.shape}")
    m = (pn + qn) / 2  # (x + x) / 2 == x exactly in floating point, hence JS(p, p) == 0 exactly
    js = 0.5 * rel_entr(pn, m).sum(axis=-1) + 0.5 * rel_entr(qn, m).sum(axis=-1)
    # rounding can leave a few ulps below 0 or above ln 2; the bounds are part of the contract
    return _scalar_or_array(np.clip(js, 0.0, LN2))


def smoothed(counts, alpha: float) -> np.ndarray:
    """Additive smoothing of COUNTS on the last axis: (c_i + a) / (n + K a), float64."""
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0 for smoothed KL, got {alpha!r}")
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim == 0 or np.any(c < 0) or not np.all(np.isfinite(c)):
        raise ValueError(f"counts must be finite non-negative along the last axis, got shape {c.shape}")
    return (c + alpha) / (c.sum(axis=-1, keepdims=True) + c.shape[-1] * alpha)


def kl_divergence(p_counts, q_counts, alpha: float) -> np.ndarray | float:
    """KL(P‖Q) in nats with the same smoothing alpha on both count vectors (else infinite on empty bins)."""
    ps, qs = smoothed(p_counts, alpha), smoothed(q_counts, alpha)
    if ps.shape != qs.shape:
        raise ValueError(f"p_counts and q_counts must have the same shape, got {ps.shape} and {qs.shape}")
    return _scalar_or_array(np.maximum(rel_entr(ps, qs).sum(axis=-1), 0.0))


def sym_kl(p_counts, q_counts, alpha: float) -> np.ndarray | float:
    """½KL(P‖Q) + ½KL(Q‖P): what the source calls "JS". It is the symmetrised KL, unbounded, not JS."""
    return _scalar_or_array(
        0.5 * np.asarray(kl_divergence(p_counts, q_counts, alpha))
        + 0.5 * np.asarray(kl_divergence(q_counts, p_counts, alpha))
    )


def _check_pair(real: np.ndarray, gen: np.ndarray, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    real, gen = _check_images(real, names[0]), _check_images(gen, names[1])
    if real.shape[1:] != gen.shape[1:]:
        raise ValueError(f"{names[0]} and {names[1]} differ in image size: {real.shape[1:]} vs {gen.shape[1:]}")
    return real, gen


def perpixel_js(real: np.ndarray, gen: np.ndarray, *, perpixel_bins: int,
                names: tuple[str, str] = ("real images", "generated images")) -> np.ndarray:
    """JS between the per-variable intensity histograms, nats, float64 shaped like one image: (H, W), or (H, W, 3)
    with each (position, channel) its own variable."""
    real, gen = _check_pair(real, gen, names)
    bins = _check_bins(perpixel_bins, "perpixel_bins")
    return js_divergence(position_counts(real, bins), position_counts(gen, bins)).reshape(real.shape[1:])


def perpixel_js_map(real: np.ndarray, gen: np.ndarray, *, perpixel_bins: int,
                    names: tuple[str, str] = ("real images", "generated images")) -> np.ndarray:
    """The report's heat-map, (H, W) float64 nats: perpixel_js, averaged over the channels of RGB images."""
    js = perpixel_js(real, gen, perpixel_bins=perpixel_bins, names=names)
    return js if js.ndim == 2 else js.mean(axis=2)


def histogram_metrics(real: np.ndarray, gen: np.ndarray, *, bins: int, perpixel_bins: int, alpha: float,
                      names: tuple[str, str] = ("real images", "generated images")) -> dict[str, float]:
    """Pixel-intensity JS / sym_kl / both KLs (every value of every channel) and the mean per-variable JS (over
    every position, and every channel of RGB), all in nats."""
    real, gen = _check_pair(real, gen, names)
    c_real, c_gen = intensity_counts(real, bins), intensity_counts(gen, bins)
    return {
        "pixel_js": float(js_divergence(c_real, c_gen)),
        "pixel_sym_kl": float(sym_kl(c_real, c_gen, alpha)),
        "pixel_kl_real_gen": float(kl_divergence(c_real, c_gen, alpha)),
        "pixel_kl_gen_real": float(kl_divergence(c_gen, c_real, alpha)),
        "perpixel_js_mean": float(perpixel_js(real, gen, perpixel_bins=perpixel_bins, names=names).mean()),
    }


def evaluate_against_floor(gen: np.ndarray, real_test: np.ndarray, real_reference: np.ndarray, *,
                           bins: int, perpixel_bins: int, alpha: float) -> dict[str, float]:
    """Each histogram metric of (real_test, gen) plus its `<name>_floor` twin for (real_test, real_reference).

    real_reference is a set of real images disjoint from real_test with the same n as gen: the floor
    shrinks like 1/n, so it only says what "as good as real" looks like at equal n.
    """
    gen = _check_images(gen, "generated images")
    real_reference = _check_images(real_reference, "real reference images")
    if len(real_reference) != len(gen):
        raise ValueError(f"real reference images must number as many as generated images "
                         f"(the floor depends on n): {len(real_reference)} vs {len(gen)}")
    kw = dict(bins=bins, perpixel_bins=perpixel_bins, alpha=alpha)
    metrics = histogram_metrics(real_test, gen, names=("real test images", "generated images"), **kw)
    floor = histogram_metrics(real_test, real_reference, names=("real test images", "real reference images"), **kw)
    out: dict[str, float] = {}
    for name, value in metrics.items():
        out[name], out[f"{name}_floor"] = value, floor[name]
    out.update(n=len(gen), n_real=len(real_test), bins=bins, perpixel_bins=perpixel_bins, alpha=float(alpha))
    return out


def expected_js_floor(bins: int, n: int) -> float:
    """E[JS] between two size-n samples of one K-bin distribution, ~(K-1)/(4n) nats (large n, no empty bins)."""
    return (bins - 1) / (4 * n)
