"""ladder: real images degraded step by step (noise, blur, occlusion), scored like generated samples ->
metrics/ladder.json, and a few degraded examples for the report. Depends on the classifier (trained, or random
features for data without labels) and the evaluation settings, never on the GAN."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ganpipe.data.arrays import load_dataset
from ganpipe.evaluation import classifier as clf
from ganpipe.evaluation.ladder import examples, run_ladder
from ganpipe.evaluation.scorecard import real_sets
from ganpipe.io import save_npz, write_json
from ganpipe.runtime import set_threads
from stages._common import FactsOpt, In, ParamsOpt, echo, load_params_or_exit, refusing, run_facts


def ladder(
    data: Annotated[Path, In("dataset .npz from fetch")],
    classifier: Annotated[Path, In("classifier.pt from classifier")],
    out: Annotated[Path, typer.Option(help="JSON list of rungs: kind, level and each ladder metric")],
    examples_out: Annotated[Path, typer.Option("--examples", help="npz of ladder.examples test images per rung")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Score degraded real images at the evaluation's n, so every metric can be read against pictures."""
    p = load_params_or_exit(params)
    set_threads(0)
    with run_facts("ladder", facts) as f, refusing():
        arrays = load_dataset(data)
        model, clf_cfg = clf.load_file(classifier)
        real_test, real_ref = real_sets(model, clf_cfg, arrays, p.evaluate.samples, p.evaluate.seed)
        rows = run_ladder(real_test, real_ref, model, p.evaluate, p.ladder,
                          progress=lambda rung: echo(f"ladder: {rung}"))
        save_npz(examples_out, **examples(arrays["x_test"][:p.ladder.examples], p.ladder, seed=p.evaluate.seed))
        write_json(out, rows)
        f["rungs"] = len(rows)
