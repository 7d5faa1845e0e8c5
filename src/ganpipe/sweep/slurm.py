"""SLURM's side of a sweep: the array script (one task per grid point), sbatch, squeue, and the status file each
task leaves in the sweep folder.

Each task works in a scratch clone of the sweep's commit, never in the project: parallel `dvc exp run` in one
workspace collide on DVC's repo lock (iterative/dvc#7419). A task publishes nothing until its run has succeeded,
and publishes in an order that a cancel at any moment leaves consistent: data first, then the run-cache entries
that point at it, then the experiment's git ref (a single ref update, which git applies whole or not at all)."""
from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from string import Template

from ganpipe.sweep.grid import Point

TASK = Template("""\
#!/usr/bin/env bash
#SBATCH --job-name=ganpipe-sweep
#SBATCH --array=0-$last
#SBATCH --output=$logs/%a.log
#SBATCH --cpus-per-task=$cpus
$extra
# Written by `ganpipe sweep`: one grid point per array task, each in a scratch clone of commit $sha.
# `ganpipe collect $sweep` reads what the tasks left; `ganpipe sweep` with the same grid resubmits only the
# points whose experiment the git remote lacks.
set -euo pipefail
sweep=$sweep
i=$$SLURM_ARRAY_TASK_ID
status=$$sweep/status/$$i
rm -f "$$status"   # a requeued task starts afresh
case $$i in
$cases
esac
step=set-up
scratch=$$(mktemp -d "$${TMPDIR:-/tmp}/ganpipe-sweep.XXXXXX")
finish() {
  rc=$$?
  trap - TERM INT   # a late SIGTERM must not cut the clean-up short
  [ -s "$$status" ] || echo "failed during $$step (exit $$rc)" > "$$status"
  cd / && rm -rf "$$scratch"
}
trap finish EXIT
# SLURM's SIGTERM (scancel, the time limit, preemption; SIGKILL follows after KillWait)
trap '[ -s "$$status" ] || echo "stopped during $$step (SIGTERM: scancel, time limit or preemption)" > "$$status"
      exit 143' TERM INT
export PATH=$bin:$$PATH DVC_NO_ANALYTICS=1
echo "task $$i: $$name on $$(hostname) in $$scratch"

step=clone       # the clone calls its git remote origin, whatever the project calls it
git clone --quiet $url "$$scratch/repo"
cd "$$scratch/repo"
git checkout --quiet --detach $sha
if [ -f $project/.dvc/config.local ]; then cp $project/.dvc/config.local .dvc/config.local; fi
${default_remote}# this commit's code, not the installed copy
export PYTHONPATH=$$scratch/repo/src$${PYTHONPATH:+:$$PYTHONPATH}

step=pull      # what the commit's dvc.lock names, and every run-cache entry (a few bytes each)
dvc pull --run-cache --allow-missing
step=run       # --pull: a stage someone already ran with these params is restored from the remote, not run
dvc exp run --pull --name "$$name" "$${point[@]}"
step=push      # the outputs first, then the run-cache entries that point at them
dvc push
dvc push --run-cache
step=publish   # last: the experiment's ref; its outputs are already on the DVC remote
dvc exp push --no-cache origin "$$name"
echo ok > "$$status"
echo "task $$i: $$name published after $$SECONDS s"
""")


def script(points: list[Point], *, sweep: Path, project: Path, url: str, sha: str, dvc_remote: str | None,
           bin_dir: Path, cpus: int, gpus: int, sbatch_args: list[str]) -> str:
    q = shlex.quote
    extra = ([f"#SBATCH --gres=gpu:{gpus}"] if gpus else []) + [f"#SBATCH {a}" for a in sbatch_args]
    cases = "\n".join(f"  {i}) name={q(p.name)}; point=({' '.join(q(a) for a in p.set_args)}) ;;"
                      for i, p in enumerate(points))
    return TASK.substitute(
        last=len(points) - 1, logs=sweep / "logs", cpus=cpus, extra="\n".join(extra), sha=sha,
        sweep=q(str(sweep)), cases=cases, bin=q(str(bin_dir)), url=q(url),
        project=q(str(project)),
        # `dvc exp run --pull` restores from the default remote only: the chosen one becomes the clone's default
        default_remote=f"dvc remote default --local {q(dvc_remote)}\n" if dvc_remote else "")


def submit(path: Path) -> str:
    """sbatch the script; return the job id."""
    try:
        r = subprocess.run(["sbatch", "--parsable", str(path)], capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise ValueError("sbatch not found: run `ganpipe sweep` on a SLURM login node (or --dry-run to write the "
                         "script only)") from None
    except subprocess.TimeoutExpired:
        raise ValueError("sbatch got no answer from slurmctld in 120 s: nothing was submitted") from None
    if r.returncode:
        why = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"
        raise ValueError(f"sbatch refused {path}: {why}")
    return r.stdout.strip().split(";")[0]


def pending(job: str) -> int:
    """How many of the job's tasks SLURM still lists (pending or running); 0 once it is over: listed no more, or
    forgotten ("Invalid job id", after MinJobAge), or no squeue to ask (the tasks' statuses are then all there is
    to go by). Raises ValueError, in one line, when squeue cannot say (slurmctld not answering)."""
    try:
        r = subprocess.run(["squeue", "--noheader", "--array", "--jobs", job, "--format=%i"], capture_output=True,
                           text=True, timeout=120)
    except FileNotFoundError:
        return 0
    except subprocess.TimeoutExpired:
        raise ValueError(f"squeue got no answer about job {job} in 120 s") from None
    if r.returncode == 0:
        return len(r.stdout.split())
    if "invalid job id" in r.stderr.lower():
        return 0
    raise ValueError(f"squeue cannot say how job {job} stands: {r.stderr.strip() or r.returncode}")


def wait(job: str, poll_s: float, log: Callable[[str], None], patience: int = 10) -> None:
    """Until the job is over; `patience` failed squeue calls in a row (a restarting slurmctld) before giving up."""
    last, failed = None, 0
    while True:
        try:
            n = pending(job)
            failed = 0
        except ValueError:
            failed += 1
            if failed >= patience:
                raise
            n = last
        if n == 0:
            return
        if n != last:
            log(f"job {job}: {n} task{'s' if n != 1 else ''} pending or running")
            last = n
        time.sleep(poll_s)


def status(sweep: Path, task: int) -> str:
    """What task `task` left: 'ok', 'failed during <step> (exit N)', 'stopped during <step> (SIGTERM: ...)', or,
    when it was killed before it could say (SIGKILL, a lost node), that."""
    path = sweep / "status" / str(task)
    return path.read_text().strip() if path.is_file() else "left no status (killed: SIGKILL or a lost node?)"
