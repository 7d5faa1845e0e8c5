"""Sampling a trained generator into uint8 images quantised exactly as MNIST is stored; images as a grid."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers or CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from ganpipe.config import ModelConfig  # noqa: E402
from ganpipe.data import to_uint8  # noqa: E402
from ganpipe.io import atomic_path  # noqa: E402
from ganpipe.models import build_generator, sample_noise  # noqa: E402


def checkpoint(G: nn.Module, model_cfg: ModelConfig) -> dict:
    """What `generate` needs and nothing else: weights and the config that shapes them (plain tensors and dicts,
    so it loads with torch.load(weights_only=True))."""
    return {"generator": G.state_dict(), "model_config": model_cfg.model_dump()}


def load_generator(ckpt: dict, device: torch.device) -> tuple[nn.Module, ModelConfig]:
    if not isinstance(ckpt, dict) or not {"generator", "model_config"} <= ckpt.keys():
        raise ValueError("not a ganpipe checkpoint: expected keys 'generator' and 'model_config'")
    cfg = ModelConfig.model_validate(ckpt["model_config"])
    G = build_generator(cfg)
    G.load_state_dict(ckpt["generator"])
    return G.to(device).eval(), cfg


@torch.no_grad()
def generate_images(G: nn.Module, cfg: ModelConfig, n: int, *, generator: torch.Generator, device: torch.device,
                    batch_size: int = 1000) -> np.ndarray:
    """n samples from noise drawn batch by batch from `generator`: same seed, same images. Returns uint8 (n, 28, 28)."""
    out = []
    for start in range(0, n, batch_size):
        z = sample_noise(min(batch_size, n - start), cfg, generator=generator, device=device)
        out.append(to_uint8(G(z).cpu()))
    return np.concatenate(out)


def tile(images: np.ndarray, cols: int | None = None, pad: int = 2) -> np.ndarray:
    """uint8 (n, h, w) -> one uint8 mosaic, `pad` background (0, no ink) pixels between images."""
    n, h, w = images.shape
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    canvas = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad), dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    return canvas


def save_grid_png(images: np.ndarray, path: Path) -> None:
    # MNIST is white ink on black; shown inverted (black on white) as digits are read on paper
    with atomic_path(path) as tmp:
        plt.imsave(tmp, 255 - tile(images), cmap="gray", vmin=0, vmax=255, format="png")
