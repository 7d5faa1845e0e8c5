"""The GAN objectives: sign conventions, the gradient penalty, clipping, and the loop's diagnostics."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import loss_config, plan
from ganpipe.config import LossConfig, ModelConfig
from ganpipe.gan.objectives import (FUNCTIONS, LOSSES, clip_weights, gradient_penalty, interpolate_grad_norms,
                                    objective, separation)
from ganpipe.gan.networks import ToyMLP, build_critic, build_generator, sample_noise
from ganpipe.gan.loop import Callbacks, fit
from ganpipe.gan.session import check_batch_size, critic_for


def critic_loss(loss: str, score_real, score_fake):
    return FUNCTIONS[loss][0](score_real, score_fake)


def generator_loss(loss: str, score_fake):
    return FUNCTIONS[loss][1](score_fake)


def _critic(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Flatten(0))


@pytest.mark.parametrize("loss", LOSSES)
def test_a_critic_step_increases_the_separation(loss):
    D = _critic()
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(256, 2, generator=gen) + torch.tensor([2.0, 0.0])
    fake = torch.randn(256, 2, generator=gen) - torch.tensor([2.0, 0.0])
    before = separation(loss, D(real), D(fake)).item()
    opt = torch.optim.SGD(D.parameters(), lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        critic_loss(loss, D(real), D(fake)).backward()
        opt.step()
    after = separation(loss, D(real), D(fake)).item()
    assert after > before + 1e-3


@pytest.mark.parametrize("loss", LOSSES)
def test_a_generator_step_decreases_the_generator_loss(loss):
    D = _critic(1)
    G = nn.Linear(2, 2)
    z = torch.randn(256, 2, generator=torch.Generator().manual_seed(1))
    D.requires_grad_(False)
    before = generator_loss(loss, D(G(z))).item()
    opt = torch.optim.SGD(G.parameters(), lr=0.01)
    opt.zero_grad()
    generator_loss(loss, D(G(z))).backward()
    opt.step()
    assert generator_loss(loss, D(G(z))).item() < before


def test_wasserstein_losses_follow_the_sources_signs():
    s_real, s_fake = torch.tensor([1.0, 3.0]), torch.tensor([5.0, 7.0])
    # L1 = mean D(real) - mean D(fake) for the critic, L2 = mean D(G(x)) for the generator
    assert critic_loss("wgan", s_real, s_fake).item() == pytest.approx(2.0 - 6.0)
    assert generator_loss("wgan-gp", s_fake).item() == pytest.approx(6.0)
    assert separation("wgan", s_real, s_fake).item() == pytest.approx(4.0)   # -L1: the W1 estimate


def test_minimax_saturates_where_ns_does_not():
    # a confident judge: D(G(z)) = sigma(-8) ~ 3e-4
    s = torch.full((8,), -8.0, requires_grad=True)
    (g_minimax,) = torch.autograd.grad(generator_loss("minimax", s), s)
    (g_ns,) = torch.autograd.grad(generator_loss("ns", s), s)
    assert g_minimax.abs().max() < 1e-3 * g_ns.abs().max()


class Linear(nn.Module):
    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return x.flatten(1) @ self.w


def test_gradient_penalty_is_zero_for_a_unit_norm_linear_critic_and_positive_otherwise():
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(64, 1, 4, 4, generator=gen), torch.randn(64, 1, 4, 4, generator=gen)
    w = torch.randn(16, generator=gen)
    unit = Linear(w / w.norm())
    assert gradient_penalty(unit, real, fake, gen).item() == pytest.approx(0.0, abs=1e-10)
    norms = interpolate_grad_norms(unit, real, fake, gen)
    assert torch.allclose(norms, torch.ones(64))
    assert gradient_penalty(Linear(3 * w / w.norm()), real, fake, gen).item() == pytest.approx(4.0, rel=1e-5)


def test_gradient_penalty_reaches_the_critics_weights():
    D = Linear(torch.full((16,), 1.0))   # norm 4: penalised
    gen = torch.Generator().manual_seed(0)
    gradient_penalty(D, torch.randn(8, 16, generator=gen), torch.randn(8, 16, generator=gen), gen).backward()
    assert D.w.grad is not None and D.w.grad.abs().sum() > 0


def test_clipping_keeps_every_critic_weight_in_range():
    cfg = ModelConfig(arch="dcgan", z_dim=4, dim=4)
    D = build_critic(cfg, batchnorm=True)
    for p in D.parameters():
        p.data.normal_(0, 1)
    clip_weights(D, 0.01)
    assert all(p.abs().max() <= 0.01 for p in D.parameters())


def _tiny_run(loss: str, settings: LossConfig, log_every: int = 2, real=None):
    cfg = ModelConfig(arch="mlp", z_dim=4, dim=4)
    torch.manual_seed(0)
    G, D = build_generator(cfg), build_critic(cfg, batchnorm=settings.gp_weight == 0)
    gen = torch.Generator().manual_seed(0)
    data = torch.rand(64, 1, 28, 28, generator=gen) * 2 - 1
    logged = []
    fit(plan(objective(loss, settings), steps=4, batch_size=8, log_every=log_every), G, D,
        real=real or (lambda b: data[torch.randint(64, (b,), generator=gen)]),
        noise=lambda b: sample_noise(b, cfg, generator=gen, device=torch.device("cpu")),
        generator=gen, diagnostic=data[:16], callbacks=Callbacks(log=lambda step, v: logged.append((step, v))))
    return G, D, logged


@pytest.mark.parametrize("loss", LOSSES)
def test_the_loop_logs_the_diagnostics_of_each_loss(loss):
    settings = loss_config(optimizer="rmsprop" if loss == "wgan" else "adam", lr=1e-4, critic_steps=2,
                           clip=0.01 if loss == "wgan" else None, gp_weight=10.0 if loss == "wgan-gp" else 0.0)
    _, D, logged = _tiny_run(loss, settings)
    assert [s for s, _ in logged] == [2, 4]
    keys = set(logged[-1][1])
    assert {"loss_d", "loss_g", "w_estimate", "gradnorm_d_mean", "gradnorm_d_max", "gradnorm_g"} <= keys
    assert ({"d_real", "d_fake"} <= keys) == (loss in ("minimax", "ns"))
    assert logged[-1][1]["gradnorm_d_max"] >= logged[-1][1]["gradnorm_d_mean"] > 0
    if loss == "wgan":
        assert all(p.abs().max() <= 0.01 for p in D.parameters())


def test_a_non_finite_loss_stops_training_naming_the_step():
    settings = loss_config(optimizer="adam", lr=1e-4)
    with pytest.raises(FloatingPointError, match=r"non-finite loss_d and loss_g at step 1; no finite values were logged"):
        _tiny_run("ns", settings, log_every=1, real=lambda b: torch.full((b, 1, 28, 28), float("nan")))


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


@pytest.mark.parametrize(("loss", "bn"), [("wgan-gp", False), ("wgan", True), ("ns", False)])
def test_the_mnist_critic_has_batch_norm_only_for_wgan(loss, bn):
    D = critic_for(ModelConfig(arch="dcgan", z_dim=4, dim=4), loss)
    assert any(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == bn


def test_a_batch_larger_than_the_data_is_refused():
    with pytest.raises(ValueError, match="train.batch_size: 64 exceeds the 32 training images"):
        check_batch_size(64, 32)
    check_batch_size(32, 32)


def test_an_unknown_loss_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="unknown loss 'gan'; one of minimax, ns, wgan, wgan-gp, hinge, lsgan"):
        objective("gan", loss_config(optimizer="adam", lr=1e-4))
    obj = objective("ns", loss_config(optimizer="adam", lr=1e-4))
    assert obj.has_critic and obj.probability and (obj.critic_loss, obj.generator_loss) == FUNCTIONS["ns"]
