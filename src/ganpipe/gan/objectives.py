"""GAN objectives, each next to its formula, and the critic-side regularisers (gradient penalty, clipping).

D returns one unbounded score per image. For the probability losses (minimax, ns, lsgan, hinge) a high
score means "real", D(x) = sigma(score). For the Wasserstein losses we keep the source's sign convention:
the critic is a learned distance that scores real images LOW and fakes HIGH.
Every loss here is minimised by the network it belongs to.
The histogram losses have no critic: G minimises a JS between soft histograms of its batch and a real batch (the
source's first method; the formulas live in gan/histograms.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganpipe.config import (HISTOGRAM_LOSSES, AnyLossConfig, HistogramLossConfig, LossName,
                            SlicedHistogramLossConfig)
from ganpipe.gan.histograms import histogram_js, random_directions, sliced_histogram_js

LOSSES: tuple[str, ...] = get_args(LossName)
HISTOGRAM = HISTOGRAM_LOSSES   # no critic: G minimises a distance between batches
ADVERSARIAL: tuple[str, ...] = tuple(name for name in LOSSES if name not in HISTOGRAM)
WASSERSTEIN = ("wgan", "wgan-gp")
PROBABILITY = ("minimax", "ns")   # losses whose score is a logit of D(x) = P(real)


# --- the critic's losses: (score_real, score_fake) -> a scalar the critic minimises ---

def critic_logistic(score_real: Tensor, score_fake: Tensor) -> Tensor:
    # the original judge maximises E log D(x) + E log(1 - D(G(z))); as a loss, with D = sigma(s):
    # -log sigma(s) = softplus(-s), -log(1 - sigma(s)) = softplus(s), stable for any score
    return F.softplus(-score_real).mean() + F.softplus(score_fake).mean()


def critic_wasserstein(score_real: Tensor, score_fake: Tensor) -> Tensor:
    # the source's L1 = mean D(real) - mean D(fake), minimised by the critic: real scored low,
    # fakes high; -L1 at the optimum (over 1-Lipschitz D) is the Wasserstein-1 distance
    return score_real.mean() - score_fake.mean()


def critic_hinge(score_real: Tensor, score_fake: Tensor) -> Tensor:
    # max(0, 1 - D(x)) + max(0, 1 + D(G(z))): a margin, no gradient once a sample is beyond it
    return F.relu(1 - score_real).mean() + F.relu(1 + score_fake).mean()


def critic_least_squares(score_real: Tensor, score_fake: Tensor) -> Tensor:
    # least squares towards targets 1 (real) and 0 (fake)
    return 0.5 * ((score_real - 1) ** 2).mean() + 0.5 * (score_fake ** 2).mean()


# --- the generator's losses: score_fake -> a scalar G minimises ---

def generator_minimax(score_fake: Tensor) -> Tensor:
    # the zero-sum game itself: G minimises E log(1 - D(G(z))) = -E softplus(s).
    # It saturates: when D rejects fakes confidently (s << 0) the gradient vanishes
    return -F.softplus(score_fake).mean()


def generator_non_saturating(score_fake: Tensor) -> Tensor:
    # non-saturating: G minimises -E log D(G(z)); same fixed point, strong gradient while D wins
    return F.softplus(-score_fake).mean()


def generator_wasserstein(score_fake: Tensor) -> Tensor:
    # the source's L2 = mean D(G(x)), minimised by G: move fakes to where the critic scores real images
    return score_fake.mean()


def generator_hinge(score_fake: Tensor) -> Tensor:
    return -score_fake.mean()


def generator_least_squares(score_fake: Tensor) -> Tensor:
    return 0.5 * ((score_fake - 1) ** 2).mean()


# loss name -> (the critic's loss, the generator's loss)
FUNCTIONS: dict[str, tuple[Callable[[Tensor, Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "minimax": (critic_logistic, generator_minimax),
    "ns": (critic_logistic, generator_non_saturating),
    "wgan": (critic_wasserstein, generator_wasserstein),
    "wgan-gp": (critic_wasserstein, generator_wasserstein),
    "hinge": (critic_hinge, generator_hinge),
    "lsgan": (critic_least_squares, generator_least_squares),
}


# --- the losses without a critic: (fake batch, real batch[, drawn]) -> a scalar G minimises ---

def histogram_loss(settings: HistogramLossConfig) -> Callable[[Tensor, Tensor], Tensor]:
    # mean over coordinates of JS(p_real(I_i), p_fake(I_i)) on K soft bins over [lo, hi]
    return partial(histogram_js, bins=settings.bins, lo=settings.lo, hi=settings.hi, kernel=settings.kernel,
                   width=settings.width)


def sliced_histogram_loss(settings: SlicedHistogramLossConfig) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    # mean over random unit directions v of JS between the soft histograms of v·fake and v·real
    return partial(sliced_histogram_js, bins=settings.bins, kernel=settings.kernel, width=settings.width)


def sliced_directions(settings: SlicedHistogramLossConfig) -> Callable[[Tensor, torch.Generator], Tensor]:
    # fresh directions every step, from the training generator (so a run repeats): (directions, sample size)
    return lambda real, generator: random_directions(settings.directions, real[0].numel(), generator, real.device)


# loss name -> (its settings -> G's loss, its settings -> the per-step draw the loss is handed, or None)
DISTANCES: dict[str, tuple[Callable, Callable | None]] = {
    "histogram": (histogram_loss, None),
    "sliced-histogram": (sliced_histogram_loss, sliced_directions),
}


@dataclass(frozen=True)
class Objective:
    """A loss resolved once: its name, its optimiser settings and its two functions.

    With a critic, the critic minimises critic_loss(D(real), D(fake)) and G minimises generator_loss(D(G(z))).
    Without one (critic_loss None), G minimises generator_loss(G(z), real) directly: a distance between batches;
    when `draw` is set, the loop also draws draw(real, generator) each step (with the real batch, outside the step
    that CUDA may capture) and passes it on: generator_loss(G(z), real, drawn)."""
    name: str
    settings: AnyLossConfig
    critic_loss: Callable[[Tensor, Tensor], Tensor] | None
    generator_loss: Callable[..., Tensor]
    draw: Callable[[Tensor, torch.Generator], Tensor] | None = None

    @property
    def has_critic(self) -> bool:
        return self.critic_loss is not None

    @property
    def real_batches(self) -> int:
        """Real batches one generator step reads: one per critic step, or the one batch a distance compares with."""
        return self.settings.critic_steps if self.has_critic else 1

    @property
    def probability(self) -> bool:
        return self.name in PROBABILITY

    def separation(self, score_real: Tensor, score_fake: Tensor) -> Tensor:
        return separation(self.name, score_real, score_fake)


def objective(name: str, settings: AnyLossConfig) -> Objective:
    if name in DISTANCES:
        loss, draw = DISTANCES[name]
        return Objective(name, settings, None, loss(settings), draw(settings) if draw is not None else None)
    if name not in FUNCTIONS:
        raise ValueError(f"unknown loss {name!r}; one of {', '.join(LOSSES)}")
    critic, generator = FUNCTIONS[name]
    return Objective(name, settings, critic, generator)


def separation(loss: str, score_real: Tensor, score_fake: Tensor) -> Tensor:
    """How far apart the critic puts real and fake, positive when it tells them apart.
    For the Wasserstein losses this is -L1 = mean D(fake) - mean D(real): the critic's W1 estimate."""
    gap = score_real.mean() - score_fake.mean()
    return -gap if loss in WASSERSTEIN else gap


def interpolate_grad_norms(D: nn.Module, real: Tensor, fake: Tensor, generator: torch.Generator | None = None,
                           create_graph: bool = False, eps: Tensor | None = None) -> Tensor:
    """||grad_x D(x)|| at x = eps real + (1 - eps) fake, eps ~ U[0,1] per sample (drawn from `generator` unless
    given, shape (B, 1, ...)): (B,), in fp32 whatever D's precision.
    A 1-Lipschitz critic has norm <= 1 everywhere; WGAN-GP pushes it to 1 on these lines."""
    if eps is None:
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), generator=generator, device=real.device)
    x = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=create_graph)
    return grad.float().flatten(1).norm(dim=1)   # .float(): a no-op in fp32; under bf16 the norm is taken in fp32


def gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor, generator: torch.Generator | None = None,
                     eps: Tensor | None = None) -> Tensor:
    # WGAN-GP: E[(||grad D(x_hat)|| - 1)^2] on random interpolates (Gulrajani et al. 2017, eq. 3);
    # create_graph: the penalty's own gradient flows into D's weights (a double backward)
    norms = interpolate_grad_norms(D, real, fake, generator, create_graph=True, eps=eps)
    return ((norms - 1) ** 2).mean()


@torch.no_grad()
def clip_weights(D: nn.Module, clip: float) -> None:
    # the original WGAN's crude Lipschitz constraint: every critic weight in [-c, c]
    for p in D.parameters():
        p.clamp_(-clip, clip)
