"""Benchmark: the 1-D toy (U[0, 1] -> N(0, 1)) under every loss of the family and the histogram loss, as the toy
stage trains it, with its learning curve: the raw G's KS distance to N(0, 1) every --every steps, on a fixed batch
of noise that the training never draws from. The final figures are the toy stage's (its averaged G, toy.ema_decay). Prints a table against the target (KS <= --target x its floor) and writes JSON
and a figure of the curves.

Not a test: it asserts nothing. Params are params.yaml with `-S key=value` overrides, as `dvc exp run -S` sets them.

    python bench/toy_family.py --out bench/results/cpu_toy_family.json
    python bench/toy_family.py --loss wgan-gp -S losses.wgan-gp.gp_weight=1 --out /tmp/gp1.json
"""
from __future__ import annotations

import json
import platform
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import seaborn as sns
import torch
import typer
from scipy import stats

from ganpipe.config import ParamsError, load_params_with, set_pairs
from ganpipe.evaluation.toy import toy_metrics
from ganpipe.gan.objectives import ADVERSARIAL, HISTOGRAM
from ganpipe.gan.plan import toy_plan
from ganpipe.gan.toy import train_toy
from ganpipe.runtime import seed_everything, set_threads


def curve_of(p, loss: str, every: int, n: int) -> tuple[list[list[float]], dict, float]:
    """[[step, KS], ...], the toy stage's metrics at the end, and the wall time, for one loss."""
    u = torch.rand(n, 1, generator=torch.Generator().manual_seed(p.seed + 2))   # the curve's own noise
    curve: list[list[float]] = []

    def watch(step: int, G) -> None:
        if step % every == 0 or step == p.toy.steps:
            with torch.no_grad():
                x = G(u).squeeze(1).double().numpy()
            curve.append([step, float(stats.kstest(x, "norm").statistic)])

    t0 = time.perf_counter()
    arrays = train_toy(toy_plan(p, loss), p.toy, generator=seed_everything(p.seed, torch.device("cpu")),
                       diagnostic_seed=p.seed + 1, watch=watch)
    wall = time.perf_counter() - t0
    t = p.toy
    return curve, toy_metrics(arrays["samples"], bins=t.bins, lo=t.lo, hi=t.hi, seed=p.seed), wall


def figure(results: dict, target: float, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for loss, r in results.items():
        steps, ks = zip(*r["curve"])
        sns.lineplot(x=steps, y=ks, ax=ax, label=f"{loss} (averaged G at the end: {r['ks']:.3f})")
    floor = next(iter(results.values()))["ks_floor"]
    ax.axhline(target * floor, color="grey", ls="--", lw=1, label=f"target: {target:g} x floor ({target * floor:.3f})")
    ax.axhline(floor, color="black", ls=":", lw=1, label=f"floor ({floor:.4f})")
    ax.set_yscale("log")
    ax.set_xlabel("generator step")
    ax.set_ylabel("KS to N(0, 1)")
    ax.set_title("The toy under each loss: the raw G's KS to N(0, 1) during training")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(
    loss: Annotated[list[str], typer.Option(help="losses to train (repeatable; default: the family and histogram)")]
        = [],
    set_: Annotated[list[str], typer.Option("--set", "-S", help="KEY=VALUE over params.yaml, as dvc exp run -S")]
        = [],
    every: Annotated[int, typer.Option(min=1, help="steps between the curve's points")] = 100,
    n: Annotated[int, typer.Option(min=10, help="noise draws behind each point of the curve")] = 2000,
    target: Annotated[float, typer.Option(help="the target, in multiples of the KS floor")] = 5.0,
    params: Annotated[Path, typer.Option()] = Path("params.yaml"),
    out: Annotated[Path, typer.Option(help="JSON of the figures; the figure goes next to it as .png")] =
        Path("bench/results/toy_family.json"),
) -> None:
    try:
        p = load_params_with(params, set_pairs(set_))
    except ParamsError as e:
        raise typer.BadParameter(str(e), param_hint="-S/--set") from None
    losses = loss or [*ADVERSARIAL, *HISTOGRAM[:1]]
    unknown = sorted(set(losses) - {*ADVERSARIAL, "histogram"})
    if unknown:
        raise typer.BadParameter(f"{', '.join(unknown)}: the toy trains {', '.join([*ADVERSARIAL, 'histogram'])}",
                                 param_hint="--loss")
    set_threads(1)   # as the toy stage: its figures repeat on any machine of this kind
    results = {}
    for name in losses:
        curve, m, wall = curve_of(p, name, every, n)
        results[name] = {"ks": m["ks"], "ks_floor": m["ks_floor"], "w1": m["w1"], "w1_floor": m["w1_floor"],
                         "hist_js": m["hist_js"], "hist_js_floor": m["hist_js_floor"],
                         "meets_target": m["ks"] <= target * m["ks_floor"], "wall_s": round(wall, 1), "curve": curve}
        print(f"{name:>16}: KS {m['ks']:.3f} ({m['ks'] / m['ks_floor']:.1f}x floor {m['ks_floor']:.4f}), "
              f"best on the curve {min(k for _, k in curve):.3f}, {wall:.1f} s")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "toy_family", "date": date.today().isoformat(),
                               "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
                               "overrides": set_, "toy": p.toy.model_dump(), "target": target, "every": every,
                               "results": results}, indent=2) + "\n")
    figure(results, target, out.with_suffix(".png"))
    print(f"-> {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    typer.run(main)
