"""evaluate: generated samples vs real test images -> metrics/eval.json, every metric next to its real-vs-real
floor: histogram divergences of pixels, and feature metrics through the MNIST classifier."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import typer

from ganpipe import classifier as clf
from ganpipe.config import ClassifierConfig
from ganpipe.data import load_mnist, load_samples
from ganpipe.io import write_json
from ganpipe.runtime import set_threads
from ganpipe.scorecard import Embedded, embed_set, reference_subset, score
from stages._common import FactsOpt, ParamsOpt, fail, load_params_or_exit, run_facts

ClassifierOpt = Annotated[Path, typer.Option(exists=True, dir_okay=False, help="classifier.pt from classifier")]


def load_classifier(path: Path) -> tuple[torch.nn.Module, ClassifierConfig]:
    try:
        model, cfg, _ = clf.load(torch.load(path, map_location="cpu", weights_only=True), torch.device("cpu"))
    except Exception as e:  # a corrupt or foreign file: say which, in one line
        fail(f"{path}: cannot load classifier: {str(e).splitlines()[0]}")
    return model, cfg


def real_sets(model: torch.nn.Module, cfg: ClassifierConfig, mnist: dict[str, np.ndarray], n: int,
              seed: int) -> tuple[Embedded, Embedded]:
    """The real test set and the real reference subset behind every floor (n training images the classifier was
    not trained on), embedded."""
    try:
        reference = reference_subset(clf.held_out(mnist["x_train"], cfg), n, seed)
    except ValueError as e:
        fail(str(e))
    return embed_set(model, mnist["x_test"]), embed_set(model, reference)


def evaluate(
    samples: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="samples.npz from generate")],
    data: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="mnist.npz from fetch")],
    classifier: ClassifierOpt,
    out: Annotated[Path, typer.Option(help="metrics JSON (flat keys)")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Histogram JS / KL and classifier-feature metrics (FLD, KID, IS, P/R/D/C, classes) with noise floors."""
    p = load_params_or_exit(params)
    set_threads(0)
    with run_facts("evaluate", facts):
        try:
            gen = load_samples(samples)
            mnist = load_mnist(data)
        except ValueError as e:
            fail(str(e))
        model, clf_cfg = load_classifier(classifier)
        real_test, real_ref = real_sets(model, clf_cfg, mnist, len(gen), p.evaluate.seed)
        try:
            metrics = score(gen, real_test, real_ref, model, p.evaluate)
        except ValueError as e:
            fail(str(e))
        write_json(out, metrics)
