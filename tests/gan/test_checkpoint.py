"""The generator's checkpoint: both generators kept, generate picks by param; the image shape travels with it."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganpipe.config import ModelConfig
from ganpipe.gan.checkpoint import checkpoint, generate_images, load_generator, load_generator_file
from ganpipe.gan.networks import MNIST, build_generator

CPU = torch.device("cpu")


def test_the_checkpoint_keeps_both_generators_and_generate_picks_by_param():
    cfg = ModelConfig(z_dim=4, dim=4)
    torch.manual_seed(0)
    G, avg = build_generator(cfg, MNIST), build_generator(cfg, MNIST)
    ckpt = checkpoint(G, cfg, avg)
    assert ckpt.keys() == {"generator", "generator_ema", "model_config", "image_shape"}
    loaded = load_generator(ckpt, CPU)
    assert loaded.weights == "ema" and torch.equal(loaded.G.fc[0].weight, avg.fc[0].weight)
    raw = load_generator(ckpt, CPU, ema=False)
    assert raw.weights == "raw" and torch.equal(raw.G.fc[0].weight, G.fc[0].weight)
    assert load_generator(checkpoint(G, cfg), CPU).weights == "raw"   # no EMA kept: the raw one


@pytest.mark.parametrize(("arch", "shape"), [("dcgan", (3, 32, 32)), ("dcgan", (1, 32, 32)), ("mlp", (3, 20, 24))])
def test_the_checkpoint_alone_rebuilds_the_generator_of_its_image_shape(tmp_path, arch, shape):
    cfg = ModelConfig(arch=arch, z_dim=4, dim=4)
    torch.manual_seed(0)
    G = build_generator(cfg, shape)
    torch.save(checkpoint(G, cfg), tmp_path / "g.pt")
    assert torch.load(tmp_path / "g.pt", weights_only=True)["image_shape"] == list(shape)
    loaded = load_generator_file(tmp_path / "g.pt", CPU)
    assert loaded.G.image_shape == shape
    assert all(torch.equal(a, b) for a, b in zip(loaded.G.state_dict().values(), G.eval().state_dict().values()))
    images = generate_images(loaded.G, cfg, 5, generator=torch.Generator().manual_seed(0), device=CPU)
    c, h, w = shape
    assert images.dtype == np.uint8 and images.shape == ((5, h, w) if c == 1 else (5, h, w, 3))


def test_a_checkpoint_without_an_image_shape_is_mnist_s():
    cfg = ModelConfig(z_dim=4, dim=4)
    ckpt = checkpoint(build_generator(cfg, MNIST), cfg)
    del ckpt["image_shape"]   # as written before checkpoints kept it
    assert load_generator(ckpt, CPU).G.image_shape == (1, 28, 28)
