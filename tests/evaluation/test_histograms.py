"""Histogram metrics: exact values on hand examples, bounds as properties, the noise floor by simulation."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from ganpipe.evaluation import histograms as M

LN2 = math.log(2)


# --- JS ------------------------------------------------------------------------------------------

def test_js_of_disjoint_histograms_is_ln2():
    assert M.js_divergence([1, 0], [0, 1]) == pytest.approx(LN2, abs=1e-15)
    assert M.js_divergence([3, 5, 0, 0, 0], [0, 0, 2, 7, 1]) == pytest.approx(LN2, abs=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_js_of_identical_histograms_is_exactly_zero(dtype):
    p = (np.random.default_rng(0).random(37) * 100).astype(dtype)
    assert M.js_divergence(p, p) == 0.0
    # the same distribution written as counts and as shares is the same distribution
    assert M.js_divergence([2, 6, 0, 2], [0.2, 0.6, 0.0, 0.2]) == pytest.approx(0.0, abs=1e-16)


def test_js_hand_value():
    # P = (1, 0), Q = (½, ½): M = (¾, ¼); JS = ½ ln(4/3) + ½(½ ln(2/3) + ½ ln 2)
    expected = 0.5 * math.log(4 / 3) + 0.25 * math.log(2 / 3) + 0.25 * math.log(2)
    assert M.js_divergence([1, 0], [1, 1]) == pytest.approx(expected, rel=1e-14)


def test_js_works_along_last_axis():
    p = np.array([[1, 0], [1, 1], [4, 4]])
    q = np.array([[0, 1], [1, 1], [1, 0]])
    out = M.js_divergence(p, q)
    assert out.shape == (3,)
    np.testing.assert_allclose(out, [M.js_divergence(a, b) for a, b in zip(p, q)], rtol=0, atol=0)
    assert out[0] == pytest.approx(LN2) and out[1] == 0.0


count_vectors = st.integers(2, 20).flatmap(
    lambda k: st.tuples(*[st.lists(st.integers(0, 1000), min_size=k, max_size=k).filter(any)] * 2))


@settings(max_examples=200, deadline=None)
@given(count_vectors)
def test_js_bounded_symmetric_and_matches_scipy_distance_squared(pq):
    p, q = pq
    js = M.js_divergence(p, q)
    assert 0.0 <= js <= LN2
    assert js == pytest.approx(M.js_divergence(q, p), abs=1e-15)
    # scipy returns the JS *distance* sqrt(JS); squared it must agree with ours
    assert js == pytest.approx(jensenshannon(p, q) ** 2, abs=1e-12)


def test_js_rejects_bad_histograms():
    with pytest.raises(ValueError, match="zero total mass"):
        M.js_divergence([0, 0], [1, 1])
    with pytest.raises(ValueError, match="non-negative"):
        M.js_divergence([-1, 2], [1, 1])
    with pytest.raises(ValueError, match="same shape"):
        M.js_divergence([1, 2, 3], [1, 1])


# --- smoothed KL and sym_kl ----------------------------------------------------------------------

def test_smoothed_formula():
    np.testing.assert_allclose(M.smoothed([3, 0, 1], 0.5), [3.5 / 5.5, 0.5 / 5.5, 1.5 / 5.5], rtol=1e-15)


def test_smoothed_kl_is_finite_with_empty_bins_and_matches_hand_value():
    p, q, a = [4, 0, 0], [0, 2, 2], 1.0
    # P~ = (5/7, 1/7, 1/7), Q~ = (1/7, 3/7, 3/7)
    expected = 5 / 7 * math.log(5) + 2 * (1 / 7) * math.log(1 / 3)
    kl = M.kl_divergence(p, q, a)
    assert math.isfinite(kl)
    assert kl == pytest.approx(expected, rel=1e-14)


def test_kl_of_identical_counts_is_zero():
    c = np.random.default_rng(1).integers(0, 50, size=256)
    assert M.kl_divergence(c, c, 0.5) == 0.0
    assert M.sym_kl(c, c, 0.5) == 0.0


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("nan")])
def test_kl_requires_positive_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        M.kl_divergence([1, 2], [2, 1], alpha)
    with pytest.raises(ValueError, match="alpha"):
        M.sym_kl([1, 2], [2, 1], alpha)


def test_sym_kl_is_half_sum_of_kls_and_is_not_js():
    # the source's "JS" = ½KL(P‖Q) + ½KL(Q‖P): a different quantity from JS, unbounded above
    p, q, a = [10, 1, 0, 5], [2, 2, 9, 1], 0.5
    sk = M.sym_kl(p, q, a)
    assert sk == pytest.approx(0.5 * M.kl_divergence(p, q, a) + 0.5 * M.kl_divergence(q, p, a), rel=1e-15)
    assert sk > 3 * M.js_divergence(p, q)
    assert M.sym_kl([1000, 0], [0, 1000], 0.5) > LN2  # JS would be exactly ln 2 here


# --- binning -------------------------------------------------------------------------------------

@pytest.mark.parametrize("bins", [1, 2, 3, 16, 100, 256])
def test_intensity_counts_shared_fixed_edges(bins):
    images = np.zeros((5, 28, 28), np.uint8)
    images[:, :10] = 255
    counts = M.intensity_counts(images, bins)
    assert counts.dtype == np.int64 and counts.shape == (bins,)
    assert counts.sum() == images.size
    if bins == 1:
        assert counts[0] == images.size
    else:  # 0 in the first bin, 255 in the last, whatever K
        assert (counts[0], counts[-1]) == ((images == 0).sum(), (images == 255).sum())
        assert counts[1:-1].sum() == 0


@pytest.mark.parametrize("bins", [2, 7, 16, 100, 256])
def test_intensity_counts_match_linspace_edges(bins):
    v = np.arange(256, dtype=np.uint8)
    edges = np.linspace(0, 256, bins + 1)
    expected, _ = np.histogram(v.astype(float), bins=edges)  # [e_i, e_{i+1}) edges; no value sits at 256
    np.testing.assert_array_equal(M.intensity_counts(v, bins), expected)


def test_position_counts_match_naive_loop():
    rng = np.random.default_rng(2)
    images, bins = rng.integers(0, 256, size=(40, 5, 7), dtype=np.uint8), 6
    naive = np.zeros((35, bins), np.int64)
    for pos in range(35):
        naive[pos] = M.intensity_counts(images.reshape(40, 35)[:, pos], bins)
    got = M.position_counts(images, bins)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, naive)


@pytest.mark.parametrize("call", [
    lambda x: M.intensity_counts(x.astype(np.float32), 16),
    lambda x: M.position_counts(x[0], 16),
    lambda x: M.position_counts(x.astype(np.int16), 16),
    lambda x: M.intensity_counts(x, 0),
    lambda x: M.intensity_counts(x, 257),
    lambda x: M.histogram_metrics(x, x.astype(np.float32), bins=16, perpixel_bins=4, alpha=0.5),
    lambda x: M.histogram_metrics(x, x[:, :27], bins=16, perpixel_bins=4, alpha=0.5),
    lambda x: M.histogram_metrics(x, x[:0], bins=16, perpixel_bins=4, alpha=0.5),
    lambda x: M.evaluate_against_floor(x.reshape(4, -1), x, x, bins=16, perpixel_bins=4, alpha=0.5),
])
def test_bad_dtype_or_shape_raises(call):
    x = np.zeros((4, 28, 28), np.uint8)
    with pytest.raises(ValueError) as err:
        call(x)
    assert "\n" not in str(err.value)


def test_error_message_names_dtype_and_shape():
    x = np.zeros((10, 28, 28), np.float32)
    with pytest.raises(ValueError,
                       match=r"generated images must be uint8 \(N,H,W\) or \(N,H,W,3\), got float32 \(10, 28, 28\)"):
        M.evaluate_against_floor(x, x.astype(np.uint8), x.astype(np.uint8), bins=16, perpixel_bins=4, alpha=0.5)


# --- the noise floor -----------------------------------------------------------------------------

@pytest.mark.parametrize("k", [16, 64])
def test_floor_of_a_synthetic_multinomial_matches_theory(k):
    rng = np.random.default_rng(1000 + k)
    p = rng.uniform(0.5, 1.5, size=k)  # no tiny probabilities: smoothing and empty bins stay negligible
    p /= p.sum()
    n, reps = 20_000, 200
    a, b = rng.multinomial(n, p, size=reps), rng.multinomial(n, p, size=reps)  # (reps, K) each
    js, sk = M.js_divergence(a, b), M.sym_kl(a, b, 0.5)
    assert js.shape == sk.shape == (reps,)
    assert js.mean() == pytest.approx(M.expected_js_floor(k, n), rel=0.10)
    assert sk.mean() == pytest.approx((k - 1) / n, rel=0.10)


def test_expected_js_floor_value():
    assert M.expected_js_floor(16, 20_000) == 15 / 80_000


# --- evaluate_against_floor ----------------------------------------------------------------------

def _digits_like(rng, n, size=28):
    # a fixed "ink" probability map: a bright ring, dark corners; values drawn per pixel
    yy, xx = np.mgrid[:size, :size]
    ring = np.exp(-((np.hypot(yy - size / 2, xx - size / 2) - size / 4) ** 2) / 8)
    ink = rng.random((n, size, size)) < ring
    return np.where(ink, rng.integers(128, 256, (n, size, size)), rng.integers(0, 20, (n, size, size))).astype(np.uint8)


METRIC_NAMES = ["pixel_js", "pixel_sym_kl", "pixel_kl_real_gen", "pixel_kl_gen_real", "perpixel_js_mean"]
KW = dict(bins=32, perpixel_bins=8, alpha=0.5)


def test_evaluate_against_floor_keys_and_bookkeeping():
    rng = np.random.default_rng(3)
    test, ref, gen = _digits_like(rng, 300), _digits_like(rng, 200), _digits_like(rng, 200)
    out = M.evaluate_against_floor(gen, test, ref, **KW)
    assert set(out) == {*METRIC_NAMES, *(f"{m}_floor" for m in METRIC_NAMES),
                        "n", "n_real", "bins", "perpixel_bins", "alpha"}
    assert (out["n"], out["n_real"], out["bins"], out["perpixel_bins"], out["alpha"]) == (200, 300, 32, 8, 0.5)
    assert all(isinstance(out[m], float) and out[m] > 0 for m in METRIC_NAMES)
    # the floor is histogram_metrics between the two real sets, and the metric between test and gen
    assert out["pixel_js_floor"] == M.histogram_metrics(test, ref, **KW)["pixel_js"]
    assert out["perpixel_js_mean"] == M.perpixel_js_map(test, gen, perpixel_bins=8).mean()


def test_generated_equal_to_real_test_gives_zero():
    rng = np.random.default_rng(4)
    test, ref = _digits_like(rng, 100), _digits_like(rng, 100)
    out = M.evaluate_against_floor(test.copy(), test, ref, **KW)
    for m in METRIC_NAMES:
        assert out[m] == 0.0, m
        assert out[f"{m}_floor"] > 0.0, m


def test_different_distribution_is_far_above_floor():
    rng = np.random.default_rng(5)
    test, ref = _digits_like(rng, 1000), _digits_like(rng, 500)
    gen = rng.integers(0, 256, size=(500, 28, 28), dtype=np.uint8)  # uniform noise
    out = M.evaluate_against_floor(gen, test, ref, **KW)
    for m in METRIC_NAMES:
        assert out[m] > 20 * out[f"{m}_floor"], m
    # a same-distribution "generator" sits at the floor's order of magnitude
    twin = M.evaluate_against_floor(_digits_like(rng, 500), test, ref, **KW)
    assert twin["pixel_js"] < 3 * twin["pixel_js_floor"]


def test_perpixel_map_shape_and_mean():
    rng = np.random.default_rng(6)
    real, gen = _digits_like(rng, 50, size=12), _digits_like(rng, 40, size=12)
    js_map = M.perpixel_js_map(real, gen, perpixel_bins=4)
    assert js_map.shape == (12, 12) and js_map.dtype == np.float64
    assert js_map[3, 5] == pytest.approx(
        M.js_divergence(M.intensity_counts(real[:, 3, 5], 4), M.intensity_counts(gen[:, 3, 5], 4)), abs=0)
    assert M.histogram_metrics(real, gen, **KW | {"perpixel_bins": 4})["perpixel_js_mean"] == js_map.mean()


def test_reference_must_match_generated_count():
    x = np.zeros((10, 28, 28), np.uint8)
    with pytest.raises(ValueError, match="as many as generated"):
        M.evaluate_against_floor(x, x, x[:9], **KW)


def test_rgb_images_count_every_channel_and_each_position_channel_is_a_variable():
    rng = np.random.default_rng(7)
    real, gen = rng.integers(0, 256, (30, 6, 5, 3), dtype=np.uint8), rng.integers(0, 128, (20, 6, 5, 3), dtype=np.uint8)
    assert M.intensity_counts(real, 8).sum() == 30 * 6 * 5 * 3
    assert M.image_intensity_counts(real, 8).shape == (30, 8)
    assert np.array_equal(M.image_intensity_counts(real, 8).sum(0), M.intensity_counts(real, 8))
    counts = M.position_counts(real, 4)
    assert counts.shape == (6 * 5 * 3, 4)
    assert np.array_equal(counts[(2 * 5 + 3) * 3 + 1], M.intensity_counts(real[:, 2, 3, 1], 4))   # row-major (h, w, c)
    js = M.perpixel_js(real, gen, perpixel_bins=4)
    assert js.shape == (6, 5, 3)
    one = [M.intensity_counts(x[:, 2, 3, 1], 4) for x in (real, gen)]   # the histograms of one (position, channel)
    assert js[2, 3, 1] == M.js_divergence(*one)
    js_map = M.perpixel_js_map(real, gen, perpixel_bins=4)
    assert js_map.shape == (6, 5) and np.array_equal(js_map, js.mean(axis=2))   # the report's map: channels averaged
    out = M.histogram_metrics(real, gen, **KW | {"perpixel_bins": 4})
    assert out["perpixel_js_mean"] == js.mean() and out["perpixel_js_mean"] == pytest.approx(js_map.mean(), rel=1e-12)
    assert out["pixel_js"] == M.js_divergence(M.intensity_counts(real, 32), M.intensity_counts(gen, 32))


def test_grayscale_and_rgb_do_not_mix():
    x = np.zeros((4, 8, 8), np.uint8)
    with pytest.raises(ValueError, match=r"differ in image size: \(8, 8\) vs \(8, 8, 3\)"):
        M.histogram_metrics(x, np.zeros((4, 8, 8, 3), np.uint8), **KW)
    with pytest.raises(ValueError, match=r"must be uint8 \(N,H,W\) or \(N,H,W,3\), got uint8 \(4, 8, 8, 4\)"):
        M.position_counts(np.zeros((4, 8, 8, 4), np.uint8), 4)
