"""The source's first method as a trainable loss: estimate both distributions by histograms over shared bins and let
G minimise JS(p_real(I_i), p_fake(I_i)) (nats, M = (P + Q)/2: the same JS as evaluation.histograms.js_divergence).

A hard histogram has zero gradient almost everywhere, so each sample spreads its unit of mass over nearby bins: the
mass it gives bin [e_k, e_k+1) is the probability that the sample plus kernel noise lands there,
F((e_k+1 - x)/s) - F((e_k - x)/s), F the kernel's CDF and s its scale. The masses of one sample telescope to exactly
1, are smooth in x, and tend to the hard histogram's 0/1 as s -> 0. The outermost bins are open-ended: a sample
beyond [lo, hi] counts in the edge bin (no mass is dropped; its gradient fades as it leaves the kernel's reach).

Three views of a batch, each a set of one-variable problems whose JS values are averaged:
  the toy (B, 1): one variable;  images per pixel (B, C, H, W): each of the C*H*W positions its own variable, on the
  tanh range [-1, 1] (784 for MNIST);  sliced (B, C, H, W) through random unit directions in C*H*W dimensions: each
  projection its own variable.

Refuses: randomness (the sliced loss is handed its directions), numpy, evaluation's metrics.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Kernel = Literal["triangular", "gaussian"]
_TINY = 1e-30   # inside the logs only: p log(p / m) is taken as 0 where p = 0, with a zero gradient there


def kernel_cdf(d: Tensor, kernel: Kernel) -> Tensor:
    """P(noise < d) for noise of unit scale: triangular on [-1, 1] (half-width 1), or the standard normal."""
    if kernel == "gaussian":
        return torch.special.ndtr(d)
    d = d.clamp(-1.0, 1.0)
    return torch.where(d <= 0, 0.5 * (d + 1) ** 2, 1 - 0.5 * (1 - d) ** 2)


def soft_histogram(x: Tensor, lo: Tensor | float, hi: Tensor | float, *, bins: int, kernel: Kernel,
                   width: float) -> Tensor:
    """x (V, B): B samples of each of V variables -> (V, bins) shares, each row summing to 1.

    K equal bins over [lo, hi] (floats, or (V, 1) tensors: one range per variable); `width` is the kernel's scale in
    bin widths: the triangle's half-width, or the Gaussian's standard deviation."""
    as_column = lambda v: torch.as_tensor(v, dtype=x.dtype, device=x.device).reshape(-1, 1)   # (V or 1, 1)
    lo, hi = as_column(lo), as_column(hi)
    steps = torch.arange(1, bins, dtype=x.dtype, device=x.device) / bins              # (K-1,) in (0, 1)
    inner = lo + (hi - lo) * steps                                                    # (V or 1, K-1): inner edges
    scale = width * (hi - lo) / bins                                                  # (V or 1, 1)
    below = kernel_cdf((inner.unsqueeze(1) - x.unsqueeze(-1)) / scale.unsqueeze(1), kernel)   # (V, B, K-1): P(y < e_k)
    zeros, ones = torch.zeros_like(below[..., :1]), torch.ones_like(below[..., :1])
    mass = torch.diff(torch.cat([zeros, below, ones], dim=-1), dim=-1)                    # (V, B, K), rows sum to 1
    return mass.mean(dim=-2)


def _relative_entropy_terms(p: Tensor, m: Tensor) -> Tensor:
    # p log(p / m), 0 where p = 0 (where m >= p/2 > 0 otherwise); the clamp keeps log(0) out of the backward pass
    return torch.where(p > 0, p * (torch.log(p.clamp_min(_TINY)) - torch.log(m.clamp_min(_TINY))), 0.0)


def js(p: Tensor, q: Tensor) -> Tensor:
    """JS(P, Q) = ½KL(P‖M) + ½KL(Q‖M), M = (P + Q)/2, in nats in [0, ln 2], per row of (..., K) shares."""
    m = (p + q) / 2   # (x + x)/2 == x exactly, so JS(p, p) is exactly 0
    return 0.5 * _relative_entropy_terms(p, m).sum(-1) + 0.5 * _relative_entropy_terms(q, m).sum(-1)


def histogram_js(fake: Tensor, real: Tensor, *, bins: int, lo: float, hi: float, kernel: Kernel,
                 width: float) -> Tensor:
    """Mean over variables of JS between the soft histograms of a fake and a real batch, (B, ...) each: every
    coordinate after the batch axis is its own variable (one for the toy, the C*H*W pixel positions of images)."""
    f, r = fake.flatten(1).transpose(0, 1), real.flatten(1).transpose(0, 1).to(fake.dtype)   # (V, B)
    kw = dict(bins=bins, kernel=kernel, width=width)
    return js(soft_histogram(f, lo, hi, **kw), soft_histogram(r, lo, hi, **kw)).mean()


SLICE_MARGIN = 0.25   # each projection's bins span the real batch's [min, max] widened by this share of it per side


def random_directions(count: int, dim: int, generator: torch.Generator, device: torch.device) -> Tensor:
    """(count, dim) unit vectors, uniform on the sphere (normalised Gaussians), from the training generator."""
    v = torch.randn(count, dim, generator=generator, device=device)
    return v / torch.linalg.vector_norm(v, dim=1, keepdim=True)


def sliced_histogram_js(fake: Tensor, real: Tensor, directions: Tensor, *, bins: int, kernel: Kernel,
                        width: float) -> Tensor:
    """Mean over directions (V, D) of JS between the soft histograms of the batches' projections v·x.

    The range is per direction and shared by both batches: the detached REAL batch's projected [min, max], widened by
    SLICE_MARGIN of its span on each side. A fixed range from the data scaling (|v·x| <= sqrt(D) for x in [-1, 1]^D,
    D = C*H*W: 28 for MNIST's 784) would leave nearly every bin empty (the projections of one direction spread over ~1
    of those 2 sqrt(D) units), and a range that followed the fakes would move with G. Fakes beyond it count in the
    edge bins; with bins >= 2 (1 + width)(1 + 2 SLICE_MARGIN) / SLICE_MARGIN (16 at width 1) the real batch's kernel
    mass never reaches them, so fakes there meet none of the real mass."""
    f = directions @ fake.flatten(1).transpose(0, 1)                                # (V, B)
    r = directions.to(real.dtype) @ real.flatten(1).transpose(0, 1)
    r = r.to(f.dtype)
    with torch.no_grad():
        r_lo, r_hi = r.min(dim=1, keepdim=True).values, r.max(dim=1, keepdim=True).values   # (V, 1)
        span = (r_hi - r_lo).clamp_min(1e-6)   # a direction with no spread still gets a range
        lo, hi = r_lo - SLICE_MARGIN * span, r_hi + SLICE_MARGIN * span
    kw = dict(bins=bins, kernel=kernel, width=width)
    return js(soft_histogram(f, lo, hi, **kw), soft_histogram(r, lo, hi, **kw)).mean()

