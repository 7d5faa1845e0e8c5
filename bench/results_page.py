"""docs/results.md, generated: every measured figure of the project, once, with its machine and date.

The tables come from the JSON files in bench/results (each written by a bench script); the text between them is
the TEMPLATE below. A figure with no JSON behind it is written in the template once, with its machine and date.
Dates: each JSON's own `date` (the bench scripts write it), so the page does not depend on git's history.

    python bench/results_page.py            # rewrite docs/results.md
    python bench/results_page.py --check    # exit 1 when docs/results.md is not what the JSON files give
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = ("fld", "kid", "is_score", "precision", "recall", "coverage", "modes", "pixel_js")


# ---- formatting ---------------------------------------------------------------------------------------------------

def num(x, digits: int = 3) -> str:
    """A figure as the page prints it: thousands separated, `digits` significant digits below 1,000."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) >= 100):
        return f"{int(x):,}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def spread(x: float) -> str:
    """A standard deviation, to the precision it deserves."""
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}" if x >= 1 else f"{x:.2f}"


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


class Results:
    """The JSON files of one results folder, and which of them the page has used."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.used: set[str] = set()

    def load(self, name: str) -> dict:
        self.used.add(name)
        return json.loads((self.folder / name).read_text())

    def date(self, name: str) -> str:
        data = json.loads((self.folder / name).read_text())
        return str(data.get("date") or "undated") if isinstance(data, dict) else "undated"

    def source(self, *names: str, machine: str = "") -> str:
        """The line under a table: machine, software, date and file of each JSON behind it."""
        parts = []
        for name in names:
            d = json.loads((self.folder / name).read_text())
            meta = d if "benchmark" in d else {}   # family_eval files hold one entry per run and no machine
            machine = machine or meta.get("device") or "machine not recorded"
            sw = ", ".join(f"{k} {meta[k]}" for k in ("torch", "python") if meta.get(k))
            parts.append(f"`bench/results/{name}`: {machine}" + (f", {sw}" if sw else "") + f", {self.date(name)}")
        return "*Source: " + "; ".join(parts) + ".*"


# ---- one renderer per kind of result --------------------------------------------------------------------------------

def speed(res: Results, name: str) -> str:
    """bench/speed.py: one row per loop variant and batch."""
    d = res.load(name)
    rows = []
    for r in d["rows"]:
        if "img_per_s" not in r:
            continue
        flags = [r.get("layout")] if r.get("layout") not in (None, "nchw") else []
        flags += ["fuse"] * bool(r.get("fuse")) + ["torch.compile"] * bool(r.get("torch_compile"))
        variant = "naive" if r["loop"] == "naive" else "/".join([r["precision"], r["compile"], *flags])
        ratio = r.get("vs_naive") if r.get("vs_naive") is not None else r.get("vs_today")
        rows.append([variant + (" (default then)" if r.get("default") else ""), r.get("threads", "all"),
                     r["batch"], num(r["img_per_s"]), f"{num(ratio)}×" if ratio is not None else "—"])
    against = "× naive" if any(r.get("vs_naive") for r in d["rows"] if r["loop"] == "project") else "× default"
    model = d["model"]
    head = (f"{d['loss']} (critic steps: {d['objective']['critic_steps']}), {model['arch']} DIM {model['dim']}; "
            "img/s counts real images the critic consumes.")
    return head + "\n\n" + table(["variant", "threads", "batch", "img/s", against], rows) + "\n\n" + res.source(name)


def runs(res: Results, names: list[str], labels: list[str]) -> str:
    """bench/train_speed.py: one training run per file."""
    rows = []
    for name, label in zip(names, labels):
        d = res.load(name)
        ev = d.get("eval", {})
        rows.append([label, d["loss"], f"{d['model']['arch']} {d['model']['dim']}", num(d["steps"]),
                     num(d["steps_per_s"]), num(d["img_per_s"]), num(ev.get("pixel_js")), num(ev.get("perpixel_js_mean"))])
    floor = res.load(names[0]).get("eval", {})
    header = ["run", "loss", "network", "steps", "steps/s", "img/s",
              f"pixel_js (floor {num(floor.get('pixel_js_floor'), 2)})",
              f"perpixel_js_mean (floor {num(floor.get('perpixel_js_mean_floor'), 2)})"]
    if not floor:   # runs that were scored apart (bench/family_eval.py): no histogram columns
        header, rows = header[:-2], [r[:-2] for r in rows]
    return table(header, rows) + "\n\n" + res.source(*names)


def scores(res: Results, name: str, labels: dict[str, str], keys=HEADLINE, machine: str = "") -> str:
    """bench/family_eval.py: every run scored as `evaluate` does, and the real-vs-real floor."""
    d = {run: v for run, v in res.load(name).items() if run != "date"}
    rows = [[labels.get(run, run)] + [num(v.get(k)) for k in keys] for run, v in d.items()]
    first = next(iter(d.values()))
    rows.append(["real vs real (floor)"] + [num(first.get(f"{k}_floor")) for k in keys])
    return table(["run", *keys], rows) + "\n\n" + res.source(name, machine=machine)


def quality(res: Results, name: str) -> str:
    """bench/quality.py: FLD of each candidate at each training budget, mean over seeds ± their spread."""
    d = res.load(name)
    budgets = d["budgets_s"]
    by_candidate: dict[str, list] = {}
    for run in d["runs"]:
        by_candidate.setdefault(run["candidate"], []).append(run)

    def cell(runs_, budget, weights):
        vals = [r["fld"] for run in runs_ for r in run["rows"] if r["budget_s"] == budget and r["weights"] == weights]
        sd = f" ± {spread(statistics.stdev(vals))}" if len(vals) > 1 else ""
        return num(statistics.mean(vals)) + sd if vals else "—"

    rows = []
    for cand, runs_ in by_candidate.items():
        steps = [r["steps"] for run in runs_ for r in run["rows"] if r["budget_s"] == budgets[-1] and r["weights"] == "raw"]
        rows.append([cand, ", ".join(str(run["seed"]) for run in runs_), num(round(statistics.mean(steps)))]
                    + [f"{cell(runs_, b, 'raw')} / {cell(runs_, b, 'ema')}" for b in budgets])
    header = ["candidate", "seeds", f"steps in {num(budgets[-1])} s"] + [f"FLD at {num(b)} s, raw / EMA" for b in budgets]
    return (table(header, rows) + f"\n\nFloor (real vs real): FLD {num(d['floor']['fld'])}.\n\n" + res.source(name))


def quality_long(res: Results, name: str) -> str:
    """bench/quality.py, one long run: every feature metric of the averaged generator at each budget."""
    d = res.load(name)
    (run,) = d["runs"]
    keys = ("fld", "precision", "recall", "coverage", "density", "modes")
    rows = []
    for r in run["rows"]:
        if r["weights"] == "ema":
            raw = next(x for x in run["rows"] if x["budget_s"] == r["budget_s"] and x["weights"] == "raw")
            rows.append([f"{num(r['budget_s'] / 60, 2)} min", num(r["steps"]), num(raw["fld"])]
                        + [num(r[k]) for k in keys])
    rows.append(["real vs real (floor)", "", ""] + [num(d["floor"][k]) for k in keys])
    header = ["training", "steps", "FLD raw", "FLD EMA", "precision", "recall", "coverage", "density", "modes"]
    return f"{run['candidate']}, seed {run['seed']}.\n\n" + table(header, rows) + "\n\n" + res.source(name)


def clip(res: Results, names: list[str]) -> str:
    """bench/train_speed.py with wgan's weight clipping: the loss swings and the Lipschitz check."""
    rows = []
    for name in names:
        d = res.load(name)
        hist = {h["step"]: h for h in d["history"]}
        swings = " → ".join(num(hist[s]["loss_g"], 2) for s in (50, 200, 350, 500) if s in hist)
        grad = [h["gradnorm_d_max"] for h in d["history"]]
        rows.append([num(d["objective"]["clip"]), swings, f"{num(min(grad), 2)} to {num(max(grad), 2)}"])
    return (table(["clip", "loss_g at steps 50 → 200 → 350 → 500", "max ‖∇D‖ at interpolates"], rows) + "\n\n"
            + res.source(*names))


def equivalence(res: Results, name: str) -> str:
    """Two code versions on one core: the same bytes."""
    d = res.load(name)
    old, new = d["eval_old"], d["eval_new"]
    same = sum(old[k] == new.get(k) for k in old)
    rows = [["samples.npz md5", d["samples_md5"]["old"][:8] + "…", d["samples_md5"]["new"][:8] + "…"],
            ["classifier.pt md5", d["classifier_md5"]["old"][:8] + "…", d["classifier_md5"]["new"][:8] + "…"],
            ["generator weights", "", "equal, tensor by tensor" if d["generator_weights_equal"] else "differ"],
            ["eval.json", f"{len(old)} values", f"{same} of them equal"]]
    rows += [[k, num(old[k], 5), num(new[k], 5)] for k in ("fld", "precision", "recall", "coverage", "modes")]
    return table(["", "before", "after"], rows) + "\n\n" + res.source(name, machine=DEV_SHORT)


def toy_family(res: Results, name: str) -> str:
    """bench/toy_family.py: the toy under every loss, against the target of a few times its KS floor."""
    d = res.load(name)
    rows = [[f"`{loss}`", f"{num(r['ks'])} ({r['ks'] / r['ks_floor']:.1f}×)", num(min(k for _, k in r["curve"])),
             f"{num(r['w1'])} ({num(r['w1_floor'])})", f"{num(r['hist_js'])} ({num(r['hist_js_floor'])})",
             num(r["meets_target"]), f"{r['wall_s']:.0f} s"] for loss, r in d["results"].items()]
    floor = next(iter(d["results"].values()))["ks_floor"]
    return (f"At the default toy params ({d['toy']['steps']:,} steps, batch {d['toy']['batch_size']}, G averaged "
            f"with decay {d['toy']['ema_decay']}), each against the target KS ≤ {d['target']:g}× its floor of "
            f"{num(floor)}; floors in brackets:\n\n"
            + table(["loss", "KS (× floor)", "raw G's best KS on the way", "W1", "histogram JS", "meets target",
                     "wall"], rows)
            + f"\n\n![the raw G's KS over training, per loss](../bench/results/{Path(name).with_suffix('.png')})"
            + "\n\n" + res.source(name, machine=DEV_SHORT))


DISTANCE = {"hinge": "neural: the hinge critic (the default)", "histogram": "per-pixel histograms",
            "sliced-histogram": "sliced histograms"}
DISTANCE_METRICS = ("fld", "precision", "recall", "coverage", "perpixel_js_mean", "pixel_js")


def distances(res: Results, name: str) -> str:
    """bench/distances.py: the three distances at one wall-time budget, each over seeds, with the floors."""
    d = res.load(name)
    level = f"{d['level']:.0%}"

    def cell(s: dict) -> str:
        return num(s["mean"]) if s["n"] < 2 else f"{num(s['mean'])} [{num(s['lo'])}, {num(s['hi'])}]"

    rows = [[DISTANCE.get(g["loss"], g["loss"]), f"{g['steps']:,} ({num(g['steps_per_s'])} steps/s)",
             " / ".join(f"{r['train_wall_s']:,.0f} s" for r in g["runs"])]
            + [cell(g["summary"][m]) for m in DISTANCE_METRICS] for g in d["groups"]]
    rows.append(["floor: real against real", "", ""] + [num(d["groups"][0]["summary"][m]["floor"])
                                                         for m in DISTANCE_METRICS])
    seeds = ", ".join(sorted({str(r["seed"]) for g in d["groups"] for r in g["runs"]}))
    return (table(["distance G trains on", "steps (pace alone)", "train wall, each seed"]
                  + [f"`{m}`" for m in DISTANCE_METRICS], rows)
            + f"\n\nEach cell is the mean over seeds {seeds} and its {level} Student-t interval, as `ganpipe study` "
            f"gives them.\n\n![the sample grid of each distance's median seed by FLD]"
            f"(../bench/results/{d['grids']})\n\n" + res.source(name, machine=DEV_SHORT))


def run_summary(res: Results, name: str) -> str:
    """bench/run_summary.py: one pipeline run of a dataset, its stage times and headline metrics beside the floors."""
    d = res.load(name)
    c = d["classifier"]
    seen = (f"a classifier trained on its labels, {c['test_accuracy']:.2%} test accuracy (target "
            f"{d['classifier_target']:.0%})" if c["features"] == "trained"
            else "random features (no labels): " + ", ".join(f"`{k}`" for k in d["left_out"]) + " left out")
    walls = d["wall_s"]
    rows = [[f"`{k}`", num(m["value"]), num(m["floor"])] for k, m in d["metrics"].items()]
    return (f"{d['title']} from `{d['source']}` ({d['counts']['train']:,} training and {d['counts']['test']:,} test "
            f"images), the {d['loss']} loss for {d['steps']:,} steps ({num(d['steps_per_s'])} steps/s at the end), "
            f"scored on {d['samples']:,} samples through {seen}. Stage wall times: "
            + ", ".join(f"{s} {w:,.0f} s" for s, w in walls.items()) + f"; {sum(walls.values()):,.0f} s in all. "
            + d["note"] + "\n\n" + table(["metric", "generated", "floor (real vs real)"], rows)
            + f"\n\n![the run's samples](../bench/results/{Path(name).with_suffix('.png')})\n\n"
            + res.source(name, machine=DEV_SHORT))


def distance_ratios(res: Results, name: str) -> dict[str, str]:
    """What the section's text cites: each distance's lower-is-better metrics as multiples of their floors (the
    table holds the values), keyed `loss.metric`."""
    ratios = {}
    for g in res.load(name)["groups"]:
        for m in ("fld", "perpixel_js_mean", "pixel_js"):
            r = g["summary"][m]["mean"] / g["summary"][m]["floor"]
            ratios[f"{g['loss']}.{m}"] = f"{r:,.0f}×" if r >= 10 else f"{r:.1f}×"
    walls = {g["loss"]: statistics.mean(r["train_wall_s"] for r in g["runs"]) for g in res.load(name)["groups"]}
    ratios |= {f"{loss}.wall": f"{w / walls['hinge']:.0%}" for loss, w in walls.items()}
    return ratios


def distances_text(r: dict[str, str]) -> str:
    """The section's reading of its table; the figures it cites are multiples of their floors."""
    return f"""What the figures say, step by step:

- **The budget held only roughly.** On average the histogram losses trained for {r['histogram.wall']} and
  {r['sliced-histogram.wall']} of the critic's train time. Their pace over 400 steps understated their pace
  over a whole run, and the machine's own pace varied during the queue: one loss's seeds ran the same steps in
  different times (the wall column).
- **Per-pixel histograms do not even win on their own metric.** Trained on exactly the mean per-pixel JS, G
  brings it to {r['histogram.perpixel_js_mean']} its floor; the critic, which never computes it, reaches
  {r['hinge.perpixel_js_mean']} (at n = 2 the intervals overlap). On the pooled pixel histogram:
  {r['histogram.pixel_js']} against {r['hinge.pixel_js']}. The samples are ink blobs in the digits' places and
  sizes, and no digit: FLD {r['histogram.fld']} its floor, recall and coverage near zero. Step 2 of the argument
  holds: 784 separate
  histograms never compare the pixels' joint distribution. Their precision has the highest mean of the three, since
  blobs fall inside the real images' feature neighbourhoods without covering them; precision alone does not judge
  a generator.
- **Sliced histograms carry step 1 further than the source says.** Random one-dimensional projections of whole
  images, each a one-variable problem, give digits of every class: FLD {r['sliced-histogram.fld']} its floor
  (at n = 2 its FLD interval still overlaps the per-pixel loss's; the grids tell the two apart).
  Per pixel they match less well ({r['sliced-histogram.perpixel_js_mean']} the floor).
- **The critic wins at the same time:** FLD {r['hinge.fld']} its floor, recall close to its floor, digits. A
  learned distance puts its weight on the directions in which the two batches differ, where random directions
  spend most of theirs on directions in which the batches already agree. That is the source's step 3, measured.
"""


def generic(res: Results, name: str) -> str:
    """A result the template does not place yet: its scalar fields, so that no measurement goes unlisted."""
    d = res.load(name)
    rows = [[k, num(v) if isinstance(v, (int, float)) else str(v)] for k, v in d.items()
            if isinstance(v, (int, float, str)) or v is None]
    return table(["field", "value"], rows) + "\n\n" + res.source(name)


# ---- the page -------------------------------------------------------------------------------------------------------

DEV_SHORT = "the development machine (2 CPU cores)"
DEV = ("the development machine: 2 cores of an AMD EPYC with `avx512_bf16` and `amx_bf16`, no GPU, Python 3.11, "
       "torch 2.13.0 CPU build")


def template(res: Results) -> list[str]:
    """The page, section by section: hand-written text and generated tables."""
    walk = distances_text(distance_ratios(res, "cpu_distances.json"))
    settings = {g["loss"]: g["settings"] for g in res.load("cpu_distances.json")["groups"]}
    dirs, hist_bins = int(settings["sliced-histogram"]["directions"]), int(settings["histogram"]["bins"])
    return [
        f"""# Results

Every measured figure of the project, each stated once, with the machine it ran on and the date. This page is
generated by `python bench/results_page.py` from the JSON files in `bench/results/` (written by the bench
scripts) and from the text in that script; `python bench/results_page.py --check` fails when the page is stale.
Do not edit it by hand.

Two machines appear: {DEV}; and leases of one NVIDIA H100 80GB HBM3 (torch 2.11.0+cu130). Wall-clock figures
vary between days on the development machine and between leases of the H100 (the same code ran up to 1.6×
faster in one lease than in another): compare speeds within one table only. img/s counts the real images the
critic consumes (batch × critic steps per generator step).

## The default pipeline on 2 CPU cores

Measured on {DEV_SHORT}, on 2026-12-02, default params (hinge with a spectrally normalised critic, dcgan DIM 32,
12,000 steps of batch 64 in bf16 autocast and channels-last, EMA 0.995).

A first `make repro` on a fresh clone, set-up included, took 582, 738, 748 and 765 s in four fresh clones that
day (about 10 to 13 minutes: the machine's speed varied, and in one of them package installs shared the cores).
In the 582 s run the stages took:

| stage | wall time |
|---|---|
| `train` (12,000 steps at 31.9 steps/s, 2,007 img/s) | 383 s |
| `ladder` (13 rungs of 10,000 images) | 46 s |
| `evaluate` | 43 s |
| `classifier` (2 epochs, 99.21% test accuracy) | 21 s |
| `toy` (6,000 steps) | 10.8 s |
| `fetch` (the PyPI wheel fallback) | 3.7 s |
| `generate` (10,000 samples) | 1.6 s |
| set-up, `report` and DVC's own work | the rest |

The averaged generator scored, each figure against its real-vs-real floor in brackets: `fld` 5.94 (1.81; 95%
interval 5.83–7.77), `fld_inf` 6.15, `kid` 2.01 (0.35), `is_score` 8.46 (9.74), `precision` 0.70 (0.89),
`recall` 0.88 (0.88), `density` 0.57 (0.96), `coverage` 0.78 (0.95), `modes` 10, `pixel_js` 0.0225 (0.00017).
The report warns only about `pixel_js`. The fresh clones that were compared repeated every figure of
`metrics/eval.json` to the digits printed here.

## The 1-D toy under every loss

`python bench/toy_family.py`: the toy stage's training (one thread, so the figures repeat on any machine of this
kind) under each loss of the family and the histogram loss. The toy stage itself trains the chosen adversarial
loss and the histogram loss.

{toy_family(res, "cpu_toy_family.json")}

Every loss's raw generator oscillates about its end point (the curves): the average of its weights is the
figure to judge. Two losses miss the target:

- **wgan** (weights clipped to ±0.01): its curve is the smoothest, and it settles at KS 0.06-0.07 from step
  2,500 on, where the others keep improving: the clipped critic cannot tell more. Clipped to ±0.1 it reaches
  KS 0.044 (one run on {DEV_SHORT}, 2026-12-03).
- **wgan-gp**: G runs away from N(0, 1), and the critic stays monotone the wrong way. In one dimension the
  penalty λ(‖∇D‖ − 1)² has two separate minima, slope +1 and slope −1, and a critic that starts with the wrong
  sign must pass slope 0 (a penalty of λ = 10) to flip, for a gain of about twice the distance between the two
  distributions' means. It never does. In many dimensions the gradient turns without shrinking, so there is no such
  barrier. The one-sided penalty λ·max(0, ‖∇D‖ − 1)² (Petzka et al. 2018), tried by patching the penalty,
  reaches KS 0.020; λ = 1 gives 0.41 (one run each on {DEV_SHORT}, 2026-12-03).

## Why a neural distance

The source argues in three steps. For one variable, training G on the histogram JS between its samples and the
data "is entirely sufficient". For 784 pixels, joint bins are hopeless (2^784 cells with two bins per pixel),
so a histogram sees one variable at a time. Hence a network D becomes the distance. Each step is trained here.

- **One variable.** The toy above: G trained on the histogram JS alone, with no critic, meets the target that
  the adversarial losses are held to.
- **784 variables, one histogram each** (`loss: histogram`): every pixel position has its own soft histogram of
  intensities, and G minimises the mean JS over the 784 positions: the per-pixel metric, soft-binned, on
  {hist_bins} bins.
- **Whole images, one direction at a time** (`loss: sliced-histogram`): each step draws {dirs} random unit
  directions, projects both batches onto each, and minimises the mean JS of the projections' histograms. Every
  projection is a one-variable problem, and together they see the whole image.
- **A network as the distance**: the default hinge critic with spectral norm.

Each distance trained G for the default train stage's wall time, with 2 seeds: `bench/train_speed.py` measured
each loss's steps/s alone on the machine, the same day, and each loss's `train.steps` was set to the default's
12,000 steps × its pace / the default's. Everything else is the default (dcgan DIM 32, batch 64, bf16, EMA
0.995); `dvc exp run --queue evaluate -S loss=... -S train.steps=... -S seed=0,1`, one queue worker, then
`ganpipe study` and `python bench/distances.py`. The six runs took 106 minutes (6,354 s) one after another on {DEV_SHORT},
2026-12-03, 3 minutes of a restarted queue worker included.

{distances(res, "cpu_distances.json")}

{walk}

## A seed study: hinge against ns

`dvc exp run --queue -S 'loss=hinge,ns' -S 'seed=0,1,2'`, `dvc queue start -j 1`, then `ganpipe study`, on
{DEV_SHORT}, 2026-12-02, everything else at the default. The queue took 2,557 s (five new runs of about 8.5 minutes;
hinge with seed 0 was restored from the run-cache), `ganpipe study` 16 s.

| rank | group | n | fld: mean [95% interval] | the seeds (0, 1, 2) | not distinguishable from |
|---:|:---|---:|:---|:---|:---|
| 1 | loss=hinge | 3 | 6.40 [5.32, 7.48] | 5.94, 6.80, 6.47 | loss=ns |
| 2 | loss=ns | 3 | 8.29 [7.08, 9.51] | 7.73, 8.61, 8.55 | loss=hinge |

| group | kid | is_score | precision | recall | coverage | modes |
|:---|:---|:---|:---|:---|:---|:---|
| loss=hinge | 2.19 [1.80, 2.59] | 8.45 [8.44, 8.47] | 0.697 [0.689, 0.706] | 0.879 [0.868, 0.891] | 0.778 [0.751, 0.804] | 10 (all) |
| loss=ns | 3.10 [2.11, 4.08] | 8.32 [8.26, 8.38] | 0.684 [0.672, 0.697] | 0.882 [0.863, 0.901] | 0.767 [0.724, 0.810] | 10 (all) |

![the study's dot plot: each seed a dot, each group's mean and 95% interval, the floor dashed](study_seeds.png)

Every hinge seed scored a lower FLD than every ns seed, but at n = 3 the two intervals overlap, so the losses are
not distinguishable on FLD; nor on KID, precision, recall or coverage. Only the Inception Score separates them.
With spectral norm and the averaged generator, ns kept all 10 modes with every seed. A claim that hinge beats ns
on FLD needs more seeds (the interval narrows as 1/√n).

## Fashion-MNIST at the default length

`dvc exp run -S dataset=fashion-mnist` on a fresh clone, every other param at its default, recorded by
`python bench/run_summary.py`. The samples are recognisable garments of every class.
""",
        run_summary(res, "cpu_fashion_default.json"),
        f"""
## Your own images: the worked example

The worked example of [your own images](guides/own-data.md#a-worked-example), run as written on a fresh clone:
Fashion-MNIST's 10,000 test garments as a folder of PNG files in class folders, 3,000 training steps, recorded by
`python bench/run_summary.py`. The classifier, trained on 6,500 images, stays below the 90% target of
`datasets.own.classifier_target`, and the report warns so.
""",
        run_summary(res, "cpu_own_garments.json"),
        f"""
## Time to quality on 2 CPU cores: how the default was chosen

`python bench/quality.py` trains candidate settings on {DEV_SHORT} for fixed wall-clock budgets (the clock counts the
whole loop, diagnostics included) and scores a copy at each budget as `evaluate` does (n = 10,000 against the
test set). "raw" is the generator's own weights; "EMA" the averaged ones (decay 0.995) with recomputed
batch-norm statistics. Every candidate changes the defaults of that time (ns loss, fp32, no spectral norm,
dcgan DIM 32, batch 64, 2 threads) as `-S` would: `fast` bf16 and channels-last; `hinge-sn` hinge and spectral
norm; `hinge-sn-fast` both (today's default); `wgan-gp`; `dim64` `model.dim=64`; `batch128` batch 128 with
lr 4e-4.
""",
        quality(res, "cpu_quality.json"),
        """
- hinge + spectral norm + bf16/channels-last + EMA reached the lowest FLD at every budget, with 10 modes on
  every seed. That is the default.
- The old default (`ns`, fp32) is a lottery: with seed 0 it collapsed (3 modes, recall 0).
- bf16 scores as fp32 does at equal steps, and runs about 1.8× as many steps in the same time.
- The averaged generator halves FLD under hinge + spectral norm and helps ns little. Standing batch-norm
  statistics and copied ones stay within 2.5 FLD of each other; under hinge + spectral norm standing ones won
  4 times of 4, so they are the default (`train.ema_standing_batches: 100`).
- wgan-gp (5 critic steps, each with a double backward) and DIM 64 are too slow for minutes on 2 cores.

The default trained four times as long, scored at six budgets:
""",
        quality_long(res, "cpu_quality_long.json"),
        """
![FLD, precision and coverage against training time](../bench/results/cpu_time_to_quality.png)

FLD falls 9× from 2 to 7 minutes and then flattens towards its floor. Coverage crosses 0.80 between 7 and
14 minutes. Precision has not flattened at 28 minutes and is still below 0.80. Two probes on the 7-minute
generator of this run did not raise precision: truncating the noise (ψ = 0.8: FLD 8.7, precision 0.675) and
keeping the samples the critic scores highest (kept fraction 0.5: FLD 30.7, precision 0.700).

## The training step's speed on the CPU

The ns step of the old default (dcgan DIM 32, batch 64) in its variants, 2 threads and 1:
""",
        speed(res, "cpu_speed_ns_dim32.json"),
        """
torch.compile loses: it recompiles whenever the loop switches grad mode. The WGAN-GP step at DIM 32:
""",
        speed(res, "cpu_speed_bf16_dim32.json"),
        """
The project's loop against a naive DataLoader loop at the paper's DIM 64, fp32 (the CPU is bound by the
convolutions' arithmetic, so a resident dataset and fewer syncs gain only a few percent):
""",
        speed(res, "cpu_speed.json"),
        """
A fewer-kernel critic update (one critic pass over real and fake together) gained nothing on the CPU and has
since been removed:
""",
        speed(res, "cpu_speed_fuse_64.json"),
        speed(res, "cpu_speed_fuse_1024.json"),
        """
## The training step's speed on an H100

`bash bench/gpu.sh OUT_DIR` makes these measurements. WGAN-GP on the paper's dcgan (DIM 64), seed 0, every row
in one process. "fp32" is true fp32 (TF32 off); the naive loop keeps torch's default, TF32 on.
""",
        speed(res, "h100_speed.json"),
        """
At batch 64 the CUDA graph's step takes 8.0 ms, 27 TFLOP/s: the time goes to the fixed latency of hundreds of
small kernels per step (convolutions, NCHW↔NHWC transposes around every bf16 convolution, autocast's weight
casts), not to arithmetic (`bench/results/h100_profile.txt`, bf16 eager, 20 steps). The layout, in another lease:
""",
        speed(res, "h100_speed_layout.json"),
        """
Quality at equal steps: the same seed and 2,000 steps in each variant, sampled on the CPU and scored as
`evaluate` does. Every difference is within the bootstrap spread of FLD at this n (about ±2):
""",
        runs(res, ["h100_quality_fp32_eager.json", "h100_quality_bf16_graph.json", "h100_quality_bf16_graph_nhwc.json"],
             ["fp32 eager", "bf16, CUDA graph", "bf16, CUDA graph, channels-last"]),
        scores(res, "h100_quality_eval.json", {"fp32_eager": "fp32 eager", "bf16_graph": "bf16, CUDA graph",
                                                "bf16_graph_nhwc": "bf16, CUDA graph, channels-last"},
               machine="the H100 runs above, scored on the CPU"),
        """
## The GAN family on an H100

`bash bench/family.sh DIR`: each loss with its paper's settings, batch 64, seed 0, samples drawn on the CPU and
scored with the source's pixel histograms. The H100 is far from busy with networks this small. The `_2000` runs
ran in a second lease.
""",
        runs(res, ["h100_default.json", "h100_wgan-gp_dcgan64.json", "h100_wgan-gp_mlp64.json",
                   "h100_minimax_dcgan32.json", "h100_wgan-gp_dcgan64_2000.json", "h100_wgan-gp_mlp64_2000.json",
                   "h100_wgan-gp_dcgan64_4000.json", "h100_wgan-gp_mlp64_4000.json"],
             ["ns (the default then)", "wgan-gp dcgan", "wgan-gp mlp", "minimax", "wgan-gp dcgan, 2,000",
              "wgan-gp mlp, 2,000", "wgan-gp dcgan, 4,000", "wgan-gp mlp, 4,000"]),
        """
The pixel histograms favour the mlp, whose digits are speckled and mostly 1s, 7s and 9s: they count grey
levels and cannot see shape, the source's own argument for a learned distance. The classifier's features
see it (`python bench/family_eval.py`):
""",
        scores(res, "h100_wgan-gp_dcgan_vs_mlp_eval.json", {}, machine="the H100 runs above, scored on the CPU"),
        """
![the dcgan's samples at 4,000 steps](../bench/results/h100_wgan-gp_dcgan64_4000.png)
![the mlp's samples at 4,000 steps](../bench/results/h100_wgan-gp_mlp64_4000.png)

Under `minimax`, D(G(z)) fell to 1e-4 and `gradnorm_g` to 0.002 between steps 150 and 750, then G escaped
(`h100_minimax_dcgan32.json`'s history).

## A weight clip too loose, on the CPU

wgan on an mlp of DIM 64, 600 steps, logged every 50: with a loose clip the critic is no longer Lipschitz and
the losses swing by tens between logging steps.
""",
        clip(res, ["cpu_wgan_mlp64_clip0.01.json", "cpu_wgan_mlp64_clip1.json"]),
        """
## The same bytes across a restructuring

With one thread a run is bit-identical across processes and folders
([reproducibility](guides/reproducibility.md)). The code before and after a restructuring of the library, each
in its own clone on one core, with the old default params (ns, fp32, no EMA, 6,000 steps), `dvc repro evaluate`:
""",
        equivalence(res, "cpu_equivalence_13.json"),
        f"""
## Measured without a JSON file

- **Ladder noise.** Additive Gaussian noise (σ × 255 on every pixel) saturates `pixel_js` at once: 0.0064 at
  σ = 0.001, 0.142 at 0.01, 0.161 at 0.03, then falling to 0.136 at 0.4, as rounding turns the black
  background grey. So the ladder multiplies the ink, x·(1 + σN(0, 1)), which grows every metric with every
  step. {DEV_SHORT}, 2026-11-26.
- **Queue workers on 2 cores.** Two 1,000-step experiments took 370 s with `dvc queue start -j 1` and 584 s
  with `-j 2` (the workers share the cores). {DEV_SHORT}, 2026-11-27.
- **The SLURM sweep** (`tests/test_sweep.py`, two runs, tiny params: 4 training steps; a single-node SLURM
  cluster, SeaweedFS's S3 server and a bare git origin on the loopback), {DEV_SHORT}, 2026-12-02: the baseline
  (`dvc repro`, commit, `dvc push --run-cache`, `git push`) 35–38 s; a 2×2 sweep with `--wait` 99–105 s; one
  task (clone, pull, `dvc exp run`, pushes) 32–33 s; the same sweep again, nothing submitted, 28–30 s; a fresh
  clone's `dvc pull` 1.8–2.0 s.
""",
    ]


def render(folder: Path) -> str:
    res = Results(folder)
    parts = template(res)
    rest = sorted(p.name for p in folder.glob("*.json") if p.name not in res.used)
    if rest:
        parts.append("\n## Other results\n")
        for name in rest:
            parts += [f"\n### `{name}`\n", generic(res, name)]
    return "\n".join(p.strip("\n") + "\n" for p in parts).replace("\n\n\n", "\n\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write docs/results.md from bench/results/*.json.")
    ap.add_argument("--results", type=Path, default=ROOT / "bench/results", help="folder of result JSON files")
    ap.add_argument("--out", type=Path, default=ROOT / "docs/results.md", help="the page to write or check")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 when --out differs")
    args = ap.parse_args(argv)
    page = render(args.results)
    if args.check:
        if not args.out.exists() or args.out.read_text() != page:
            print(f"{args.out} is stale: run python bench/results_page.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
