"""The 1-D toy (U[0,1] noise -> N(0,1)): distance metrics, each next to its real-vs-real floor (its figure is
reporting.figures.fig_toy).

Owns: judging generator outputs as a DISTRIBUTION against N(0,1) (KS, W1, histogram JS, sorted quantiles).
Many maps give N(0,1) (Φ⁻¹(u) and Φ⁻¹(1-u) alike), so nothing here compares G(u) with Φ⁻¹(u) pointwise.
Refuses: torch, training, file I/O, process-wide seeding (floors draw from their own seeded generators).
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from ganpipe.evaluation.histograms import expected_js_floor, js_divergence


def check_samples(samples) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float64)
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if x.ndim != 1 or x.size == 0 or bad:
        raise ValueError(f"toy samples must be a finite 1-D array, got shape {x.shape} with {bad} NaN/inf")
    return x


def check_range(bins: int, lo: float, hi: float) -> None:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins!r}")
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"histogram range must be finite with lo < hi, got [{lo!r}, {hi!r}]")


def sorted_vs_inverse_cdf(samples) -> tuple[np.ndarray, np.ndarray]:
    """(Φ⁻¹((i-½)/n), sorted samples), i = 1..n: the exact quantiles and the learned quantile function. (n,) each."""
    x = check_samples(samples)
    n = len(x)
    return stats.norm.ppf((np.arange(n) + 0.5) / n), np.sort(x)


def _counts(x: np.ndarray, bins: int, lo: float, hi: float) -> np.ndarray:
    # (bins + 2,): [below lo, K equal bins over [lo, hi] (last one closed, as np.histogram), above hi],
    # so a generator that throws mass off the range is punished instead of silently dropped
    inside = np.histogram(x, bins=bins, range=(lo, hi))[0]
    return np.concatenate([[np.count_nonzero(x < lo)], inside, [np.count_nonzero(x > hi)]])


def _quantile_distances(x: np.ndarray) -> tuple[float, float]:
    # W1(P_n, N(0,1)) = ∫₀¹ |F_n⁻¹(p) - Φ⁻¹(p)| dp; F_n⁻¹ is the i-th order statistic on ((i-1)/n, i/n], and Φ⁻¹
    # at the slice midpoint (i-½)/n stands in for it there (the quantile-coupling estimate: no binning, no
    # second sample). The RMS of the same gaps is the quantile RMSE.
    exact, learned = sorted_vs_inverse_cdf(x)
    gap = learned - exact
    return float(np.mean(np.abs(gap))), float(np.sqrt(np.mean(gap ** 2)))


def toy_metrics(samples: np.ndarray, *, bins: int, lo: float, hi: float, seed: int) -> dict[str, float]:
    """KS, W1, histogram JS (nats) and quantile RMSE against N(0,1), each with a `_floor` twin for n true N(0,1) draws.

    Floors come from two independent seeded streams: `reference` is the sample the histogram JS compares with,
    `perfect` plays a generator that learned N(0,1) exactly. Both have the same n as `samples` (floors shrink with n).
    """
    x = check_samples(samples)
    check_range(bins, lo, hi)
    n = len(x)
    reference_seq, perfect_seq = np.random.SeedSequence(seed).spawn(2)
    reference = np.random.default_rng(reference_seq).standard_normal(n)
    perfect = np.random.default_rng(perfect_seq).standard_normal(n)
    ref_counts = _counts(reference, bins, lo, hi)
    w1, q_rmse = _quantile_distances(x)
    w1_floor, q_rmse_floor = _quantile_distances(perfect)
    return {
        "ks": float(stats.kstest(x, "norm").statistic),
        "ks_floor": float(stats.kstest(perfect, "norm").statistic),
        "w1": w1,
        "w1_floor": w1_floor,
        "hist_js": float(js_divergence(_counts(x, bins, lo, hi), ref_counts)),
        "hist_js_floor": float(js_divergence(_counts(perfect, bins, lo, hi), ref_counts)),
        "hist_js_expected_floor": expected_js_floor(bins + 2, n),
        "quantile_rmse": q_rmse,
        "quantile_rmse_floor": q_rmse_floor,
        "n": n, "bins": int(bins), "lo": float(lo), "hi": float(hi),
    }
