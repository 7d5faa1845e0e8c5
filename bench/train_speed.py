"""Benchmark: one training run as the train stage runs it (ganpipe.gan.loop.fit), on one device, in steps/s and img/s.

Not a test: it prints figures and writes JSON, and asserts nothing about speed. "img/s" counts real images
read per second: batch_size x critic steps per generator step (one batch for a loss without a critic). Params are params.yaml with
`-S key=value` overrides, as `dvc exp run -S` sets them (checkpoints are off: train.checkpoint_every=0).

    python bench/train_speed.py -S train.device=cuda -S train.steps=2000 --out bench/results/x.json
    python bench/train_speed.py -S loss=wgan-gp -S model.arch=mlp -S model.dim=64 -S train.steps=600
    add --evaluate to also sample evaluate.samples images and score them as the evaluate stage does
"""
from __future__ import annotations

import json
from datetime import date
import platform
import time
from pathlib import Path
from typing import Annotated

import torch
import typer

from ganpipe.benchmark import StepClock, fit_mnist, sample, score_generator
from ganpipe.config import ParamsError, load_params_with, set_pairs
from ganpipe.data.arrays import load_dataset, save_grid_png
from ganpipe.evaluation import classifier as clf
from ganpipe.gan.checkpoint import checkpoint
from ganpipe.gan.loop import Callbacks
from ganpipe.gan.plan import mnist_plan
from ganpipe.io import save_torch
from ganpipe.runtime import device_name, resolve_device, seed_everything, set_threads


def main(
    set_: Annotated[list[str], typer.Option("--set", "-S", help="KEY=VALUE over params.yaml, as dvc exp run -S "
                                            "(repeatable), e.g. -S loss=wgan-gp -S train.steps=2000")] = [],
    warmup: Annotated[int, typer.Option(help="steps left out of the timing")] = 50,
    evaluate: Annotated[bool, typer.Option(help="also sample and score, as the generate and evaluate stages do "
                                           "(needs --classifier)")] = False,
    grid: Annotated[Path | None, typer.Option(help="write a grid of the first report.grid_images samples here")] = None,
    checkpoint_out: Annotated[Path | None, typer.Option(help="save the generator here, as train does")] = None,
    data: Annotated[Path, typer.Option(help="images.npz from the fetch stage")] = Path("data/real/images.npz"),
    classifier: Annotated[Path, typer.Option(help="classifier.pt from the classifier stage")] =
        Path("models/classifier.pt"),
    params: Annotated[Path, typer.Option()] = Path("params.yaml"),
    out: Annotated[Path, typer.Option(help="JSON of the figures")] = Path("bench/results/train_speed.json"),
) -> None:
    try:
        # the bench's own default first: no resume state, nothing is written mid-run
        p = load_params_with(params, {"train.checkpoint_every": "0", **set_pairs(set_)})
    except ParamsError as e:
        raise typer.BadParameter(str(e), param_hint="-S/--set") from None
    dev = resolve_device(p.train.device)
    plan = mnist_plan(p, dev)
    if not 0 <= warmup < plan.steps:
        raise typer.BadParameter(f"must lie in [0, train.steps = {plan.steps})", param_hint="--warmup")
    set_threads(p.train.threads)
    mnist = load_dataset(data)
    history: list[dict[str, float]] = []
    clock = StepClock(dev, warmup, plan.steps)
    callbacks = Callbacks(log=lambda step, values: history.append({"step": step, **values}), on_step=clock)
    t0 = time.perf_counter()
    nets = fit_mnist(plan, mnist, p, generator=seed_everything(p.seed, dev), callbacks=callbacks)
    wall = time.perf_counter() - t0
    steps_per_s = clock.steps_per_s()
    result = {
        "benchmark": "train_speed", "date": date.today().isoformat(), "device": device_name(dev), "torch": torch.__version__,
        "python": platform.python_version(), "loss": p.loss, "objective": plan.objective.settings.model_dump(),
        "model": p.model.model_dump(), "batch_size": plan.batch_size,
        "precision_compile": [plan.precision, plan.cuda_graph], "nhwc": plan.channels_last, "overrides": set_,
        "steps": plan.steps, "warmup_steps": warmup,
        "steps_per_s": round(steps_per_s, 2), "img_per_s": round(steps_per_s * plan.batch_size * plan.objective.real_batches, 1),
        "wall_s": round(wall, 2),
        "peak_mem_mb": round(torch.cuda.max_memory_allocated(dev) / 2**20, 1) if dev.type == "cuda" else None,
    }
    G = nets.G.cpu()   # the raw generator: what the figures have always scored
    if checkpoint_out:
        save_torch(checkpoint_out, checkpoint(G, p.model))
    if grid:
        save_grid_png(sample(G, p.model, p)[: p.report.grid_images], grid)
    if evaluate:
        model, clf_cfg = clf.load_file(classifier)
        result["eval"] = score_generator(G, p.model, p, model, clf_cfg, mnist)
    print(f"{result['device']}: {result['steps_per_s']:.1f} steps/s, {result['img_per_s']:.0f} img/s "
          f"(batch {plan.batch_size}, {plan.steps - warmup} timed steps), wall {result['wall_s']:.1f} s -> {out}")
    result["history"] = history   # the diagnostics train logs, every train.log_every steps
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if "eval" in result:
        print("eval:", {k: round(v, 5) for k, v in result["eval"].items() if isinstance(v, float)})


if __name__ == "__main__":
    typer.run(main)
