"""Fixtures of the data tests: synthetic MNIST-shaped arrays and their IDX bytes."""
from __future__ import annotations

import numpy as np
import pytest

from ganpipe.data import idx
from tests.helpers import sha


@pytest.fixture
def synthetic():
    """Five 28x28 train and three test images with labels, and their IDX bytes and sha256."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, size=5, dtype=np.uint8),
        "x_test": rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, size=3, dtype=np.uint8),
    }
    raw = {k: idx.idx_bytes(a) for k, a in arrays.items()}
    return arrays, raw, {k: sha(r) for k, r in raw.items()}
