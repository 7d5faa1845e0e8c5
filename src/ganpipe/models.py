"""Networks: a small DCGAN generator (U[-1,1]^z -> 28x28 image in [-1,1]) and its discriminator."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ganpipe.config import ModelConfig


class Generator(nn.Module):
    """noise (B, z_dim) -> image (B, 1, 28, 28) in [-1, 1] (tanh; the data is scaled to match)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.dim
        self.net = nn.Sequential(
            nn.Linear(cfg.z_dim, 4 * d * 7 * 7),
            nn.BatchNorm1d(4 * d * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (4 * d, 7, 7)),                                          # (B, 4d, 7, 7)
            nn.ConvTranspose2d(4 * d, 2 * d, kernel_size=4, stride=2, padding=1),   # (B, 2d, 14, 14)
            nn.BatchNorm2d(2 * d),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * d, 1, kernel_size=4, stride=2, padding=1),       # (B, 1, 28, 28)
            nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    """image (B, 1, 28, 28) -> one unbounded logit per image (no sigmoid: the loss decides what it means)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.dim
        self.net = nn.Sequential(
            nn.Conv2d(1, d, kernel_size=4, stride=2, padding=1),          # (B, d, 14, 14)
            nn.LeakyReLU(negative_slope=0.2),
            nn.Conv2d(d, 2 * d, kernel_size=4, stride=2, padding=1),      # (B, 2d, 7, 7)
            nn.LeakyReLU(negative_slope=0.2),
            nn.Flatten(),
            nn.Linear(2 * d * 7 * 7, 1),                                  # (B, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)                                     # (B,)


def sample_noise(n: int, z_dim: int, *, generator: torch.Generator, device: torch.device) -> Tensor:
    # the source's forger maps uniform noise: U[-1, 1]^z_dim
    return torch.rand(n, z_dim, generator=generator, device=device) * 2 - 1
