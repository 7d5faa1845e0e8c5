"""The histogram losses (gan/histograms.py): soft histograms, their JS, and training with them on the toy and MNIST."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.helpers import synthetic_digits, tiny_params_dict

from ganpipe.config import ModelConfig, Params
from ganpipe.data.arrays import to_model_range, to_uint8
from ganpipe.evaluation.histograms import histogram_metrics, js_divergence
from ganpipe.evaluation.toy import toy_metrics
from ganpipe.gan.histograms import histogram_js, random_directions, sliced_histogram_js, soft_histogram
from ganpipe.gan.loop import Callbacks, fit
from ganpipe.gan.networks import MNIST, build_generator, sample_noise
from ganpipe.gan.objectives import sliced_directions
from ganpipe.gan.plan import toy_plan
from ganpipe.gan.session import critic_for
from ganpipe.gan.toy import train_toy

KERNELS = ("triangular", "gaussian")


def _hard_counts(x: np.ndarray, bins: int, lo: float, hi: float) -> np.ndarray:
    # the soft histogram's hard limit: K equal bins over [lo, hi], the outermost ones open-ended
    edges = np.linspace(lo, hi, bins + 1)
    edges[0], edges[-1] = -np.inf, np.inf
    return np.histogram(x, edges)[0]


@pytest.mark.parametrize("kernel", KERNELS)
def test_soft_histogram_sums_to_one_and_has_gradients(kernel):
    # inside [lo, hi] every sample is within one bin width of an inner edge, so each one has a gradient
    x = torch.rand(3, 200, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    h = soft_histogram(x * 8 - 4, -4.0, 4.0, bins=12, kernel=kernel, width=1.0)
    assert h.shape == (3, 12)
    torch.testing.assert_close(h.sum(-1), torch.ones(3, dtype=torch.float64), rtol=0, atol=1e-12)
    assert (h >= 0).all()
    (h * torch.arange(12.0, dtype=torch.float64)).sum().backward()   # the histogram's mean bin moves with x
    assert torch.count_nonzero(x.grad) == x.numel() and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("kernel", KERNELS)
def test_soft_histogram_tends_to_the_hard_one(kernel):
    x = np.random.default_rng(0).normal(size=500) * 1.5
    hard = _hard_counts(x, 10, -3, 3) / len(x)
    errors = [float(np.abs(soft_histogram(torch.from_numpy(x)[None], -3.0, 3.0, bins=10, kernel=kernel, width=w)[0]
                           .numpy() - hard).max()) for w in (1.0, 0.1, 1e-3)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3


@pytest.mark.parametrize("kernel", KERNELS)
def test_histogram_js_tends_to_the_metrics_js(kernel):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 400)), rng.normal(0.5, 1.2, size=(2, 400))
    hard = np.mean([js_divergence(_hard_counts(a[i], 16, -4, 4), _hard_counts(b[i], 16, -4, 4)) for i in range(2)])
    soft = [float(histogram_js(torch.from_numpy(b.T), torch.from_numpy(a.T), bins=16, lo=-4, hi=4, kernel=kernel,
                               width=w)) for w in (1.0, 0.01, 1e-4)]
    assert abs(soft[-1] - hard) < 1e-3 * hard
    assert abs(soft[-1] - hard) < abs(soft[0] - hard)


@pytest.mark.parametrize("kernel", KERNELS)
def test_histogram_js_of_identical_batches_is_zero_and_of_disjoint_ones_ln2(kernel):
    x = torch.rand(64, 5, generator=torch.Generator().manual_seed(2)) * 0.8 - 1   # in [-1, -0.2)
    assert histogram_js(x, x.clone(), bins=8, lo=-1, hi=1, kernel=kernel, width=1.0).item() == 0.0
    far = x + 1.2   # in [0.2, 1): disjoint from x by 0.4, i.e. 1.6 bins of width 0.25
    gaps = [histogram_js(far, x, bins=8, lo=-1, hi=1, kernel=kernel, width=w).item() for w in (1.0, 0.3, 0.05)]
    assert gaps[0] < gaps[1] <= gaps[2] and gaps[2] == pytest.approx(math.log(2), rel=1e-6)


def test_sliced_range_is_shared_and_covers_the_real_batch():
    # one direction, 1-D data: the projection is x itself (up to sign); with 16 bins the real batch's kernel mass
    # stays off the edge bins (the margin is 4 bin widths), so identical batches give 0 and a fake batch far outside
    # lands in an edge bin against none of the real mass
    g = torch.Generator().manual_seed(3)
    real = torch.rand(128, 1, generator=g)
    v = random_directions(1, 1, g, torch.device("cpu"))
    assert sliced_histogram_js(real, real.clone(), v, bins=16, kernel="triangular", width=1.0).item() == 0.0
    assert sliced_histogram_js(real + 10, real, v, bins=16, kernel="triangular", width=1.0).item() == pytest.approx(
        math.log(2), rel=1e-6)


def test_the_histogram_losses_take_any_image_shape():
    # RGB 32x32: 3072 positions, each its own variable; the mean over them is the mean over the three channels'
    g = torch.Generator().manual_seed(5)
    fake, real = torch.rand(16, 3, 32, 32, generator=g) * 2 - 1, torch.rand(16, 3, 32, 32, generator=g) * 2 - 1
    kw = dict(bins=8, lo=-1, hi=1, kernel="triangular", width=1.0)
    per_channel = [histogram_js(fake[:, c], real[:, c], **kw) for c in range(3)]
    torch.testing.assert_close(histogram_js(fake, real, **kw), torch.stack(per_channel).mean())
    settings = _params().loss_config("sliced-histogram")
    v = sliced_directions(settings)(real, torch.Generator().manual_seed(6))   # as the loop draws them
    assert v.shape == (settings.directions, 3 * 32 * 32)
    assert sliced_histogram_js(real, real.clone(), v, bins=16, kernel="triangular", width=1.0).item() == 0.0
    assert 0 < sliced_histogram_js(fake, real, v, bins=16, kernel="triangular", width=1.0).item() <= math.log(2)


def test_directions_are_unit_vectors_and_repeat_with_the_seed():
    a = random_directions(5, 784, torch.Generator().manual_seed(4), torch.device("cpu"))
    b = random_directions(5, 784, torch.Generator().manual_seed(4), torch.device("cpu"))
    torch.testing.assert_close(torch.linalg.vector_norm(a, dim=1), torch.ones(5))
    assert torch.equal(a, b)


def test_critic_for_a_histogram_loss_is_none():
    cfg = ModelConfig(z_dim=8, dim=4)
    assert critic_for(cfg, MNIST, "histogram") is None and critic_for(cfg, MNIST, "sliced-histogram") is None
    assert critic_for(cfg, MNIST, "hinge") is not None


def _params(**updates) -> Params:
    raw = tiny_params_dict()
    for key, value in updates.items():
        section, _, leaf = key.rpartition(".")
        (raw[section] if section else raw)[leaf] = value
    return Params.model_validate(raw)


def test_histogram_loss_trains_the_toy_well_below_its_start():
    # tiny toy: 300 steps of a 16-unit G (its raw weights: an average over 300 steps would still lag near the start);
    # KS of the untrained G (0 steps is not a plan, so 1 step) vs after
    def ks(steps: int) -> float:
        p = _params(**{"toy.steps": steps, "toy.batch_size": 256, "toy.hidden_units": 16, "toy.samples": 2000,
                       "toy.ema_decay": 0})
        torch.manual_seed(0)
        arrays = train_toy(toy_plan(p, "histogram"), p.toy, generator=torch.Generator().manual_seed(0),
                           diagnostic_seed=1)
        return toy_metrics(arrays["samples"], bins=p.toy.bins, lo=p.toy.lo, hi=p.toy.hi, seed=0)["ks"]

    start, trained = ks(1), ks(300)
    assert trained < 0.25 * start, (start, trained)


def _mnist_run(loss: str, steps: int) -> tuple[float, list[float]]:
    """perpixel_js_mean of G's 256 images against 256 real ones after `steps` steps of `loss` on synthetic digits
    (tiny model), and the logged losses."""
    p = _params(loss=loss)
    from ganpipe.gan.plan import TrainPlan
    from ganpipe.gan.objectives import objective
    plan = TrainPlan(objective(loss, p.loss_config()), torch.device("cpu"), steps=steps, batch_size=64,
                     precision="fp32", cuda_graph=False, channels_last=False, ema_decay=0.0, log_every=10,
                     checkpoint_every=0)
    x, _ = synthetic_digits(512, 0)
    images = to_model_range(x)
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    G = build_generator(p.model, MNIST)
    logged: list[float] = []
    fit(plan, G, critic_for(p.model, MNIST, loss), real=lambda b: images[torch.randint(len(images), (b,), generator=g)],
        noise=lambda b: sample_noise(b, p.model, generator=g, device=torch.device("cpu")), generator=g, diagnostic=images[:8],
        callbacks=Callbacks(log=lambda step, values: logged.append(values["loss_g"])))
    with torch.no_grad():
        fake = to_uint8(G(sample_noise(256, p.model, generator=torch.Generator().manual_seed(9),
                                       device=torch.device("cpu"))))
    js = histogram_metrics(x[256:], fake, bins=256, perpixel_bins=16, alpha=0.5)["perpixel_js_mean"]
    return js, logged


def test_perpixel_histogram_loss_lowers_perpixel_js_on_mnist_like_images():
    before, _ = _mnist_run("histogram", 1)
    after, losses = _mnist_run("histogram", 60)
    assert after < 0.6 * before, (before, after)
    assert losses[-1] < losses[0]


def test_sliced_histogram_loss_trains_and_lowers_its_loss():
    before, _ = _mnist_run("sliced-histogram", 1)
    after, losses = _mnist_run("sliced-histogram", 60)
    assert np.mean(losses[-2:]) < 0.7 * losses[0], losses
    assert after < before, (before, after)
