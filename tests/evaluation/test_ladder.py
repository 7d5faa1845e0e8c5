"""The degradation ladder: what each degradation does (grayscale and RGB, any size), its levels, placing a value,
monotone on real MNIST and on unlabelled RGB images through random features."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganpipe.evaluation import classifier as clf
from ganpipe.config import ClassifierConfig, EvaluateConfig, LadderConfig, load_params
from ganpipe.evaluation.ladder import degrade, examples, place, run_ladder
from ganpipe.evaluation.scorecard import embed_set, reference_subset
from tests.helpers import synthetic_digits, synthetic_shapes


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


def test_mnist_squares_are_drawn_exactly_as_before_any_size():
    # the 28 x 28 ladder is bit-identical to the one before images of other sizes: centres rng.integers(10, 18)
    x = synthetic_digits(50, 3)[0]
    for side in (4, 8, 12, 16):
        centres = np.random.default_rng(0).integers(10, 18, size=(50, 2))
        top, left = centres[:, :1] - side // 2, centres[:, 1:] - side // 2
        ar = np.arange(28)[None, :]
        square = ((ar >= top) & (ar < top + side))[:, :, None] & ((ar >= left) & (ar < left + side))[:, None, :]
        assert np.array_equal(degrade(x, "occlusion", side, 0), np.where(square, 0, x)), side


def test_rgb_degradations_act_on_space_and_every_channel():
    x = np.empty((3, 32, 32, 3), np.uint8)
    x[...] = (100, 0, 200)
    assert np.array_equal(degrade(x, "blur", 1.5, 0)[:, 16, 16], [[100, 0, 200]] * 3)   # no blur across channels
    holes = degrade(x, "occlusion", 8, 0) == 0                                           # (3, 32, 32, 3)
    assert np.array_equal(holes[..., 0].sum(axis=(1, 2)), [64] * 3)
    assert np.array_equal(holes[..., 2], holes[..., 0]) and holes[..., 1].all()          # all channels blanked
    noisy = degrade(x, "noise", 0.1, 0).astype(float)
    assert 9 < noisy[..., 0].std() < 11 and 18 < noisy[..., 2].std() < 22 and not noisy[..., 1].any()
    ex = examples(x[:2], LadderConfig(), seed=0)
    assert all(v.shape == (5, 2, 32, 32, 3) and v.dtype == np.uint8 for v in ex.values())


def test_square_centres_scale_with_the_image():
    # a 1 px square marks its centre: [10, 18) of 28 scales to [11, 21) of 32 and [6, 10) of 16, about the middle
    for h, w, rows, cols in ((32, 32, (11, 20), (11, 20)), (16, 48, (6, 9), (17, 30))):
        x = np.full((4000, h, w), 255, np.uint8)
        r, c = np.nonzero(degrade(x, "occlusion", 1, 0) == 0)[1:]
        assert (r.min(), r.max(), c.min(), c.max()) == (*rows, *cols), (h, w)


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


@pytest.mark.slow   # trains the classifier on real MNIST, then on real Fashion-MNIST
@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_the_ladder_is_monotone_on_each_built_in_dataset_with_its_classifier(dataset, request):
    """Growing noise, blur and occlusion of real images give growing fld, kid and pixel_js, through a classifier
    trained on that dataset."""
    real = request.getfixturevalue("real_mnist" if dataset == "mnist" else "real_fashion")
    # the pipeline's classifier, one epoch instead of two
    clf_cfg = load_params("params.yaml").classifier.model_copy(update={"epochs": 1})
    model = clf.train_classifier(real["x_train"], real["y_train"], clf_cfg, device=torch.device("cpu"))
    cfg = EvaluateConfig(kid_subsets=20, kid_subset_size=500)
    # all of the test set: MNIST's two halves come from different writers (NIST SD-3, SD-1), so a slice is biased
    real_test = embed_set(model, real["x_test"])
    real_ref = embed_set(model, reference_subset(clf.reference_pool(real["x_train"], clf_cfg), 5000, 0))
    levels = load_params("params.yaml").ladder   # the levels the pipeline uses
    rows = run_ladder(real_test, real_ref, model, cfg, levels)
    for kind in ("noise", "blur", "occlusion"):
        rungs = [rows[0]] + [r for r in rows if r["kind"] == kind]
        assert len(rungs) == 1 + len(getattr(levels, kind))
        for metric in ("fld", "kid", "pixel_js"):
            values = [r[metric] for r in rungs]
            assert all(b > a for a, b in zip(values, values[1:])), (kind, metric, values)


def test_the_ladder_is_monotone_on_unlabelled_rgb_through_random_features():
    """Without labels the metrics look through the seeded untrained LeNet: on structured RGB 32 x 32 shapes, growing
    noise, blur and occlusion still give growing fld, kid and pixel_js (checked with other data and network seeds
    too), at the pipeline's levels and network size."""
    model = clf.random_features(ClassifierConfig(), (3, 32, 32))
    cfg = EvaluateConfig(kid_subsets=10, kid_subset_size=300)
    real_test, real_ref = embed_set(model, synthetic_shapes(600, 0)), embed_set(model, synthetic_shapes(600, 1))
    levels = LadderConfig()
    rows = run_ladder(real_test, real_ref, model, cfg, levels)
    for kind in ("noise", "blur", "occlusion"):
        rungs = [rows[0]] + [r for r in rows if r["kind"] == kind]
        assert len(rungs) == 1 + len(getattr(levels, kind))
        for metric in ("fld", "kid", "pixel_js"):
            values = [r[metric] for r in rungs]
            assert all(b > a for a, b in zip(values, values[1:])), (kind, metric, values)
