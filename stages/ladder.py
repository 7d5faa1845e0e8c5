"""ladder: real images degraded step by step (noise, blur, occlusion), scored like generated samples ->
metrics/ladder.json. Depends on the classifier and the evaluation settings, never on the GAN."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ganpipe.data import load_mnist
from ganpipe.io import write_json
from ganpipe.ladder import run_ladder
from ganpipe.runtime import set_threads
from stages._common import FactsOpt, ParamsOpt, echo, fail, load_params_or_exit, run_facts
from stages.evaluate import ClassifierOpt, load_classifier, real_sets


def ladder(
    data: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="mnist.npz from fetch")],
    classifier: ClassifierOpt,
    out: Annotated[Path, typer.Option(help="JSON list of rungs: kind, level, fld, kid, pixel_js, is_score")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Score degraded real images at the evaluation's n, so every metric can be read against pictures."""
    p = load_params_or_exit(params)
    set_threads(0)
    with run_facts("ladder", facts) as f:
        try:
            mnist = load_mnist(data)
        except ValueError as e:
            fail(str(e))
        model, clf_cfg = load_classifier(classifier)
        real_test, real_ref = real_sets(model, clf_cfg, mnist, p.generate.n, p.evaluate.seed)
        rows = run_ladder(real_test, real_ref, model, p.evaluate, p.ladder,
                          progress=lambda rung: echo(f"ladder: {rung}"))
        write_json(out, rows)
        f["rungs"] = len(rows)
