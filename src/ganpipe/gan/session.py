"""One training run on a dataset's images as the train stage runs it, around the loop (loop.fit): the images on the
device, networks shaped by them, the critic's diagnostic batch, the fixed-noise progression grid, logging to an open
DVCLive-like logger, a progress bar, resume checkpoints in the run's scratch entry, the averaged generator's standing
statistics, and the run's speed summary.

Refuses: opening the logger, seeding, choosing the device, loading files (the stage does those).
"""
from __future__ import annotations

import resource
import sys
import time
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from ganpipe.config import ModelConfig, Params
from ganpipe.data.arrays import shown_inverted, tile, to_model_range, to_uint8
from ganpipe.gan.ema import standing_stats_from_noise
from ganpipe.gan.loop import Callbacks, Nets, Sampler, fit
from ganpipe.gan.networks import Shape, build_critic, build_generator, image_shape, sample_noise
from ganpipe.gan.objectives import HISTOGRAM
from ganpipe.gan.plan import TrainPlan
from ganpipe.gan.resume import Scratch, TrainState
from ganpipe.runtime import device_name


def check_batch_size(batch_size: int, n_images: int) -> None:
    if batch_size > n_images:
        raise ValueError(f"train.batch_size: {batch_size} exceeds the {n_images} training images")


def critic_for(model_cfg: ModelConfig, shape: Shape, loss: str) -> nn.Module | None:
    """The critic of images of `shape` (C, H, W) for `loss`, None for the histogram losses (G alone minimises a
    distance between batches). Batch norm only for the clipped wgan, as in the WGAN-GP paper's code: it would break
    the per-sample gradient penalty (our default ns run also scored better without it: pixel_js 0.025 vs 0.029)."""
    if loss in HISTOGRAM:
        return None
    return build_critic(model_cfg, shape, batchnorm=loss == "wgan")


def networks(p: Params, shape: Shape) -> tuple[nn.Module, nn.Module | None]:
    """(G, D) for images of `shape` (C, H, W) on the CPU, built in this order (so one seed gives the same initial
    weights wherever they are built)."""
    return build_generator(p.model, shape), critic_for(p.model, shape, p.loss)


class Feeds(NamedTuple):
    real: Sampler          # real training images, drawn with replacement, on the plan's device
    noise: Sampler         # G's noise
    diagnostic: Tensor     # the first train.diagnostic_images test images, behind the critic's diagnostics


def feeds(plan: TrainPlan, data: dict[str, np.ndarray], p: Params, generator: torch.Generator) -> Feeds:
    """What loop.fit draws from on a dataset: the training images resident on the device, and the diagnostic
    batch."""
    images = to_model_range(data["x_train"]).to(plan.device)       # (N, C, H, W)
    diagnostic = to_model_range(data["x_test"][:p.train.diagnostic_images]).to(plan.device)
    return Feeds(*samplers(images, p.model, generator), diagnostic)


def samplers(images: Tensor, model_cfg: ModelConfig, generator: torch.Generator) -> tuple[Sampler, Sampler]:
    """(real, noise): real images drawn with replacement from `images` (on the training device), and G's noise."""
    device = images.device
    return (lambda b: images[torch.randint(len(images), (b,), generator=generator, device=device)],
            lambda b: sample_noise(b, model_cfg, generator=generator, device=device))


class Monitor(Callbacks):
    """The loop's callbacks for a logged run: each logging step's values to `live` and the bar, the bar and the
    fixed-noise grid every `grid_every` steps (inverted when `invert`: arrays.shown_inverted of the training images),
    the resume state and the log as of each checkpoint.
    `live` is a dvclive.Live or anything with its log_metric, log_image, next_step, make_summary, step and dir."""

    def __init__(self, live: Any, bar: tqdm, G: nn.Module, grid_noise: Tensor, *, grid_every: int, steps: int,
                 scratch: Scratch, start: int, invert: bool):
        self.live, self.bar, self.G, self.grid_noise, self.invert = live, bar, G, grid_noise, invert
        self.grid_every, self.steps, self.scratch = grid_every, steps, scratch
        self.last_t, self.last_step = time.perf_counter(), start

    def log(self, step: int, values: dict[str, float]) -> None:
        now = time.perf_counter()
        values["steps_per_s"] = (step - self.last_step) / (now - self.last_t)
        self.last_t, self.last_step = now, step
        self.live.step = step
        for name, value in values.items():
            self.live.log_metric(name, value)
        self.live.next_step()
        self.bar.set_postfix({name: f"{values[name]:.3f}" for name in ("loss_d", "loss_g") if name in values},
                             refresh=False)

    def on_step(self, step: int) -> None:
        self.bar.update()
        if step % self.grid_every == 0 or step == self.steps:
            self.G.eval()
            with torch.no_grad():
                grid = tile(to_uint8(self.G(self.grid_noise).cpu()))
            self.G.train()
            self.live.log_image(f"grid/{step:07d}.png", 255 - grid if self.invert else grid)

    def on_checkpoint(self, state: TrainState) -> None:
        self.live.make_summary()   # metrics.json as of this step, so a resumed log continues from it
        self.scratch.save(state, self.live.dir)


def train_mnist(plan: TrainPlan, data: dict[str, np.ndarray], p: Params, *, generator: torch.Generator, live: Any,
                scratch: Scratch, state: TrainState | None) -> tuple[Nets, dict[str, Any]]:
    """Trains on data["x_train"], networks shaped by its images (the critic's diagnostics on the first
    train.diagnostic_images test images); returns the networks and the summary to log: wall time, img/s, peak
    memory, device, precision and graph mode. Raises loop.Diverged."""
    device = plan.device
    feed = feeds(plan, data, p, generator)
    G, D = networks(p, image_shape(data["x_train"]))
    G = G.to(device)   # placed here so the grid callback can sample it mid-training
    # the grid's noise comes from its own stream, so drawing it never shifts the training's random numbers
    grid_noise = sample_noise(p.report.grid_images, p.model, generator=torch.Generator(device).manual_seed(p.seed + 1),
                              device=device)
    start = state.step if state else 0
    with tqdm(total=plan.steps, initial=start, desc=f"train {p.loss} {p.model.arch} on {device_name(device)}",
              unit="step", smoothing=0.05, mininterval=0.5 if sys.stderr.isatty() else 30) as bar:
        monitor = Monitor(live, bar, G, grid_noise, grid_every=p.train.grid_every, steps=plan.steps, scratch=scratch,
                          start=start, invert=shown_inverted(data["x_train"][:1000]))
        t0 = time.perf_counter()
        try:
            nets = fit(plan, G, D, real=feed.real, noise=feed.noise, generator=generator, diagnostic=feed.diagnostic,
                       callbacks=monitor, state=state)
            if nets.G_ema is not None:
                standing_stats_from_noise(nets.G_ema, p.model, batches=p.train.ema_standing_batches,
                                          batch_size=plan.batch_size, seed=p.seed, device=device)
        finally:
            bar.close()   # ends the bar's line, so an error stands on its own
        wall = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else _peak_rss()
    images_seen = (plan.steps - start) * plan.batch_size * plan.objective.real_batches
    return nets, {"train_wall_s": round(wall, 2), "img_per_s": round(images_seen / wall, 1),
                  "peak_mem_mb": round(peak / 2**20, 1), "train_device": device_name(device),
                  # prefixed: eval.json's `precision` (P/R) must stay one column in `dvc exp show`
                  "train_precision": plan.precision, "train_compile": "graph" if plan.cuda_graph else "none"}


def _peak_rss() -> float:
    # bytes of this process's peak resident memory (Linux reports KiB)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0
