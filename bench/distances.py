"""Benchmark: "why a neural distance", measured. The source's three distances trained at one wall-time budget, each
over seeds, read from a project's experiments and summarised as `ganpipe study` summarises them.

Not a test: it asserts nothing. It reads experiments that already ran, in the project at --repo:

    python bench/train_speed.py -S loss=hinge -S train.steps=400 --out /tmp/pace_hinge.json   # and the other two
    dvc exp run --queue evaluate -S 'seed=0,1'                                    # the default: hinge, 12,000 steps
    dvc exp run --queue evaluate -S loss=histogram -S train.steps=N -S 'seed=0,1' # N = 12,000 x its pace / hinge's
    dvc exp run --queue evaluate -S loss=sliced-histogram -S train.steps=M -S 'seed=0,1'
    dvc queue start -j 1
    python bench/distances.py --pace /tmp/pace_hinge.json --pace ... --out bench/results/cpu_distances.json

It writes the JSON (each run's metrics with their floors, each distance's mean and interval over seeds, the pace
that set each budget, each run's train wall time) and, beside it, a PNG of each distance's median-seed sample grid.
"""
from __future__ import annotations

import json
import platform
from datetime import date
from pathlib import Path
from typing import Annotated

import matplotlib

matplotlib.use("Agg")
import typer

from ganpipe.cli import GRID
from ganpipe.reporting.compare import experiments, read_grids, revisions
from ganpipe.reporting.figures import fig_grids
from ganpipe.reporting.study import group_runs, median_run, summarise

METRICS = ("fld", "precision", "recall", "coverage", "perpixel_js_mean", "pixel_js")
LEVEL = 0.95
ORDER = ("histogram", "sliced-histogram")   # the source's argument: histograms first, the critic last


def main(out: Annotated[Path, typer.Option(help="JSON to write; the sample grids go beside it as .png")],
         pace: Annotated[list[Path], typer.Option(help="bench/train_speed.py JSONs, one per loss, that set the "
                                                       "steps of each")],
         repo: Annotated[Path, typer.Option(help="the project whose experiments ran")] = Path(".")) -> None:
    exps, params = experiments(repo, repo / "params.yaml")
    # experiments only: a commit's own row (DVC's "baseline") repeats an experiment's params without its curves
    runs = group_runs(exps[exps["fld"].notna() & (exps["typ"] != "baseline")], params, ["seed"])
    summaries = {m: summarise(runs, m, LEVEL).set_index("group") for m in METRICS}
    paces = {d["loss"]: d for d in (json.loads(p.read_text()) for p in pace)}
    revs = revisions(runs)
    groups, medians = [], {}   # medians: group -> the experiment whose fld is its median
    for group, g in runs.groupby("group", sort=False):
        loss, medians[group] = g["loss"].iloc[0], median_run(g, "fld")
        groups.append({
            "group": group, "loss": loss, "steps": int(g["train.steps"].iloc[0]),
            "settings": {k.split(".", 2)[2]: g[k].iloc[0] for k in params if k.startswith(f"losses.{loss}.")},
            "steps_per_s": paces[loss]["steps_per_s"] if loss in paces else None,
            "runs": [{"experiment": r["experiment"], "seed": int(r["seed"]),
                      "train_wall_s": float(r["train_wall_s"]),
                      **{k: float(r[k]) for m in METRICS for k in (m, f"{m}_floor")}}
                     for _, r in g.sort_values("seed").iterrows()],
            "summary": {m: {"n": int(summaries[m].loc[group, "n"]),
                            **{k: float(summaries[m].loc[group, k]) for k in ("mean", "lo", "hi", "floor")}}
                        for m in METRICS},
            "median_seed": int(g.set_index("experiment").loc[medians[group], "seed"]),
        })
    groups.sort(key=lambda g: (ORDER.index(g["loss"]) if g["loss"] in ORDER else len(ORDER), g["group"]))
    grids = read_grids(repo, {m: revs[m] for m in medians.values()}, GRID)
    png = out.with_suffix(".png")
    fig_grids({f"{g['loss']}, seed {g['median_seed']}": grids[medians[g["group"]]] for g in groups
               if medians[g["group"]] in grids}).savefig(png, dpi=90)
    machine = next(iter(paces.values()))
    result = {"benchmark": "distances", "date": date.today().isoformat(), "device": machine["device"],
              "torch": machine["torch"], "python": platform.python_version(), "level": LEVEL,
              "batch_size": int(runs["train.batch_size"].iloc[0]), "groups": groups, "grids": png.name}
    out.write_text(json.dumps(result, indent=2) + "\n")
    for g in groups:
        cells = "  ".join(f"{m} {g['summary'][m]['mean']:.4g} (floor {g['summary'][m]['floor']:.4g})"
                          for m in METRICS)
        print(f"{g['loss']:>16} {g['steps']:>6} steps, n={len(g['runs'])}: {cells}")
    print(f"-> {out}, {png}")


if __name__ == "__main__":
    typer.run(main)
