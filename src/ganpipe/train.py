"""The adversarial training loop: networks, samplers and an objective in; trained networks and logged
values out. No file I/O, no seeding, no device choice. Serves MNIST and the 1-D toy alike."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ganpipe.config import ModelConfig, Objective, TrainConfig
from ganpipe.losses import (PROBABILITY, clip_weights, critic_loss, generator_loss, gradient_penalty,
                            interpolate_grad_norms, separation)
from ganpipe.models import build_critic, build_generator, sample_noise
from ganpipe.resume import rng_state, set_rng_state

Sampler = Callable[[int], Tensor]   # batch size -> a batch on the training device


def make_optimizer(params, obj: Objective) -> torch.optim.Optimizer:
    if obj.optimizer == "rmsprop":   # the WGAN paper's choice: momentum fights the clipped critic
        return torch.optim.RMSprop(params, lr=obj.lr)
    return torch.optim.Adam(params, lr=obj.lr, betas=obj.betas)


def _grad_norm(module: nn.Module) -> Tensor:
    grads = [p.grad.flatten() for p in module.parameters() if p.grad is not None]
    return torch.cat(grads).norm() if grads else torch.zeros(())


class Diverged(FloatingPointError):
    """A loss went NaN or infinite; the message names the step, the loss and the last finite values."""


def train_gan(
    G: nn.Module,
    D: nn.Module,
    *,
    real: Sampler,
    noise: Sampler,
    loss: str,
    obj: Objective,
    steps: int,
    batch_size: int,
    log_every: int,
    generator: torch.Generator,
    held_out: Tensor,
    log: Callable[[int, dict[str, float]], None] = lambda step, values: None,
    on_step: Callable[[int], None] = lambda step: None,
    state: dict | None = None,
    checkpoint_every: int = 0,
    on_checkpoint: Callable[[int, dict], None] = lambda step, state: None,
) -> None:
    """Trains G and D in place. One step = obj.critic_steps critic updates, then one generator update.

    At every `log_every`-th step (and the last) `log(step, values)` gets the diagnostics, measured on
    `held_out` (a fixed batch of real data the critic never trains on) against fresh fakes:
      loss_d, loss_g    the last step's losses
      w_estimate        separation(): for wgan/wgan-gp, mean D(fake) - mean D(real), the critic's W1 estimate
      gradnorm_d_mean/max  ||grad D|| at real/fake interpolates: <= 1 for a 1-Lipschitz critic
      gradnorm_g        ||grad of loss_g wrt G's weights||: near 0 when the loss saturates
      d_real, d_fake    mean D(x) and D(G(z)) as probabilities (minimax and ns only)
    `on_step(step)` runs after every step (progress bars, sample grids).

    Every `checkpoint_every`-th step (a multiple of log_every; 0 = never) before the last, `on_checkpoint(step,
    state)` gets everything a resumed run needs to continue bit for bit: both networks, both optimizers and
    every RNG state. Passing that `state` back resumes after its step. Each step's losses are checked on the
    device (no host sync); a non-finite one raises Diverged at the next logging step, before any checkpoint
    could record it.
    """
    opt_g, opt_d = make_optimizer(G.parameters(), obj), make_optimizer(D.parameters(), obj)
    start, last_logged = 0, None
    if state is not None:
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        set_rng_state(state["rng"], generator)
        start, last_logged = state["step"], state["last_logged"]
    device = held_out.device
    nonfinite = torch.zeros(2, log_every, dtype=torch.bool, device=device)   # (loss_d, loss_g) x steps since the log
    G.train()
    D.train()
    for step in range(start + 1, steps + 1):
        D.requires_grad_(True)
        for _ in range(obj.critic_steps):
            real_batch = real(batch_size)
            with torch.no_grad():
                fake = G(noise(batch_size))
            score_real, score_fake = D(real_batch), D(fake)
            loss_d = critic_loss(loss, score_real, score_fake)
            if obj.gp_weight > 0:
                loss_d = loss_d + obj.gp_weight * gradient_penalty(D, real_batch, fake, generator)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            if obj.clip is not None:
                clip_weights(D, obj.clip)

        D.requires_grad_(False)   # G's step needs gradients through D, not into its weights
        loss_g = generator_loss(loss, D(G(noise(batch_size))))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        logging = step % log_every == 0 or step == steps
        if logging:
            gradnorm_g = _grad_norm(G)
        opt_g.step()
        slot = (step - 1) % log_every
        nonfinite[0, slot] = ~torch.isfinite(loss_d.detach())
        nonfinite[1, slot] = ~torch.isfinite(loss_g.detach())

        if logging:   # .item() only here: each one is a device sync
            if nonfinite.any():
                raise Diverged(_divergence_message(nonfinite.cpu(), step, log_every, last_logged))
            values = {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "gradnorm_g": gradnorm_g.item()}
            values.update(_critic_diagnostics(G, D, held_out, noise, loss, generator))
            log(step, values)
            last_logged = {"step": step, **values}
            if checkpoint_every and step % checkpoint_every == 0 and step < steps:
                on_checkpoint(step, {"step": step, "G": G.state_dict(), "D": D.state_dict(),
                                     "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                                     "rng": rng_state(generator), "last_logged": last_logged})
        on_step(step)
    D.requires_grad_(True)
    G.eval()
    D.eval()


def _divergence_message(nonfinite: Tensor, step: int, log_every: int, last_logged: dict | None) -> str:
    first_slot = int(nonfinite.any(dim=0).nonzero()[0])
    first = (step - 1) // log_every * log_every + 1 + first_slot
    which = " and ".join(name for name, bad in zip(("loss_d", "loss_g"), nonfinite[:, first_slot]) if bad)
    if last_logged is None:
        before = "no finite values were logged before it"
    else:
        before = (f"last finite values at step {last_logged['step']}: loss_d={last_logged['loss_d']:.4g}, "
                  f"loss_g={last_logged['loss_g']:.4g}")
    return f"non-finite {which} at step {first}; {before}"


def _critic_diagnostics(G: nn.Module, D: nn.Module, held_out: Tensor, noise: Sampler, loss: str,
                        generator: torch.Generator) -> dict[str, float]:
    # D stays in train mode (batch norm included) so the figures describe the critic G trains against
    with torch.no_grad():
        fake = G(noise(len(held_out)))
        score_real, score_fake = D(held_out), D(fake)
    with torch.enable_grad():
        D.requires_grad_(False)   # the input gradient is all we need
        norms = interpolate_grad_norms(D, held_out, fake, generator)
    out = {"w_estimate": separation(loss, score_real, score_fake).item(),
           "gradnorm_d_mean": norms.mean().item(), "gradnorm_d_max": norms.max().item()}
    if loss in PROBABILITY:
        out["d_real"] = torch.sigmoid(score_real).mean().item()
        out["d_fake"] = torch.sigmoid(score_fake).mean().item()
    return out


def check_batch_size(batch_size: int, n_images: int) -> None:
    if batch_size > n_images:
        raise ValueError(f"train.batch_size: {batch_size} exceeds the {n_images} training images")


def fit_mnist(images: Tensor, held_out: Tensor, *, model_cfg: ModelConfig, loss: str, obj: Objective,
              cfg: TrainConfig, device: torch.device, generator: torch.Generator,
              log: Callable[[int, dict[str, float]], None] = lambda step, values: None,
              on_step: Callable[[int], None] = lambda step: None,
              G: nn.Module | None = None, state: dict | None = None,
              on_checkpoint: Callable[[int, dict], None] = lambda step, state: None) -> tuple[nn.Module, nn.Module]:
    """The MNIST GAN: builds the networks of `model_cfg` on `device` (or trains a given G) and trains them.
    images, held_out: (N, 1, 28, 28) in [-1, 1], already on `device`, sampled with replacement on the device."""
    check_batch_size(cfg.batch_size, len(images))
    G = (G if G is not None else build_generator(model_cfg)).to(device)
    # batch norm in the critic only for the clipped wgan, as in the WGAN-GP paper's code: it would break the
    # per-sample gradient penalty (our default ns run also scored better without it: pixel_js 0.025 vs 0.029)
    D = build_critic(model_cfg, batchnorm=loss == "wgan").to(device)
    train_gan(G, D, real=lambda b: images[torch.randint(len(images), (b,), generator=generator, device=device)],
              noise=lambda b: sample_noise(b, model_cfg, generator=generator, device=device),
              loss=loss, obj=obj, steps=cfg.steps, batch_size=cfg.batch_size, log_every=cfg.log_every,
              generator=generator, held_out=held_out, log=log, on_step=on_step,
              state=state, checkpoint_every=cfg.checkpoint_every, on_checkpoint=on_checkpoint)
    return G, D
