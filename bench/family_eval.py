"""Score generator checkpoints exactly as the evaluate stage does, for runs trained outside the pipeline.

    python bench/family_eval.py --out bench/results/x.json NAME=models/a.pt NAME2=models/b.pt ...

Each checkpoint is sampled on the CPU (n = generate.n, seed), scored with the pipeline's classifier
(models/classifier.pt, from `dvc repro classifier`) against the real test set, and printed as one row.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import torch
import typer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ganpipe.config import load_params  # noqa: E402
from ganpipe.data.arrays import load_mnist  # noqa: E402
from ganpipe.runtime import seed_everything, set_threads  # noqa: E402
from ganpipe.evaluation import classifier as clf  # noqa: E402
from ganpipe.evaluation.scorecard import embed_set, real_sets, score  # noqa: E402
from ganpipe.gan.checkpoint import generate_images, load_generator_file  # noqa: E402

SHOWN = ("fld", "fld_inf", "kid", "is_score", "precision", "recall", "density", "coverage", "class_js", "modes",
         "pixel_js", "perpixel_js_mean")


def main(
    runs: Annotated[list[str], typer.Argument(help="NAME=checkpoint.pt, one per generator")],
    out: Annotated[Path, typer.Option(help="JSON: every metric of every run")],
    data: Annotated[Path, typer.Option()] = ROOT / "data/mnist/mnist.npz",
    classifier: Annotated[Path, typer.Option()] = ROOT / "models/classifier.pt",
    params: Annotated[Path, typer.Option()] = ROOT / "params.yaml",
) -> None:
    p = load_params(params)
    set_threads(0)
    cpu = torch.device("cpu")
    model, clf_cfg = clf.load_file(classifier)
    real_test, real_ref = real_sets(model, clf_cfg, load_mnist(data), p.generate.n, p.evaluate.seed)
    results = {}
    for run in runs:
        name, path = run.split("=", 1)
        G, cfg, _ = load_generator_file(Path(path), cpu, ema=p.generate.ema)
        gen = generate_images(G, cfg, p.generate.n, generator=seed_everything(p.seed, cpu), device=cpu)
        results[name] = {"checkpoint": Path(path).name, "model": cfg.model_dump(),
                         **score(embed_set(model, gen), real_test, real_ref, p.evaluate)}
        print(name, "  ".join(f"{k} {results[name][k]:.4g}" for k in SHOWN), flush=True)
    floors = next(iter(results.values()))
    print("floor", "  ".join(f"{k} {floors[k + '_floor']:.4g}" for k in SHOWN))
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    typer.run(main)
