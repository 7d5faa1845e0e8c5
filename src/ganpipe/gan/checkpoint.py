"""The generator checkpoint (weights + the model config and image shape that shape them), and sampling it into
uint8 images quantised exactly as a dataset's images are stored."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ganpipe.config import ModelConfig
from ganpipe.data.arrays import to_uint8
from ganpipe.io import first_line
from ganpipe.gan.networks import MNIST, build_generator, sample_noise


def checkpoint(G: nn.Module, model_cfg: ModelConfig, G_ema: nn.Module | None = None) -> dict:
    """What `generate` needs and nothing else: the raw weights, the averaged ones when training kept them, and the
    config and image shape (C, H, W) that shape them (plain tensors, dicts and lists, so it loads with
    torch.load(weights_only=True))."""
    out = {"generator": G.state_dict(), "model_config": model_cfg.model_dump(), "image_shape": list(G.image_shape)}
    if G_ema is not None:
        out["generator_ema"] = G_ema.state_dict()
    return out


class Loaded(NamedTuple):
    G: nn.Module          # in eval mode, on the device asked for
    cfg: ModelConfig
    weights: str          # "ema" (the averaged weights) or "raw"


def load_generator(ckpt: dict, device: torch.device, *, ema: bool = True) -> Loaded:
    """The averaged generator when `ema` and the checkpoint has one, else the raw one; a checkpoint without an image
    shape predates them and is MNIST's (1, 28, 28)."""
    if not isinstance(ckpt, dict) or not {"generator", "model_config"} <= ckpt.keys():
        raise ValueError("not a ganpipe checkpoint: expected keys 'generator' and 'model_config'")
    cfg = ModelConfig.model_validate(ckpt["model_config"])
    weights = "ema" if ema and "generator_ema" in ckpt else "raw"
    G = build_generator(cfg, tuple(ckpt.get("image_shape", MNIST)))
    G.load_state_dict(ckpt["generator_ema" if weights == "ema" else "generator"])
    return Loaded(G.to(device).eval(), cfg, weights)


def load_generator_file(path: Path, device: torch.device, *, ema: bool = True) -> Loaded:
    """generator.pt -> (G in eval mode, its config, which weights); a corrupt, unsafe or foreign file is a one-line
    ValueError."""
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise ValueError(f"{path}: cannot load checkpoint: the file is empty")
    try:
        return load_generator(torch.load(path, map_location=device, weights_only=True), device, ema=ema)
    except Exception as e:
        raise ValueError(f"{path}: cannot load checkpoint: {first_line(e)}") from None


@torch.no_grad()
def generate_images(G: nn.Module, cfg: ModelConfig, n: int, *, generator: torch.Generator, device: torch.device,
                    batch_size: int = 1000) -> np.ndarray:
    """n samples from noise drawn batch by batch from `generator`: same seed, same images. Returns uint8 (n, H, W)
    or RGB (n, H, W, 3)."""
    out = []
    for start in range(0, n, batch_size):
        z = sample_noise(min(batch_size, n - start), cfg, generator=generator, device=device)
        out.append(to_uint8(G(z).cpu()))
    return np.concatenate(out)
