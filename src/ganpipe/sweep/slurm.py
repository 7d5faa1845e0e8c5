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
case $$i in
$cases
esac
step=set-up
scratch=$$(mktemp -d "$${TMPDIR:-/tmp}/ganpipe-sweep.XXXXXX")
finish() {
  rc=$$?
  [ -s "$$status" ] || echo "failed during $$step (exit $$rc)" > "$$status"
  cd / && rm -rf "$$scratch"
}
trap finish EXIT
trap 'echo "cancelled during $$step" > "$$status"; exit 143' TERM INT
export PATH=$bin:$$PATH DVC_NO_ANALYTICS=1
echo "task $$i: $$name on $$(hostname) in $$scratch"

step=clone
git clone --quiet $url "$$scratch/repo"
cd "$$scratch/repo"
git checkout --quiet --detach $sha
if [ -f $project/.dvc/config.local ]; then cp $project/.dvc/config.local .dvc/config.local; fi
export PYTHONPATH=$$scratch/repo/src$${PYTHONPATH:+:$$PYTHONPATH}   # this commit's code, not an installed copy

step=pull      # what the commit's dvc.lock names, and every run-cache entry (a few bytes each)
dvc pull --run-cache --allow-missing$remote
step=run       # --pull: a stage someone already ran with these params is restored from the remote, not run
dvc exp run --pull --name "$$name" "$${point[@]}"
step=push      # the outputs first, then the run-cache entries that point at them
dvc push$remote
dvc push --run-cache$remote
step=publish   # last: the experiment's ref; its outputs are already on the DVC remote
dvc exp push --no-cache $git_remote "$$name"
echo ok > "$$status"
echo "task $$i: $$name published after $$SECONDS s"
""")


def script(points: list[Point], *, sweep: Path, project: Path, url: str, sha: str, git_remote: str,
           dvc_remote: str | None, bin_dir: Path, cpus: int, gpus: int, sbatch_args: list[str]) -> str:
    q = shlex.quote
    extra = ([f"#SBATCH --gres=gpu:{gpus}"] if gpus else []) + [f"#SBATCH {a}" for a in sbatch_args]
    cases = "\n".join(f"  {i}) name={q(p.name)}; point=({' '.join(q(a) for a in p.set_args)}) ;;"
                      for i, p in enumerate(points))
    return TASK.substitute(
        last=len(points) - 1, logs=sweep / "logs", cpus=cpus, extra="\n".join(extra), sha=sha,
        sweep=q(str(sweep)), cases=cases, bin=q(str(bin_dir)), url=q(url),
        project=q(str(project)), remote=f" --remote {q(dvc_remote)}" if dvc_remote else "", git_remote=q(git_remote))


def submit(path: Path) -> str:
    """sbatch the script; return the job id."""
    try:
        r = subprocess.run(["sbatch", "--parsable", str(path)], capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise ValueError("sbatch not found: run `ganpipe sweep` on a SLURM login node (or --dry-run to write the "
                         "script only)") from None
    if r.returncode:
        raise ValueError(f"sbatch refused {path}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
    return r.stdout.strip().split(";")[0]


def pending(job: str) -> int:
    """How many of the job's tasks SLURM still lists (pending or running); 0 once it has forgotten the job (or
    where there is no squeue to ask: the statuses the tasks wrote are then all there is to go by)."""
    try:
        r = subprocess.run(["squeue", "--noheader", "--array", "--jobs", job, "--format=%i"], capture_output=True,
                           text=True, timeout=120)
    except FileNotFoundError:
        return 0
    return len(r.stdout.split()) if r.returncode == 0 else 0


def wait(job: str, poll_s: float, log: Callable[[str], None]) -> None:
    last = None
    while n := pending(job):
        if n != last:
            log(f"job {job}: {n} task{'s' if n != 1 else ''} pending or running")
            last = n
        time.sleep(poll_s)


def status(sweep: Path, task: int) -> str:
    """What task `task` left: 'ok', 'failed during <step> (exit N)', 'cancelled during <step>', or, when it was
    killed before it could say (SIGKILL after a time limit, a lost node), that."""
    path = sweep / "status" / str(task)
    return path.read_text().strip() if path.is_file() else "left no status (killed: time limit, node lost?)"
