"""The generator's checkpoint: both generators kept, generate picks by param."""
from __future__ import annotations

import torch

from ganpipe.config import ModelConfig
from ganpipe.gan.checkpoint import checkpoint, load_generator
from ganpipe.gan.networks import build_generator

CPU = torch.device("cpu")


def test_the_checkpoint_keeps_both_generators_and_generate_picks_by_param():
    cfg = ModelConfig(z_dim=4, dim=4)
    torch.manual_seed(0)
    G, avg = build_generator(cfg), build_generator(cfg)
    ckpt = checkpoint(G, cfg, avg)
    assert ckpt.keys() == {"generator", "generator_ema", "model_config"}
    loaded = load_generator(ckpt, CPU)
    assert loaded.weights == "ema" and torch.equal(loaded.G.fc[0].weight, avg.fc[0].weight)
    raw = load_generator(ckpt, CPU, ema=False)
    assert raw.weights == "raw" and torch.equal(raw.G.fc[0].weight, G.fc[0].weight)
    assert load_generator(checkpoint(G, cfg), CPU).weights == "raw"   # no EMA kept: the raw one
