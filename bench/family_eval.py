"""Score generator checkpoints exactly as the evaluate stage does, for runs trained outside the pipeline.

    python bench/family_eval.py --out bench/results/x.json NAME=models/a.pt NAME2=models/b.pt ...

Each checkpoint is sampled on the CPU as the generate stage samples (evaluate.samples images, seed `seed`, the
weights generate.weights names), scored by the evaluate stage's own scorecard with the pipeline's classifier
(models/classifier.pt, from `dvc repro classifier`) against the real test set, and printed as one row.
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from ganpipe.benchmark import CPU, score_generator
from ganpipe.config import load_params
from ganpipe.data.arrays import load_dataset
from ganpipe.evaluation import classifier as clf
from ganpipe.gan.checkpoint import load_generator_file
from ganpipe.runtime import set_threads

SHOWN = ("fld", "fld_inf", "kid", "is_score", "precision", "recall", "density", "coverage", "class_js", "modes",
         "pixel_js", "perpixel_js_mean")


def main(
    runs: Annotated[list[str], typer.Argument(help="NAME=checkpoint.pt, one per generator")],
    out: Annotated[Path, typer.Option(help="JSON: every metric of every run")],
    data: Annotated[Path, typer.Option()] = Path("data/real/images.npz"),
    classifier: Annotated[Path, typer.Option()] = Path("models/classifier.pt"),
    params: Annotated[Path, typer.Option()] = Path("params.yaml"),
) -> None:
    if bad := [run for run in runs if "=" not in run]:
        raise typer.BadParameter(f"{', '.join(bad)}: expected NAME=checkpoint.pt", param_hint="RUNS")
    p = load_params(params)
    set_threads(0)
    model, clf_cfg = clf.load_file(classifier)
    mnist = load_dataset(data)
    results = {}
    for run in runs:
        name, path = run.split("=", 1)
        G, cfg, weights = load_generator_file(Path(path), CPU, ema=p.generate.weights == "ema")
        results[name] = {"checkpoint": Path(path).name, "model": cfg.model_dump(), "weights": weights,
                         **score_generator(G, cfg, p, model, clf_cfg, mnist)}
        print(name, "  ".join(f"{k} {results[name][k]:.4g}" for k in SHOWN), flush=True)
    floors = next(iter(results.values()))
    print("floor", "  ".join(f"{k} {floors[k + '_floor']:.4g}" for k in SHOWN))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": date.today().isoformat(), **results}, indent=2) + "\n")


if __name__ == "__main__":
    typer.run(main)
