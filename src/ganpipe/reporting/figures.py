"""Figure builders: each takes arrays or tidy frames and returns a Figure, in the one house style.

Refuses: reading files and computing metrics (evaluate and the ladder have done that; the report passes
their results in).
"""
from __future__ import annotations

from dataclasses import dataclass

import ganpipe.reporting.style  # noqa: F401  (backend and theme, before pyplot)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from scipy import stats  # noqa: E402

from ganpipe.data.arrays import shown_inverted, tile  # noqa: E402
from ganpipe.evaluation.registry import MODE_MIN_PERCENT  # noqa: E402
from ganpipe.evaluation.toy import check_range, check_samples, sorted_vs_inverse_cdf  # noqa: E402


def show_images(ax, images: np.ndarray, cols: int | None = None) -> None:
    """uint8 (n, h, w) or RGB (n, h, w, 3) images as one mosaic: grayscale inverted where arrays.shown_inverted
    says so (light ink on a dark ground, shown as ink on paper), RGB as it is."""
    mosaic = tile(images, cols=cols)
    ax.imshow(255 - mosaic if shown_inverted(images) else mosaic, cmap="gray", vmin=0, vmax=255,
              interpolation="nearest")


def fig_samples(panels: dict[str, np.ndarray]) -> plt.Figure:
    """Image mosaics side by side, one per title: uint8 (n, h, w) or (n, h, w, 3) each."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 5.8), squeeze=False)
    for ax, (title, images) in zip(axes[0], panels.items()):
        show_images(ax, images)
        ax.set_axis_off()
        ax.set_title(title)
    return fig


PANELS = {   # panel title -> the DVCLive metrics drawn in it, and what to look for
    "losses": (["loss_d", "loss_g"], "the last step's losses"),
    "critic's estimate (held-out real)": (["w_estimate"], "wgan/wgan-gp: the W1 estimate; should fall"),
    "critic gradient norm at interpolates": (["gradnorm_d_mean", "gradnorm_d_max"], "<= 1 if D is 1-Lipschitz"),
    "generator gradient norm": (["gradnorm_g"], "near 0: the loss saturates"),
    "judge: D(x) and D(G(z))": (["d_real", "d_fake"], "both near ½ at equilibrium"),
    "speed": (["steps_per_s"], "steps/s"),
}


def fig_curves(history: pd.DataFrame) -> plt.Figure:
    """history: tidy columns step, metric, value (DVCLive's TSVs). One panel per diagnostic that was logged."""
    panels = [(title, names, hint) for title, (names, hint) in PANELS.items() if history["metric"].isin(names).any()]
    cols = 3
    rows = max(1, -(-len(panels) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(13, 3.4 * rows), squeeze=False)
    for ax, (title, names, hint) in zip(axes.flat, panels):
        sns.lineplot(data=history[history["metric"].isin(names)], x="step", y="value", hue="metric", ax=ax)
        if names[0].startswith("gradnorm_d"):
            ax.axhline(1.0, color="grey", lw=1, ls="--")   # the Lipschitz bound the penalty aims at
        if names[0] == "d_real":
            ax.axhline(0.5, color="grey", lw=1, ls="--")
            ax.set_ylim(0, 1)
        if names[0] == "gradnorm_g":
            ax.set_yscale("log")   # saturation is orders of magnitude, not a few percent
        ax.set_title(f"{title}\n({hint})", fontsize=10)
        ax.set_xlabel("generator step")
        ax.set_ylabel("")
        if ax.get_legend() is not None:
            ax.legend(fontsize=8, title=None)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def fig_progression(grids: list[tuple[int, np.ndarray]], max_panels: int = 8) -> plt.Figure:
    """The fixed-noise grids logged during training (step, uint8 gray or RGB mosaic as saved), evenly thinned to
    `max_panels`, in a row."""
    idx = np.unique(np.linspace(0, len(grids) - 1, min(max_panels, len(grids))).round().astype(int))
    chosen = [grids[i] for i in idx]
    fig, axes = plt.subplots(1, len(chosen), figsize=(1.65 * len(chosen), 2.0), squeeze=False)
    for ax, (step, image) in zip(axes[0], chosen):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"step {step:,}", fontsize=9)
    fig.tight_layout()
    return fig


def fig_intensity(counts: dict[str, np.ndarray]) -> plt.Figure:
    """Share of pixels per intensity bin, per set ({label: counts on the K shared fixed edges evaluate uses})."""
    bins = len(next(iter(counts.values())))
    edges = np.linspace(0, 256, bins + 1)
    rows = [pd.DataFrame({"intensity": edges[:-1], "share": c / c.sum(), "set": label}) for label, c in counts.items()]
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.lineplot(data=pd.concat(rows), x="intensity", y="share", hue="set", drawstyle="steps-post", ax=ax)
    ax.set_yscale("log")
    ax.set_xlabel("pixel intensity (uint8)")
    ax.set_ylabel("share of pixels (log scale)")
    ax.set_title(f"pixel-intensity histograms, K = {bins} shared bins")
    return fig


def fig_ink(ink: dict[str, np.ndarray]) -> plt.Figure:
    """Per-image ink mass (mean intensity), per set: a low-dimensional view where the histogram method means
    something."""
    df = pd.concat([pd.DataFrame({"ink": values, "set": label}) for label, values in ink.items()])
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.histplot(data=df, x="ink", hue="set", stat="density", common_norm=False, bins=60, element="step", ax=ax)
    ax.set_xlabel("mean pixel intensity per image")
    ax.set_title("ink per image")
    return fig


def fig_heatmap(values: np.ndarray, title: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 4.3))
    sns.heatmap(values, ax=ax, cmap="rocket_r", square=True, xticklabels=False, yticklabels=False,
                cbar_kws={"label": "JS (nats)"})
    ax.set_title(title)
    return fig


def fig_classes(shares: dict[str, np.ndarray]) -> plt.Figure:
    """Share of images per class as the classifier labels them (argmax), per set ({label: shares (classes,)})."""
    rows = [pd.DataFrame({"class": np.arange(len(s)), "share": s, "set": label}) for label, s in shares.items()]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    sns.barplot(data=pd.concat(rows), x="class", y="share", hue="set", ax=ax)
    ax.axhline(MODE_MIN_PERCENT / 100, color="grey", lw=1, ls="--")   # a class under it does not count as a mode
    ax.set_xlabel("class predicted by the classifier")
    ax.set_ylabel("share of images")
    ax.set_title(f"class histogram (dashed: the {MODE_MIN_PERCENT}% a class needs to count as a mode)")
    return fig


def fig_ladder(ladder: pd.DataFrame, model: dict[str, float], metrics: tuple[str, ...]) -> plt.Figure:
    """One panel per (metric, degradation): the metric over the degradation's levels, level 0 being undegraded
    real images (the floor); the dashed line is the model's own score. ladder: columns kind, level, <metrics>."""
    kinds = [k for k in ladder["kind"].unique() if k != "none"]
    base = ladder[ladder["kind"] == "none"]
    fig, axes = plt.subplots(len(metrics), len(kinds), figsize=(4.2 * len(kinds), 2.9 * len(metrics)), squeeze=False)
    for r, metric in enumerate(metrics):
        for c, kind in enumerate(kinds):
            ax = axes[r, c]
            rungs = pd.concat([base, ladder[ladder["kind"] == kind]])
            sns.lineplot(data=rungs, x="level", y=metric, marker="o", ax=ax, color="C0", label="degraded real")
            ax.axhline(model[metric], color="C3", ls="--", lw=1.5, label="this model")
            values = np.append(rungs[metric].to_numpy(), model[metric])
            if np.all(values > 0):
                ax.set_yscale("log")   # rungs span orders of magnitude
            ax.set_title(f"{metric} vs {kind}", fontsize=10)
            ax.set_xlabel({"noise": "σ of the ink noise", "blur": "σ (px)", "occlusion": "square side (px)"}.get(kind, kind))
            ax.set_ylabel(metric)
            if (r, c) == (0, 0):
                ax.legend(fontsize=8)
            elif ax.get_legend() is not None:
                ax.get_legend().remove()
    fig.tight_layout()
    return fig


def fig_ladder_examples(examples: dict[str, list[tuple[str, np.ndarray]]]) -> plt.Figure:
    """One row per degradation: (label, uint8 (n, h, w[, 3]) images) per rung, tiled, left to right."""
    cols = max(len(v) for v in examples.values())
    fig, axes = plt.subplots(len(examples), cols, figsize=(1.7 * cols, 1.9 * len(examples)), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for r, rungs in enumerate(examples.values()):
        for c, (label, images) in enumerate(rungs):
            show_images(axes[r, c], images, cols=2)
            axes[r, c].set_title(label, fontsize=8)
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class ToyRun:
    """One trained toy G for fig_toy_runs: its outputs, G on a grid of u (optional), its metrics/toy.json values."""
    name: str
    samples: np.ndarray
    u: np.ndarray | None = None
    g_of_u: np.ndarray | None = None
    metrics: dict | None = None

    def label(self) -> str:
        m = self.metrics
        if not m:
            return self.name
        return (f"{self.name}: KS {m['ks']:.3f} (floor {m['ks_floor']:.3f}), W1 {m['w1']:.3f} ({m['w1_floor']:.3f}), "
                f"JS {m['hist_js']:.4f} ({m['hist_js_floor']:.4f})")


def fig_toy(samples: np.ndarray, u: np.ndarray | None = None, g_of_u: np.ndarray | None = None, *,
            bins: int, lo: float, hi: float) -> plt.Figure:
    """fig_toy_runs of one G."""
    return fig_toy_runs([ToyRun("G", samples, u, g_of_u)], bins=bins, lo=lo, hi=hi)


def fig_toy_runs(runs: list[ToyRun], *, bins: int, lo: float, hi: float) -> plt.Figure:
    """Left: each G's learned quantile function (sorted outputs vs Φ⁻¹(p)), plus G(u) itself when given; its KS, W1
    and histogram JS beside their floors in the legend. Right: each G's output density over the N(0,1) curve on the
    fixed bins the metrics use."""
    check_range(bins, lo, hi)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    edges = np.linspace(lo, hi, bins + 1)
    top = stats.norm.pdf(0)
    several = len(runs) > 1 or any(run.metrics for run in runs)   # one bare G keeps the plain labels
    for i, run in enumerate(runs):
        x = check_samples(run.samples)
        if (run.u is None) != (run.g_of_u is None):
            raise ValueError("pass u and g_of_u together (G evaluated on a grid of u), or neither")
        color = f"C{i}"
        exact, learned = sorted_vs_inverse_cdf(x)
        p = (np.arange(len(x)) + 0.5) / len(x)
        if run.u is not None:
            u, g_of_u = np.asarray(run.u, dtype=np.float64).ravel(), np.asarray(run.g_of_u, dtype=np.float64).ravel()
            if u.shape != g_of_u.shape:
                raise ValueError(f"u and g_of_u must have the same length, got {u.size} and {g_of_u.size}")
            order = np.argsort(u)
            # drawn as G(u), not sorted: a decreasing curve means G learned Φ⁻¹(1-u), which is just as right
            left.plot(u[order], g_of_u[order], lw=0.8, ls=":", color=color, label=f"{run.name}: G(u)" if several else "G(u)")
        left.plot(p, learned, lw=2, color=color, label=run.label() if several else "sorted G outputs (judge this)")

        inside = np.histogram(x, bins=edges)[0]
        # density over ALL n outputs, so mass outside [lo, hi] shows as missing area instead of inflating the bars
        density = inside / (len(x) * np.diff(edges))
        right.stairs(density, edges, fill=len(runs) == 1, alpha=0.6 if len(runs) == 1 else 1, lw=1.5, color=color,
                     label=f"{run.name if several else 'G outputs'} ({1 - inside.sum() / len(x):.1%} outside [{lo:g}, {hi:g}])")
        top = max(top, density.max())
    exact = stats.norm.ppf((np.arange(1000) + 0.5) / 1000)
    left.plot((np.arange(1000) + 0.5) / 1000, exact, ls="--", color="black", lw=1.2, label="Φ⁻¹(p), the exact map")
    left.set_xlabel("quantile level p / noise u")
    left.set_ylabel("value")
    left.set_title("learned quantiles: sorted outputs on Φ⁻¹(p)?")
    left.legend(loc="upper left", fontsize="x-small")
    grid = np.linspace(lo, hi, 400)
    right.plot(grid, stats.norm.pdf(grid), color="black", lw=1.5, ls="--", label="N(0,1) density")
    right.set_ylim(0, 1.3 * top)  # headroom keeps the legend off the bars
    right.set_xlabel("value")
    right.set_ylabel("density")
    right.set_title("output density: bars follow the N(0,1) curve?")
    right.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return fig


def fig_curves_overlay(curves: pd.DataFrame, metrics: list[str]) -> plt.Figure:
    """curves: tidy columns experiment, metric, step, value; one panel per metric, one line per experiment."""
    metrics = [m for m in metrics if m in set(curves["metric"])]
    cols = min(3, max(1, len(metrics)))
    rows = max(1, -(-len(metrics) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.2 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        sns.lineplot(data=curves[curves["metric"] == metric], x="step", y="value", hue="experiment", ax=ax)
        ax.set_title(metric, fontsize=10)
        ax.set_xlabel("generator step")
        ax.set_ylabel("")
        if ax.get_legend() is not None:
            ax.legend(fontsize=7, title=None)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def fig_grids(grids: dict[str, np.ndarray]) -> plt.Figure:
    """Each experiment's fixed-noise sample grid (an image array), side by side, titled by experiment."""
    cols = min(4, max(1, len(grids)))
    rows = max(1, -(-len(grids) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.7 * rows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, (name, image) in zip(axes.flat, grids.items()):
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, interpolation="nearest")
        ax.set_title(name, fontsize=9)
    fig.tight_layout()
    return fig


def fig_seed_dots(runs: pd.DataFrame, groups: list[str], summaries: dict[str, pd.DataFrame]) -> plt.Figure:
    """A study's runs, one panel per metric (summaries: metric -> its table from study.summarise): each seed a
    dot, each group's mean a bar and its interval a line (none for n = 1), the real-vs-real floor dashed."""
    metrics = list(summaries)
    cols = min(2, max(1, len(metrics)))
    rows = max(1, -(-len(metrics) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, (0.5 + 0.45 * len(groups)) * rows + 0.6),
                             squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        data = runs[runs[metric].notna()]
        sns.stripplot(data=data, x=metric, y="group", order=groups, ax=ax, jitter=0.12, size=5, alpha=0.75,
                      color="#4c72b0")
        table = summaries[metric].set_index("group")
        for i, group in enumerate(groups):
            if group not in table.index:
                continue
            row = table.loc[group]
            ax.plot([row["mean"]] * 2, [i - 0.3, i + 0.3], color="#c44e52", lw=2.2)
            if row["n"] >= 2:
                ax.plot([row["lo"], row["hi"]], [i, i], color="#c44e52", lw=1.2)
        floor = table["floor"].dropna()
        if not floor.empty:
            ax.axvline(floor.iloc[0], color="#555", ls="--", lw=1)
        ax.set_title(metric, fontsize=10)
        ax.set_xlabel("")
        ax.set_ylabel("")
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig
