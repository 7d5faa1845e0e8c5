"""The training loop (loop.fit and its Step): the diagnostics it logs per loss, divergence, precision, and an
objective without a critic."""
from __future__ import annotations

import pytest
import torch

from ganpipe.config import ModelConfig
from ganpipe.gan.loop import Step
from ganpipe.gan.networks import MNIST, build_critic, build_generator
from ganpipe.gan.objectives import ADVERSARIAL, Objective, objective
from tests.helpers import loss_config, plan, tiny_fit


@pytest.mark.parametrize("loss", ADVERSARIAL)
def test_the_loop_logs_the_diagnostics_of_each_loss(loss):
    settings = loss_config(optimizer="rmsprop" if loss == "wgan" else "adam", lr=1e-4, critic_steps=2,
                           clip=0.01 if loss == "wgan" else None, gp_weight=10.0 if loss == "wgan-gp" else 0.0)
    nets, logged, _ = tiny_fit(objective(loss, settings), log_every=2)
    D = nets.D
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
        tiny_fit(objective("ns", settings), log_every=1, real=lambda b: torch.full((b, 1, 28, 28), float("nan")))


def _fit(precision: str, steps: int = 3, loss: str = "wgan-gp", spectral_norm: bool = False):
    """The train stage's networks (its dcgan) on random images, through loop.fit: (G, each step's logged values)."""
    obj = objective(loss, loss_config(optimizer="adam", lr=1e-4, betas=(0.5, 0.9), critic_steps=2,
                                      clip=0.01 if loss == "wgan" else None,
                                      gp_weight=10.0 if loss == "wgan-gp" else 0.0))
    nets, logged, _ = tiny_fit(obj, model=ModelConfig(z_dim=4, dim=4, spectral_norm=spectral_norm), steps=steps,
                               precision=precision, channels_last=True)
    return nets.G, [values for _, values in logged]


def test_bf16_trains_with_finite_losses_and_keeps_the_weights_in_fp32():
    G, logged = _fit("bf16")
    assert len(logged) == 3 and all(torch.isfinite(torch.tensor(list(v.values()))).all() for v in logged)
    assert {p.dtype for p in G.parameters()} == {torch.float32}
    fp32 = _fit("fp32")[1]
    assert logged[0]["loss_d"] != fp32[0]["loss_d"]                                # bf16 really ran
    assert logged[0]["loss_d"] == pytest.approx(fp32[0]["loss_d"], rel=0.05, abs=0.05)   # and agrees closely


@pytest.mark.parametrize(("loss", "spectral_norm"), [("wgan-gp", False), ("hinge", True)])
def test_bf16_stays_within_its_tolerance_of_fp32_over_eight_steps(loss, spectral_norm):
    # stated tolerance: every logged loss within 2.5% (or 0.001, for a loss_g near 0), and the weights within 30% of
    # how far fp32 training moved them (measured: 1.1%, 0.0004 and 15-16%; Adam turns rounding in small gradients
    # into whole steps early on)
    torch.manual_seed(0)   # _fit's G before training
    start = _weights(build_generator(ModelConfig(z_dim=4, dim=4), MNIST))
    (G, fp32), (G_bf16, bf16) = (_fit(p, steps=8, loss=loss, spectral_norm=spectral_norm) for p in ("fp32", "bf16"))
    assert all(b[k] == pytest.approx(a[k], rel=0.025, abs=1e-3) for a, b in zip(fp32, bf16) for k in ("loss_d", "loss_g"))
    assert 0 < (_weights(G_bf16) - _weights(G)).norm() < 0.3 * (_weights(G) - start).norm()


def test_tf32_is_fp32_on_the_cpu():
    assert _fit("tf32")[1] == _fit("fp32")[1]


def _weights(G: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in G.parameters()])   # reshape: NHWC weights are not views


def test_the_step_scores_real_and_fake_in_separate_critic_passes_then_the_interpolates():
    cfg, b = ModelConfig(z_dim=4, dim=4, spectral_norm=False), 8
    obj = objective("wgan-gp", loss_config(optimizer="adam", lr=1e-4, betas=(0.5, 0.9), critic_steps=2,
                                           gp_weight=10.0))
    G, D = build_generator(cfg, MNIST), build_critic(cfg, MNIST, batchnorm=False)
    batches = []
    D.register_forward_hook(lambda module, inputs, output: batches.append(len(inputs[0])))
    step = Step(plan(obj, steps=1, batch_size=b), G, D, torch.optim.Adam(G.parameters()),
                torch.optim.Adam(D.parameters()), ema=None, start=0)
    gen = torch.Generator().manual_seed(0)
    step.draw(lambda n: torch.rand(n, 1, 28, 28, generator=gen), lambda n: torch.rand(n, 4, generator=gen), gen)
    step()
    assert batches == [b, b, b] * obj.settings.critic_steps + [b]   # real, fake, interpolates per update; G's step
    assert step.step.item() == 1 and step.first_bad.tolist() == [0, 0]
    assert torch.isfinite(step.loss_d) and torch.isfinite(step.loss_g) and step.gradnorm_g.item() > 0


def test_the_divergence_check_names_the_first_bad_step_of_each_loss():
    from ganpipe.gan.loop import _divergence_message

    last = {"step": 4, "loss_d": 1.0, "loss_g": 2.0}
    assert _divergence_message([7, 9], last).startswith("non-finite loss_d at step 7; last finite values at step 4")
    assert _divergence_message([0, 5], None) == "non-finite loss_g at step 5; no finite values were logged before it"
    assert _divergence_message([6, 6], None).startswith("non-finite loss_d and loss_g at step 6")


def _moments(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    # a direct distance between batches: the gap in mean and standard deviation of the pixels
    return (fake.mean() - real.mean()) ** 2 + (fake.std() - real.std()) ** 2


NO_CRITIC = Objective("moments", loss_config(optimizer="adam", lr=1e-2), critic_loss=None, generator_loss=_moments)


def test_an_objective_without_a_critic_trains_through_fit_and_lowers_its_loss():
    assert not NO_CRITIC.has_critic and not NO_CRITIC.probability
    nets, logged, checkpoints = tiny_fit(NO_CRITIC, steps=40, log_every=1, checkpoint_every=20)
    assert nets.D is None and nets.G_ema is None and not nets.G.training
    assert [s for s, _ in logged] == list(range(1, 41))
    assert all(set(values) == {"loss_g", "gradnorm_g"} for _, values in logged)   # no critic: no loss_d either
    first = logged[0][1]["loss_g"]   # step 1's loss: G before any update (measured 0.236)
    last = sum(values["loss_g"] for _, values in logged[-10:]) / 10   # a batch's own noise: averaged (0.0006)
    assert first > 0.1 and last < 0.05 * first, (first, last)
    assert sorted(checkpoints) == [20]   # none at the last step
    assert checkpoints[20]["D"] is None and checkpoints[20]["opt_d"] is None and checkpoints[20]["step"] == 20


def test_an_objective_without_a_critic_resumes_bit_for_bit():
    whole, logged, checkpoints = tiny_fit(NO_CRITIC, steps=12, log_every=2, checkpoint_every=4)
    resumed, logged2, _ = tiny_fit(NO_CRITIC, steps=12, log_every=2, checkpoint_every=4, state=checkpoints[8])
    a, b = whole.G.state_dict(), resumed.G.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert logged2 == [(s, v) for s, v in logged if s > 8]
