"""The GAN objectives: sign conventions, saturation, the gradient penalty, clipping, the table of losses."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from ganpipe.config import ModelConfig
from ganpipe.gan.objectives import (ADVERSARIAL, FUNCTIONS, clip_weights, gradient_penalty, interpolate_grad_norms,
                                    objective, separation)
from ganpipe.gan.networks import MNIST, build_critic
from tests.helpers import loss_config


def critic_loss(loss: str, score_real, score_fake):
    return FUNCTIONS[loss][0](score_real, score_fake)


def generator_loss(loss: str, score_fake):
    return FUNCTIONS[loss][1](score_fake)


def _critic(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Flatten(0))


@pytest.mark.parametrize("loss", ADVERSARIAL)
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


@pytest.mark.parametrize("loss", ADVERSARIAL)
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
    D = build_critic(cfg, MNIST, batchnorm=True)
    for p in D.parameters():
        p.data.normal_(0, 1)
    clip_weights(D, 0.01)
    assert all(p.abs().max() <= 0.01 for p in D.parameters())


def test_an_unknown_loss_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="unknown loss 'gan'; one of minimax, ns, wgan, wgan-gp, hinge, lsgan"):
        objective("gan", loss_config(optimizer="adam", lr=1e-4))
    obj = objective("ns", loss_config(optimizer="adam", lr=1e-4))
    assert obj.has_critic and obj.probability and (obj.critic_loss, obj.generator_loss) == FUNCTIONS["ns"]
    assert objective("wgan-gp", loss_config(optimizer="adam", lr=1e-4, critic_steps=5)).real_batches == 5
