"""train: MNIST -> checkpoint (generator weights + model config), with per-step losses logged by DVCLive."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import torch
import typer
from dvclive import Live
from tqdm import tqdm

from ganpipe.data import load_mnist, to_model_range
from ganpipe.io import atomic_path
from ganpipe.runtime import device_name, resolve_device, seed_everything, set_threads
from ganpipe.sample import checkpoint
from ganpipe.train import train_gan
from stages._common import FactsOpt, ParamsOpt, fail, load_params_or_exit, run_facts


def train(
    data: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="mnist.npz from fetch")],
    out: Annotated[Path, typer.Option(help="checkpoint: generator weights + model config")],
    live_dir: Annotated[Path, typer.Option(help="DVCLive folder (a cached out)")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Train the GAN on the MNIST training set."""
    p = load_params_or_exit(params)
    try:
        device = resolve_device(p.train.device)
    except RuntimeError as e:
        fail(str(e))
    set_threads(p.train.threads)
    rng = seed_everything(p.seed, device)
    try:
        mnist = load_mnist(data)
    except ValueError as e:
        fail(str(e))
    images = to_model_range(mnist["x_train"]).to(device)
    if p.train.batch_size > len(images):
        fail(f"{params}: train.batch_size: {p.train.batch_size} exceeds the {len(images)} training images")

    with run_facts("train", facts) as f, Live(str(live_dir), dvcyaml=False, save_dvc_exp=False, report=None) as live, \
            tqdm(total=p.train.steps, desc=f"train on {device_name(device)}", unit="step", smoothing=0.05,
                 mininterval=0.5 if sys.stderr.isatty() else 30) as bar:  # a log file gets a line every 30 s

        def log(step: int, values: dict[str, float]) -> None:
            live.step = step
            for name, value in values.items():
                live.log_metric(name, value)
            live.next_step()
            bar.set_postfix(loss_d=f"{values['loss_d']:.3f}", loss_g=f"{values['loss_g']:.3f}", refresh=False)

        t0 = time.perf_counter()
        try:
            trained = train_gan(images, model_cfg=p.model, cfg=p.train, lr=p.lr, device=device, generator=rng,
                                log=log, on_step=bar.update)
        except FloatingPointError as e:
            fail(str(e))
        wall = time.perf_counter() - t0
        steps_per_s = p.train.steps / wall
        live.summary.update({"train_wall_s": round(wall, 2), "steps_per_s": round(steps_per_s, 2)})
        with atomic_path(out) as tmp:
            torch.save(checkpoint(trained.generator, p.model), tmp)
        f.update(device=device_name(device), torch=torch.__version__, steps=p.train.steps,
                 steps_per_s=round(steps_per_s, 2))
