"""The source's 1-D example, trained: G maps U[0, 1] noise to samples of N(0, 1), with any loss of the family.
Its measures are evaluation.toy's; this module only trains and samples, through the loop's one entry.

Refuses: file I/O and process-wide seeding (every draw comes from the generator it is given).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ganpipe.config import ToyConfig
from ganpipe.gan.loop import Callbacks, fit
from ganpipe.gan.networks import ToyMLP
from ganpipe.gan.plan import TrainPlan


def train_toy(plan: TrainPlan, cfg: ToyConfig, *, generator: torch.Generator, diagnostic_seed: int,
              watch: Callable[[int, nn.Module], None] = lambda step, G: None) -> dict[str, np.ndarray]:
    """Trains the toy and returns {"samples": cfg.samples outputs of G on fresh noise, "u": cfg.grid_points values of
    u in (0, 1), "g_of_u": G at them}, all float64. The critic's diagnostics use cfg.diagnostic_samples N(0, 1) draws
    of their own stream (seeded by diagnostic_seed), so they never shift the training's random numbers.
    watch(step, G) is called after every step (bench's learning curves); it must draw no number from `generator`."""
    G, D = ToyMLP(cfg.hidden_units, critic=False), ToyMLP(cfg.hidden_units, critic=True)
    diagnostic = torch.randn(cfg.diagnostic_samples, 1, generator=torch.Generator().manual_seed(diagnostic_seed))
    nets = fit(plan, G, D if plan.objective.has_critic else None, real=lambda b: torch.randn(b, 1, generator=generator),
        noise=lambda b: torch.rand(b, 1, generator=generator), generator=generator, diagnostic=diagnostic,
        callbacks=Callbacks(on_step=lambda step: watch(step, G)))
    G = nets.G_ema if nets.G_ema is not None else nets.G   # the average, when plan.ema_decay > 0
    half_step = 0.5 / cfg.grid_points   # the grid's cells' centres: u never reaches 0 or 1, where Φ⁻¹ is infinite
    u = np.linspace(half_step, 1 - half_step, cfg.grid_points)
    with torch.no_grad():
        samples = G(torch.rand(cfg.samples, 1, generator=generator)).squeeze(1).double().numpy()
        g_of_u = G(torch.from_numpy(u).float().unsqueeze(1)).squeeze(1).double().numpy()
    return {"samples": samples, "u": u, "g_of_u": g_of_u}
