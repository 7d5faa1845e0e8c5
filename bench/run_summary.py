"""Benchmark record of one finished pipeline run: which dataset, how long each stage took, and the headline metrics
beside their floors, read from a project's outputs after `dvc repro` or `dvc exp run`.

Not a test: it asserts nothing. Run it in the project that ran, e.g. after `dvc exp run -S dataset=fashion-mnist`:

    python bench/run_summary.py --out bench/results/cpu_fashion_default.json --note "..."

It writes the JSON and, beside it, the run's sample grid (data/generated/grid.png) as a PNG of the same stem.
"""
from __future__ import annotations

import json
import platform
import shutil
from datetime import date
from pathlib import Path
from typing import Annotated

import torch
import typer

from ganpipe.config import load_params
from ganpipe.evaluation.registry import HEADLINE, LABELLED

STAGES = ("fetch", "classifier", "ladder", "train", "generate", "evaluate", "toy", "report")


def main(out: Annotated[Path, typer.Option(help="JSON to write; the sample grid goes beside it as .png")],
         note: Annotated[str, typer.Option(help="how the run was made: the command, the machine's load")] = "",
         repo: Annotated[Path, typer.Option(help="the project that ran")] = Path(".")) -> None:
    p = load_params(repo / "params.yaml")
    ev = json.loads((repo / "metrics/eval.json").read_text())
    classifier = json.loads((repo / "metrics/classifier.json").read_text())
    manifest = json.loads((repo / "data/real/manifest.json").read_text())
    runs = {s: json.loads(f.read_text()) for s in STAGES if (f := repo / f"metrics/runs/{s}.json").is_file()}
    train = json.loads((repo / "metrics/train/metrics.json").read_text())
    record = {
        "benchmark": "run_summary", "date": date.today().isoformat(), "device": runs["train"].get("device", "?"),
        "torch": torch.__version__, "python": platform.python_version(), "note": note,
        "dataset": p.dataset, "title": manifest["title"], "source": manifest["source"],
        "counts": manifest["counts"], "loss": p.loss, "steps": p.train.steps, "samples": ev["n"],
        "steps_per_s": train.get("steps_per_s"), "classifier": classifier,
        "classifier_target": p.datasets[p.dataset].classifier_target,
        "wall_s": {s: r["wall_s"] for s, r in runs.items()},
        "metrics": {k: {"value": ev[k], "floor": ev[f"{k}_floor"]} for k in HEADLINE if k in ev},
        "left_out": [k for k in LABELLED if k not in ev],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    shutil.copyfile(repo / "data/generated/grid.png", out.with_suffix(".png"))
    typer.echo(f"{out}: {record['title']}, fld {ev['fld']:.4g} (floor {ev['fld_floor']:.4g}), "
               f"train {record['wall_s'].get('train', float('nan')):.0f} s")


if __name__ == "__main__":
    typer.run(main)
