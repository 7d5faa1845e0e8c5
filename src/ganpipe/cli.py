"""`ganpipe`: the user commands that are not DVC stages (installed with the package as a console script).
The DVC stages stay `python -m stages <stage>`, as dvc.yaml calls them."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ganpipe.config import ParamsError, load_params
from ganpipe.evaluation.registry import METRICS

# where dvc.yaml's stages leave what compare shows, in every experiment
CURVES = "metrics/train/plots/metrics/{}.tsv"   # train's DVCLive curves, one TSV per metric
GRID = "data/generated/grid.png"                 # generate's sample grid

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def ganpipe() -> None:
    """ganpipe's commands beside the pipeline. The pipeline itself: `dvc repro` (its stages: `python -m stages
    --help`)."""


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@app.command()
def compare(
    metric: Annotated[str, typer.Option(help="leaderboard order, best first: any key of metrics/eval.json (lower is "
                                             "better but for " + ", ".join(k for k, m in METRICS.items()
                                                                            if m.higher_is_better) + ")")] = "fld",
    out: Annotated[Path, typer.Option(help="folder for compare.html, compare.md, compare_figures/")] = Path("reports"),
    repo: Annotated[Path, typer.Option(help="the DVC repo whose experiments to compare")] = Path("."),
    params: Annotated[Path, typer.Option(help="params file, relative to the repo")] = Path("params.yaml"),
    dpi: Annotated[Optional[int], typer.Option(min=1, help="figure resolution; default: report.dpi of the params")] = None,
) -> None:
    """Every experiment side by side: a leaderboard, the params that differ, overlaid curves, sample grids ->
    reports/compare.html and .md. Run it after `dvc exp run` (queued sweeps included: `dvc queue start`, then wait)."""
    from ganpipe.reporting.compare import compare as write_compare

    try:
        dpi = load_params(repo / params).report.dpi if dpi is None else dpi
        n = write_compare(repo, repo / params, metric, out, dpi, curves=CURVES, grid=GRID,
                          log=lambda line: print(line, file=sys.stderr))
    except (ValueError, ParamsError) as e:
        _fail(str(e))
    print(f"compare: {n} experiments -> {out / 'compare.html'} (and {out / 'compare.md'})", file=sys.stderr)


@app.command()
def study(
    metric: Annotated[str, typer.Option(help="the groups' ranking, best mean first: any key of metrics/eval.json")] =
        "fld",
    seed_param: Annotated[list[str], typer.Option(help="a param that only draws another sample (repeat it: "
                                                       "--seed-param seed --seed-param evaluate.seed)")] = ["seed"],
    out: Annotated[Path, typer.Option(help="folder for study.html, study.md, study_figures/")] = Path("reports"),
    repo: Annotated[Path, typer.Option(help="the DVC repo whose experiments to study")] = Path("."),
    params: Annotated[Path, typer.Option(help="params file, relative to the repo")] = Path("params.yaml"),
    dpi: Annotated[Optional[int], typer.Option(min=1, help="figure resolution; default: report.dpi of the params")] = None,
) -> None:
    """Experiments grouped by every param but the seeds: each group's n, mean, spread and interval (evaluate.ci of
    the params) per headline metric, ranked, with overlapping groups marked not distinguishable -> reports/study.html
    and .md. A study in one line: `dvc exp run --queue -S 'loss=ns,hinge' -S 'seed=0,1,2'`, `dvc queue start`."""
    from ganpipe.reporting.study import count, study as write_study

    try:
        p = load_params(repo / params)
        table = write_study(repo, repo / params, metric, seed_param, p.evaluate.ci, out,
                            p.report.dpi if dpi is None else dpi, curves=CURVES, grid=GRID,
                            log=lambda line: print(line, file=sys.stderr))
    except (ValueError, ParamsError) as e:
        _fail(str(e))
    print(f"study: {count(int(table['n'].sum()), 'run')} in {count(len(table), 'group')} -> {out / 'study.html'} "
          f"(and {out / 'study.md'})", file=sys.stderr)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
