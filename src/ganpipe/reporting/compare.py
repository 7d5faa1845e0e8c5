"""Experiments side by side: a leaderboard, the params that differ, overlaid curves and sample grids.

Owns: reading every finished experiment of a DVC repo through DVC's API (params, metrics, each one's training
curves and sample grid, from the cache, so queued, temporary and workspace runs alike), and turning them into
tables, figures and the compare page. The only module of the library that talks to DVC.
"""
from __future__ import annotations

import io
from pathlib import Path

import ganpipe.reporting.style  # noqa: F401  (backend and theme, before pyplot)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from ganpipe.evaluation.registry import HEADLINE, METRICS, higher_is_better  # noqa: E402
from ganpipe.reporting.figures import PANELS  # noqa: E402
from ganpipe.reporting.page import Section, write_report  # noqa: E402
from ganpipe.reporting.report import flatten  # noqa: E402

CURVES = "metrics/train/plots/metrics/{}.tsv"   # where the train stage's DVCLive curves are, in every experiment
GRID = "data/generated/grid.png"                 # the generate stage's sample grid


def leaderboard(exps: pd.DataFrame, metric: str, columns: list[str]) -> pd.DataFrame:
    """exps: one row per experiment, column "experiment" plus params and metrics. Sorted best first by `metric`
    (ascending unless higher is better), then by name; `columns` (those present) follow it. An experiment
    without the metric (the baseline commit when its outputs are not in the cache, say) comes last, with no
    rank (NaN; report.write_report shows missing values as "—")."""
    if metric not in exps.columns:
        raise ValueError(f"no experiment has the metric {metric!r}; try one of "
                         f"{', '.join(sorted(c for c in columns if c in exps.columns)) or 'fld'}")
    ascending = not higher_is_better(metric)
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


def experiments(repo: Path, params: Path) -> tuple[pd.DataFrame, list[str]]:
    """One row per experiment (and the baseline commit): name, rev, params and metrics, from DVC's exp show."""
    import dvc.api
    from ruamel.yaml import YAML

    rows = dvc.api.exp_show(str(repo))
    param_names = list(flatten(YAML(typ="safe").load(params)))
    table = []
    for row in rows:
        if row["rev"] == "workspace" or (row.get("State") not in (None, "Success")):
            continue   # the workspace repeats HEAD; queued, running or failed ones have nothing to show
        name = row.get("Experiment") or row["rev"]
        values = {k: (None if v == "!" else v) for k, v in row.items()}   # "!": DVC's mark for a missing value
        table.append({"experiment": name, "rev": name, **values})
    return pd.DataFrame(table), param_names


def read_curves(repo: Path, revs: dict[str, str]) -> pd.DataFrame:
    import dvc.api

    names = [n for names, _ in PANELS.values() for n in names]
    frames = []
    for exp, rev in revs.items():
        for name in names:
            try:
                text = dvc.api.read(CURVES.format(name), repo=str(repo), rev=rev)
            except Exception:   # not logged by this loss (d_real for wgan, say) or not in the cache
                continue
            df = pd.read_csv(io.StringIO(text), sep="\t")
            frames.append(pd.DataFrame({"experiment": exp, "metric": name, "step": df["step"], "value": df[name]}))
    return pd.concat(frames) if frames else pd.DataFrame(columns=["experiment", "metric", "step", "value"])


def read_grids(repo: Path, revs: dict[str, str], log=print) -> dict:
    import dvc.api

    grids = {}
    for exp, rev in revs.items():
        try:
            grids[exp] = plt.imread(io.BytesIO(dvc.api.read(GRID, repo=str(repo), rev=rev, mode="rb")), format="png")
        except Exception as e:
            log(f"compare: no sample grid for {exp} ({str(e).splitlines()[0]})")
    return grids


def compare(repo: Path, params: Path, metric: str, out: Path, dpi: int, log=print) -> int:
    """Writes out/compare.html, compare.md and compare_figures/; returns how many experiments it compared.
    A one-line ValueError when there is nothing to compare or no experiment has `metric`."""
    try:
        exps, param_names = experiments(repo, params)
    except Exception as e:
        raise ValueError(f"cannot read the experiments of {repo}: {str(e).splitlines()[0]}") from None
    if exps.empty:
        raise ValueError("no finished experiment to compare: run `dvc repro` or `dvc exp run` first")
    board = leaderboard(exps, metric, list(HEADLINE) + [f"{metric}_floor"])
    diff = differing_params(exps, param_names)
    revs = dict(zip(exps["experiment"], exps["rev"]))
    curves = read_curves(repo, revs)
    grids = read_grids(repo, revs, log)
    meaning = METRICS[metric].meaning if metric in METRICS else ""
    sections = [
        Section("Leaderboard", f"Sorted by <code>{metric}</code>, best first{': ' + meaning if meaning else ''}. "
                               "Each metric's real-vs-real floor is the best a generator can do at the evaluation's n.",
                table=board),
        Section("Params that differ", "Only the params whose values are not the same in every experiment.",
                table=diff if len(diff.columns) > 1 else None),
        Section("Training curves", "Each experiment's DVCLive history, overlaid.",
                figures=[("curves", fig_curves_overlay(curves, [n for names, _ in PANELS.values() for n in names]))]
                if not curves.empty else []),
        Section("Samples", "Each experiment's sample grid (the generate stage's, fixed seed).",
                figures=[("grids", fig_grids(grids))] if grids else []),
    ]
    write_report(out, "ganpipe: experiments compared", f"{len(exps)} experiments of {repo.resolve().name}",
                 sections, dpi, html_name="compare.html", md_name="compare.md", fig_dir="compare_figures")
    return len(exps)
