"""1-D toy metrics (evaluation.toy): the exact map and its mirror score like real draws, wrong maps score far off,
floors behave."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ganpipe.evaluation import toy
from ganpipe.reporting.figures import fig_toy
from ganpipe.evaluation.histograms import expected_js_floor


N = 20_000


KW = dict(bins=50, lo=-4.0, hi=4.0, seed=0)


KS_TYPICAL = 0.87 / math.sqrt(N)   # mean of the one-sample KS statistic at n draws from the tested law


@pytest.fixture(scope="module")
def u() -> np.ndarray:
    return np.random.default_rng(123).random(N)


@pytest.fixture(scope="module")
def exact_map(u) -> dict:
    return toy.toy_metrics(stats.norm.ppf(u), **KW)


def within_factor(value: float, target: float, factor: float) -> bool:
    return target / factor <= value <= target * factor


def test_inverse_cdf_map_scores_like_real_draws(exact_map):
    m = exact_map
    assert within_factor(m["ks"], KS_TYPICAL, 2.5) and m["ks"] < 0.02
    assert m["w1"] < 0.03
    assert within_factor(m["hist_js"], m["hist_js_floor"], 3)
    assert m["quantile_rmse"] < 0.05


def test_mirrored_map_is_same_distribution_but_differs_pointwise(u, exact_map):
    mirrored = stats.norm.ppf(1 - u)
    m = toy.toy_metrics(mirrored, **KW)
    assert m["ks"] < 0.02 and within_factor(m["ks"], KS_TYPICAL, 2.5)
    assert m["w1"] < 0.03
    assert within_factor(m["hist_js"], m["hist_js_floor"], 3)
    # pointwise the two maps are far apart (G(u) = -Φ⁻¹(u), so |gap| = 2|Z|, mean 2·sqrt(2/π) ≈ 1.6) ...
    assert np.mean(np.abs(mirrored - stats.norm.ppf(u))) > 1.4
    # ... yet their sorted outputs (the learned quantile functions) coincide up to rounding of 1 - u
    _, sorted_exact = toy.sorted_vs_inverse_cdf(stats.norm.ppf(u))
    _, sorted_mirror = toy.sorted_vs_inverse_cdf(mirrored)
    assert np.max(np.abs(sorted_exact + sorted_mirror[::-1])) < 1e-6
    assert m["w1"] == pytest.approx(exact_map["w1"], abs=1e-6)


@pytest.mark.parametrize("name,transform", [("u", lambda u: u), ("2u-1", lambda u: 2 * u - 1)])
def test_uniform_map_is_far_from_normal(u, name, transform):
    m = toy.toy_metrics(transform(u), **KW)
    assert m["ks"] > 0.15
    assert m["hist_js"] > 20 * m["hist_js_floor"]
    assert m["w1"] > 0.3
    assert m["quantile_rmse"] > m["w1"]   # RMS >= mean of the same gaps


def test_floors_are_positive_typical_and_independent_of_the_samples(u, exact_map):
    m = exact_map
    for key in ("ks_floor", "w1_floor", "hist_js_floor", "quantile_rmse_floor", "hist_js_expected_floor"):
        assert m[key] > 0, key
    assert within_factor(m["ks_floor"], KS_TYPICAL, 2.5)
    assert m["hist_js_expected_floor"] == expected_js_floor(KW["bins"] + 2, N)
    # the floor at (n, seed) is a property of N(0,1), not of the generator
    other = toy.toy_metrics(u, **KW)
    assert all(other[k] == m[k] for k in ("ks_floor", "w1_floor", "hist_js_floor", "quantile_rmse_floor"))
    assert toy.toy_metrics(u, **{**KW, "seed": 1})["hist_js_floor"] != m["hist_js_floor"]
    assert (m["n"], m["bins"], m["lo"], m["hi"]) == (N, 50, -4.0, 4.0) and isinstance(m["n"], int)


def test_samples_outside_the_range_land_in_overflow_bins_not_nowhere():
    # on [-6, 6] the N(0,1) reference has (almost surely) no overflow, so supports are disjoint: JS = ln 2
    wide = {**KW, "lo": -6.0, "hi": 6.0}
    for far in (np.full(2000, 100.0), np.full(2000, -100.0), np.repeat([-100.0, 100.0], 1000)):
        assert toy.toy_metrics(far, **wide)["hist_js"] == pytest.approx(math.log(2), abs=1e-12)
    # on [-4, 4] the reference holds a draw or two beyond ±4, so JS sits just below ln 2, never at 0
    assert 0.68 < toy.toy_metrics(np.full(2000, 100.0), **KW)["hist_js"] <= math.log(2)


def test_exact_quantiles_have_zero_quantile_error():
    exact, _ = toy.sorted_vs_inverse_cdf(np.zeros(1000))
    m = toy.toy_metrics(exact[::-1].copy(), **KW)   # order must not matter
    assert m["quantile_rmse"] < 1e-12 and m["w1"] < 1e-12
    assert np.all(np.diff(exact) > 0) and exact[0] == pytest.approx(stats.norm.ppf(0.5 / 1000))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 300))
def test_metrics_ignore_the_order_of_samples(seed, n):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * 1.5 + 0.3
    a, b = toy.toy_metrics(x, **KW), toy.toy_metrics(rng.permutation(x), **KW)
    assert a == pytest.approx(b, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("bad", [np.zeros((10, 2)), np.array([0.0, np.nan, 1.0]), np.array([np.inf]),
                                 np.array([])])
def test_bad_samples_raise_one_line_value_error(bad):
    with pytest.raises(ValueError, match="toy samples must be a finite 1-D array") as info:
        toy.toy_metrics(bad, **KW)
    assert "\n" not in str(info.value)


def test_bad_histogram_range_raises():
    with pytest.raises(ValueError, match="lo < hi"):
        toy.toy_metrics(np.zeros(5), bins=10, lo=1.0, hi=-1.0, seed=0)
    with pytest.raises(ValueError, match="bins"):
        toy.toy_metrics(np.zeros(5), bins=0, lo=-1.0, hi=1.0, seed=0)
    with pytest.raises(ValueError, match="together"):
        fig_toy(np.zeros(5), u=np.linspace(0.1, 0.9, 5), bins=10, lo=-1, hi=1)
