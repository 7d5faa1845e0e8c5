"""The networks: MNIST and toy shapes, the paper's critic, the noise, spectral norm."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from ganpipe.config import ModelConfig
from ganpipe.gan.networks import ToyMLP, build_critic, build_generator, sample_noise


def test_toy_networks_map_one_number_to_one_number():
    G, D = ToyMLP(8, critic=False), ToyMLP(8, critic=True)
    u = torch.rand(5, 1)
    assert G(u).shape == (5, 1) and D(G(u)).shape == (5,)


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_generators_and_critics_have_mnist_shapes(arch):
    cfg = ModelConfig(arch=arch, z_dim=8, dim=4)
    z = sample_noise(3, cfg, generator=torch.Generator().manual_seed(0), device=torch.device("cpu"))
    x = build_generator(cfg)(z)
    assert x.shape == (3, 1, 28, 28) and x.abs().max() <= 1
    assert build_critic(cfg, batchnorm=False)(x).shape == (3,)


def test_the_paper_critic_has_no_batch_norm_under_a_gradient_penalty():
    cfg = ModelConfig(arch="dcgan", z_dim=8, dim=4)
    has_bn = lambda m: any(isinstance(l, nn.BatchNorm2d) for l in m.modules())  # noqa: E731
    assert not has_bn(build_critic(cfg, batchnorm=False)) and has_bn(build_critic(cfg, batchnorm=True))
    convs = [l for l in build_critic(cfg, batchnorm=False).modules() if isinstance(l, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(5, 5)] * 3


def test_uniform_noise_is_in_minus_one_one():
    cfg = ModelConfig(z_dim=1000, noise="uniform")
    z = sample_noise(100, cfg, generator=torch.Generator().manual_seed(0), device=torch.device("cpu"))
    assert z.min() >= -1 and z.max() <= 1 and z.min() < -0.99 and z.max() > 0.99


def _singular_values(D: nn.Module) -> list[float]:
    return [torch.linalg.matrix_norm(m.weight.reshape(m.weight.shape[0], -1), ord=2).item()
            for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_spectral_norm_brings_each_layer_s_largest_singular_value_to_one(arch):
    torch.manual_seed(0)
    plain = build_critic(ModelConfig(arch=arch, dim=8, spectral_norm=False), batchnorm=False)
    assert max(abs(s - 1) for s in _singular_values(plain)) > 0.2   # far from 1 without it
    torch.manual_seed(0)
    D = build_critic(ModelConfig(arch=arch, dim=8, spectral_norm=True), batchnorm=False)
    x = torch.randn(8, 1, 28, 28)
    for _ in range(50):   # one power iteration per forward pass in train mode
        D(x)
    D.eval()
    assert _singular_values(D) == pytest.approx([1.0] * len(_singular_values(D)), abs=0.02)
