"""Experiments side by side: a leaderboard, the params that differ, overlaid curves and sample grids.

Owns: turning rows of experiments (name, params, metrics) into tables and figures.
Refuses: reading DVC or files (the compare command gathers the rows, curves and grids).
"""
from __future__ import annotations

import ganpipe.style  # noqa: F401  (backend and theme, before pyplot)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

HIGHER_IS_BETTER = {"is_score", "precision", "recall", "density", "coverage", "modes"}


def leaderboard(exps: pd.DataFrame, metric: str, columns: list[str]) -> pd.DataFrame:
    """exps: one row per experiment, column "experiment" plus params and metrics. Sorted best first by `metric`
    (ascending unless higher is better), then by name; `columns` (those present) follow it. An experiment
    without the metric (the baseline commit when its outputs are not in the cache, say) comes last, with no
    rank (NaN; report.write_report shows missing values as "—")."""
    if metric not in exps.columns:
        raise ValueError(f"no experiment has the metric {metric!r}; try one of "
                         f"{', '.join(sorted(c for c in columns if c in exps.columns)) or 'fld'}")
    ascending = metric not in HIGHER_IS_BETTER
    shown = ["experiment", metric] + [c for c in columns if c in exps.columns and c not in (metric, "experiment")]
    board = exps.sort_values([metric, "experiment"], ascending=[ascending, True], na_position="last")[shown]
    board.insert(0, "rank", np.where(board[metric].notna(), np.arange(1, len(board) + 1), np.nan))
    return board.reset_index(drop=True)


def differing_params(exps: pd.DataFrame, params: list[str]) -> pd.DataFrame:
    """experiment + the params whose values are not the same in every experiment."""
    varied = [p for p in params if p in exps.columns and exps[p].astype(str).nunique(dropna=False) > 1]
    return exps[["experiment", *varied]].reset_index(drop=True)


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
