"""Networks: generators (noise (B, z_dim) -> image (B, C, H, W) in [-1, 1]) and critics (image -> one unbounded
score per image; no sigmoid: the loss decides what it means), built for the data's image shape (C, H, W).

Refuses: dcgan images other than 28x28 or 32x32 (the mlp takes any shape)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ganpipe.config import ModelConfig

Shape = tuple[int, int, int]   # (C, H, W): channels (1 grayscale, 3 RGB), height, width
MNIST = (1, 28, 28)
DCGAN_SIZES = (28, 32)         # both 4x4 after three stride-2 convolutions: 28 -> 14 -> 7 -> 4, 32 -> 16 -> 8 -> 4


def image_shape(images) -> Shape:
    """(C, H, W) of a stack of uint8 images, grayscale (N, H, W) or RGB (N, H, W, 3)."""
    return (1, *images.shape[1:]) if images.ndim == 3 else (images.shape[3], *images.shape[1:3])


def check_shape(cfg: ModelConfig, shape: Shape) -> None:
    """A one-line ValueError where model.arch cannot build images of `shape`."""
    _, h, w = shape
    if cfg.arch == "dcgan" and not (h == w and h in DCGAN_SIZES):
        raise ValueError(f"model.arch dcgan builds 28x28 or 32x32 images, not {h}x{w}: use model.arch: mlp, "
                         "or resize the images with datasets.own.image_size")


class DCGANGenerator(nn.Module):
    """The WGAN-GP paper's MNIST generator (5x5 transposed convolutions), with batch norm and tanh; C output
    channels, 28x28 or 32x32."""

    def __init__(self, cfg: ModelConfig, shape: Shape):
        super().__init__()
        check_shape(cfg, shape)
        d, (c, h, _) = cfg.dim, shape

        def up(c_in: int, c_out: int) -> nn.ConvTranspose2d:  # doubles height and width
            return nn.ConvTranspose2d(c_in, c_out, kernel_size=5, stride=2, padding=2, output_padding=1)

        self.fc = nn.Sequential(nn.Linear(cfg.z_dim, 4 * 4 * 4 * d), nn.BatchNorm1d(4 * 4 * 4 * d), nn.ReLU())
        self.block1 = nn.Sequential(up(4 * d, 2 * d), nn.BatchNorm2d(2 * d), nn.ReLU())   # (B, 2d, 8, 8)
        self.block2 = nn.Sequential(up(2 * d, d), nn.BatchNorm2d(d), nn.ReLU())           # (B, d, H/2, W/2)
        self.out = nn.Sequential(up(d, c), nn.Tanh())                                     # (B, C, H, W)
        self.d, self.image_shape = d, shape
        self.crop = h // 4   # the paper crops 8x8 to 7x7 so two doublings give 28; 32 keeps all 8

    def forward(self, z: Tensor) -> Tensor:
        x = self.fc(z).view(-1, 4 * self.d, 4, 4)                                        # (B, 4d, 4, 4)
        x = self.block1(x)[:, :, :self.crop, :self.crop]
        return self.out(self.block2(x))


class DCGANCritic(nn.Module):
    """The WGAN-GP paper's MNIST critic: three 5x5 stride-2 convolutions and a linear score; C input channels,
    28x28 or 32x32 (both 4x4 after the convolutions).
    Batch norm couples the samples of a batch, which breaks the per-sample gradient penalty; the paper's
    code uses it only for the clipped wgan, and so do we (`session.critic_for`)."""

    def __init__(self, cfg: ModelConfig, shape: Shape, batchnorm: bool):
        super().__init__()
        check_shape(cfg, shape)
        d = cfg.dim

        def down(c_in: int, c_out: int, norm: bool) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel_size=5, stride=2, padding=2)]
            return layers + ([nn.BatchNorm2d(c_out)] if norm else []) + [nn.LeakyReLU(negative_slope=0.2)]

        self.net = nn.Sequential(
            *down(shape[0], d, norm=False),              # (B, d, 14, 14) from 28, (B, d, 16, 16) from 32
            *down(d, 2 * d, norm=batchnorm),             # (B, 2d, 7, 7) or (B, 2d, 8, 8)
            *down(2 * d, 4 * d, norm=batchnorm),         # (B, 4d, 4, 4)
            nn.Flatten(),
            nn.Linear(4 * 4 * 4 * d, 1),                 # (B, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)                    # (B,)


class MLPGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig, shape: Shape):
        super().__init__()
        h = cfg.dim * 4   # dim=64 -> hidden widths 256, 512, 1024
        self.net = nn.Sequential(
            nn.Linear(cfg.z_dim, h), nn.ReLU(),
            nn.Linear(h, 2 * h), nn.ReLU(),
            nn.Linear(2 * h, 4 * h), nn.ReLU(),
            nn.Linear(4 * h, _size(shape)), nn.Tanh(),
            nn.Unflatten(1, shape),                      # (B, C, H, W)
        )
        self.image_shape = shape

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPCritic(nn.Module):
    def __init__(self, cfg: ModelConfig, shape: Shape):
        super().__init__()
        h = cfg.dim * 4
        self.net = nn.Sequential(
            nn.Flatten(),                                # (B, C*H*W)
            nn.Linear(_size(shape), 2 * h), nn.LeakyReLU(negative_slope=0.2),
            nn.Linear(2 * h, h), nn.LeakyReLU(negative_slope=0.2),
            nn.Linear(h, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)


def _size(shape: Shape) -> int:
    c, h, w = shape
    return c * h * w


def build_generator(cfg: ModelConfig, shape: Shape) -> nn.Module:
    """G for images of `shape` (C, H, W); its `image_shape` says which, for the checkpoint."""
    return DCGANGenerator(cfg, shape) if cfg.arch == "dcgan" else MLPGenerator(cfg, shape)


def build_critic(cfg: ModelConfig, shape: Shape, *, batchnorm: bool) -> nn.Module:
    D = DCGANCritic(cfg, shape, batchnorm=batchnorm) if cfg.arch == "dcgan" else MLPCritic(cfg, shape)
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
