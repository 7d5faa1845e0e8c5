"""The evaluator around the metric arithmetic: the classifier's embedding, the scorecard's floors, intervals and
fld_inf, the degradation ladder (monotone on real MNIST), and the report's warnings."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import synthetic_digits
from ganpipe.evaluation import classifier as clf
from ganpipe.config import ClassifierConfig, EvaluateConfig, LadderConfig, ParamsError, load_params
from ganpipe.evaluation.features import frechet_distance
from ganpipe.evaluation.ladder import degrade, place, run_ladder
from ganpipe.evaluation.scorecard import bootstrap_interval, embed_set, fld_inf, reference_subset, score

TINY = ClassifierConfig(epochs=1, batch_size=32, width=2, features=8, reference_images=64)


@pytest.fixture(scope="module")
def tiny_model():
    x, y = synthetic_digits(256, 0)
    return clf.train_classifier(x, y, TINY, device=torch.device("cpu"))


# --- classifier ----------------------------------------------------------------------------------

def test_embed_runs_in_eval_mode_without_gradients(tiny_model):
    seen = []
    tiny_model.train()   # as a caller might leave it
    hook = tiny_model.conv1.register_forward_hook(
        lambda module, inputs, output: seen.append((module.training, torch.is_grad_enabled(), output.requires_grad)))
    try:
        feats, probs = clf.embed(tiny_model, synthetic_digits(10, 1)[0], batch_size=4)
    finally:
        hook.remove()
    assert seen == [(False, False, False)] * 3   # 10 images in batches of 4
    assert feats.shape == (10, 8) and probs.shape == (10, 10) and feats.dtype == np.float64
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=0, atol=1e-12)


def test_classifier_training_is_seeded_and_learns_the_synthetic_digits(tiny_model):
    x, y = synthetic_digits(256, 0)
    again = clf.train_classifier(x, y, TINY, device=torch.device("cpu"))
    for (name, a), b in zip(tiny_model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name
    x_test, y_test = synthetic_digits(200, 5)
    bigger = TINY.model_copy(update=dict(epochs=20, width=4, features=16, lr=3e-3))
    assert clf.accuracy(clf.train_classifier(x, y, bigger, device=torch.device("cpu")), x_test, y_test) > 0.9


def test_classifier_checkpoint_round_trip_and_refusals(tiny_model, tmp_path):
    torch.save(clf.checkpoint(tiny_model, TINY, 0.5), tmp_path / "c.pt")
    model, cfg, acc = clf.load(torch.load(tmp_path / "c.pt", weights_only=True), torch.device("cpu"))
    assert acc == 0.5 and not model.training and cfg == TINY
    with pytest.raises(ValueError, match="not a ganpipe classifier checkpoint"):
        clf.load({"generator": {}}, torch.device("cpu"))
    with pytest.raises(ValueError, match=r"uint8 \(n, 28, 28\)"):
        clf.to_input(np.zeros((2, 28, 28), dtype=np.float32))


# --- scorecard -----------------------------------------------------------------------------------

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


# --- ladder --------------------------------------------------------------------------------------

def test_degradations_do_what_they_say():
    x = np.full((3, 28, 28), 100, dtype=np.uint8)
    assert np.array_equal(degrade(x, "blur", 1.0, 0)[:, 14, 14], [100] * 3)   # blur keeps a flat interior
    holes = [np.count_nonzero(degrade(x, "occlusion", s, 0) == 0, axis=(1, 2)) for s in (4, 8)]
    assert np.array_equal(holes[0], [16] * 3) and np.array_equal(holes[1], [64] * 3)
    small, big = degrade(x, "occlusion", 4, 0) == 0, degrade(x, "occlusion", 8, 0) == 0
    assert np.all(big[small])                                                 # squares are nested
    noisy = degrade(x, "noise", 0.1, 0).astype(float)
    assert 9 < noisy.std() < 11                                               # 100 * sigma 0.1
    assert not degrade(np.zeros_like(x), "noise", 0.8, 0).any()               # the background stays clean
    with pytest.raises(ValueError, match="unknown degradation 'rain'"):
        degrade(x, "rain", 1, 0)


def test_ladder_levels_must_grow():
    with pytest.raises(ValueError, match="strictly increasing"):
        LadderConfig(blur=[1.0, 0.5])


def test_place_reads_a_value_against_the_rungs():
    rows = [{"kind": "none", "level": 0, "fld": 1.0}] + [
        {"kind": k, "level": lv, "fld": f} for k in ("noise", "blur", "occlusion") for lv, f in ((1, 10.0), (2, 100.0))]
    assert place(50.0, rows, "fld") == "ink noise σ 1–2; blur σ 1–2 px; square 1–2 px"
    assert place(5.0, rows, "fld") == "ink noise σ < 1; blur σ < 1 px; square < 1 px"
    assert place(500.0, rows, "fld") == "ink noise σ > 2; blur σ > 2 px; square > 2 px"
    assert place(0.5, rows, "fld") == "better than real (fld 1)"


def test_the_ladder_is_monotone_on_real_mnist(real_mnist):
    """Growing noise, blur and occlusion of real digits give growing fld, kid and pixel_js (the issue's test)."""
    # the pipeline's classifier, one epoch instead of two
    clf_cfg = load_params("params.yaml").classifier.model_copy(update={"epochs": 1})
    model = clf.train_classifier(real_mnist["x_train"], real_mnist["y_train"], clf_cfg, device=torch.device("cpu"))
    cfg = EvaluateConfig(kid_subsets=20, kid_subset_size=500)
    # all of the test set: its two halves come from different writers (NIST SD-3, SD-1), so a slice is biased
    real_test = embed_set(model, real_mnist["x_test"])
    real_ref = embed_set(model, reference_subset(clf.reference_pool(real_mnist["x_train"], clf_cfg), 5000, 0))
    levels = load_params("params.yaml").ladder   # the levels the pipeline uses
    rows = run_ladder(real_test, real_ref, model, cfg, levels)
    for kind in ("noise", "blur", "occlusion"):
        rungs = [rows[0]] + [r for r in rows if r["kind"] == kind]
        assert len(rungs) == 1 + len(getattr(levels, kind))
        for metric in ("fld", "kid", "pixel_js"):
            values = [r[metric] for r in rungs]
            assert all(b > a for a, b in zip(values, values[1:])), (kind, metric, values)


def test_params_reject_a_bad_ladder(tmp_path):
    from conftest import tiny_params_dict, write_yaml

    p = tiny_params_dict()
    p["ladder"]["noise"] = [0.1, 0.0]
    with pytest.raises(ParamsError, match="ladder.noise: must be a non-empty list of positive, strictly increasing"):
        load_params(write_yaml(tmp_path / "p.yaml", p))
