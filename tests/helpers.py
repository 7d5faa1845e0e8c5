"""What several test files share, imported by name (`from tests.helpers import ...`): tiny params and data, the
stages through their CLI, a tiny training run through loop.fit, and a temporary git copy of the project for the
tests that run the real dvc CLI. Fixtures live in conftest.py."""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
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


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, 28, 28) images: a bright bar whose position encodes the label, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for img, y in zip(images, labels):
        img[4 + 2 * y: 6 + 2 * y, 4:24] = 255
    return images, labels


def synthetic_shapes(n: int, seed: int, size: int = 32) -> np.ndarray:
    """uint8 (n, size, size, 3) RGB images without labels: a disc, a bar and a thin stroke at random places on black,
    each in its own colour shaded by its own linear ramp (hard edges for blur to soften, smooth intensities so that
    the pixel histograms of two samples differ little)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] + 0.5

    def at(lo: float, hi: float) -> np.ndarray:   # (n, 1, 1) uniform over [lo, hi) of the side
        return rng.uniform(lo * size, hi * size, (n, 1, 1))

    disc = np.hypot(yy - at(0.3, 0.7), xx - at(0.3, 0.7)) < at(0.1, 0.25)
    bar = (abs(yy - at(0.3, 0.7)) < at(0.05, 0.2)) & (abs(xx - at(0.3, 0.7)) < at(0.1, 0.3))
    angle = rng.uniform(0, np.pi, (n, 1, 1))
    line = abs((yy - at(0.3, 0.7)) * np.cos(angle) - (xx - at(0.3, 0.7)) * np.sin(angle)) < 1.0
    stroke = line & (np.hypot(yy - size / 2, xx - size / 2) < 0.4 * size)
    x = np.zeros((n, size, size, 3))
    for mask in (disc, bar, stroke):
        a = rng.uniform(0, 2 * np.pi, (n, 1, 1))
        ramp = 0.65 + 0.35 * ((yy - size / 2) * np.cos(a) + (xx - size / 2) * np.sin(a)) / (0.75 * size)
        x = np.where(mask[..., None], rng.uniform(0.4, 1.0, (n, 1, 1, 3)) * ramp[..., None], x)
    return np.round(x * 255).astype(np.uint8)


def write_tiny_mnist(path: Path) -> Path:
    from ganpipe.data.arrays import save_dataset

    x_train, y_train = synthetic_digits(256, 0)
    x_test, y_test = synthetic_digits(64, 1)
    save_dataset(path, {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test})
    return path


# --- the stages through their CLI on the tiny data ------------------------------------------------

def invoke(*args):
    from typer.testing import CliRunner

    from stages.__main__ import build

    return CliRunner().invoke(build(), [str(a) for a in args])


def run_pipeline(tmp_path: Path, tiny_params: Path, tiny_mnist: Path) -> dict[str, Path]:
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
    from ganpipe.gan.plan import TrainPlan

    return TrainPlan(obj, values.pop("device", torch.device("cpu")), **{
        "precision": "fp32", "cuda_graph": False, "channels_last": False, "ema_decay": 0.0, "log_every": 1,
        "checkpoint_every": 0, **values})


def on_disk(state: dict) -> dict:
    """`state` saved and loaded back as a resumed run reads it (torch.load(weights_only=True))."""
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def tiny_fit(obj, *, model=None, steps: int = 4, batch_size: int = 8, real=None, state=None, logged=None,
             checkpoints=None, **plan_values):
    """A tiny run of loop.fit on 64 random images in [-1, 1], seeded: the networks are built after
    torch.manual_seed(0) (the train stage's generator, and its critic for the objective, or none when it has
    none), the draws come from a generator seeded 0. `real` replaces the image sampler; `state` is a checkpoint as
    read back from disk (a dict). Returns (nets, logged [(step, values)], checkpoints {step: dict read back}); pass
`logged` and `checkpoints` to keep what a run that raises had filled in."""
    from ganpipe.config import ModelConfig
    from ganpipe.gan.loop import Callbacks, fit
    from ganpipe.gan.networks import MNIST, build_generator
    from ganpipe.gan.resume import TrainState
    from ganpipe.gan.session import critic_for, samplers

    model = model or ModelConfig(arch="mlp", z_dim=4, dim=4)
    torch.manual_seed(0)
    G, D = build_generator(model, MNIST), critic_for(model, MNIST, obj.name) if obj.has_critic else None
    images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    generator = torch.Generator().manual_seed(0)
    sample_real, noise = samplers(images, model, generator)
    logged = [] if logged is None else logged
    checkpoints = {} if checkpoints is None else checkpoints
    nets = fit(plan(obj, steps=steps, batch_size=batch_size, **plan_values), G, D, real=real or sample_real,
               noise=noise, generator=generator, diagnostic=images[:16],
               callbacks=Callbacks(log=lambda step, values: logged.append((step, values)),
                                   on_checkpoint=lambda st: checkpoints.__setitem__(st.step, on_disk(st.to_dict()))),
               state=TrainState.from_dict(state) if state is not None else None)
    return nets, logged, checkpoints


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


def sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
