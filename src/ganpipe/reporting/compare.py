"""Experiments side by side: a leaderboard, the params that differ, overlaid curves and sample grids.

Owns: reading every finished experiment of a DVC repo through DVC's API (params, metrics, each one's training
curves and sample grid, from the cache, so queued, temporary and workspace runs alike), and turning them into
the compare page. With sweep/, the only part of the library that talks to DVC; which files hold the curves and
the grid is the caller's to say (cli.py, from dvc.yaml's layout).
"""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ganpipe.io import first_line
from ganpipe.evaluation.registry import HEADLINE, METRICS, higher_is_better
from ganpipe.reporting.figures import PANELS, fig_curves_overlay, fig_grids
from ganpipe.reporting.page import Section, write_report
from ganpipe.reporting.report import flatten

CURVE_METRICS = [n for names, _ in PANELS.values() for n in names]   # train's DVCLive curves, in panel order


def leaderboard(exps: pd.DataFrame, metric: str, columns: list[str]) -> pd.DataFrame:
    """exps: one row per experiment, column "experiment" plus params and metrics. Sorted best first by `metric`
    (ascending unless higher is better), then by name; each run's dataset comes before it, and `columns` (those
    present) after it. An experiment
    without the metric (the baseline commit when its outputs are not in the cache, say) comes last, with no
    rank (NaN; page.write_report shows missing values as "—")."""
    if metric not in exps.columns:
        raise ValueError(f"no experiment has the metric {metric!r}; try one of "
                         f"{', '.join(sorted(c for c in columns if c in exps.columns)) or 'fld'}")
    ascending = not higher_is_better(metric)
    named = ["experiment", "dataset"] if "dataset" in exps.columns else ["experiment"]
    shown = named + [metric] + [c for c in columns if c in exps.columns and c not in (metric, *named)]
    board = exps.sort_values([metric, "experiment"], ascending=[ascending, True], na_position="last")[shown]
    board.insert(0, "rank", np.where(board[metric].notna(), np.arange(1, len(board) + 1), np.nan))
    return board.reset_index(drop=True)


def differing_params(exps: pd.DataFrame, params: list[str]) -> pd.DataFrame:
    """experiment + the params whose values are not the same in every experiment."""
    varied = [p for p in params if p in exps.columns and exps[p].astype(str).nunique(dropna=False) > 1]
    return exps[["experiment", *varied]].reset_index(drop=True)


def experiments(repo: Path, params: Path, finished_only: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """One row per experiment (and the baseline commit): name, rev, params and metrics, from DVC's exp show; with
    finished_only=False also the queued, running and failed ones (DVC's "State" column says which). The workspace
    is a row (rev None, which DVC reads as the working tree) only when it differs from the commit it sits on:
    after a `dvc repro` whose results are not committed yet."""
    import dvc.api
    from ruamel.yaml import YAML

    try:
        rows = dvc.api.exp_show(str(repo))
    except Exception as e:
        raise ValueError(f"cannot read the experiments of {repo}: {first_line(e)}") from None
    param_names = list(flatten(YAML(typ="safe").load(params)))
    table = []
    for row in rows:
        if finished_only and row.get("State") not in (None, "Success"):
            continue   # queued, running or failed ones have nothing to show
        name = row.get("Experiment") or row["rev"]
        values = {k: (None if v == "!" else v) for k, v in row.items()}   # "!": DVC's mark for a missing value
        table.append({"experiment": name, **values, "rev": None if name == "workspace" else name})
    keys = [k for k in (*param_names, *METRICS) if any(k in r for r in table)]
    if len(table) > 1 and table[0]["experiment"] == "workspace" and \
            all(table[0].get(k) == table[1].get(k) for k in keys):
        table = table[1:]   # the workspace repeats HEAD
    return pd.DataFrame(table), param_names


def revisions(exps: pd.DataFrame) -> dict[str, str | None]:
    """experiment -> the rev its files are read at: None for the workspace (NaN once it passed through pandas)."""
    return {exp: rev if isinstance(rev, str) else None for exp, rev in zip(exps["experiment"], exps["rev"])}


def read_curves(repo: Path, revs: dict[str, str | None], curves: str) -> pd.DataFrame:
    """Each experiment's DVCLive curves (`curves`: the path of one metric's TSV, with {} for its name), tidy."""
    import dvc.api

    frames = []
    for exp, rev in revs.items():
        for name in CURVE_METRICS:
            try:
                text = dvc.api.read(curves.format(name), repo=str(repo), rev=rev)
            except Exception:   # not logged by this loss (d_real for wgan, say) or not in the cache
                continue
            df = pd.read_csv(io.StringIO(text), sep="\t")
            frames.append(pd.DataFrame({"experiment": exp, "metric": name, "step": df["step"], "value": df[name]}))
    return pd.concat(frames) if frames else pd.DataFrame(columns=["experiment", "metric", "step", "value"])


def read_grids(repo: Path, revs: dict[str, str | None], grid: str, log=print) -> dict:
    """Each experiment's sample grid image (`grid`: its path in the repo)."""
    import dvc.api

    grids = {}
    for exp, rev in revs.items():
        try:
            grids[exp] = plt.imread(io.BytesIO(dvc.api.read(grid, repo=str(repo), rev=rev, mode="rb")), format="png")
        except Exception as e:
            log(f"compare: no sample grid for {exp} ({first_line(e)})")
    return grids


def compare(repo: Path, params: Path, metric: str, out: Path, dpi: int, *, curves: str, grid: str, log=print) -> int:
    """Writes out/compare.html, compare.md and compare_figures/; returns how many experiments it compared.
    A one-line ValueError when there is nothing to compare or no experiment has `metric`."""
    exps, param_names = experiments(repo, params)
    if exps.empty:
        raise ValueError("no finished experiment to compare: run `dvc repro` or `dvc exp run` first")
    board = leaderboard(exps, metric, list(HEADLINE) + [f"{metric}_floor"])
    diff = differing_params(exps, param_names)
    revs = revisions(exps)
    history = read_curves(repo, revs, curves)
    grids = read_grids(repo, revs, grid, log)
    meaning = METRICS[metric].meaning if metric in METRICS else ""
    sections = [
        Section("Leaderboard", f"Sorted by <code>{metric}</code>, best first{': ' + meaning if meaning else ''}. "
                               "Each metric's real-vs-real floor is the best a generator can do at the evaluation's n.",
                table=board),
        Section("Params that differ", "Only the params whose values are not the same in every experiment.",
                table=diff if len(diff.columns) > 1 else None),
        Section("Training curves", "Each experiment's DVCLive history, overlaid.",
                figures=[("curves", fig_curves_overlay(history, CURVE_METRICS))]
                if not history.empty else []),
        Section("Samples", "Each experiment's sample grid (the generate stage's, fixed seed).",
                figures=[("grids", fig_grids(grids))] if grids else []),
    ]
    write_report(out, "ganpipe: experiments compared", f"{len(exps)} experiments of {repo.resolve().name}",
                 sections, dpi, html_name="compare.html", md_name="compare.md", fig_dir="compare_figures")
    return len(exps)
