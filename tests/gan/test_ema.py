"""The generator's average (gan.ema): one update, the refused decays, the standing batch-norm statistics."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from ganpipe.gan.ema import EMA, standing_stats


CPU = torch.device("cpu")


def test_one_update_is_d_times_the_average_plus_one_minus_d_times_the_weights():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = EMA(net, decay=0.9)
    before = [p.detach().clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p))
        net[1].running_mean.fill_(3.0)
    ema.update()
    for avg, old, new in zip(ema.model.parameters(), before, net.parameters()):
        assert not torch.equal(avg, new) and not torch.equal(avg, old)
        torch.testing.assert_close(avg, 0.9 * old + 0.1 * new, rtol=0, atol=1e-6)
    assert torch.equal(ema.model[1].running_mean, torch.full((4,), 3.0))   # buffers follow the raw net
    assert not any(p.requires_grad for p in ema.model.parameters())


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_a_decay_outside_zero_one_is_refused(decay):
    with pytest.raises(ValueError, match="decay must lie in"):
        EMA(nn.Linear(2, 2), decay)


def test_standing_statistics_are_the_exact_average_over_the_batches():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    batches = [torch.randn(16, 2) * 5 + 2 for _ in range(4)]
    it = iter(batches)
    standing_stats(net, lambda b: next(it), batches=4, batch_size=16)
    with torch.no_grad():
        h = [net[0](x) for x in batches]
    torch.testing.assert_close(net[1].running_mean, torch.stack([x.mean(0) for x in h]).mean(0))
    torch.testing.assert_close(net[1].running_var, torch.stack([x.var(0) for x in h]).mean(0))
    assert not net.training and net[1].momentum == 0.1   # eval mode, momentum restored
