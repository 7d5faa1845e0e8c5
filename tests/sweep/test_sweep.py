"""`ganpipe sweep` and `ganpipe collect`: the grid, the array script, and, end to end, a real SLURM cluster, a
real S3 store and a bare git origin, all on the loopback (tests/services.py starts and stops them)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganpipe.config import ParamsError, load_params_with
from ganpipe.sweep import check_names, failures, slurm
from ganpipe.sweep.grid import parse_grid
from tests.helpers import DVC, ENV, ROOT, make_project, ran, run
from tests.services import seaweedfs, slurm_cluster

GANPIPE = [sys.executable, "-m", "ganpipe.cli"]


def test_points_whose_names_collide_or_are_no_ref_are_refused_before_submission(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with pytest.raises(ValueError, match="grid points fetch.local_dir=a/b and fetch.local_dir=a_b would both be named"):
        check_names(tmp_path, parse_grid(["fetch.local_dir=a/b,a_b"]))
    with pytest.raises(ValueError, match="is not a valid experiment"):
        check_names(tmp_path, parse_grid(["fetch.local_dir=a..b"]))
    check_names(tmp_path, parse_grid(["lr=1e-4,2e-4", "seed=0,1"]))


def test_a_point_is_validated_as_dvc_would_run_it():
    p = ROOT / "params.yaml"
    assert load_params_with(p, {"lr": "1e-4", "train.steps": "20", "loss": "ns"}).lr == 1e-4   # Hydra: a float
    assert load_params_with(p, {"train.steps": "20"}).train.steps == 20
    for overrides, message in (({"lr": "-1"}, "params.yaml: lr: must be > 0 (got -1)"),
                               ({"train.stepz": "1"}, "params.yaml: train.stepz: unknown key"),
                               ({"seed.x": "1"}, "params.yaml: seed.x: unknown key"),
                               ({"loss": "["}, "params.yaml: loss: '[' is not a value -S takes: no viable alternative"),
                               ({"lr": "1,2"}, "params.yaml: lr: '1,2' is a sweep, not one value")):
        with pytest.raises(ParamsError, match=re.escape(message)):
            load_params_with(p, overrides)


def test_a_point_that_breaks_a_rule_across_keys_is_refused_in_one_line_before_anything_is_submitted(tmp_path):
    # the floors' reference set holds classifier.reference_images (10,000) images: 20,000 samples cannot be scored
    from ganpipe.sweep import submit

    with pytest.raises(ValueError) as e:
        submit(ROOT, Path("params.yaml"), ["evaluate.samples=1000,20000"], log=lambda line: None)
    assert str(e.value) == (f"grid point evaluate.samples=20000: {ROOT / 'params.yaml'}: evaluate.samples (20000) "
                            "exceeds classifier.reference_images (10000): each floor compares n real images to n "
                            "others")
    assert not (ROOT / ".sweeps").exists() or not any((ROOT / ".sweeps").iterdir())


def _script(tmp_path: Path, gpus: int = 0, remote: str | None = None) -> str:
    return slurm.script(parse_grid(["lr=1e-4,2e-4", "seed=0"]), sweep=tmp_path / "s", project=tmp_path,
                        url="/srv/git/origin.git", sha="ab" * 20, dvc_remote=remote,
                        bin_dir=Path("/venv/bin"), cpus=3, gpus=gpus, sbatch_args=["--partition=gpu"])


def test_the_array_script_runs_one_point_per_task_and_publishes_last(tmp_path):
    text = _script(tmp_path)
    head = text.split("set -euo pipefail")[0]
    assert "#SBATCH --array=0-1" in head and "#SBATCH --cpus-per-task=3" in head
    assert "#SBATCH --partition=gpu" in head and "--gres" not in head
    assert f"#SBATCH --output={tmp_path}/s/logs/%a.log" in head
    assert "0) name=lr=0.0001,seed=0; point=(-S lr=0.0001 -S seed=0) ;;" in text
    assert "1) name=lr=0.0002,seed=0; point=(-S lr=0.0002 -S seed=0) ;;" in text
    assert f"git checkout --quiet --detach {'ab' * 20}" in text
    order = [line for line in text.splitlines() if line.startswith("dvc ")]
    assert order == ["dvc pull --run-cache --allow-missing", "dvc exp run --pull --name \"$name\" \"${point[@]}\"",
                     "dvc push", "dvc push --run-cache", "dvc exp push --no-cache origin \"$name\""]
    assert "#SBATCH --gres=gpu:1" in _script(tmp_path, gpus=1)
    assert "dvc remote default --local shared" in _script(tmp_path, remote="shared")   # what --pull restores from
    assert "dvc remote default" not in text
    bash = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)
    assert bash.returncode == 0, bash.stderr


def test_failures_name_the_point_what_it_left_and_its_log(tmp_path):
    sweep = tmp_path / "s"
    (sweep / "status").mkdir(parents=True)
    tasks = [{"point": "lr=1", "name": "lr=1"}, {"point": "lr=2", "name": "lr=2"}, {"point": "lr=3", "name": "lr=3"}]
    (sweep / "status/0").write_text("ok\n")
    (sweep / "status/1").write_text("failed during run (exit 1)\n")
    assert failures(sweep, tasks) == [f"task 1 (lr=2) failed during run (exit 1): log {sweep}/logs/1.log",
                               f"task 2 (lr=3) left no status (killed: SIGKILL or a lost node?): "
                               f"log {sweep}/logs/2.log"]


# ---- end to end: a SLURM cluster, an S3 store and a git origin on the loopback ----

@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A project with tiny params, its dvc.lock committed and pushed with its outputs and run-cache to the S3
    remote, and the commit pushed to a bare origin; the cluster's environment."""
    root = tmp_path_factory.mktemp("lab")
    with seaweedfs(root / "s3") as s3, slurm_cluster(root / "slurm") as slurm_env:
        env = {**ENV, **s3.env, "SLURM_CONF": slurm_env["SLURM_CONF"]}
        origin = root / "origin.git"
        subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(origin)], check=True)
        project = make_project(root / "project")
        for cmd in (DVC + ["remote", "add", "-d", "shared", "s3://ganpipe/store"],
                    DVC + ["remote", "modify", "shared", "endpointurl", s3.endpoint],
                    ["git", "remote", "add", "origin", str(origin)]):
            run(cmd, project, env)
        t0 = time.monotonic()
        run(DVC + ["repro"], project, env)
        run(["git", "add", "-A"], project, env)   # dvc.lock, .dvc/config, the outputs' .gitignore files
        run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "baseline"], project, env)
        run(DVC + ["push", "--run-cache"], project, env)
        run(["git", "push", "-q", "origin", "HEAD:main"], project, env)
        print(f"baseline repro and push: {time.monotonic() - t0:.0f} s")
        yield {"project": project, "env": env, "origin": origin, "root": root, "s3": s3.endpoint}


def _ganpipe(lab, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(GANPIPE + list(args), cwd=lab["project"], env=lab["env"], capture_output=True, text=True)


def _refs(origin: Path) -> list[str]:
    out = subprocess.run(["git", "ls-remote", str(origin), "refs/exps/*"], capture_output=True, text=True).stdout
    return sorted(line.rsplit("/", 1)[1] for line in out.splitlines())


GRID = ["--grid", "lr=0.0001,0.0003", "--grid", "seed=0,1"]
NAMES = sorted(f"lr={lr},seed={s}" for lr in ("0.0001", "0.0003") for s in "01")


@pytest.mark.e2e
def test_a_2x2_sweep_on_slurm_publishes_four_experiments_and_a_second_submission_trains_nothing(lab):
    t0 = time.monotonic()
    r = _ganpipe(lab, "sweep", *GRID, "--cpus", "1", "--wait", "--poll", "1")
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr + "".join(p.read_text() for p in lab["project"].glob(".sweeps/*/logs/*.log"))
    print(f"2x2 sweep, submit to pages: {took:.0f} s")
    assert "submitted job" in r.stderr and "4 of 4 tasks published their experiment" in r.stderr
    assert "pulled the 4 experiments" in r.stderr
    assert _refs(lab["origin"]) == NAMES
    md = (lab["project"] / "reports/compare.md").read_text()
    assert all(name in md for name in NAMES), md                   # pulled experiments, shown like local ones
    study = (lab["project"] / "reports/study.md").read_text()
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in study.splitlines() if line.startswith("|")]
    groups = [r for r in rows if r[1] in ("mnist: lr=0.0001", "mnist: lr=0.0003")]
    assert sorted(r[1] for r in groups) == ["mnist: lr=0.0001", "mnist: lr=0.0003"]   # each group names its dataset
    assert [r[2] for r in groups] == ["2", "2"]
    logs = sorted((lab["project"] / ".sweeps").glob("*/logs/*.log"))
    assert len(logs) == 4 and all("published" in log.read_text() for log in logs)
    assert all("Running stage 'train'" in log.read_text() for log in logs)          # each point trained once
    assert not any("Running stage 'classifier'" in log.read_text() for log in logs)  # restored from the remote

    t0 = time.monotonic()
    again = _ganpipe(lab, "sweep", *GRID, "--cpus", "1", "--wait", "--poll", "1")
    print(f"the same sweep again, check to pages: {time.monotonic() - t0:.0f} s")
    assert again.returncode == 0, again.stderr
    assert "4 of 4 points already on 'origin', not submitted again" in again.stderr
    assert "nothing to submit" in again.stderr and "submitted job" not in again.stderr
    assert len(list((lab["project"] / ".sweeps").iterdir())) == 1      # no second job
    assert _refs(lab["origin"]) == NAMES


@pytest.mark.e2e
def test_a_fresh_clone_pulls_the_models_and_restores_a_swept_point_without_training(lab, tmp_path):
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(lab["origin"]), str(clone)], tmp_path, lab["env"])
    t0 = time.monotonic()
    run(DVC + ["pull"], clone, lab["env"])
    print(f"fresh clone's dvc pull: {time.monotonic() - t0:.1f} s")
    assert (clone / "models/generator.pt").is_file() and (clone / "models/classifier.pt").is_file()
    assert "Data and pipelines are up to date" in run(DVC + ["status"], clone, lab["env"])
    run(DVC + ["pull", "--run-cache"], clone, lab["env"])
    out = run(DVC + ["exp", "run", "--pull", "-S", "lr=0.0003", "-S", "seed=1"], clone, lab["env"])
    assert "Stage 'train' is cached - skipping run" in out and ran(out) == [], out   # someone ran it: nothing runs


@pytest.mark.e2e
def test_a_failed_task_is_named_with_its_point_and_log_and_the_others_are_kept(lab):
    """Through a git remote and a DVC remote that are not the defaults (the tasks' clone must push to its own
    origin, and restore from the chosen DVC remote): train.batch_size=16 is the baseline's value, so it publishes
    without training; train.batch_size=100000 passes the params' checks but is more than the 60,000 training
    images, so the train stage fails."""
    project, env = lab["project"], lab["env"]
    run(["git", "remote", "add", "upstream", str(lab["origin"])], project, env)
    run(DVC + ["remote", "add", "--local", "mirror", "s3://ganpipe/store"], project, env)
    run(DVC + ["remote", "modify", "--local", "mirror", "endpointurl", lab["s3"]], project, env)
    r = _ganpipe(lab, "sweep", "--grid", "train.batch_size=16,100000", "--git-remote", "upstream", "--remote", "mirror",
                 "--cpus", "1", "--wait", "--poll", "1")
    assert r.returncode == 1, r.stderr
    assert "1 of 2 tasks published their experiment" in r.stderr
    line = [l for l in r.stderr.splitlines() if l.startswith("error: task 1 (train.batch_size=100000)")]
    assert line and line[0].startswith("error: task 1 (train.batch_size=100000) failed during run (exit "), r.stderr
    log = Path(line[0].rsplit("log ", 1)[1])
    assert log.is_file() and "train.batch_size: 100000 exceeds the 60000 training images" in log.read_text()
    kept = log.with_name("0.log").read_text()
    assert "published" in kept and "Running stage 'train'" not in kept, kept   # restored from "mirror"
    refs = _refs(lab["origin"])
    assert "train.batch_size=16" in refs and "train.batch_size=100000" not in refs
    assert "train.batch_size=16" in (project / "reports/compare.md").read_text()


@pytest.mark.e2e
def test_a_cancelled_task_leaves_no_experiment_behind(lab):
    r = _ganpipe(lab, "sweep", "--grid", "train.steps=200000", "--cpus", "1")
    assert r.returncode == 0, r.stderr
    job = r.stderr.split("submitted job ")[1].split(":")[0]
    sweep = next(d for d in (lab["project"] / ".sweeps").iterdir()
                 if json.loads((d / "sweep.json").read_text())["job"] == job)
    log = sweep / "logs/0.log"
    deadline = time.monotonic() + 300
    while not (log.is_file() and "Running stage 'train'" in log.read_text()):
        assert time.monotonic() < deadline, log.read_text() if log.is_file() else "no log"
        time.sleep(0.5)
    time.sleep(2)
    subprocess.run(["scancel", job], env=lab["env"], check=True)
    while subprocess.run(["squeue", "--noheader", "--jobs", job], env=lab["env"], capture_output=True,
                         text=True).stdout.strip():
        time.sleep(0.5)
    stopped = "stopped during run (SIGTERM: scancel, time limit or preemption)"
    assert (sweep / "status/0").read_text().strip() == stopped
    assert not any(name.startswith("train.steps=") for name in _refs(lab["origin"]))
    c = _ganpipe(lab, "collect", str(sweep))
    assert c.returncode == 1 and f"task 0 (train.steps=200000) {stopped}: log {log}" in c.stderr


@pytest.mark.e2e
def test_an_unreachable_remote_is_named_in_one_line_before_anything_is_submitted(lab):
    project = lab["project"]
    before = sorted((project / ".sweeps").glob("*"))
    run(["git", "remote", "add", "nowhere", str(lab["root"] / "no-such.git")], project, lab["env"])
    run(DVC + ["remote", "add", "--local", "dead", "s3://ganpipe/store"], project, lab["env"])
    run(DVC + ["remote", "modify", "--local", "dead", "endpointurl", "http://127.0.0.1:9"], project, lab["env"])
    r = _ganpipe(lab, "sweep", "--grid", "seed=5", "--git-remote", "nowhere")
    assert r.returncode == 1 and r.stderr.startswith(f"error: git remote 'nowhere' ({lab['root']}/no-such.git) is "
                                                     "not reachable: ") and r.stderr.count("\n") == 1, r.stderr
    env = {**lab["env"], "AWS_MAX_ATTEMPTS": "1"}   # one try: the refusal is the same, only sooner
    r = subprocess.run(GANPIPE + ["sweep", "--grid", "seed=5", "--remote", "dead"], cwd=project, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.startswith("error: DVC remote 'dead' (s3://ganpipe/store) is not "
                                                     "reachable: ") and r.stderr.count("\n") == 1, r.stderr
    r = _ganpipe(lab, "sweep", "--grid", "lr=-1")
    assert r.returncode == 1 and r.stderr == "error: grid point lr=-1: params.yaml: lr: must be > 0 (got -1)\n"
    assert sorted((project / ".sweeps").glob("*")) == before   # no folder, no job
