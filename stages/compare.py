"""compare (a command, not a DVC stage): every experiment of this repo side by side -> reports/compare.html
and reports/compare.md. Run it after `dvc exp run` (queued sweeps included: `dvc queue start`, then wait)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from ganpipe.compare import differing_params, fig_curves_overlay, fig_grids, leaderboard
from ganpipe.report import PANELS, Section, write_report
from stages._common import ParamsOpt, echo, fail
from stages.report import FEATURE_METRICS, HEADLINE, flatten

CURVES = "metrics/train/plots/metrics/{}.tsv"
GRID = "data/generated/grid.png"


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


def read_grids(repo: Path, revs: dict[str, str]) -> dict:
    import dvc.api
    import matplotlib.pyplot as plt

    grids = {}
    for exp, rev in revs.items():
        try:
            grids[exp] = plt.imread(io.BytesIO(dvc.api.read(GRID, repo=str(repo), rev=rev, mode="rb")), format="png")
        except Exception as e:
            echo(f"compare: no sample grid for {exp} ({str(e).splitlines()[0]})")
    return grids


def compare(
    metric: Annotated[str, typer.Option(help="leaderboard order: the best first (lower is better but for "
                                             "is_score, precision, recall, density, coverage, modes)")] = "fld",
    out: Annotated[Path, typer.Option(help="folder for compare.html, compare.md, compare_figures/")] = Path("reports"),
    repo: Annotated[Path, typer.Option(help="the DVC repo whose experiments to compare")] = Path("."),
    dpi: Annotated[int, typer.Option(help="figure resolution")] = 100,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Compare every experiment: a leaderboard, the params that differ, overlaid curves, sample grids."""
    try:
        exps, param_names = experiments(repo, repo / params)
    except Exception as e:
        fail(f"cannot read the experiments of {repo}: {str(e).splitlines()[0]}")
    if exps.empty:
        fail("no finished experiment to compare: run `dvc repro` or `dvc exp run` first")
    try:
        board = leaderboard(exps, metric, list(HEADLINE) + [f"{metric}_floor"])
    except ValueError as e:
        fail(str(e))
    diff = differing_params(exps, param_names)
    revs = dict(zip(exps["experiment"], exps["rev"]))
    curves = read_curves(repo, revs)
    grids = read_grids(repo, revs)
    meaning = FEATURE_METRICS.get(metric, "")
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
    echo(f"compare: {out / 'compare.html'} (and {out / 'compare.md'})")
