"""The degradation ladder: real images made worse step by step and scored like generated ones.

A metric earns trust when it grows as images get visibly worse; the ladder also translates a model's
score into pictures ("about as far from real as digits blurred with sigma 1 px").
Owns: the three degradations (Gaussian noise, Gaussian blur, a black square) of grayscale (n, H, W) or RGB
(n, H, W, 3) images of any size, the scores of each rung
against the real test set, and placing a value on the ladder.
Refuses: file I/O and global seeding; what a rung is scored with comes from scorecard.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from torch import nn

from ganpipe.config import EvaluateConfig, LadderConfig
from ganpipe.evaluation.features import frechet_distance, kid
from ganpipe.evaluation.histograms import intensity_counts, js_divergence
from ganpipe.evaluation.registry import LADDER
from ganpipe.evaluation.scorecard import Embedded, embed_set

KINDS = {   # kind -> how one of its levels reads, in full and in short
    "noise": ("Gaussian noise on the ink, x·(1 + σ·N(0, 1)), σ = {:g}", "ink noise σ {}"),
    "blur": ("Gaussian blur, σ = {:g} px", "blur σ {} px"),
    "occlusion": ("a {:g}×{:g} px blank square", "square {} px"),
}


def degrade(images: np.ndarray, kind: str, level: float, seed: int) -> np.ndarray:
    """uint8 (n, H, W) or (n, H, W, 3) -> the same images degraded, uint8. Same seed, same noise and square
    positions, so the squares of growing sides are nested and the noise of growing sigma is one draw scaled.
    Noise is drawn per value (each channel its own), blur acts along H and W only, the square blanks every channel."""
    rng = np.random.default_rng(seed)
    x = images.astype(np.float64)
    if kind == "noise":
        # multiplicative (speckle): additive noise would turn the 0s of the background into a spread of low
        # values, which saturates pixel_js by sigma = 0.03 x 255 and then lowers it (measured: docs/results.md)
        x = x * (1.0 + level * rng.standard_normal(x.shape))
    elif kind == "blur":
        x = gaussian_filter(x, sigma=(0, level, level, 0)[:x.ndim], mode="constant")
    elif kind == "occlusion":
        side, (h, w) = int(level), x.shape[1:3]
        # over the middle of the image, where MNIST centres its digits' mass: centres in [10, 18) of 28 px, that
        # range scaled to H and W (and symmetric about the middle), so that 28 x 28 draws exactly rng.integers(10, 18)
        centres = rng.integers((round(10 * h / 28), round(10 * w / 28)), (round(18 * h / 28), round(18 * w / 28)),
                               size=(len(x), 2))
        rows, cols = np.arange(h)[None, :], np.arange(w)[None, :]
        top, left = centres[:, :1] - side // 2, centres[:, 1:] - side // 2
        in_rows = (rows >= top) & (rows < top + side)     # (n, H)
        in_cols = (cols >= left) & (cols < left + side)   # (n, W)
        x[in_rows[:, :, None] & in_cols[:, None, :]] = 0.0
    else:
        raise ValueError(f"unknown degradation {kind!r}; one of {sorted(KINDS)}")
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def rung_metrics(real: Embedded, other: Embedded, cfg: EvaluateConfig) -> dict[str, float]:
    """The registry's ladder metrics (registry.LADDER, all lower-is-better) of `other` against the real test set."""
    scorers = {
        "fld": lambda: frechet_distance(real.features, other.features),
        "kid": lambda: kid(real.features, other.features, subsets=cfg.kid_subsets, subset_size=cfg.kid_subset_size,
                           seed=cfg.seed)[0],
        "pixel_js": lambda: float(js_divergence(intensity_counts(real.images, cfg.pixel_bins),
                                                intensity_counts(other.images, cfg.pixel_bins))),
    }
    return {key: scorers[key]() for key in LADDER}


def run_ladder(real_test: Embedded, real_ref: Embedded, model: nn.Module, cfg: EvaluateConfig,
               levels: LadderConfig, progress=lambda rung: None) -> list[dict]:
    """Rows {kind, level, <each ladder metric>}: first the undegraded reference (kind "none", level 0: the
    floors), then each kind's levels. Each rung is the reference set degraded, against the real test set."""
    rows = [{"kind": "none", "level": 0.0, **rung_metrics(real_test, real_ref, cfg)}]
    for kind in KINDS:
        for level in getattr(levels, kind):
            progress(f"{kind} {level:g}")
            degraded = embed_set(model, degrade(real_ref.images, kind, level, cfg.seed))
            rows.append({"kind": kind, "level": float(level), **rung_metrics(real_test, degraded, cfg)})
    return rows


def examples(images: np.ndarray, levels: LadderConfig, *, seed: int) -> dict[str, np.ndarray]:
    """What the rungs look like: for each kind, uint8 (1 + levels, n, H, W) (or (..., 3) for RGB), the undegraded
    images first."""
    return {kind: np.stack([images] + [degrade(images, kind, level, seed) for level in getattr(levels, kind)])
            for kind in KINDS}


def describe(kind: str, level: float) -> str:
    return "undegraded real images" if kind == "none" else KINDS[kind][0].format(level, level)


def place(value: float, rows: list[dict], metric: str) -> str:
    """Where `value` of a lower-is-better metric sits on each kind's ladder, in short words."""
    parts = []
    for kind in KINDS:
        rungs = sorted((r for r in rows if r["kind"] in (kind, "none")), key=lambda r: r["level"])
        levels = [f"{r['level']:g}" for r in rungs]
        below = sum(r[metric] <= value for r in rungs)   # rungs this value is at least as bad as
        short = KINDS[kind][1]
        if below == len(rungs):
            parts.append(short.format(f"> {levels[-1]}"))
        elif below == 0:
            parts.append(f"better than real ({metric} {rungs[0][metric]:.3g})")
            break
        elif below == 1:
            parts.append(short.format(f"< {levels[1]}"))
        else:
            parts.append(short.format(f"{levels[below - 1]}–{levels[below]}"))
    return "; ".join(parts)
