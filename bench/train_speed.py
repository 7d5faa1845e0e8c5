"""Benchmark: the project's training loop (ganpipe.gan.loop.train_gan) on one device, in steps/s and img/s.

Not a test: it prints figures and writes JSON, and asserts nothing about speed. "img/s" counts real images
consumed by the critic per second (batch_size x critic steps per generator step).

    python bench/train_speed.py --data data/mnist/mnist.npz --device auto --steps 2000 --out bench/results/x.json
    add --evaluate to also sample 10,000 images and score them as the evaluate stage does
"""
from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import typer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # runnable without installing the package (e.g. on a bare GPU box)

from ganpipe.config import load_params  # noqa: E402
from ganpipe.data.arrays import load_mnist, to_model_range  # noqa: E402
from ganpipe.io import save_torch  # noqa: E402
from ganpipe.evaluation.histograms import evaluate_against_floor  # noqa: E402
from ganpipe.runtime import device_name, resolve_device, seed_everything, set_threads, speed_settings  # noqa: E402
from ganpipe.data.arrays import save_grid_png  # noqa: E402
from ganpipe.gan.checkpoint import checkpoint, generate_images  # noqa: E402
from ganpipe.gan.loop import fit_mnist  # noqa: E402

from clock import StepClock  # noqa: E402  (bench/, the script's own folder)


def main(
    data: Annotated[Path, typer.Option(help="mnist.npz from the fetch stage")] = ROOT / "data/mnist/mnist.npz",
    params: Annotated[Path, typer.Option()] = ROOT / "params.yaml",
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    steps: Annotated[int, typer.Option(help="generator steps to run (default: train.steps)")] = 0,
    warmup: Annotated[int, typer.Option(help="steps left out of the timing")] = 50,
    evaluate: Annotated[bool, typer.Option(help="also sample and score, as the pipeline does")] = False,
    grid: Annotated[Path | None, typer.Option(help="write the fixed-noise grid PNG here")] = None,
    checkpoint_out: Annotated[Path | None, typer.Option(help="save the generator here, as train does")] = None,
    loss: Annotated[str, typer.Option(help="override params' loss")] = "",
    arch: Annotated[str, typer.Option(help="override model.arch")] = "",
    dim: Annotated[int, typer.Option(help="override model.dim")] = 0,
    batch_size: Annotated[int, typer.Option(help="override train.batch_size")] = 0,
    clip: Annotated[float, typer.Option(help="override optim.clip (wgan)")] = 0.0,
    precision: Annotated[str, typer.Option(help="override train.precision: auto | fp32 | tf32 | bf16")] = "",
    compile: Annotated[str, typer.Option(help="override train.compile: auto | none | graph")] = "",
    nhwc: Annotated[bool, typer.Option(help="channels-last weights and activations")] = False,
    fuse: Annotated[bool, typer.Option(help="Step's fewer-kernel critic update")] = False,
    out: Annotated[Path, typer.Option(help="JSON of the figures")] = ROOT / "bench/results/train_speed.json",
) -> None:
    p = load_params(params)
    if loss or arch or dim or batch_size or clip:
        p = p.model_copy(update={"loss": loss or p.loss, "model": p.model.model_copy(
            update={"arch": arch or p.model.arch, "dim": dim or p.model.dim}),
            "optim": p.optim.model_copy(update={"clip": clip or p.optim.clip})})
    obj = p.objective()
    cfg = p.train.model_copy(update={"steps": steps or p.train.steps, "device": device,
                                     "batch_size": batch_size or p.train.batch_size,
                                     "precision": precision or p.train.precision,
                                     "compile": compile or p.train.compile, "channels_last": nhwc})
    dev = resolve_device(cfg.device)
    set_threads(cfg.threads)
    mnist = load_mnist(data)
    images = to_model_range(mnist["x_train"]).to(dev)
    held_out = to_model_range(mnist["x_test"][:256]).to(dev)
    clock = StepClock(dev, warmup, cfg.steps)
    t0 = time.perf_counter()
    history: list[dict[str, float]] = []
    G, _, _ = fit_mnist(images, held_out, model_cfg=p.model, loss=p.loss, obj=obj, cfg=cfg, device=dev,
                     generator=seed_everything(p.seed, dev), on_step=clock,
                     log=lambda step, values: history.append({"step": step, **values}), fuse=fuse)
    wall = time.perf_counter() - t0
    timed = cfg.steps - warmup
    steps_per_s = clock.steps_per_s()
    result = {
        "benchmark": "train_speed", "device": device_name(dev), "torch": torch.__version__,
        "python": platform.python_version(), "loss": p.loss, "objective": obj.model_dump(),
        "model": p.model.model_dump(), "batch_size": cfg.batch_size,
        "precision_compile": speed_settings(cfg.precision, cfg.compile, dev), "nhwc": nhwc, "fuse": fuse,
        "steps": cfg.steps, "warmup_steps": warmup,
        "steps_per_s": round(steps_per_s, 2), "img_per_s": round(steps_per_s * cfg.batch_size * obj.critic_steps, 1),
        "wall_s": round(wall, 2),
        "peak_mem_mb": round(torch.cuda.max_memory_allocated(dev) / 2**20, 1) if dev.type == "cuda" else None,
    }
    if checkpoint_out:
        save_torch(checkpoint_out, checkpoint(G.cpu(), p.model))
    if evaluate or grid:
        G = G.cpu().eval()   # sampled on the CPU, as the generate stage does
        cpu = torch.device("cpu")
        gen = generate_images(G, p.model, p.generate.n, generator=seed_everything(p.seed, cpu), device=cpu)
        if grid:
            save_grid_png(gen[: p.generate.grid], grid)
        if evaluate:
            ref = mnist["x_train"][np.sort(np.random.default_rng(p.seed).choice(60000, len(gen), replace=False))]
            result["eval"] = evaluate_against_floor(gen, mnist["x_test"], ref, bins=p.evaluate.bins,
                                                    perpixel_bins=p.evaluate.perpixel_bins, alpha=p.evaluate.alpha)
    print(f"{result['device']}: {result['steps_per_s']:.1f} steps/s, {result['img_per_s']:.0f} img/s "
          f"(batch {cfg.batch_size}, {timed} timed steps), wall {result['wall_s']:.1f} s -> {out}")
    result["history"] = history   # the diagnostics train logs, every train.log_every steps
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if "eval" in result:
        print("eval:", {k: round(v, 5) for k, v in result["eval"].items() if isinstance(v, float)})


if __name__ == "__main__":
    typer.run(main)
