"""Feature metrics: exact values on hand cases, agreement with independent formulas, the known
real-vs-real values of PRDC, and the traps (singular covariances, unclipped KID) as tests."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from ganpipe.evaluation import features as F


def _cov(x: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.cov(x, rowvar=False))


def _random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.1 * np.eye(d)


# --- Frechet distance ----------------------------------------------------------------------------

def test_fd_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).standard_normal((500, 16))
    assert F.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    # float32 input is promoted, not computed in float32 (which gives negative FD for identical sets)
    assert F.frechet_distance(x.astype(np.float32), x.astype(np.float32)) == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("mu1, sd1, mu2, sd2", [(0.0, 1.0, 0.0, 1.0), (0.0, 1.0, 3.0, 2.0),
                                                (-1.5, 0.3, 2.5, 4.0), (10.0, 1e-3, 10.0, 7.0)])
def test_fd_of_1d_gaussians_is_mean_gap_squared_plus_sd_gap_squared(mu1, sd1, mu2, sd2):
    fd = F.frechet_from_stats([mu1], [[sd1 ** 2]], [mu2], [[sd2 ** 2]])
    assert fd == pytest.approx((mu1 - mu2) ** 2 + (sd1 - sd2) ** 2, abs=1e-10)


def test_fd_of_1d_features_uses_the_unbiased_sample_sd():
    rng = np.random.default_rng(1)
    x, y = rng.normal(0.0, 1.0, (300, 1)), rng.normal(2.0, 3.0, (200, 1))
    expected = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    assert F.frechet_distance(x, y) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_symmetric_method_agrees_with_scipy_sqrtm(seed):
    rng = np.random.default_rng(seed)
    d = 8
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = _random_spd(rng, d), _random_spd(rng, d)
    # the textbook formula: Tr((S1 S2)^½) from the principal square root of the non-symmetric product
    tr_sqrt = np.trace(scipy.linalg.sqrtm(s1 @ s2)).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert F.frechet_from_stats(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)
    assert F.trace_sqrt_product(s1, s2) == pytest.approx(tr_sqrt, rel=1e-10)
    assert F.trace_sqrt_product(s2, s1) == pytest.approx(tr_sqrt, rel=1e-10)


def test_fd_with_zero_columns_is_finite_and_positive():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((400, 16)), rng.standard_normal((400, 16)) + 0.5
    x[:, :3] = 0.0
    y[:, :3] = 0.0
    fd = F.frechet_distance(x, y)
    assert np.isfinite(fd) and fd > 13 * 0.25 * 0.9  # |mu gap|^2 alone is ~13 * 0.5^2
    assert F.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_fd_with_fewer_samples_than_dimensions_stays_finite_and_non_negative(scale):
    # n < d: both covariances are singular; the sqrt of rounding noise on their null eigenvalues used to
    # make FD(X, X) about -1e-5 * scale^2 here
    rng = np.random.default_rng(3)
    x, y = scale * rng.standard_normal((20, 64)), scale * rng.standard_normal((30, 64))
    fd_xy = F.frechet_distance(x, y)
    assert np.isfinite(fd_xy) and fd_xy > 0
    fd_xx = F.frechet_distance(x, x)
    assert 0.0 <= fd_xx <= 1e-12 * np.trace(_cov(x))


def test_fd_is_not_clipped_beyond_rounding(monkeypatch):
    # a genuinely negative value (here forced by a broken trace term) must show, not turn into 0
    s = np.eye(3)
    monkeypatch.setattr(F, "trace_sqrt_product", lambda a, b: 3.0 + 1e-3)
    assert F.frechet_from_stats(np.zeros(3), s, np.zeros(3), s) == pytest.approx(-2e-3, rel=1e-9)
    monkeypatch.setattr(F, "trace_sqrt_product", lambda a, b: 3.0 + 1e-13)
    assert F.frechet_from_stats(np.zeros(3), s, np.zeros(3), s) == 0.0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(2, 40), d=st.integers(1, 12),
       shift=st.floats(-5, 5))
def test_fd_is_symmetric_non_negative_and_translation_invariant(seed, n, d, shift):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, d)), 2 * rng.standard_normal((n + 3, d)) + 1
    fd = F.frechet_distance(x, y)
    assert fd >= 0
    assert F.frechet_distance(y, x) == pytest.approx(fd, rel=1e-7, abs=1e-9)
    assert F.frechet_distance(x + shift, y + shift) == pytest.approx(fd, rel=1e-7, abs=1e-9)


# --- KID -----------------------------------------------------------------------------------------

def _kid_by_loops(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD^2 written out term by term, as an independent reference."""
    d, s = x.shape[1], len(x)

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return (float(np.dot(a, b)) / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i in range(s) for j in range(s) if i != j) / (s * (s - 1))
    yy = sum(k(y[i], y[j]) for i in range(s) for j in range(s) if i != j) / (s * (s - 1))
    xy = sum(k(x[i], y[j]) for i in range(s) for j in range(s)) / (s * s)
    return xx + yy - 2 * xy


def test_kid_is_the_raw_unbiased_mmd2():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((7, 3)), rng.standard_normal((7, 3))
    # one subset holding every row: a permutation of each set, and MMD^2 does not depend on order
    mean, std = F.kid(x, y, subsets=1, subset_size=7)
    assert mean == pytest.approx(_kid_by_loops(x, y), rel=1e-12)
    assert mean < 0  # these two iid samples happen to give a negative estimate: it is returned as is
    assert std == 0.0


def test_kid_of_identical_sets_is_near_zero_and_unclipped():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((500, 16))
    shifted, _ = F.kid(x, x + 1.0, subsets=10, subset_size=500)
    same, std = F.kid(x, x, subsets=3, subset_size=500)
    # identical (not independent) sets: the U-statistic gives exactly 2/(s-1) (mean K - mean diag K) < 0
    k = F._poly_kernel(x, x)
    assert same == pytest.approx(2 / 499 * (k.mean() - np.diag(k).mean()), rel=1e-9)
    assert same < 0 and abs(same) < 0.01 * shifted
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_separates_shifted_sets_and_goes_negative_for_iid_samples():
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((400, 8)), rng.standard_normal((400, 8))
    shifted_mean, shifted_std = F.kid(x, y + 1.0, subsets=10, subset_size=100)
    iid = [F.kid(x, y, subsets=3, subset_size=100, seed=seed) for seed in range(5)]
    assert shifted_mean > 1.0 and shifted_std > 0
    assert all(std >= 0 for _, std in iid)
    assert max(abs(m) for m, _ in iid) < 0.02 * shifted_mean
    assert min(m for m, _ in iid) < 0  # unbiased for 0: some seeds go below, and nothing clips them


def test_kid_is_reproducible_by_seed():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((50, 4)), rng.standard_normal((60, 4))
    assert F.kid(x, y, subsets=4, subset_size=20, seed=3) == F.kid(x, y, subsets=4, subset_size=20, seed=3)
    assert F.kid(x, y, subsets=4, subset_size=20, seed=3) != F.kid(x, y, subsets=4, subset_size=20, seed=4)


# --- Inception Score -----------------------------------------------------------------------------

def test_is_of_uniform_one_hot_is_the_number_of_classes():
    probs = np.eye(10)[np.repeat(np.arange(10), 30)]
    assert F.inception_score(probs) == pytest.approx(10.0, abs=1e-9)


def test_is_of_one_class_and_of_uniform_rows_is_one():
    assert F.inception_score(np.eye(10)[np.full(50, 3)]) == pytest.approx(1.0, abs=1e-12)
    assert F.inception_score(np.full((50, 10), 0.1)) == pytest.approx(1.0, abs=1e-12)


def test_is_hand_value():
    # p(y) = (3/4, 1/4); KL_1 = ln(4/3); KL_2 = ½ ln(2/3) + ½ ln 2
    expected = math.exp(0.5 * (math.log(4 / 3) + 0.5 * math.log(2 / 3) + 0.5 * math.log(2)))
    assert F.inception_score([[1.0, 0.0], [0.5, 0.5]]) == pytest.approx(expected, rel=1e-14)


# --- PRDC ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gaussians() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(8)
    return rng.standard_normal((1000, 8)), rng.standard_normal((1000, 8))


def test_prdc_of_two_samples_of_one_distribution(gaussians):
    real, fake = gaussians
    m = F.prdc(real, fake)
    assert m["density"] == pytest.approx(1.0, abs=0.15)
    assert m["coverage"] == pytest.approx(1 - 2 ** -5, abs=0.03)  # Naeem et al.: 1 - (1/2)^k
    assert 0.6 < m["precision"] < 0.99 and 0.6 < m["recall"] < 0.99


def test_prdc_drops_for_a_shifted_fake_distribution(gaussians):
    real, fake = gaussians
    same, shifted = F.prdc(real, fake), F.prdc(real, fake + 1.0)
    assert shifted["precision"] < same["precision"] - 0.2
    assert shifted["coverage"] < same["coverage"] - 0.4
    assert shifted["density"] < 0.6 * same["density"]


def test_prdc_of_a_set_with_itself_is_exact():
    # every point lies in its own ball, which holds it and its k nearest others: density = (k+1)/k
    x = np.random.default_rng(9).standard_normal((200, 5))
    assert F.prdc(x, x, k_pr=3, k_dc=5) == {"precision": 1.0, "recall": 1.0, "density": 1.2, "coverage": 1.0}


def test_prdc_does_not_depend_on_the_block_size(gaussians):
    real, fake = gaussians
    real, fake = real[:300], fake[:250] + 0.3
    assert F.prdc(real, fake, block_rows=7) == F.prdc(real, fake, block_rows=1024)


def test_prdc_radii_skip_only_the_point_itself():
    # on a line 0, 1, 3, 6: 1st / 2nd nearest other points are at distance (1,1,2,3) / (3,2,3,5)
    x = np.array([[0.0], [1.0], [3.0], [6.0]])
    radii = F._knn_radii(x, [1, 2], block_rows=3)
    np.testing.assert_array_equal(radii[1], [1.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(radii[2], [3.0, 2.0, 3.0, 5.0])


# --- class histogram -----------------------------------------------------------------------------

def test_class_histogram_of_identical_labels():
    labels = np.random.default_rng(10).integers(0, 10, 500)
    assert F.class_histogram_metrics(labels, labels, 10) == {"class_js": 0.0, "modes": 10}


def test_class_histogram_of_a_collapsed_generator():
    real = np.repeat(np.arange(10), 100)
    m = F.class_histogram_metrics(np.full(1000, 4), real, 10)
    # P = one class, Q = uniform: M = (0.55, 0.05 x 9)
    expected = 0.5 * math.log(1 / 0.55) + 0.5 * (0.1 * math.log(0.1 / 0.55) + 0.9 * math.log(2))
    assert m["modes"] == 1
    assert m["class_js"] == pytest.approx(expected, rel=1e-12) and m["class_js"] > 0.3


def test_modes_count_against_the_datasets_classes():
    # K comes from the data: 5 classes all present are 5 modes of 5, a label 5 is outside them
    labels = np.repeat(np.arange(5), 20)
    assert F.class_histogram_metrics(labels, labels, 5) == {"class_js": 0.0, "modes": 5}
    with pytest.raises(ValueError, match=r"pred_gen must lie in \[0, 5\), got range \[0, 5\]"):
        F.class_histogram_metrics(np.append(labels, 5), labels, 5)


def test_modes_threshold_is_one_percent_inclusive():
    gen = np.concatenate([np.zeros(99, dtype=np.int64), [7]])            # class 7 holds exactly 1%
    assert F.class_histogram_metrics(gen, gen, 10)["modes"] == 2
    gen = np.concatenate([np.zeros(200, dtype=np.int64), [7]])           # under 1%
    assert F.class_histogram_metrics(gen, gen, 10)["modes"] == 1


# --- bad input -----------------------------------------------------------------------------------

GOOD = np.random.default_rng(11).standard_normal((20, 3))
NAN = GOOD.copy()
NAN[3, 1] = np.nan


@pytest.mark.parametrize("call, match", [
    (lambda: F.frechet_distance(np.ones(5), GOOD), r"2-D array \(n, d\), got float64 shape \(5,\)"),
    (lambda: F.frechet_distance(GOOD, NAN), "1 NaN/inf"),
    (lambda: F.frechet_distance(GOOD, GOOD[:, :2]), "feature dimension: 3 vs 2"),
    (lambda: F.frechet_distance(GOOD[:1], GOOD), "at least 2 rows"),
    (lambda: F.frechet_from_stats(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2)), "one d"),
    (lambda: F.frechet_from_stats(np.zeros(2), [[1, 2], [0, 1]], np.zeros(2), np.eye(2)), "symmetric"),
    (lambda: F.kid(np.ones(5), GOOD), "2-D array"),
    (lambda: F.kid(GOOD, NAN), "NaN"),
    (lambda: F.kid(GOOD, GOOD, subset_size=1), "subset_size"),
    (lambda: F.kid(GOOD, GOOD, subsets=0), "subsets"),
    (lambda: F.inception_score(np.full((4, 10), 0.11)), "sum to 1"),
    (lambda: F.inception_score(np.full(10, 0.1)), "2-D array"),
    (lambda: F.inception_score([[0.5, np.nan]]), "NaN"),
    (lambda: F.inception_score([[1.5, -0.5]]), "non-negative"),
    (lambda: F.prdc(GOOD, np.ones(3)), "2-D array"),
    (lambda: F.prdc(GOOD, NAN), "NaN"),
    (lambda: F.prdc(GOOD[:5], GOOD, k_dc=5), "more than k points"),
    (lambda: F.class_histogram_metrics(np.array([0.0, 1.0]), np.array([0, 1]), 10), "int array"),
    (lambda: F.class_histogram_metrics(np.array([0, 10]), np.array([0, 1]), 10), r"\[0, 10\)"),
])
def test_bad_input_raises_one_line_value_error(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)
