"""Networks: generators (noise (B, z_dim) -> image (B, 1, 28, 28) in [-1, 1]) and critics
(image -> one unbounded score per image; no sigmoid: the loss decides what it means)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ganpipe.config import ModelConfig


class DCGANGenerator(nn.Module):
    """The WGAN-GP paper's MNIST generator (5x5 transposed convolutions), with batch norm and tanh."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.dim

        def up(c_in: int, c_out: int) -> nn.ConvTranspose2d:  # doubles height and width
            return nn.ConvTranspose2d(c_in, c_out, kernel_size=5, stride=2, padding=2, output_padding=1)

        self.fc = nn.Sequential(nn.Linear(cfg.z_dim, 4 * 4 * 4 * d), nn.BatchNorm1d(4 * 4 * 4 * d), nn.ReLU())
        self.block1 = nn.Sequential(up(4 * d, 2 * d), nn.BatchNorm2d(2 * d), nn.ReLU())   # (B, 2d, 8, 8)
        self.block2 = nn.Sequential(up(2 * d, d), nn.BatchNorm2d(d), nn.ReLU())           # (B, d, 14, 14)
        self.out = nn.Sequential(up(d, 1), nn.Tanh())                                     # (B, 1, 28, 28)
        self.d = d

    def forward(self, z: Tensor) -> Tensor:
        x = self.fc(z).view(-1, 4 * self.d, 4, 4)                                        # (B, 4d, 4, 4)
        x = self.block1(x)[:, :, :7, :7]   # the paper crops 8x8 to 7x7 so two doublings give 28
        return self.out(self.block2(x))


class DCGANCritic(nn.Module):
    """The WGAN-GP paper's MNIST critic: three 5x5 stride-2 convolutions and a linear score.
    Batch norm couples the samples of a batch, which breaks the per-sample gradient penalty; the paper's
    code uses it only for the clipped wgan, and so do we (`train.fit_mnist`)."""

    def __init__(self, cfg: ModelConfig, batchnorm: bool):
        super().__init__()
        d = cfg.dim

        def down(c_in: int, c_out: int, norm: bool) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel_size=5, stride=2, padding=2)]
            return layers + ([nn.BatchNorm2d(c_out)] if norm else []) + [nn.LeakyReLU(negative_slope=0.2)]

        self.net = nn.Sequential(
            *down(1, d, norm=False),                     # (B, d, 14, 14)
            *down(d, 2 * d, norm=batchnorm),             # (B, 2d, 7, 7)
            *down(2 * d, 4 * d, norm=batchnorm),         # (B, 4d, 4, 4)
            nn.Flatten(),
            nn.Linear(4 * 4 * 4 * d, 1),                 # (B, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)                    # (B,)


class MLPGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        h = cfg.dim * 4   # dim=64 -> hidden widths 256, 512, 1024
        self.net = nn.Sequential(
            nn.Linear(cfg.z_dim, h), nn.ReLU(),
            nn.Linear(h, 2 * h), nn.ReLU(),
            nn.Linear(2 * h, 4 * h), nn.ReLU(),
            nn.Linear(4 * h, 28 * 28), nn.Tanh(),
            nn.Unflatten(1, (1, 28, 28)),                # (B, 1, 28, 28)
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPCritic(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        h = cfg.dim * 4
        self.net = nn.Sequential(
            nn.Flatten(),                                # (B, 784)
            nn.Linear(28 * 28, 2 * h), nn.LeakyReLU(negative_slope=0.2),
            nn.Linear(2 * h, h), nn.LeakyReLU(negative_slope=0.2),
            nn.Linear(h, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)


def build_generator(cfg: ModelConfig) -> nn.Module:
    return DCGANGenerator(cfg) if cfg.arch == "dcgan" else MLPGenerator(cfg)


def build_critic(cfg: ModelConfig, *, batchnorm: bool) -> nn.Module:
    D = DCGANCritic(cfg, batchnorm=batchnorm) if cfg.arch == "dcgan" else MLPCritic(cfg)
    return spectrally_normalised(D) if cfg.spectral_norm else D


def spectrally_normalised(D: nn.Module) -> nn.Module:
    """SNGAN (Miyato et al. 2018): each convolution's and linear layer's weight divided by its largest singular
    value (of the weight reshaped to (out, -1)), estimated by one power iteration per forward pass in train mode."""
    for m in list(D.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.utils.parametrizations.spectral_norm(m)
    return D


def sample_noise(n: int, cfg: ModelConfig, *, generator: torch.Generator, device: torch.device) -> Tensor:
    # the source's forger maps uniform noise, U[-1, 1]^z_dim; N(0, I) is the common alternative
    if cfg.noise == "uniform":
        return torch.rand(n, cfg.z_dim, generator=generator, device=device) * 2 - 1
    return torch.randn(n, cfg.z_dim, generator=generator, device=device)


class ToyMLP(nn.Module):
    """The 1-D toy's networks: (B, 1) -> (B, 1) for G (noise u -> sample), (B,) scores for the critic."""

    def __init__(self, hidden: int, *, critic: bool):
        super().__init__()
        act = nn.LeakyReLU(negative_slope=0.2) if critic else nn.ReLU()
        self.net = nn.Sequential(nn.Linear(1, hidden), act, nn.Linear(hidden, hidden), act, nn.Linear(hidden, 1))
        self.critic = critic

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x)                                 # (B, 1)
        return out.squeeze(1) if self.critic else out
