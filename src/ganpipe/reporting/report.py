"""The pipeline's report: every output of one run, gathered and turned into reports/index.html and report.md.

Owns: reading the outputs the report stage names (each given as a path: no repo layout is known here), the
sections and their texts, and what they show. The numbers come from evaluate and the ladder; the figures from
figures.py; the metric facts from evaluation.registry; the warnings from verdict.py.
Refuses: computing any metric (the report never loads the classifier).
"""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ganpipe.config import LadderConfig, Params
from ganpipe.data.arrays import load_dataset, load_samples
from ganpipe.evaluation.ladder import KINDS, describe
from ganpipe.evaluation.registry import LABELLED, LADDER, family
from ganpipe.reporting.figures import (fig_classes, fig_curves, fig_heatmap, fig_ink, fig_intensity, fig_ladder,
                                       fig_ladder_examples, fig_progression, fig_samples, fig_toy_runs, ToyRun)
from ganpipe.reporting.page import Section, write_report
from ganpipe.reporting.verdict import headline, metrics_table, scored, warnings

REAL, GEN = "real (test)", "generated"
TOY_KEYS = {"ks": "Kolmogorov–Smirnov statistic against N(0,1)", "w1": "Wasserstein-1 distance to N(0,1)",
            "hist_js": "the source's histogram method: JS over K bins of [lo, hi] (+2 overflow bins)",
            "quantile_rmse": "RMS gap between sorted outputs and Φ⁻¹((i−½)/n)"}


@dataclass
class Inputs:
    """Everything the report shows, read from the pipeline's outputs."""
    params: Params
    ev: dict                          # metrics/eval.json
    views: dict[str, np.ndarray]      # evaluate's views: class shares, intensity counts, ink, per-position JS
    samples: np.ndarray               # uint8 (n, h, w) or (n, h, w, 3), generated
    real: np.ndarray                  # the real test images, alike
    history: pd.DataFrame             # DVCLive's curves, tidy: step, metric, value
    grids: list[tuple[int, np.ndarray]]   # the fixed-noise grids train logged, by step
    runs: list[dict]                  # each stage's run facts
    toy: dict                         # metrics/toy.json
    toy_arrays: dict[str, np.ndarray]
    ladder: list[dict]                # metrics/ladder.json's rungs
    ladder_examples: dict[str, np.ndarray]
    classifier: dict                  # metrics/classifier.json: its features (trained | random), test accuracy
    revision: str                     # the git revision the run was made at

    @property
    def title(self) -> str:
        """The dataset, as the fetch stage named it."""
        return next((r["title"] for r in self.runs if r["stage"] == "fetch" and "title" in r), self.params.dataset)


def _npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _json(path: Path):
    return json.loads(Path(path).read_text())


def load_inputs(params: Params, *, metrics: Path, views: Path, samples: Path, data: Path, live_dir: Path,
                facts: list[Path], toy_metrics: Path, toy_samples: Path, ladder: Path, ladder_examples: Path,
                classifier_metrics: Path) -> Inputs:
    return Inputs(params=params, ev=_json(metrics), views=_npz(views), samples=load_samples(samples),
                  real=load_dataset(data)["x_test"], history=training_history(live_dir), grids=progression(live_dir),
                  runs=[_json(f) for f in facts], toy=_json(toy_metrics), toy_arrays=_npz(toy_samples),
                  ladder=_json(ladder), ladder_examples=_npz(ladder_examples),
                  classifier=_json(classifier_metrics), revision=git_revision())


def training_history(live_dir: Path) -> pd.DataFrame:
    """DVCLive's per-metric TSVs (columns step, <name>) -> tidy step, metric, value."""
    frames = [pd.read_csv(tsv, sep="\t").melt(id_vars="step", value_vars=[tsv.stem], var_name="metric")
              for tsv in sorted((live_dir / "plots" / "metrics").glob("*.tsv"))]
    return pd.concat(frames) if frames else pd.DataFrame(columns=["step", "metric", "value"])


def progression(live_dir: Path) -> list[tuple[int, np.ndarray]]:
    """The fixed-noise grids train logged through DVCLive, as (step, uint8 mosaic: gray, or RGB when its channels
    differ), by step."""
    out = []
    for png in sorted((live_dir / "plots" / "images" / "grid").glob("*.png")):
        image = plt.imread(png)   # float in [0, 1]; a grayscale grid is saved as RGB(A) with equal channels
        if image.ndim == 3:
            image = image[..., :3] if np.ptp(image[..., :3], axis=2).any() else image[..., 0]
        out.append((int(png.stem), np.round(image * 255).astype(np.uint8)))
    return out


def git_revision() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        return rev.stdout.strip() + (" (uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def flatten(d: dict, prefix: str = "") -> dict[str, object]:
    """{"train": {"steps": 5}} -> {"train.steps": 5}, the names `dvc exp run -S` takes."""
    out: dict[str, object] = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def ladder_examples(arrays: dict[str, np.ndarray], levels: LadderConfig) -> dict[str, list[tuple[str, np.ndarray]]]:
    """The ladder stage's examples (kind -> (1 + levels, n, h, w[, 3])) as labelled rungs, the undegraded first."""
    return {kind: [("real", arrays[kind][0])] + [(describe(kind, lv).split(", ")[-1], images)
                                                 for lv, images in zip(getattr(levels, kind), arrays[kind][1:])]
            for kind in KINDS}


def _feature_text(i: Inputs) -> str:
    """What the feature metrics look through: the trained classifier, or random features when there are no labels."""
    ev = i.ev
    if i.classifier.get("features", "trained") == "trained":
        p = i.params
        net = (f"A LeNet trained by the pipeline on the {i.title} training set "
               f"({i.classifier['test_accuracy']:.2%} test accuracy; the target, <code>datasets.{p.dataset_block()}"
               f".classifier_target</code>, is {p.datasets[p.dataset].classifier_target:.0%}) looks at ")
        uses = ("penultimate features for FLD, KID and precision/recall/density/coverage, its class probabilities "
                "for the Inception Score, its labels for the class histogram. ")
    else:
        net = ("The dataset has no labels, so no classifier can be trained: a LeNet at its seeded initialisation, never "
               "trained (the random embeddings of Naeem et al. 2020), looks at ")
        uses = (f"penultimate features for FLD, KID and precision/recall/density/coverage. {', '.join(LABELLED)} need "
                "class labels and are left out. ")
    return (net + f"n = {ev['n']:,} generated and {ev['n_real']:,} real test images: its {ev['feature_dim']}-d " + uses
            + "These numbers are not comparable with Inception-based FID/KID/IS. Each floor is the same metric for "
            "real training images against the real test set at the same n; the intervals are "
            f"{ev['ci']:.0%} bootstrap percentiles over {ev['bootstrap']} resamples of both sets. FLD shrinks with n, "
            "so compare it at equal n or use <code>fld_inf</code>. “On the ladder” names the degraded real images "
            "that score the same (next section).")


def _quality_sections(i: Inputs) -> list[Section]:
    """The verdict, the samples, the feature metrics and the ladder that reads them."""
    p, ev, rows = i.params, i.ev, i.ladder
    weights = next((r.get("weights", "raw") for r in i.runs if r["stage"] == "generate"), "raw")
    trained = i.classifier.get("features", "trained") == "trained"
    return [
        Section("Verdict", f"{i.title}. {scored(weights, p.train)} n = {ev['n']:,} samples against the {ev['n_real']:,} real "
                           "test images. Each “real” figure is the same metric for real images against the test set: the best a generator "
                           "can do at this n. Details and every other metric below.",
                table=headline(ev, rows)),
        Section("Samples", f"{p.report.grid_images} of the {len(i.samples):,} generated images (fixed seed {p.seed}), "
                           f"beside real {i.title} test images.",
                figures=[("samples", fig_samples({"generated": i.samples[: p.report.grid_images],
                                                  f"real ({i.title} test)": i.real[: p.report.grid_images]}))]),
        Section(f"Sample quality through the {i.title} " + ("classifier" if trained else "random features"),
                _feature_text(i), table=metrics_table(ev, family("feature"), rows)),
        Section("The degradation ladder: what a number looks like",
                "Real training images made worse step by step and scored against the real test set exactly like the "
                "samples, at the same n; level 0 is the undegraded set, whose scores are the floors. Every metric "
                "grows with every kind of damage, which is what makes it a measure; the dashed line is this model. "
                "The noise multiplies each pixel by 1 + σ·N(0, 1), so it roughens strokes and leaves a black background "
                "black: noise added to the background would saturate pixel_js at once (σ = 0.03 × 255 already moves "
                "40% of the pixels off the black spike). Pixel histograms barely see a missing stroke, while the "
                "classifier's features react to shape.",
                figures=[("ladder", fig_ladder(pd.DataFrame(rows), ev, LADDER)),
                         ("ladder_examples", fig_ladder_examples(ladder_examples(i.ladder_examples, p.ladder)))]),
    ]


def _histogram_sections(i: Inputs) -> list[Section]:
    """Classes and the pixel histograms: the source's method beside its floors."""
    ev, views, rows = i.ev, i.views, i.ladder
    worst = max(ev[k] / ev[f"{k}_floor"] for k in family("histogram") if ev[f"{k}_floor"] > 0)
    classes = [Section("Classes", "How the classifier labels the generated images, against the real test set: a "
                                  f"missing or rare class is mode collapse. class_js = {ev['class_js']:.4g} nats "
                                  f"(floor {ev['class_js_floor']:.3g}); modes = {ev['modes']} of {ev['classes']}.",
                       figures=[("classes", fig_classes({REAL: views["class_share_real"],
                                                         GEN: views["class_share_gen"]}))])] if "modes" in ev else []
    return classes + [
        Section("Pixel histograms against their noise floor",
                f"Histogram metrics at n = {ev['n']:,} generated vs {ev['n_real']:,} real test images, K = {ev['bins']} "
                f"intensity bins ({ev['perpixel_bins']} per position), smoothing α = {ev['alpha']} on counts (KL only). "
                "Each floor is the same metric between two disjoint sets of REAL images at the same n (a training "
                "subset against the test set): two samples of one distribution still differ, so a generator is good "
                f"when its figure is near the floor, not when it is small. Worst ratio here: {worst:.1f}× the floor. "
                "The source calls ½KL(P‖Q)+½KL(Q‖P) “JS”; that is the symmetrised KL (<code>pixel_sym_kl</code>), "
                "not Jensen–Shannon (<code>pixel_js</code>, which uses the mixture M and never exceeds ln 2).",
                table=metrics_table(ev, family("histogram"), rows)),
    ]


def _training_sections(i: Inputs) -> list[Section]:
    """How training went: the progression, the diagnostics, and where the pixels differ."""
    p, views, grids, ev = i.params, i.views, i.grids, i.ev
    h, w = i.real.shape[1:3]
    return [
        Section("Progression", f"The same fixed noise through the {'raw ' * (p.train.ema_decay > 0)}generator every "
                               f"{p.train.grid_every:,} steps: "
                               "a collapse shows as grids whose images turn alike.",
                figures=[("progression", fig_progression(grids))] if grids else []),
        Section("Training diagnostics",
                "Per logging step. The critic's estimate is measured on held-out real test images against fresh "
                "fakes: for wgan and wgan-gp it is mean D(fake) − mean D(real) = −L1, the critic's estimate of the "
                "Wasserstein distance (the source's sign convention scores real images low), and it should fall as "
                "G improves; for the other losses it is the gap between their scores. The critic's gradient norm at "
                "random real/fake interpolates checks the Lipschitz constraint (≤ 1; wgan-gp pushes it to 1, a too "
                "loose wgan clip lets it and the losses blow up). A generator gradient norm collapsing towards 0 is "
                "the minimax loss saturating: D rejects fakes so confidently that log(1 − D(G(z))) is flat. "
                "D(x) and D(G(z)) are shown for the probability losses (minimax, ns).",
                figures=[("curves", fig_curves(i.history))]),
        Section("Real vs generated histograms", "The views the histogram method can see: pixel intensities on "
                                                "shared bins, and ink per image. Real MNIST has spikes at a few "
                                                "intensities, left by how it was anti-aliased; a generator with a "
                                                "smooth output cannot place mass on them, which alone keeps "
                                                "pixel_js above its floor.",
                figures=[("intensity", fig_intensity({REAL: views["intensity_real"], GEN: views["intensity_gen"]})),
                         ("ink", fig_ink({REAL: views["ink_real"], GEN: views["ink_gen"]}))]),
        Section("Where the pixels differ", "JS between the real and generated intensity histograms at each of "
                                           f"the {h}×{w} positions"
                                           + (", averaged over the three colour channels" if ev["channels"] == 3
                                              else "") + "; the mean over every position and channel is "
                                                         "perpixel_js_mean.",
                figures=[("perpixel_js", fig_heatmap(views["perpixel_js"], "per-position JS"))]),
    ]


def _toy_runs(i: Inputs, adversarial: str) -> list[ToyRun]:
    """The adversarial toy G, and the histogram loss's when the toy stage trained one (its arrays prefixed histogram_)."""
    a, toy = i.toy_arrays, i.toy
    runs = [ToyRun(adversarial, a["samples"], a.get("u"), a.get("g_of_u"), toy)]
    if "histogram_samples" in a:
        runs.append(ToyRun("histogram", a["histogram_samples"], a.get("histogram_u"), a.get("histogram_g_of_u"),
                           toy.get("histogram")))
    return runs


def _run_sections(i: Inputs) -> list[Section]:
    """The 1-D toy, the run facts and the params."""
    p, toy = i.params, i.toy
    adversarial = p.toy_adversarial_loss()
    runs = [(adversarial, toy)] + ([("histogram", toy["histogram"])] if "histogram" in toy else [])
    device = next((r.get("device", "?") for r in i.runs if r["stage"] == "train"), "?")
    return [
        Section("The 1-D toy: U[0, 1] → N(0, 1)",
                f"The source's example, trained twice for {p.toy.steps:,} steps and judged on n = {toy['n']:,} "
                f"outputs: with the adversarial loss {adversarial} and with the source's first method, the histogram "
                f"loss (G alone minimises the JS between soft histograms of its batch and of a N(0, 1) batch over "
                f"the {p.toy.bins} bins of [{p.toy.lo:g}, {p.toy.hi:g}], no critic). "
                + (f"Each G is judged by the average of its weights over training (decay {p.toy.ema_decay:g}): "
                   "the raw weights oscillate about their end point. " if p.toy.ema_decay else "")
                + "The exact map is Φ⁻¹, the "
                "inverse normal CDF, but Φ⁻¹(1 − u) and many others give the same distribution, so judge the sorted "
                "outputs against Φ⁻¹ and the histogram against the density, not G(u) pointwise. Each figure is next "
                "to the same measure for a true N(0, 1) sample of the same n.",
                figures=[("toy", fig_toy_runs(_toy_runs(i, adversarial), bins=p.toy.bins, lo=p.toy.lo, hi=p.toy.hi))],
                table=pd.DataFrame([{"metric": k, **{f"{name}": m[k] for name, m in runs}, "floor (N(0,1) sample)":
                                     toy[f"{k}_floor"], "meaning": v} for k, v in TOY_KEYS.items()])),
        Section("Run facts", f"git revision <code>{i.revision}</code>; training device: {device}.",
                table=pd.DataFrame([{"stage": r["stage"], "wall time (s)": r["wall_s"], "started (UTC)": r["started"],
                                     "device": r.get("device", "—")} for r in i.runs])),
        Section("Params", "The values this report was made with (params.yaml; where the data came from omitted). "
                          f"<code>objective</code> is what the {p.loss} loss resolved to: its values under "
                          "<code>losses</code>, with the top-level <code>lr</code> in place of its own when set.",
                table=pd.DataFrame(flatten({**p.model_dump(exclude={"fetch", "datasets", "losses", "lr"}),
                                            "objective": p.loss_config().model_dump()}).items(), columns=["param", "value"])),
    ]


def write(out: Path, i: Inputs) -> None:
    """reports/index.html (self-contained), report.md and figures/ of one run."""
    p = i.params
    obj = p.loss_config()
    sections = _quality_sections(i) + _histogram_sections(i) + _training_sections(i) + _run_sections(i)
    critic = (f"{obj.critic_steps} critic step(s) per generator step" if hasattr(obj, "critic_steps")
              else "no critic")
    fetched = next((r for r in i.runs if r["stage"] == "fetch"), {})
    write_report(out, f"ganpipe report: {i.title}",
                 f"{i.title} (from {fetched.get('source', '?')}), {p.model.arch} with the {p.loss} loss, "
                 f"{obj.optimizer} lr {obj.lr:g}, {critic}, {p.train.steps:,} steps, seed {p.seed}", sections,
                 p.report.dpi, warnings=warnings(i.ev, i.ladder, i.classifier.get("test_accuracy"),
                                                 target=p.datasets[p.dataset].classifier_target,
                                                 warn_ratio=p.report.warn_ratio))
