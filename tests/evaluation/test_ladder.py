"""The degradation ladder: what each degradation does, its levels, placing a value, monotone on real MNIST."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganpipe.evaluation import classifier as clf
from ganpipe.config import EvaluateConfig, LadderConfig, load_params
from ganpipe.evaluation.ladder import degrade, place, run_ladder
from ganpipe.evaluation.scorecard import embed_set, reference_subset


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


@pytest.mark.slow   # trains the classifier on real MNIST
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
