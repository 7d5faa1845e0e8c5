"""An exponential moving average of the generator's weights (Yazici et al. 2019, "The Unusual Effectiveness of
Averaging in GAN Training"), and the batch-norm statistics that fit the averaged weights.

Owns: the update w_ema = d * w_ema + (1 - d) * w after each generator step (on the device, no host sync, so a
CUDA graph captures it with the step), and BigGAN's "standing statistics": running means and variances
recomputed for the averaged weights by forward passes in train mode, without gradients, after training.
Refuses: deciding when to update (the loop does) and what to sample (generate does).
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ganpipe.config import ModelConfig
from ganpipe.gan.networks import sample_noise

STANDING_STREAM = 2   # the standing statistics' noise is seeded seed + 2 (the progression grid's is seed + 1)


class EMA:
    """`model` is a frozen copy of G whose parameters trail G's. During training its buffers (batch norm's running
    statistics) are copied from G at each update; `standing_stats` recomputes them for the averaged weights."""

    def __init__(self, G: nn.Module, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"EMA decay must lie in (0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(G).requires_grad_(False)
        self._src, self._dst = list(G.parameters()), list(self.model.parameters())
        self._src_buf, self._dst_buf = list(G.buffers()), list(self.model.buffers())

    @torch.no_grad()
    def update(self) -> None:
        torch._foreach_mul_(self._dst, self.decay)
        torch._foreach_add_(self._dst, self._src, alpha=1 - self.decay)
        if self._dst_buf:
            torch._foreach_copy_(self._dst_buf, self._src_buf)


def batchnorms(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def has_batchnorm(module: nn.Module) -> bool:
    return bool(batchnorms(module))


@torch.no_grad()
def standing_stats(G: nn.Module, noise: Callable[[int], Tensor], *, batches: int, batch_size: int) -> None:
    """Replace G's batch-norm running statistics by their exact average over `batches` batches of G's own
    activations (train mode, momentum None: a cumulative average), then leave G in eval mode. No-op without
    batch norm or with batches = 0."""
    norms = batchnorms(G)
    if not norms or batches == 0:
        G.eval()
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    G.train()
    for _ in range(batches):
        G(noise(batch_size))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    G.eval()


def standing_stats_from_noise(G: nn.Module, model_cfg: ModelConfig, *, batches: int, batch_size: int, seed: int,
                              device: torch.device) -> None:
    """standing_stats over `batches` batches of G's noise, drawn from their own stream (seed + STANDING_STREAM), so
    the training's random numbers never shift: what the train stage does after training, and what bench/ repeats."""
    noise = torch.Generator(device).manual_seed(seed + STANDING_STREAM)
    standing_stats(G, lambda b: sample_noise(b, model_cfg, generator=noise, device=device), batches=batches,
                   batch_size=batch_size)
