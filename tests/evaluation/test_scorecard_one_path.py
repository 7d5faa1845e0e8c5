"""One way to score generated images: the evaluate stage and the benchmarks both go through scorecard.scorecard,
and give the same numbers for the same generator."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import torch

from tests.helpers import ROOT, invoke, tiny_params_dict, write_tiny_mnist, write_yaml
from ganpipe.config import ModelConfig
from ganpipe.gan.checkpoint import checkpoint
from ganpipe.gan.networks import MNIST, build_generator

BENCH = ROOT / "bench"


def test_the_evaluate_stage_and_a_benchmark_score_a_generator_alike(tmp_path):
    params = write_yaml(tmp_path / "params.yaml", tiny_params_dict())
    data = write_tiny_mnist(tmp_path / "mnist.npz")
    model_cfg = ModelConfig(z_dim=8, dim=4)
    torch.manual_seed(3)
    torch.save(checkpoint(build_generator(model_cfg, MNIST), model_cfg), tmp_path / "g.pt")   # untrained: any G will do
    clf = tmp_path / "classifier.pt"
    for args in (["classifier", "--data", data, "--out", clf, "--metrics", tmp_path / "c.json"],
                 ["generate", "--model", tmp_path / "g.pt", "--out", tmp_path / "gen"],
                 ["evaluate", "--samples", tmp_path / "gen/samples.npz", "--data", data, "--classifier", clf,
                  "--out", tmp_path / "eval.json", "--views", tmp_path / "views.npz"]):
        r = invoke(*args, "--facts", tmp_path / f"{args[0]}_facts.json", "--params", params)
        assert r.exit_code == 0, r.output
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "bench/family_eval.py", "--out", tmp_path / "bench.json", "--data", data,
                        "--classifier", clf, "--params", params, f"g={tmp_path / 'g.pt'}"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    stage = json.loads((tmp_path / "eval.json").read_text())
    bench = json.loads((tmp_path / "bench.json").read_text())["g"]
    assert {k: bench[k] for k in stage} == stage   # every eval.json number, to the last bit
    assert len(stage) > 40 and "fld_floor" in stage and "pixel_js_ci_hi" in stage


def test_bench_scores_only_through_the_scorecard_and_never_touches_sys_path():
    scoring = {"ganpipe.evaluation.histograms", "ganpipe.evaluation.features"}
    for script in sorted(BENCH.glob("*.py")):
        source = script.read_text()
        assert "sys.path" not in source, f"{script.name} edits sys.path: the package is installed (pip install -e .)"
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module not in scoring, f"{script.name} imports metric arithmetic from {node.module}"
                if node.module == "ganpipe.evaluation.scorecard":
                    assert {a.name for a in node.names} <= {"scorecard", "Scorecard"}, script.name
    for script in sorted(BENCH.glob("*.sh")):
        assert "PYTHONPATH" not in script.read_text(), script.name
