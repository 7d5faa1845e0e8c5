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


def _pages(repo: Path, params: Path, metric: str, seed_param: list[str], out: Path) -> None:
    """compare and study pages of every experiment the repo now holds."""
    compare(metric=metric, out=out, repo=repo, params=params, dpi=None)
    study(metric=metric, seed_param=seed_param, out=out, repo=repo, params=params, dpi=None)


def _collected(sweep_dir: Path, repo: Path, params: Path, metric: str, seed_param: list[str], out: Path) -> None:
    from ganpipe.sweep import collect as collect_sweep

    try:
        failed = collect_sweep(sweep_dir, repo, log=lambda line: print(line, file=sys.stderr))
    except ValueError as e:
        _fail(str(e))
    for line in failed:   # first, so no later error hides them; the other tasks' results are kept and shown
        typer.echo(f"error: {line}", err=True)
    _pages(repo, params, metric, seed_param, out)
    if failed:
        raise typer.Exit(1)


SEEDS = typer.Option(help="a param that only draws another sample, for the study page (repeatable)")


@app.command()
def sweep(
    grid: Annotated[list[str], typer.Option(help="PARAM=V1,V2,... (or range(1,4), choice(a,b), ...) read as `dvc "
                                                 "exp run -S` reads it; repeat it: one SLURM array task per "
                                                 "combination")] = [],
    git_remote: Annotated[str, typer.Option(help="the git remote the tasks clone from and push experiments to")] =
        "origin",
    remote: Annotated[Optional[str], typer.Option(help="the DVC remote; default: the project's default remote")] =
        None,
    cpus: Annotated[int, typer.Option(min=1, help="--cpus-per-task of each task")] = 2,
    gpus: Annotated[int, typer.Option(min=0, help="GPUs per task (--gres=gpu:N); SLURM sets CUDA_VISIBLE_DEVICES")]
        = 0,
    sbatch: Annotated[list[str], typer.Option(help="one more sbatch option, joined by '=': "
                                                   "--sbatch=--partition=gpu (repeatable)")] = [],
    wait: Annotated[bool, typer.Option(help="wait for the job, then collect: pull the experiments, write the pages")]
        = False,
    poll: Annotated[float, typer.Option(min=0.1, help="seconds between two squeue calls while waiting")] = 30.0,
    dry_run: Annotated[bool, typer.Option(help="check and write the sbatch script, submit nothing")] = False,
    metric: Annotated[str, typer.Option(help="the pages' ranking metric")] = "fld",
    seed_param: Annotated[list[str], SEEDS] = ["seed"],
    out: Annotated[Path, typer.Option(help="folder for the compare and study pages")] = Path("reports"),
    repo: Annotated[Path, typer.Option(help="the project: a DVC repo with a git remote and a DVC remote")] =
        Path("."),
) -> None:
    """A grid of experiments on a SLURM cluster: one array task per point, each in a scratch clone of HEAD (which
    must be pushed), running `dvc pull`, `dvc exp run -S ...`, `dvc push --run-cache` and `dvc exp push`. Points
    whose experiment the git remote already holds are not submitted again. Logs and statuses: .sweeps/<id>/."""
    from ganpipe.sweep import slurm, submit

    log = lambda line: print(line, file=sys.stderr)   # noqa: E731
    params = Path("params.yaml")   # the file `dvc exp run -S` edits
    try:
        s = submit(repo, params, grid, git_remote=git_remote, dvc_remote=remote, cpus=cpus, gpus=gpus,
                   sbatch_args=sbatch, dry_run=dry_run, log=log)
    except ValueError as e:
        _fail(str(e))
    if s.sweep is not None and s.job is None:
        log(f"dry run: {len(s.tasks)} tasks in {s.sweep / 'sweep.sbatch'}, not submitted")
    elif s.sweep is None:
        log("nothing to submit: every point is done")
        if wait:   # every experiment is on the git remote already: fetch them and write the pages
            _pulled(repo, git_remote, s.sha, remote)
            _pages(repo, params, metric, seed_param, out)
    else:
        log(f"submitted job {s.job}: {len(s.tasks)} tasks; logs in {s.sweep / 'logs'}")
        if not wait:
            log(f"when it is over: ganpipe collect {s.sweep}")
            return
        slurm.wait(s.job, poll, log)
        _collected(s.sweep, repo, params, metric, seed_param, out)


def _pulled(repo: Path, git_remote: str, sha: str, remote: Optional[str]) -> None:
    from ganpipe.sweep import pull

    try:
        pull(repo, git_remote, sha, remote, lambda line: print(line, file=sys.stderr))
    except ValueError as e:
        _fail(str(e))


@app.command()
def collect(
    sweep_dir: Annotated[Path, typer.Argument(help="the sweep's folder, .sweeps/<id>, as `ganpipe sweep` printed")],
    metric: Annotated[str, typer.Option(help="the pages' ranking metric")] = "fld",
    seed_param: Annotated[list[str], SEEDS] = ["seed"],
    out: Annotated[Path, typer.Option(help="folder for the compare and study pages")] = Path("reports"),
    repo: Annotated[Path, typer.Option(help="the project the sweep was submitted from")] = Path("."),
) -> None:
    """After a sweep's job: report each failed task (its grid point, what it left, its log), pull every
    experiment of the sweep's commit from the git remote, and write the compare and study pages. Exits 1 when a
    task failed; the others' results are kept."""
    _collected(sweep_dir, repo, Path("params.yaml"), metric, seed_param, out)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
