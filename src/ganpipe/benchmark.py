"""What the scripts in bench/ run, so that they restate nothing: a training run set up as the train stage sets it up
(loop.fit with the caller's callbacks and networks, without the stage's logger, bar, grid and checkpoints), a clock
for timing it, and a generator sampled as the generate stage samples it, then scored by scorecard.scorecard (the
one way to score generated images: the evaluate stage calls it too).

Refuses: file I/O and argument parsing (the scripts do those); no stage imports this module.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from ganpipe.config import ClassifierConfig, ModelConfig, Params
from ganpipe.evaluation.scorecard import scorecard
from ganpipe.gan.checkpoint import generate_images
from ganpipe.gan.ema import EMA
from ganpipe.gan.loop import Callbacks, Nets, fit
from ganpipe.gan.networks import image_shape
from ganpipe.gan.plan import TrainPlan
from ganpipe.gan.session import feeds, networks
from ganpipe.runtime import seed_everything, set_threads

CPU = torch.device("cpu")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepClock:
    """The loop's on_step (`Callbacks(on_step=clock)`): marks the time at step `warmup` and at step `last`, each
    after a device sync, so `steps_per_s()` covers exactly the steps between them."""

    def __init__(self, device: torch.device, warmup: int, last: int):
        self.device, self.warmup, self.last = device, warmup, last
        self.marks: dict[int, float] = {}

    def __call__(self, step: int) -> None:
        if step in (self.warmup, self.last):
            sync(self.device)
            self.marks[step] = time.perf_counter()

    def steps_per_s(self) -> float:
        return (self.last - self.warmup) / (self.marks[self.last] - self.marks[self.warmup])


def fit_mnist(plan: TrainPlan, mnist: dict[str, np.ndarray], p: Params, *, generator: torch.Generator,
              callbacks: Callbacks = Callbacks(), nets: tuple[nn.Module, nn.Module | None] | None = None,
              ema: EMA | None = None) -> Nets:
    """loop.fit on MNIST as session.train_mnist calls it (session.feeds), without the stage's logger, bar, grid and
    checkpoints; `nets` from session.networks (built here when not given: pass them to observe or wrap them).
    Seeding is the caller's (runtime.seed_everything)."""
    G, D = nets if nets is not None else networks(p, image_shape(mnist["x_train"]))
    feed = feeds(plan, mnist, p, generator)
    return fit(plan, G, D, real=feed.real, noise=feed.noise, generator=generator, diagnostic=feed.diagnostic,
               callbacks=callbacks, ema=ema)


def sample(G: nn.Module, model_cfg: ModelConfig, p: Params) -> np.ndarray:
    """evaluate.samples images of G, drawn as the generate stage draws them: on the CPU on one thread (on more, the
    rounding to uint8 can differ), from noise seeded by `seed`. The caller's thread count is restored after."""
    G = G.to(CPU).eval()
    threads = torch.get_num_threads()
    set_threads(1)
    try:
        return generate_images(G, model_cfg, p.evaluate.samples, generator=seed_everything(p.seed, CPU), device=CPU)
    finally:
        torch.set_num_threads(threads)


def score_generator(G: nn.Module, model_cfg: ModelConfig, p: Params, classifier: nn.Module, clf_cfg: ClassifierConfig,
                    mnist: dict[str, np.ndarray]) -> dict[str, float]:
    """G sampled as generate samples it and scored as evaluate scores it: the flat keys of metrics/eval.json."""
    return scorecard(sample(G, model_cfg, p), classifier, clf_cfg, mnist, p.evaluate).metrics
