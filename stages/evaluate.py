"""evaluate: generated samples vs real test images -> metrics/eval.json, every metric next to its real-vs-real floor."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from ganpipe.data import load_mnist, load_samples
from ganpipe.io import write_json
from ganpipe.metrics import evaluate_against_floor
from stages._common import FactsOpt, ParamsOpt, fail, load_params_or_exit, run_facts


def reference_subset(x_train: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n real training images, disjoint from the test set by construction: the floor's second sample."""
    if n > len(x_train):
        fail(f"generate.n = {n} exceeds the {len(x_train)} real training images available for the floor")
    idx = np.random.default_rng(seed).choice(len(x_train), size=n, replace=False)
    return x_train[np.sort(idx)]


def evaluate(
    samples: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="samples.npz from generate")],
    data: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="mnist.npz from fetch")],
    out: Annotated[Path, typer.Option(help="metrics JSON (flat keys)")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Histogram JS / KL / symmetrised KL between generated and real test images, with noise floors."""
    p = load_params_or_exit(params)
    with run_facts("evaluate", facts):
        try:
            gen = load_samples(samples)
            mnist = load_mnist(data)
            metrics = evaluate_against_floor(
                gen, mnist["x_test"], reference_subset(mnist["x_train"], len(gen), p.seed),
                bins=p.evaluate.bins, perpixel_bins=p.evaluate.perpixel_bins, alpha=p.evaluate.alpha,
            )
        except ValueError as e:
            fail(str(e))
        write_json(out, metrics)
