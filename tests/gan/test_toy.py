"""The 1-D toy, trained through loop.fit (gan.toy.train_toy): what it returns, that it is seeded, and that an
objective without a critic learns N(0, 1) there too."""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ganpipe.config import load_params
from ganpipe.evaluation.toy import toy_metrics
from ganpipe.gan.objectives import Objective
from ganpipe.gan.plan import toy_plan
from ganpipe.gan.toy import train_toy
from tests.helpers import loss_config, tiny_params_dict, write_yaml


def _params(tmp_path):
    return load_params(write_yaml(tmp_path / "params.yaml", tiny_params_dict()))   # toy: 20 steps, 500 samples


def _train(plan, cfg, seed: int = 0) -> dict[str, np.ndarray]:
    torch.manual_seed(seed)   # the networks' initial weights, as the toy stage seeds them
    return train_toy(plan, cfg, generator=torch.Generator().manual_seed(seed), diagnostic_seed=1)


def test_the_toy_returns_its_samples_and_g_on_a_grid_and_is_seeded(tmp_path):
    p = _params(tmp_path)
    plan = toy_plan(p)
    assert (plan.steps, plan.batch_size, plan.device.type, plan.precision, plan.ema_decay) == (20, 32, "cpu", "fp32",
                                                                                               0.999)
    out = _train(plan, p.toy)
    assert out.keys() == {"samples", "u", "g_of_u"}
    assert out["samples"].shape == (500,) and out["u"].shape == out["g_of_u"].shape == (1000,)
    assert all(a.dtype == np.float64 and np.isfinite(a).all() for a in out.values())
    assert out["u"][0] == 0.0005 and out["u"][-1] == 0.9995 and np.all(np.diff(out["u"]) > 0)
    again = _train(plan, p.toy)
    assert all(np.array_equal(out[k], again[k]) for k in out)
    assert not np.array_equal(out["samples"], _train(plan, p.toy, seed=1)["samples"])


def test_the_toy_is_judged_by_its_averaged_g_and_a_watcher_changes_nothing(tmp_path):
    p = _params(tmp_path)
    plan = toy_plan(p)
    seen = []
    train_toy(plan, p.toy, generator=torch.Generator().manual_seed(0), diagnostic_seed=1,
                        watch=lambda step, G: seen.append((step, G(torch.full((3, 1), 0.5)).shape)))
    assert seen == [(step, (3, 1)) for step in range(1, 21)]
    torch.manual_seed(0)
    plain = _train(plan, p.toy)
    torch.manual_seed(0)
    watched = train_toy(plan, p.toy, generator=torch.Generator().manual_seed(0), diagnostic_seed=1,
                        watch=lambda step, G: G(torch.rand(3, 1)))   # draws from torch's global stream only
    assert all(np.array_equal(plain[k], watched[k]) for k in plain)
    raw = _train(dataclasses.replace(plan, ema_decay=0.0), p.toy)
    assert not np.array_equal(raw["g_of_u"], plain["g_of_u"])   # the average, not the last weights


def _moments(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    return (fake.mean() - real.mean()) ** 2 + (fake.std() - real.std()) ** 2


def test_an_objective_without_a_critic_learns_the_toys_normal(tmp_path):
    p = _params(tmp_path)
    obj = Objective("moments", loss_config(optimizer="adam", lr=1e-2), critic_loss=None, generator_loss=_moments)
    plan = dataclasses.replace(toy_plan(p), objective=obj, steps=300, batch_size=256, log_every=300, ema_decay=0.0)
    before = toy_metrics(_train(dataclasses.replace(plan, steps=1), p.toy)["samples"], bins=40, lo=-4.0, hi=4.0,
                         seed=0)
    samples = _train(plan, p.toy)["samples"]
    after = toy_metrics(samples, bins=40, lo=-4.0, hi=4.0, seed=0)
    # G matches the mean and spread (measured: mean -0.02, std 0.96, from 0.09 and 0.02 after one step); two moments
    # do not make the shape normal, so W1 falls to about a quarter (0.78 to 0.20), not to its floor
    assert abs(samples.mean()) < 0.15 and abs(samples.std() - 1) < 0.1, (samples.mean(), samples.std())
    assert after["w1"] < 0.35 * before["w1"], (before["w1"], after["w1"])
