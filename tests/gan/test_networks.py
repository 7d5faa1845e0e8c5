"""The networks: image and toy shapes, the paper's critic, the noise, spectral norm, MNIST's weights pinned."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from torch import nn

from ganpipe.config import ModelConfig
from ganpipe.gan.networks import MNIST, ToyMLP, build_critic, build_generator, image_shape, sample_noise

SHAPES = [(1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32)]


def test_toy_networks_map_one_number_to_one_number():
    G, D = ToyMLP(8, critic=False), ToyMLP(8, critic=True)
    u = torch.rand(5, 1)
    assert G(u).shape == (5, 1) and D(G(u)).shape == (5,)


@pytest.mark.parametrize("spectral_norm", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_generators_and_critics_take_the_image_shape(arch, shape, spectral_norm):
    cfg = ModelConfig(arch=arch, z_dim=8, dim=4, spectral_norm=spectral_norm)
    z = sample_noise(3, cfg, generator=torch.Generator().manual_seed(0), device=torch.device("cpu"))
    G = build_generator(cfg, shape)
    x = G(z)
    assert x.shape == (3, *shape) and x.abs().max() <= 1 and G.image_shape == shape
    for batchnorm in (False, True):
        assert build_critic(cfg, shape, batchnorm=batchnorm)(x).shape == (3,)


def test_the_mlp_takes_any_image_shape():
    cfg = ModelConfig(arch="mlp", z_dim=8, dim=4)
    x = build_generator(cfg, (3, 20, 24))(torch.zeros(2, 8))
    assert x.shape == (2, 3, 20, 24) and build_critic(cfg, (3, 20, 24), batchnorm=False)(x).shape == (2,)


@pytest.mark.parametrize("shape", [(1, 64, 64), (3, 30, 30), (1, 28, 32)])
def test_the_dcgan_refuses_other_sizes_naming_what_works(shape):
    cfg = ModelConfig(arch="dcgan", z_dim=8, dim=4)
    want = (rf"^model.arch dcgan builds 28x28 or 32x32 images, not {shape[1]}x{shape[2]}: use model.arch: mlp, or "
            r"resize the images with datasets.own.image_size$")
    with pytest.raises(ValueError, match=want):
        build_generator(cfg, shape)
    with pytest.raises(ValueError, match=want):
        build_critic(cfg, shape, batchnorm=False)


def test_image_shape_reads_grayscale_and_rgb_stacks():
    assert image_shape(np.zeros((5, 28, 28), np.uint8)) == (1, 28, 28)
    assert image_shape(np.zeros((5, 32, 30, 3), np.uint8)) == (3, 32, 30)


def _digest(net: nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in net.state_dict().items():
        h.update(f"{name} {tuple(t.shape)} {t.dtype}".encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


# the networks of the code before they took a shape, default model config, spectral norm off, after manual_seed(0)
MNIST_DIGESTS = {
    ("dcgan", "G"): "91d6ba07663b7eb98498efdbb8300d3e20e57fa64cfa013d85a9b50ab525c758",
    ("dcgan", False): "b91df92fe075be77364736aa1a120236d07b9494a94a609500ed7250feab32ca",
    ("dcgan", True): "98429dfab35b0315d8775ff8c3e63d8ad10ba462fa596dc5ab79184658ee9b45",
    ("mlp", "G"): "0bb57cc04b44dd5ffb66ef4387a5de97009493e96f78cfa1c22db939dc57f8e6",
    ("mlp", False): "d01181756633710ae339c26aa86b250d703e26e366bc5806ce601d3895fce5db",
    ("mlp", True): "d01181756633710ae339c26aa86b250d703e26e366bc5806ce601d3895fce5db",
}


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_mnist_networks_are_bit_identical_to_before_they_took_a_shape(arch):
    # same modules, same order, same parameter shapes: a seed gives the weights it always gave (and so a run does)
    cfg = ModelConfig(arch=arch, spectral_norm=False)
    torch.manual_seed(0)
    assert _digest(build_generator(cfg, MNIST)) == MNIST_DIGESTS[(arch, "G")]
    for batchnorm in (False, True):
        torch.manual_seed(0)
        assert _digest(build_critic(cfg, MNIST, batchnorm=batchnorm)) == MNIST_DIGESTS[(arch, batchnorm)]
    # spectral norm wraps those same initial weights (its power iteration's vectors are not pinned: BLAS-dependent)
    torch.manual_seed(0)
    plain = build_critic(cfg, MNIST, batchnorm=False).state_dict()
    torch.manual_seed(0)
    sn = build_critic(cfg.model_copy(update={"spectral_norm": True}), MNIST, batchnorm=False).state_dict()
    originals = {k.replace(".parametrizations.weight.original", ".weight"): v for k, v in sn.items()
                 if not k.endswith(("_u", "_v"))}
    assert originals.keys() == plain.keys() and all(torch.equal(originals[k], plain[k]) for k in plain)


def test_the_paper_critic_has_no_batch_norm_under_a_gradient_penalty():
    cfg = ModelConfig(arch="dcgan", z_dim=8, dim=4)
    has_bn = lambda m: any(isinstance(l, nn.BatchNorm2d) for l in m.modules())  # noqa: E731
    assert not has_bn(build_critic(cfg, MNIST, batchnorm=False)) and has_bn(build_critic(cfg, MNIST, batchnorm=True))
    convs = [l for l in build_critic(cfg, MNIST, batchnorm=False).modules() if isinstance(l, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(5, 5)] * 3


def test_uniform_noise_is_in_minus_one_one():
    cfg = ModelConfig(z_dim=1000, noise="uniform")
    z = sample_noise(100, cfg, generator=torch.Generator().manual_seed(0), device=torch.device("cpu"))
    assert z.min() >= -1 and z.max() <= 1 and z.min() < -0.99 and z.max() > 0.99


def _singular_values(D: nn.Module) -> list[float]:
    return [torch.linalg.matrix_norm(m.weight.reshape(m.weight.shape[0], -1), ord=2).item()
            for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@pytest.mark.parametrize("shape", [MNIST, (3, 32, 32)])
@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_spectral_norm_brings_each_layer_s_largest_singular_value_to_one(arch, shape):
    torch.manual_seed(0)
    plain = build_critic(ModelConfig(arch=arch, dim=8, spectral_norm=False), shape, batchnorm=False)
    assert max(abs(s - 1) for s in _singular_values(plain)) > 0.2   # far from 1 without it
    torch.manual_seed(0)
    D = build_critic(ModelConfig(arch=arch, dim=8, spectral_norm=True), shape, batchnorm=False)
    x = torch.randn(8, *shape)
    for _ in range(50):   # one power iteration per forward pass in train mode
        D(x)
    D.eval()
    assert _singular_values(D) == pytest.approx([1.0] * len(_singular_values(D)), abs=0.02)
