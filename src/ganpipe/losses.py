"""GAN objectives, each next to its formula. D outputs logits; sigma is the logistic sigmoid."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def discriminator_loss_ns(logit_real: Tensor, logit_fake: Tensor) -> Tensor:
    # the original judge: maximise E log D(x) + E log(1 - D(G(z))), D = sigma(logit);
    # -log sigma(t) = softplus(-t) and -log(1 - sigma(t)) = softplus(t), stable for any logit
    return F.softplus(-logit_real).mean() + F.softplus(logit_fake).mean()


def generator_loss_ns(logit_fake: Tensor) -> Tensor:
    # non-saturating forger: minimise -E log D(G(z)) instead of E log(1 - D(G(z))),
    # which has the same fixed point but does not vanish while D still wins easily
    return F.softplus(-logit_fake).mean()
