"""The training session around the loop: the critic per loss, the batch-size check."""
from __future__ import annotations

import pytest
from torch import nn

from ganpipe.config import ModelConfig
from ganpipe.gan.networks import MNIST
from ganpipe.gan.session import check_batch_size, critic_for


@pytest.mark.parametrize(("loss", "bn"), [("wgan-gp", False), ("wgan", True), ("ns", False)])
def test_the_critic_has_batch_norm_only_for_wgan(loss, bn):
    D = critic_for(ModelConfig(arch="dcgan", z_dim=4, dim=4), MNIST, loss)
    assert any(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == bn


def test_a_batch_larger_than_the_data_is_refused():
    with pytest.raises(ValueError, match="train.batch_size: 64 exceeds the 32 training images"):
        check_batch_size(64, 32)
    check_batch_size(32, 32)
