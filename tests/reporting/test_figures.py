"""The report's figures: the toy's two panels."""
from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats

from ganpipe.reporting.figures import fig_toy


N = 20_000


@pytest.fixture(scope="module")
def u() -> np.ndarray:
    return np.random.default_rng(123).random(N)


@pytest.mark.parametrize("with_g", [False, True])
def test_fig_toy_has_two_panels(u, with_g):
    grid = np.linspace(0.001, 0.999, 200)
    extra = dict(u=grid, g_of_u=stats.norm.ppf(1 - grid)) if with_g else {}
    fig = fig_toy(stats.norm.ppf(u[:2000]), bins=40, lo=-4, hi=4, **extra)
    try:
        assert len(fig.axes) == 2
        labels = [line.get_label() for line in fig.axes[0].get_lines()]
        assert ("G(u)" in labels) == with_g
    finally:
        plt.close(fig)
