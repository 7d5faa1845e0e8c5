"""report: every output of the pipeline -> reports/index.html (self-contained) and reports/report.md.
Draws what evaluate, the ladder, train and toy wrote; computes no metric and never loads the classifier."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ganpipe.reporting import report as pipeline_report
from stages._common import In, ParamsOpt, load_params_or_exit, refusing


def report(
    metrics: Annotated[Path, In("eval.json from evaluate")],
    views: Annotated[Path, In("views.npz from evaluate")],
    samples: Annotated[Path, In("samples.npz from generate")],
    data: Annotated[Path, In("images.npz from fetch (the real images beside the samples)")],
    live_dir: Annotated[Path, typer.Option(exists=True, file_okay=False, help="DVCLive folder from train")],
    facts: Annotated[list[Path], In("run facts of each stage")],
    toy_metrics: Annotated[Path, In("toy.json from toy")],
    toy_samples: Annotated[Path, In("samples.npz from toy")],
    ladder: Annotated[Path, In("ladder.json from ladder")],
    ladder_examples: Annotated[Path, In("examples.npz from ladder")],
    classifier_metrics: Annotated[Path, In("classifier.json from classifier")],
    out: Annotated[Path, typer.Option(help="report folder")],
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Render the HTML and Markdown report."""
    p = load_params_or_exit(params)
    with refusing(ValueError, KeyError, OSError):
        inputs = pipeline_report.load_inputs(
            p, metrics=metrics, views=views, samples=samples, data=data, live_dir=live_dir, facts=facts,
            toy_metrics=toy_metrics, toy_samples=toy_samples, ladder=ladder, ladder_examples=ladder_examples,
            classifier_metrics=classifier_metrics)
        pipeline_report.write(out, inputs)   # a views or ladder file without an expected key: one line too
