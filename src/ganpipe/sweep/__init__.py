"""Sweeps beyond one machine: a grid of `dvc exp run -S` points as a SLURM job array, each task in a scratch clone
of the commit, the results shared through the git remote (experiment refs) and the DVC remote (outputs and the
run-cache). DVC's own queue cannot do this: its broker is the local filesystem.

`submit` checks both remotes and every point's params before anything is queued, and leaves out the points whose
experiment the git remote already holds; `collect` reads what each task left, then pulls the experiments."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ganpipe.config import ParamsError, load_params_with
from ganpipe.sweep import slurm
from ganpipe.sweep.grid import Point, parse_grid
from ganpipe.sweep.remotes import (check_dvc_remote, check_published, experiments_on, git_url, head_commit,
                                   pull_experiments)

SWEEPS = ".sweeps"   # under the project: logs and statuses must be on a filesystem the compute nodes share


@dataclass
class Submitted:
    sha: str              # the commit every task runs
    sweep: Path | None    # the sweep's folder (script, logs, statuses); None when nothing was left to run
    job: str | None       # SLURM's job id; None for a dry run or when nothing was left to run
    tasks: list[Point]    # one array task each
    done: list[Point]     # already on the git remote: not submitted again


def submit(repo: Path, params: Path, specs: list[str], *, git_remote: str = "origin", dvc_remote: str | None = None,
           cpus: int = 2, gpus: int = 0, sbatch_args: list[str] = (), dry_run: bool = False,
           log: Callable[[str], None] = print) -> Submitted:
    points = parse_grid(specs)
    for point in points:   # a bad value fails here, not in N tasks on the cluster
        try:
            load_params_with(repo / params, point.overrides)
        except ParamsError as e:
            raise ValueError(f"grid point {point}: {e}") from None
    repo = repo.resolve()   # the script names absolute paths: the tasks run elsewhere
    check_names(repo, points)
    sha = head_commit(repo)
    check_published(repo, git_remote, sha)
    held = experiments_on(repo, git_remote, sha)
    log(f"{check_dvc_remote(repo, dvc_remote)} and git remote {git_remote!r} reached")
    done = [p for p in points if p.name in held]
    if done:
        log(f"{len(done)} of {len(points)} points already on {git_remote!r}, not submitted again: "
            + ", ".join(p.name for p in done))
    running = in_flight(repo, sha)
    if busy := [p for p in points if p.name in running and p not in done]:
        log(f"{len(busy)} points still queued or running in an earlier job, not submitted again: "
            + ", ".join(f"{p.name} (job {running[p.name]})" for p in busy))
    tasks = [p for p in points if p not in done and p not in busy]
    if not tasks:
        return Submitted(sha, None, None, [], done)

    (repo / SWEEPS).mkdir(exist_ok=True)
    sweep = Path(tempfile.mkdtemp(dir=repo / SWEEPS, prefix=f"{time.strftime('%Y%m%d-%H%M%S')}-{sha[:7]}-"))
    try:
        (sweep / "logs").mkdir()
        (sweep / "status").mkdir()
        (sweep / "sweep.sbatch").write_text(slurm.script(
            tasks, sweep=sweep, project=repo, url=git_url(repo, git_remote), sha=sha, dvc_remote=dvc_remote,
            bin_dir=Path(sys.executable).parent, cpus=cpus, gpus=gpus,
            sbatch_args=list(sbatch_args)))
        job = None if dry_run else slurm.submit(sweep / "sweep.sbatch")
    except BaseException:
        shutil.rmtree(sweep, ignore_errors=True)   # nothing half-written: no folder for a sweep that never ran
        raise
    meta = {"sha": sha, "git_remote": git_remote, "dvc_remote": dvc_remote, "job": job,
            "tasks": [{"point": str(p), "name": p.name} for p in tasks]}
    (sweep / "sweep.json").write_text(json.dumps(meta, indent=1) + "\n")
    return Submitted(sha, sweep, job, tasks, done)


def check_names(repo: Path, points: list[Point]) -> None:
    """Each point's experiment name must be a git ref name, and no two points may share one (a value's '/' and
    '_' both become '_')."""
    seen: dict[str, Point] = {}
    for p in points:
        if p.name in seen:
            raise ValueError(f"grid points {seen[p.name]} and {p} would both be named {p.name!r}: rename a value")
        seen[p.name] = p
        if subprocess.run(["git", "check-ref-format", f"refs/exps/ab/cd/{p.name}"], cwd=repo).returncode:
            raise ValueError(f"grid point {p}: {p.name!r} is not a valid experiment (git ref) name")


def in_flight(repo: Path, sha: str) -> dict[str, str]:
    """name -> job, for the points of this commit that an earlier sweep's job still has queued or running."""
    running = {}
    for meta_path in (repo / SWEEPS).glob("*/sweep.json"):
        meta = json.loads(meta_path.read_text())
        if meta["sha"] == sha and meta["job"] and slurm.pending(meta["job"]):
            running.update({t["name"]: meta["job"] for i, t in enumerate(meta["tasks"])
                            if not (meta_path.parent / "status" / str(i)).is_file()})
    return running


def failures(sweep: Path, tasks: list[dict]) -> list[str]:
    """One line per task (sweep.json's "tasks") that did not publish its experiment: its grid point, what it
    left, its log."""
    lines = []
    for i, task in enumerate(tasks):
        state = slurm.status(sweep, i)
        if state != "ok":
            lines.append(f"task {i} ({task['point']}) {state}: log {sweep / 'logs' / f'{i}.log'}")
    return lines


def collect(sweep: Path, repo: Path, log: Callable[[str], None] = print) -> list[str]:
    """Once the job is over: the failed tasks (returned, one line each), and every experiment of the sweep's
    commit pulled from the git remote, with its outputs, beside the local ones."""
    meta_path = sweep / "sweep.json"
    if not meta_path.is_file():
        raise ValueError(f"{sweep} is not a sweep folder (no sweep.json; `ganpipe sweep` writes one)")
    meta = json.loads(meta_path.read_text())
    if meta["job"] and (n := slurm.pending(meta["job"])):
        raise ValueError(f"job {meta['job']} still has {n} tasks pending or running: collect when it is over")
    failed = failures(sweep, meta["tasks"])
    log(f"{len(meta['tasks']) - len(failed)} of {len(meta['tasks'])} tasks published their experiment")
    pull(repo, meta["git_remote"], meta["sha"], meta["dvc_remote"], log)
    return failed


def pull(repo: Path, git_remote: str, sha: str, dvc_remote: str | None, log: Callable[[str], None] = print) -> None:
    held = experiments_on(repo, git_remote, sha)
    pull_experiments(repo, git_remote, sha, dvc_remote)
    log(f"pulled the {len(held)} experiments of {sha[:7]} on {git_remote!r}")
