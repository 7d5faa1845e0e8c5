"""The 1-D toy (U[0,1] noise -> N(0,1)): distance metrics, each next to its real-vs-real floor, and its figure.

Owns: judging generator outputs as a DISTRIBUTION against N(0,1) (KS, W1, histogram JS, sorted quantiles).
Many maps give N(0,1) (Φ⁻¹(u) and Φ⁻¹(1-u) alike), so nothing here compares G(u) with Φ⁻¹(u) pointwise.
Refuses: torch, training, file I/O, process-wide seeding (floors draw from their own seeded generators).
"""
from __future__ import annotations

import ganpipe.style  # noqa: F401  (backend and theme, before pyplot)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from ganpipe.metrics import expected_js_floor, js_divergence  # noqa: E402



def _check_samples(samples) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float64)
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if x.ndim != 1 or x.size == 0 or bad:
        raise ValueError(f"toy samples must be a finite 1-D array, got shape {x.shape} with {bad} NaN/inf")
    return x


def _check_range(bins: int, lo: float, hi: float) -> None:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins!r}")
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"histogram range must be finite with lo < hi, got [{lo!r}, {hi!r}]")


def sorted_vs_inverse_cdf(samples) -> tuple[np.ndarray, np.ndarray]:
    """(Φ⁻¹((i-½)/n), sorted samples), i = 1..n: the exact quantiles and the learned quantile function. (n,) each."""
    x = _check_samples(samples)
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
    x = _check_samples(samples)
    _check_range(bins, lo, hi)
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


def fig_toy(samples: np.ndarray, u: np.ndarray | None = None, g_of_u: np.ndarray | None = None, *,
            bins: int, lo: float, hi: float) -> plt.Figure:
    """Left: the learned quantile function (sorted outputs vs Φ⁻¹(p)), plus G(u) itself when given.
    Right: output density over the N(0,1) curve on the fixed bins the metrics use."""
    x = _check_samples(samples)
    _check_range(bins, lo, hi)
    if (u is None) != (g_of_u is None):
        raise ValueError("pass u and g_of_u together (G evaluated on a grid of u), or neither")
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))

    exact, learned = sorted_vs_inverse_cdf(x)
    p = (np.arange(len(x)) + 0.5) / len(x)
    if u is not None:
        u, g_of_u = np.asarray(u, dtype=np.float64).ravel(), np.asarray(g_of_u, dtype=np.float64).ravel()
        if u.shape != g_of_u.shape:
            raise ValueError(f"u and g_of_u must have the same length, got {u.size} and {g_of_u.size}")
        order = np.argsort(u)
        # drawn as G(u), not sorted: a decreasing curve means G learned Φ⁻¹(1-u), which is just as right
        left.plot(u[order], g_of_u[order], lw=1, color="grey", label="G(u)")
    left.plot(p, learned, lw=2, label="sorted G outputs (judge this)")
    left.plot(p, exact, ls="--", color="black", lw=1.2, label="Φ⁻¹(p), the exact map")
    left.set_xlabel("quantile level p / noise u")
    left.set_ylabel("value")
    left.set_title("learned quantiles: sorted outputs on Φ⁻¹(p)?")
    left.legend(loc="best", fontsize="small")

    edges = np.linspace(lo, hi, bins + 1)
    inside = np.histogram(x, bins=edges)[0]
    # density over ALL n outputs, so mass outside [lo, hi] shows as missing area instead of inflating the bars
    density = inside / (len(x) * np.diff(edges))
    right.stairs(density, edges, fill=True, alpha=0.6,
                 label=f"G outputs ({1 - inside.sum() / len(x):.1%} outside [{lo:g}, {hi:g}])")
    grid = np.linspace(lo, hi, 400)
    right.plot(grid, stats.norm.pdf(grid), color="black", lw=1.5, label="N(0,1) density")
    right.set_ylim(0, 1.3 * max(stats.norm.pdf(0), density.max()))  # headroom keeps the legend off the bars
    right.set_xlabel("value")
    right.set_ylabel("density")
    right.set_title("output density: bars follow the N(0,1) curve?")
    right.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return fig
