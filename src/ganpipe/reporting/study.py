"""A study: experiments grouped by everything but their seeds, each group's spread over seeds, and the study page.

Lucic et al. (2018) found that most differences between GAN losses vanish within the spread over random seeds,
so a single run per setting can rank them in any order. Owns: grouping experiments whose params differ only in
the seed-like ones; each group's n, mean, standard deviation and t-interval per metric, with its best and worst
seed; the ranking by mean, with the groups whose intervals overlap marked as not distinguishable at this n; and
the page. Reads the experiments through compare.py, the one module that talks to DVC.
Refuses, in one line naming the valid ones: an unknown metric or seed param.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ganpipe.evaluation.registry import HEADLINE, METRICS, higher_is_better
from ganpipe.reporting.compare import CURVE_METRICS, experiments, read_curves, read_grids, revisions
from ganpipe.reporting.figures import fig_curves_overlay, fig_grids, fig_seed_dots
from ganpipe.reporting.page import Section, write_report


def group_runs(exps: pd.DataFrame, params: list[str], seed_params: list[str]) -> pd.DataFrame:
    """exps (one row per experiment: "experiment", params, metrics) with two more columns: "group", the dataset
    and the params that tell the groups apart (`mnist: loss=ns`; `mnist: all runs` when nothing but seeds differs;
    a group never mixes datasets), and "seeds", the values of
    `seed_params` (`seed=2`). Runs whose params are all equal are one run (DVC restores a repeat from its
    run-cache rather than drawing again): the first with metrics is kept."""
    if unknown := [s for s in seed_params if s not in params]:
        raise ValueError(f"unknown seed param {unknown[0]!r}; the params are: {', '.join(sorted(params))}")
    present = [p for p in params if p in exps.columns]
    keys = [p for p in present if p not in seed_params]
    # lists and None compare as text; DVC reports integer params as floats (seed 0.0): shown as integers
    text = exps[present].map(lambda v: int(v) if isinstance(v, float) and v.is_integer() else v).astype(str)
    has_metrics = exps[[k for k in METRICS if k in exps.columns]].notna().any(axis=1)
    order = np.lexsort((np.arange(len(exps)), ~has_metrics.to_numpy()))   # runs with metrics first, else as given
    exps = exps.iloc[order][~text.iloc[order].duplicated().to_numpy()].sort_index()
    text = text.loc[exps.index]
    varied = [p for p in keys if text[p].nunique() > 1 and p != "dataset"]
    label = text[varied].apply(lambda row: ", ".join(f"{p}={v}" for p, v in row.items()), axis=1) if varied else \
        pd.Series("all runs", index=exps.index)
    if "dataset" in text.columns:
        label = text["dataset"] + ": " + label
    seeds = text[[s for s in seed_params if s in present]].apply(
        lambda row: ", ".join(f"{p}={v}" for p, v in row.items()), axis=1)
    return exps.assign(group=label, seeds=seeds).reset_index(drop=True)


def interval(values: np.ndarray, level: float) -> tuple[int, float, float, float, float]:
    """(n, mean, sample std, lo, hi) of the `level` Student-t interval of the mean; with n = 1 the std and the
    interval are NaN (unknown), never zero-wide."""
    values = np.asarray(values, dtype=float)
    n, mean = len(values), float(np.mean(values)) if len(values) else math.nan
    if n < 2:
        return n, mean, math.nan, math.nan, math.nan
    std = float(np.std(values, ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return n, mean, std, mean - half, mean + half


def summarise(runs: pd.DataFrame, metric: str, level: float) -> pd.DataFrame:
    """One row per group, best mean first: n, mean, std, the interval, the best and worst seed, the floor (the mean
    of `<metric>_floor`), and the groups whose intervals overlap this one's ("not distinguishable at this n")."""
    if metric not in runs.columns:
        scored = [k for k in METRICS if k in runs.columns]
        raise ValueError(f"no experiment has the metric {metric!r}; try one of {', '.join(scored) or 'fld'}")
    high = higher_is_better(metric)
    rows = []
    for group, g in runs[runs[metric].notna()].groupby("group", sort=False):
        n, mean, std, lo, hi = interval(g[metric].to_numpy(), level)
        ordered = g.sort_values(metric, ascending=not high)
        floor = g[f"{metric}_floor"].mean() if f"{metric}_floor" in g else math.nan
        rows.append({"group": group, "n": n, "mean": mean, "std": std, "lo": lo, "hi": hi,
                     "best": ordered["seeds"].iloc[0], "worst": ordered["seeds"].iloc[-1], "floor": floor})
    table = pd.DataFrame(rows, columns=["group", "n", "mean", "std", "lo", "hi", "best", "worst", "floor"])
    table = table.sort_values(["mean", "group"], ascending=[not high, True]).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table["not distinguishable from"] = [_overlapping(table, i) for i in range(len(table))]
    return table


def _overlapping(table: pd.DataFrame, i: int) -> str:
    me = table.iloc[i]
    if me["n"] < 2:
        return "n = 1: no interval"
    same = [row["group"] for j, row in table.iterrows()
            if j != i and row["n"] >= 2 and row["lo"] <= me["hi"] and me["lo"] <= row["hi"]]
    return "; ".join(same) if same else "—"


def median_run(g: pd.DataFrame, metric: str) -> str:
    """The experiment whose `metric` is the group's median (the lower middle one for an even n)."""
    ordered = g[g[metric].notna()].sort_values([metric, "experiment"])
    return ordered["experiment"].iloc[(len(ordered) - 1) // 2]


def headline_table(summaries: dict[str, pd.DataFrame], groups: list[str]) -> pd.DataFrame:
    """Each group (rows, in `groups` order) against each metric of `summaries` (metric -> its summarise table):
    "mean [lo, hi]", "mean (n = 1)", or "—" where the group has no value."""
    def cell(row: pd.Series | None) -> str:
        if row is None:
            return "—"
        if row["n"] == 1:
            return f"{row['mean']:.4g} (n = 1)"
        return f"{row['mean']:.4g} [{row['lo']:.4g}, {row['hi']:.4g}]"

    cells = {key: [cell(t.set_index("group").loc[g] if g in set(t["group"]) else None) for g in groups]
             for key, t in summaries.items()}
    return pd.DataFrame({"group": groups, **cells})


def study(repo: Path, params: Path, metric: str, seed_params: list[str], level: float, out: Path, dpi: int, *,
          curves: str, grid: str, log=print) -> pd.DataFrame:
    """Writes out/study.html, study.md and study_figures/; returns the ranked summary of `metric`."""
    exps, param_names = experiments(repo, params, finished_only=False)
    if exps.empty:
        raise ValueError("no experiment to study: queue one with `dvc exp run --queue -S 'seed=0,1,2'` first")
    runs = group_runs(exps, param_names, seed_params)
    table = summarise(runs, metric, level)   # an unknown metric raises here, in one line
    if table.empty:
        raise ValueError(f"no experiment has a value of {metric!r} yet: run the queue (`dvc queue start`) first")
    scored = runs[runs[metric].notna()]
    missing = runs[runs[metric].isna()]
    groups = table["group"].tolist()
    summaries = {k: table if k == metric else summarise(scored, k, level) for k in HEADLINE if k in scored.columns}
    revs = revisions(scored)
    curve_figs = _curve_figures(scored, groups, read_curves(repo, revs, curves))
    medians = {group: median_run(scored[scored["group"] == group], metric) for group in groups}
    grids = read_grids(repo, {m: revs[m] for m in medians.values()}, grid, log)
    grids = {f"{group}\n({scored.set_index('experiment').loc[m, 'seeds']})": grids[m]
             for group, m in medians.items() if m in grids}
    sections = _sections(table, summaries, scored, missing, metric, seed_params, level, curve_figs, grids)
    write_report(out, "ganpipe: a study over seeds",
                 f"{count(len(scored), 'run')} in {count(len(groups), 'group')}, of {repo.resolve().name}",
                 sections, dpi, html_name="study.html", md_name="study.md", fig_dir="study_figures")
    return table


def _curve_figures(scored: pd.DataFrame, groups: list[str], history: pd.DataFrame) -> list[tuple]:
    """(stem, figure, group) for each group with a DVCLive history, its seeds overlaid."""
    figs = []
    for i, group in enumerate(groups):
        g = scored[scored["group"] == group]
        h = history[history["experiment"].isin(g["experiment"])]
        if not h.empty:
            h = h.assign(experiment=h["experiment"].map(dict(zip(g["experiment"], g["seeds"]))))
            figs.append((f"curves_{i + 1}", fig_curves_overlay(h, CURVE_METRICS), group))
    return figs


def _sections(table: pd.DataFrame, summaries: dict, scored: pd.DataFrame, missing: pd.DataFrame, metric: str,
              seed_params: list[str], level: float, curve_figs: list[tuple], grids: dict) -> list[Section]:
    """The study page: the ranking, every headline metric, the seeds, the curves, the samples, what has no value."""
    groups = table["group"].tolist()
    meaning = METRICS[metric].meaning if metric in METRICS else ""
    shown = table.rename(columns={"lo": f"{level:.0%} lo", "hi": f"{level:.0%} hi"})
    close = [f"{a} and {b}" for i, a in enumerate(groups) for b in groups[i + 1:]
             if b in table.loc[i, "not distinguishable from"].split("; ")]
    sections = [
        Section(f"Groups ranked by {metric}",
                f"Experiments whose params differ only in <code>{'</code>, <code>'.join(seed_params)}</code> form a "
                f"group; n is how many seeds it holds. Ranked by the mean of <code>{metric}</code> over its seeds, "
                f"best first{': ' + meaning if meaning else ''}. The interval is the {level:.0%} Student-t interval "
                "of the mean (none with n = 1). Groups whose intervals overlap are not distinguishable at this n"
                + (f": {'; '.join(close)}." if close else "; here none overlap." if len(groups) > 1 else ".")
                + " The floor is the metric for real images against real images.", table=shown),
        Section("Every headline metric", f"Each group's mean over its seeds and its {level:.0%} interval.",
                table=headline_table(summaries, groups)),
        Section("Seeds", "Each seed a dot; each group's mean (a bar) and its interval (a line); the real-vs-real "
                "floor dashed.",
                figures=[("seeds", fig_seed_dots(scored, groups, summaries))]),
        Section("Training curves", "Each group's DVCLive history, its seeds overlaid, one figure per group, in the "
                "ranking's order: " + "; ".join(f"{i + 1}. {g}" for i, (_, _, g) in enumerate(curve_figs)) + "."
                if curve_figs else "No experiment's training curves could be read.",
                figures=[(stem, fig) for stem, fig, _ in curve_figs]),
        Section("Samples", f"The sample grid of each group's median seed by <code>{metric}</code>.",
                figures=[("grids", fig_grids(grids))] if grids else []),
    ]
    if not missing.empty:
        sections.append(Section("Experiments without metrics",
                                f"Not in any group's figures: no value of <code>{metric}</code> (queued, running, "
                                "failed, or outputs not in the cache).",
                                table=missing[["experiment", "group", "seeds"]
                                              + (["State"] if "State" in missing else [])].reset_index(drop=True)))
    return sections


def count(n: int, noun: str) -> str:
    """'1 run', '2 runs'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
