"""The levers of issue 14: the generator's EMA (update, standing statistics, checkpoint), spectral norm, native bf16."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from ganpipe.config import ModelConfig, TrainConfig
from ganpipe.gan.checkpoint import checkpoint, load_generator
from ganpipe.gan.ema import EMA, standing_stats
from ganpipe.gan.networks import build_critic, build_generator
from ganpipe.reporting.verdict import scored
from ganpipe.runtime import cpu_bf16_flags, speed_settings

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


def test_the_checkpoint_keeps_both_generators_and_generate_picks_by_param():
    cfg = ModelConfig(z_dim=4, dim=4)
    torch.manual_seed(0)
    G, avg = build_generator(cfg), build_generator(cfg)
    ckpt = checkpoint(G, cfg, avg)
    assert ckpt.keys() == {"generator", "generator_ema", "model_config"}
    loaded = load_generator(ckpt, CPU)
    assert loaded.weights == "ema" and torch.equal(loaded.G.fc[0].weight, avg.fc[0].weight)
    raw = load_generator(ckpt, CPU, ema=False)
    assert raw.weights == "raw" and torch.equal(raw.G.fc[0].weight, G.fc[0].weight)
    assert load_generator(checkpoint(G, cfg), CPU).weights == "raw"   # no EMA kept: the raw one


def test_the_verdict_names_the_generator_it_scored():
    cfg = TrainConfig(steps=1, batch_size=1, ema_decay=0.995, ema_standing_batches=100)
    assert scored("raw", cfg) == "Scored: the raw generator (its weights after the last step)."
    assert "averaged generator (EMA of the weights, decay 0.995; batch-norm statistics recomputed over 100" \
        in scored("ema", cfg)
    assert scored("ema", cfg.model_copy(update={"ema_standing_batches": 0})) == (
        "Scored: the averaged generator (EMA of the weights, decay 0.995; batch-norm statistics of the raw generator).")


def _singular_values(D: nn.Module) -> list[float]:
    return [torch.linalg.matrix_norm(m.weight.reshape(m.weight.shape[0], -1), ord=2).item()
            for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_spectral_norm_brings_each_layer_s_largest_singular_value_to_one(arch):
    torch.manual_seed(0)
    plain = build_critic(ModelConfig(arch=arch, dim=8, spectral_norm=False), batchnorm=False)
    assert max(abs(s - 1) for s in _singular_values(plain)) > 0.2   # far from 1 without it
    torch.manual_seed(0)
    D = build_critic(ModelConfig(arch=arch, dim=8, spectral_norm=True), batchnorm=False)
    x = torch.randn(8, 1, 28, 28)
    for _ in range(50):   # one power iteration per forward pass in train mode
        D(x)
    D.eval()
    assert _singular_values(D) == pytest.approx([1.0] * len(_singular_values(D)), abs=0.02)


def test_native_bf16_is_read_from_the_cpu_flags():
    assert cpu_bf16_flags("flags : fpu sse2 avx512f avx512_bf16 amx_bf16 amx_tile") == ["avx512_bf16", "amx_bf16"]
    assert cpu_bf16_flags("flags : fpu sse2 avx2 avx512f") == []


def test_bf16_on_a_cpu_without_native_bf16_is_refused(monkeypatch):
    import ganpipe.runtime
    monkeypatch.setattr(ganpipe.runtime, "cpu_bf16_flags", lambda: [])
    with pytest.raises(ValueError, match="train.precision: bf16 needs a CPU with native bf16"):
        speed_settings("bf16", "auto", CPU)
    assert speed_settings("auto", "auto", CPU) == ("fp32", False)
