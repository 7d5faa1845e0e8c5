"""The scorecard around the metric arithmetic: the floors' reference subset, fld_inf, bootstrap intervals, and a real
set scored against itself matching its floor."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganpipe.evaluation import classifier as clf
from ganpipe.config import ClassifierConfig, EvaluateConfig
from ganpipe.evaluation.features import frechet_distance
from ganpipe.evaluation.scorecard import bootstrap_interval, embed_set, fld_inf, reference_subset, score
from tests.helpers import synthetic_digits


TINY = ClassifierConfig(epochs=1, batch_size=32, width=2, features=8, reference_images=64)


@pytest.fixture(scope="module")
def tiny_model():
    x, y = synthetic_digits(256, 0)
    return clf.train_classifier(x, y, TINY, device=torch.device("cpu"))


def test_reference_subset_is_seeded_sorted_and_refuses_too_many():
    x = np.arange(100 * 4).reshape(100, 2, 2)
    a, b = reference_subset(x, 10, 3), reference_subset(x, 10, 3)
    assert np.array_equal(a, b) and len(np.unique(a[:, 0, 0])) == 10
    with pytest.raises(ValueError, match=r"evaluate.samples = 101 exceeds the 100 held-out real images available for the floors \(raise classifier.reference_images\)"):
        reference_subset(x, 101, 0)


def test_fld_inf_removes_the_one_over_n_bias():
    # two samples of ONE Gaussian: FD(n) ~ c/n > 0, and its extrapolation to n = inf is ~0
    rng = np.random.default_rng(0)
    real, other = rng.standard_normal((100_000, 16)), rng.standard_normal((5000, 16))
    at_n = frechet_distance(real, other)
    inf = fld_inf(real, other, points=5, seed=0)
    assert at_n > 0.015 and abs(inf) < at_n / 3, (at_n, inf)
    # a true shift of 1 in one coordinate: FD = 1 at n = inf
    assert fld_inf(real, other + np.eye(16)[0], points=5, seed=0) == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="two distinct subset sizes"):
        fld_inf(real, other[:2], points=5, seed=0)


def test_bootstrap_interval_brackets_the_statistic_and_is_seeded():
    x = np.random.default_rng(1).standard_normal(2000)
    y = np.random.default_rng(2).standard_normal(2000) + 0.5

    def stat(i, j):
        return float(y[j].mean() - x[i].mean())

    lo, hi = bootstrap_interval(stat, len(x), len(y), reps=200, level=0.95, seed=0)
    assert lo < stat(np.arange(2000), np.arange(2000)) < hi
    assert 0.05 < hi - lo < 0.2       # ~ 2 * 1.96 * sqrt(2 / 2000) = 0.124
    assert (lo, hi) == bootstrap_interval(stat, len(x), len(y), reps=200, level=0.95, seed=0)


def test_score_of_real_against_itself_matches_its_floor(tiny_model):
    x, _ = synthetic_digits(300, 0)
    real_test, real_ref = embed_set(tiny_model, x[:150]), embed_set(tiny_model, x[150:])
    cfg = EvaluateConfig(kid_subsets=3, kid_subset_size=50, bootstrap=10)
    ev = score(embed_set(tiny_model, x[150:]), real_test, real_ref, cfg)   # "generated" = the reference set itself
    for key in ("pixel_js", "fld", "kid", "is_score", "precision", "recall", "density", "coverage", "class_js",
                "modes", "fld_inf"):
        assert ev[key] == ev[f"{key}_floor"], key
    assert ev["fld_ci_lo"] <= ev["fld"] * 1.5 and ev["pixel_js_ci_lo"] <= ev["pixel_js_ci_hi"]
