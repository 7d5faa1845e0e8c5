"""The scorecard around the metric arithmetic: the floors' reference subset, fld_inf, bootstrap intervals, a real
set scored against itself matching its floor, MNIST's keys kept, K from the data, and unlabelled data scored through
random features without the label metrics."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganpipe.evaluation import classifier as clf
from ganpipe.config import ClassifierConfig, EvaluateConfig
from ganpipe.evaluation.features import frechet_distance
from ganpipe.evaluation.registry import LABELLED
from ganpipe.evaluation.scorecard import (bootstrap_interval, embed_set, fld_inf, real_sets, reference_subset, score,
                                          scorecard)
from tests.helpers import synthetic_digits, synthetic_shapes


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


SMALL = EvaluateConfig(samples=64, kid_subsets=4, kid_subset_size=32, bootstrap=5)
# metrics/eval.json's keys, in order, before datasets other than MNIST: every one stays, with its value
MNIST_KEYS = [
    "pixel_js", "pixel_js_floor", "pixel_sym_kl", "pixel_sym_kl_floor", "pixel_kl_real_gen", "pixel_kl_real_gen_floor",
    "pixel_kl_gen_real", "pixel_kl_gen_real_floor", "perpixel_js_mean", "perpixel_js_mean_floor", "fld", "fld_floor",
    "kid", "kid_floor", "kid_std", "kid_std_floor", "is_score", "is_score_floor", "precision", "precision_floor",
    "recall", "recall_floor", "density", "density_floor", "coverage", "coverage_floor", "class_js", "class_js_floor",
    "modes", "modes_floor", "fld_inf", "fld_inf_floor", "fld_ci_lo", "fld_ci_hi", "pixel_js_ci_lo", "pixel_js_ci_hi",
    "n", "n_real", "bins", "perpixel_bins", "alpha", "ci", "bootstrap", "feature_dim"]
LABEL_KEYS = {k for m in LABELLED for k in (m, f"{m}_floor")}


def _labelled(x_train, y_train, x_test, y_test):
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def test_a_labelled_set_keeps_every_mnist_key_and_gains_only_facts(tiny_model):
    (x, y), (xt, yt) = synthetic_digits(256, 0), synthetic_digits(64, 1)
    card = scorecard(synthetic_digits(64, 7)[0], tiny_model, TINY, _labelled(x, y, xt, yt), SMALL)
    assert [k for k in card.metrics if k in MNIST_KEYS] == MNIST_KEYS
    assert [k for k in card.metrics if k not in MNIST_KEYS] == ["channels", "classes"]
    assert (card.metrics["classes"], card.metrics["channels"]) == (10, 1)
    assert list(card.views) == ["perpixel_js", "class_share_real", "intensity_real", "ink_real", "class_share_gen",
                                "intensity_gen", "ink_gen"]
    assert card.views["class_share_gen"].shape == (10,) and card.views["perpixel_js"].shape == (28, 28)


def test_the_classes_come_from_the_data():
    (x, y), (xt, yt) = synthetic_digits(512, 0), synthetic_digits(64, 1)
    keep, keep_t = y < 3, yt < 3                    # a 3-class dataset
    data = _labelled(x[keep], y[keep], xt[keep_t], yt[keep_t])
    model = clf.train_classifier(data["x_train"], data["y_train"], TINY, device=torch.device("cpu"))
    assert model.classes == 3
    n = int(keep_t.sum())
    card = scorecard(data["x_test"], model, TINY, data, SMALL.model_copy(update={"kid_subset_size": n}))
    assert card.metrics["classes"] == 3 and card.views["class_share_gen"].shape == (3,)
    assert 1 <= card.metrics["modes"] <= 3 and 1 <= card.metrics["is_score"] <= 3
    # a classifier of other classes is refused in one line
    with pytest.raises(ValueError, match=r"^the classifier has 3 classes, the dataset 10 \(0: no labels\); run the "
                                         r"classifier stage on this dataset$"):
        real_sets(model, TINY, _labelled(x, y, xt, yt), 10, 0)


def test_unlabelled_data_is_scored_through_random_features_without_the_label_metrics(tiny_model):
    data = {"x_train": synthetic_shapes(256, 0), "x_test": synthetic_shapes(64, 1)}
    model = clf.random_features(TINY, (3, 32, 32))
    card = scorecard(synthetic_shapes(64, 2) // 2, model, TINY, data, SMALL)   # a generator of dim shapes
    assert LABEL_KEYS == {"is_score", "is_score_floor", "class_js", "class_js_floor", "modes", "modes_floor"}
    assert list(card.metrics) == [k for k in MNIST_KEYS if k not in LABEL_KEYS] + ["channels", "classes"]
    assert (card.metrics["classes"], card.metrics["channels"], card.metrics["feature_dim"]) == (0, 3, 8)
    assert all(np.isfinite(v) for v in card.metrics.values())
    assert card.metrics["fld"] > 10 * card.metrics["fld_floor"] > 0
    assert card.metrics["pixel_js"] > 10 * card.metrics["pixel_js_floor"] > 0
    assert list(card.views) == ["perpixel_js", "intensity_real", "ink_real", "intensity_gen", "ink_gen"]
    assert card.views["perpixel_js"].shape == (32, 32)
    assert card.views["perpixel_js"].mean() == pytest.approx(card.metrics["perpixel_js_mean"], rel=1e-12)
    assert card.views["intensity_gen"].sum() == 64 * 32 * 32 * 3
    with pytest.raises(ValueError, match=r"^the classifier has 0 classes, the dataset 10"):
        real_sets(model, TINY, _labelled(*synthetic_digits(256, 0), *synthetic_digits(64, 1)), 10, 0)
    with pytest.raises(ValueError, match=r"^the classifier has 10 classes, the dataset 0"):
        real_sets(tiny_model, TINY, data, 10, 0)
