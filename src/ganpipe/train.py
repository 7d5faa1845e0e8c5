"""The training loop: tensors and configs in, models and logged values out. No file I/O, no seeding, no device choice."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ganpipe.config import ModelConfig, TrainConfig
from ganpipe.losses import discriminator_loss_ns, generator_loss_ns
from ganpipe.models import Discriminator, Generator, sample_noise

LogFn = Callable[[int, dict[str, float]], None]


@dataclass
class Trained:
    generator: Generator
    discriminator: Discriminator


def train_gan(
    images: Tensor,
    *,
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    lr: float,
    device: torch.device,
    generator: torch.Generator,
    log: LogFn = lambda step, values: None,
    on_step: Callable[[], None] = lambda: None,
) -> Trained:
    """images: (N, 1, 28, 28) float in [-1, 1], already on `device` (MNIST fits in memory everywhere).

    One step = one discriminator update on a real and a fake batch, then one generator update.
    `log(step, values)` is called every cfg.log_every steps and at the last one; `on_step()` every step.
    """
    if cfg.batch_size > len(images):
        raise ValueError(f"train.batch_size {cfg.batch_size} exceeds the {len(images)} training images")
    G = Generator(model_cfg).to(device)
    D = Discriminator(model_cfg).to(device)
    betas = (cfg.beta1, cfg.beta2)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    G.train()
    D.train()
    for step in range(1, cfg.steps + 1):
        # sampling with replacement from the device RNG: no DataLoader, no host round trip
        idx = torch.randint(len(images), (cfg.batch_size,), generator=generator, device=device)
        real = images[idx]
        fake = G(sample_noise(cfg.batch_size, model_cfg.z_dim, generator=generator, device=device))

        logit_real, logit_fake = D(real), D(fake.detach())
        loss_d = discriminator_loss_ns(logit_real, logit_fake)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        loss_g = generator_loss_ns(D(fake))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

        on_step()
        if step % cfg.log_every == 0 or step == cfg.steps:
            # .item() only here: each one is a device sync
            values = {
                "loss_d": loss_d.item(),
                "loss_g": loss_g.item(),
                "d_real": torch.sigmoid(logit_real).mean().item(),   # D(x): judge's belief that real is real
                "d_fake": torch.sigmoid(logit_fake).mean().item(),   # D(G(z))
            }
            if not all(torch.isfinite(torch.tensor(list(values.values())))):
                raise FloatingPointError(f"non-finite loss at step {step}: {values}")
            log(step, values)
    G.eval()
    D.eval()
    return Trained(G, D)
