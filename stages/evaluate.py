"""evaluate: generated samples vs real test images -> metrics/eval.json, every metric next to its real-vs-real
floor (histogram divergences of pixels, feature metrics through the classifier), and the views the report
draws (class shares, intensity histograms, ink, the per-position JS map), so the report never loads the classifier.

For a dataset without labels the classifier is the random-features network: eval.json then has `classes` 0 and no
is_score, class_js or modes (nor their floors), and the views no class_share_real / class_share_gen."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ganpipe.data.arrays import load_dataset, load_samples
from ganpipe.evaluation import classifier as clf
from ganpipe.evaluation.scorecard import scorecard
from ganpipe.io import save_npz, write_json
from ganpipe.runtime import set_threads
from stages._common import FactsOpt, In, ParamsOpt, load_params_or_exit, refusing, run_facts


def evaluate(
    samples: Annotated[Path, In("samples.npz from generate")],
    data: Annotated[Path, In("dataset .npz from fetch")],
    classifier: Annotated[Path, In("classifier.pt from classifier")],
    out: Annotated[Path, typer.Option(help="metrics JSON (flat keys)")],
    views_out: Annotated[Path, typer.Option("--views", help="npz of what the report draws")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Histogram JS / KL and classifier-feature metrics (FLD, KID, P/R/D/C; IS and classes with labels) with noise
    floors."""
    p = load_params_or_exit(params)
    set_threads(0)
    with run_facts("evaluate", facts), refusing():
        gen, arrays = load_samples(samples), load_dataset(data)
        if gen.shape[1:] != arrays["x_test"].shape[1:]:
            raise ValueError(f"{samples}: samples are images of shape {gen.shape[1:]}, the dataset's are "
                             f"{arrays['x_test'].shape[1:]}")
        model, clf_cfg = clf.load_file(classifier)
        card = scorecard(gen, model, clf_cfg, arrays, p.evaluate)
        save_npz(views_out, **card.views)
        write_json(out, card.metrics)
