"""Benchmark: time to quality. Trains candidate configurations on this machine for fixed wall-clock
budgets and scores each as the evaluate stage does, to choose the pipeline's default by measurement.

Not a test: it prints a table and writes JSON, and asserts nothing. For each candidate and seed, one run trains
until the largest budget; at each budget the generator is copied aside (the copy's time is not counted) and,
after training, sampled as the generate stage samples (n = evaluate.samples on the CPU, seed `seed`) and scored
with the pipeline's classifier against the real test set by the evaluate stage's own scorecard
(scorecard.scorecard: every key of metrics/eval.json goes into the rows, their floors into "floor"; FLD,
precision, recall, density, coverage and modes are printed). Every run keeps an EMA of its generator (decay: the
first of --ema), which never touches the training itself, so each run is scored three ways:

  raw           the generator's own weights
  ema           the averaged weights, batch-norm statistics recomputed (train.ema_standing_batches)
  ema_copied    the averaged weights with the raw generator's batch-norm statistics (largest budget only)

Further decays in --ema ride along as more observers, scored as `ema@<decay>` with recomputed statistics.

Results are merged into --out by (candidate, seed): an interrupted study goes on where it stopped.

    python bench/quality.py --seeds 0,1 --out bench/results/cpu_quality.json
    python bench/quality.py --only ns,fast --budgets 60,120 --seeds 0
    python bench/quality.py --only hinge-sn-fast --seeds 2 --ema 0.995,0.999
    python bench/quality.py --only fast,hinge-sn,hinge-sn-fast --plot bench/results/cpu_time_to_quality.png
"""
from __future__ import annotations

import copy
import json
from datetime import date
import platform
import statistics
import time
from pathlib import Path
from typing import Annotated

import torch
import typer

from ganpipe.benchmark import CPU, fit_mnist, score_generator
from ganpipe.config import Params, ParamsError, load_params_with
from ganpipe.data.arrays import load_dataset
from ganpipe.evaluation import classifier as clf
from ganpipe.gan.ema import EMA, standing_stats_from_noise
from ganpipe.gan.loop import Callbacks
from ganpipe.gan.networks import build_generator, image_shape
from ganpipe.gan.plan import mnist_plan
from ganpipe.gan.session import networks
from ganpipe.runtime import device_name, seed_everything, set_threads

# The pipeline's default before hinge with spectral norm became the default (ns, no spectral norm, fp32, NCHW), which every candidate starts from;
# hinge-sn-fast won, and params.yaml's default is it now (docs/results.md).
BEFORE: dict[str, object] = {"loss": "ns", "model.spectral_norm": False, "train.precision": "fp32",
                             "train.channels_last": False}
# name -> overrides of params.yaml, as `dvc exp run -S` would set them
CANDIDATES: dict[str, dict[str, object]] = {name: {**BEFORE, **own} for name, own in {
    "ns": {},   # that earlier default
    "fast": {"train.precision": "bf16", "train.channels_last": True},
    "hinge-sn": {"loss": "hinge", "model.spectral_norm": True},
    "hinge-sn-fast": {"loss": "hinge", "model.spectral_norm": True, "train.precision": "bf16",
                      "train.channels_last": True},
    "wgan-gp": {"loss": "wgan-gp"},
    "dim64": {"model.dim": 64},
    "batch128": {"train.batch_size": 128, "lr": 0.0004},
}.items()}
SHOWN = ("fld", "precision", "recall", "density", "coverage", "modes")


def params_with(params: Path, overrides: dict[str, object], seed: int) -> Params:
    """params.yaml with a candidate's overrides and the seed, as `dvc exp run -S` would set them (each value
    written as JSON, which YAML reads back as written), on the CPU, trained until the largest budget stops it."""
    values = {**overrides, "seed": seed, "train.device": "cpu", "train.steps": 10**9, "train.checkpoint_every": 0}
    try:
        return load_params_with(params, {key: json.dumps(value) for key, value in values.items()})
    except ParamsError as e:
        raise typer.BadParameter(str(e), param_hint="--params") from None


class Budgets:
    """The loop's on_step: updates the extra EMA observers; at each budget (seconds of training, snapshots excluded)
    copies G, D and every EMA aside; after the last, stops the run."""

    class Done(Exception):
        pass

    def __init__(self, budgets: list[float], G: torch.nn.Module, D: torch.nn.Module, emas: list[EMA], batch_size: int):
        self.budgets, self.G, self.D, self.emas, self.batch_size = sorted(budgets), G, D, emas, batch_size
        self.snapshots: list[dict] = []
        self.t0 = time.perf_counter()
        self.paused = 0.0

    def __call__(self, step: int) -> None:
        for ema in self.emas[1:]:   # the first is updated inside the step
            ema.update()
        elapsed = time.perf_counter() - self.t0 - self.paused
        if elapsed < self.budgets[len(self.snapshots)]:
            return
        t = time.perf_counter()
        self.snapshots.append({"budget_s": self.budgets[len(self.snapshots)], "train_s": round(elapsed, 1),
                               "steps": step, "images": step * self.batch_size,
                               "G": copy.deepcopy(self.G.state_dict()), "D": copy.deepcopy(self.D.state_dict()),
                               "G_ema": [copy.deepcopy(e.model.state_dict()) for e in self.emas]})
        self.paused += time.perf_counter() - t
        if len(self.snapshots) == len(self.budgets):
            raise Budgets.Done


def score_weights(state: dict, p: Params, model, clf_cfg, mnist: dict, *, standing: bool) -> dict[str, float]:
    """Weights as the generate stage would sample them, scored as the evaluate stage scores them."""
    G = build_generator(p.model, image_shape(mnist["x_train"]))
    G.load_state_dict(state)
    if standing:   # as the train stage does
        standing_stats_from_noise(G, p.model, batches=p.train.ema_standing_batches, batch_size=p.train.batch_size,
                                  seed=p.seed, device=CPU)
    return score_generator(G, p.model, p, model, clf_cfg, mnist)


def run_one(name: str, p: Params, mnist: dict, ema_decays: list[float], budgets: list[float], model, clf_cfg,
            keep: Path | None = None) -> tuple[dict, dict[str, float]]:
    """One candidate at one seed: its rows, and the real-vs-real floors its scores were read against."""
    set_threads(p.train.threads)
    rng = seed_everything(p.seed, CPU)
    plan = mnist_plan(p, CPU)
    G, D = nets = networks(p, image_shape(mnist["x_train"]))   # where the train stage builds them: same random init
    if plan.channels_last:   # before the averages copy G, so they share its layout
        G.to(memory_format=torch.channels_last)
    emas = [EMA(G, d) for d in ema_decays]
    clock = Budgets(budgets, G, D, emas, p.train.batch_size)
    try:
        fit_mnist(plan, mnist, p, generator=rng, callbacks=Callbacks(on_step=clock), nets=nets, ema=emas[0])
    except Budgets.Done:
        pass
    if keep is not None:   # every snapshot's networks, for later probes (the EMA as kept: raw batch-norm statistics)
        keep.mkdir(parents=True, exist_ok=True)
        for snap in clock.snapshots:
            torch.save({"generator": snap["G"], "generator_ema": snap["G_ema"][0], "critic": snap["D"],
                        "model_config": p.model.model_dump(), "loss": p.loss, "steps": snap["steps"]},
                       keep / f"{name}_s{p.seed}_{snap['budget_s']:.0f}s.pt")
    rows, floor = [], {}
    for i, snap in enumerate(clock.snapshots):
        variants = {"raw": (snap["G"], False), "ema": (snap["G_ema"][0], True)}
        variants.update({f"ema@{d:g}": (state, True) for d, state in zip(ema_decays[1:], snap["G_ema"][1:])})
        if i == len(clock.snapshots) - 1:
            variants["ema_copied"] = (snap["G_ema"][0], False)
        for weights, (state, standing) in variants.items():
            scored = score_weights(state, p, model, clf_cfg, mnist, standing=standing)
            floor = {k.removesuffix("_floor"): v for k, v in scored.items() if k.endswith("_floor")}
            m = {k: v for k, v in scored.items() if not k.endswith("_floor")}
            rows.append({"budget_s": snap["budget_s"], "train_s": snap["train_s"], "steps": snap["steps"],
                         "images": snap["images"], "weights": weights, **m})
            print(f"  {name:14s} seed {p.seed}  {snap['budget_s']:5.0f} s  {snap['steps']:6d} steps  {weights:10s} "
                  + "  ".join(f"{k} {m[k]:.4g}" for k in SHOWN), flush=True)
    return {"candidate": name, "seed": p.seed, "overrides": CANDIDATES.get(name, {}), "ema_decay": ema_decays[0],
            **({"ema_extra": ema_decays[1:]} if len(ema_decays) > 1 else {}),
            "ema_standing": p.train.ema_standing_batches, "rows": rows}, floor


def markdown(result: dict) -> str:
    """Two tables for docs/results.md: each candidate's FLD over the budgets (raw / EMA, mean over seeds), and every
    metric at the largest budget (each seed, each way of scoring)."""
    def cell(values: list[float], fmt: str) -> str:
        if not values:
            return "—"
        mean = statistics.fmean(values)
        return format(mean, fmt) + (f" (±{statistics.stdev(values):{fmt}})" if len(values) > 1 else "")

    budgets = result["budgets_s"]
    names = list(dict.fromkeys(r["candidate"] for r in result["runs"]))
    by = {(r["candidate"], r["seed"]): r for r in result["runs"]}
    seeds = sorted({r["seed"] for r in result["runs"]})
    head = " | ".join(f"{b:.0f} s raw / EMA" for b in budgets)
    out = [f"| candidate | seeds | steps in {budgets[-1]:.0f} s | {head} |", "|---|---|---|" + "---|" * len(budgets)]
    for name in names:
        runs = [by[(name, s)] for s in seeds if (name, s) in by]
        rows = [row for r in runs for row in r["rows"]]
        steps = cell([row["steps"] for row in rows if row["budget_s"] == budgets[-1] and row["weights"] == "raw"], ",.0f")
        fld = [cell([x["fld"] for x in rows if x["budget_s"] == b and x["weights"] == "raw"], ".1f") + " / "
               + cell([x["fld"] for x in rows if x["budget_s"] == b and x["weights"] == "ema"], ".1f") for b in budgets]
        out.append(f"| {name} | {', '.join(str(r['seed']) for r in runs)} | {steps} | " + " | ".join(fld) + " |")
    keys = ("fld", "precision", "recall", "density", "coverage", "modes")
    out += ["", f"| candidate | seed | weights at {budgets[-1]:.0f} s | " + " | ".join(keys) + " |",
            "|---|---|---|" + "---|" * len(keys),
            "| real vs real (floor) | | | " + " | ".join(f"{result['floor'][k]:.3g}" for k in keys) + " |"]
    for name in names:
        for seed in seeds:
            for row in by.get((name, seed), {}).get("rows", []):
                if row["budget_s"] == budgets[-1]:
                    out.append(f"| {name} | {seed} | {row['weights']} | "
                               + " | ".join(f"{row[k]:.3g}" for k in keys) + " |")
    return "\n".join(out)


GOALS = {"fld": 12.0, "precision": 0.80, "coverage": 0.80}   # the goals set for the default
BUDGET_S = 420   # the training time a 15-minute `make repro` leaves on 2 cores (README, "Figures")


def plot(results: dict[str, dict], names: list[str], weights: str, out: Path) -> None:
    """FLD, precision and coverage against training time: one line per (file, candidate), the mean over its seeds
    with a band from the worst to the best seed; the goals dashed, the real-vs-real floors dotted.
    results: file name -> its JSON."""
    import ganpipe.reporting.style  # noqa: F401  (the report's backend and theme)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(GOALS), figsize=(5.2 * len(GOALS), 4.4))
    for file, result in results.items():
        for name in names:
            runs = [r for r in result["runs"] if r["candidate"] == name]
            if not runs:
                continue
            budgets = sorted({row["budget_s"] for r in runs for row in r["rows"]})
            seeds = ",".join(str(r["seed"]) for r in runs)
            label = f"{name}, seed{'s' * (len(runs) > 1)} {seeds} ({file})"
            for ax, key in zip(axes, GOALS):
                per = [[row[key] for r in runs for row in r["rows"]
                        if row["budget_s"] == b and row["weights"] == weights] for b in budgets]
                x = [b / 60 for b in budgets]
                line, = ax.plot(x, [statistics.fmean(v) for v in per], marker="o", label=label)
                if len(runs) > 1:
                    ax.fill_between(x, [min(v) for v in per], [max(v) for v in per], color=line.get_color(), alpha=0.15)
    for ax, (key, goal) in zip(axes, GOALS.items()):
        ax.axhline(goal, color="black", linestyle="--", linewidth=1, label="goal")
        floor = next(iter(results.values()))["floor"][key]
        ax.axhline(floor, color="grey", linestyle=":", linewidth=1, label="real vs real")
        ax.axvline(BUDGET_S / 60, color="firebrick", linestyle="-.", linewidth=1, label="make repro's training budget")
        ax.set_xlabel("training time (minutes, 2 CPU cores)")
        ax.set_title(f"{key} ({'lower' if key == 'fld' else 'higher'} is better)")
        if key == "fld":
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Time to quality on this CPU ({weights} weights)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(
    out: Annotated[Path, typer.Option(help="JSON of every row; merged by (candidate, seed)")] =
        Path("bench/results/cpu_quality.json"),
    only: Annotated[str, typer.Option(help="comma-separated candidates (default: all)")] = "",
    seeds: Annotated[str, typer.Option(help="comma-separated seeds")] = "0,1",
    budgets: Annotated[str, typer.Option(help="comma-separated training budgets in seconds")] = "120,240,420",
    ema: Annotated[str, typer.Option(help="comma-separated EMA decays every run keeps; the first is 'ema'")] = "0.995",
    redo: Annotated[bool, typer.Option(help="run (candidate, seed) pairs already in --out again")] = False,
    keep: Annotated[Path | None, typer.Option(help="folder for each snapshot's G, EMA of G and D")] = None,
    table: Annotated[bool, typer.Option(help="print the Markdown tables of --out and exit (trains nothing)")] = False,
    plot_to: Annotated[Path | None, typer.Option("--plot", help="draw FLD, precision and coverage against training "
                                                 "time from --out and --also into this PNG, and exit")] = None,
    also: Annotated[list[Path], typer.Option(help="another result JSON for --plot (repeatable)")] = [],
    weights: Annotated[str, typer.Option(help="the scoring --plot draws: raw or ema")] = "ema",
    data: Annotated[Path, typer.Option(help="images.npz from the fetch stage")] = Path("data/real/images.npz"),
    classifier: Annotated[Path, typer.Option(help="classifier.pt from the classifier stage")] =
        Path("models/classifier.pt"),
    params: Annotated[Path, typer.Option(help="the base params")] = Path("params.yaml"),
) -> None:
    names = [n for n in only.split(",") if n] or list(CANDIDATES)
    if unknown := sorted(set(names) - set(CANDIDATES)):
        raise typer.BadParameter(f"unknown candidates {unknown}; known: {', '.join(CANDIDATES)}", param_hint="--only")
    if table:
        print(markdown(json.loads(out.read_text())))
        return
    if plot_to is not None:
        if missing := [str(path) for path in [out, *also] if not path.is_file()]:
            raise typer.BadParameter(f"no result JSON at {', '.join(missing)}", param_hint="--out/--also")
        if weights not in ("raw", "ema"):
            raise typer.BadParameter(f"{weights!r}: expected raw or ema", param_hint="--weights")
        plot({path.stem: json.loads(path.read_text()) for path in [out, *also]}, names, weights, plot_to)
        print(f"-> {plot_to}")
        return
    seed_list = [int(s) for s in seeds.split(",")]
    budget_list = [float(b) for b in budgets.split(",")]
    decays = [float(d) for d in ema.split(",")]
    if bad := [d for d in decays if not 0 < d < 1]:
        raise typer.BadParameter(f"EMA decays must lie in (0, 1), got {bad}", param_hint="--ema")
    plans = {(name, seed): params_with(params, CANDIDATES[name], seed) for seed in seed_list for name in names}
    result = json.loads(out.read_text()) if out.is_file() else {}
    result.update({"benchmark": "quality", "date": date.today().isoformat(), "device": None, "torch": torch.__version__,
                   "python": platform.python_version(), "budgets_s": budget_list})
    runs = {(r["candidate"], r["seed"]): r for r in result.get("runs", [])}
    set_threads(0)
    result["device"] = device_name(CPU)
    mnist = load_dataset(data)
    model, clf_cfg = clf.load_file(classifier)
    print(f"{result['device']}, torch {torch.__version__}", flush=True)
    for seed in seed_list:
        for name in names:
            if (name, seed) in runs and not redo:
                continue
            runs[(name, seed)], floor = run_one(name, plans[(name, seed)], mnist, decays, budget_list, model, clf_cfg,
                                                keep)
            if floor and "floor" not in result:   # real vs real: the same for every run (evaluate.seed, n)
                print("floor: " + "  ".join(f"{k} {floor[k]:.4g}" for k in SHOWN), flush=True)
            result["floor"] = floor or result.get("floor", {})
            result["runs"] = list(runs.values())
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=2) + "\n")   # after each run: partial figures survive
    print(markdown(result))
    print(f"-> {out}")


if __name__ == "__main__":
    typer.run(main)
