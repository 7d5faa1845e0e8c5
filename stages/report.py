"""report: every output of the pipeline -> reports/index.html (self-contained) and reports/report.md."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from ganpipe.data import load_mnist, load_samples
from ganpipe.metrics import perpixel_js_map
from ganpipe.report import (Section, fig_classes, fig_curves, fig_heatmap, fig_ink, fig_intensity, fig_ladder,
                            fig_ladder_examples, fig_progression, fig_samples, write_report)
from ganpipe.ladder import KINDS, METRICS as RUNG_METRICS, degrade, describe, place
from ganpipe.scorecard import embed_set
from ganpipe.toy import fig_toy
from stages._common import ParamsOpt, load_params_or_exit
from stages.classifier import TARGET
from stages.evaluate import ClassifierOpt, load_classifier

METRICS = {
    "pixel_js": "Jensen–Shannon divergence of the pixel-intensity histograms (mixture M = (P+Q)/2), in [0, ln 2] nats",
    "pixel_sym_kl": "the source's “JS” formula ½KL(P‖Q)+½KL(Q‖P): really the symmetrised KL, smoothed",
    "pixel_kl_real_gen": "KL(real‖generated), smoothed: large when real intensities are missing from the samples",
    "pixel_kl_gen_real": "KL(generated‖real), smoothed: large when samples use intensities real digits do not",
    "perpixel_js_mean": "mean over the 784 positions of the JS between real and generated intensity histograms there",
}
FEATURE_METRICS = {
    "fld": "Fréchet distance between Gaussians fitted to the classifier's penultimate features of real and "
           "generated images: lower is better",
    "fld_inf": "the same, extrapolated to infinitely many samples by fitting FLD against 1/n, which removes its "
               "generated set's 1/n bias",
    "kid": "unbiased MMD² between the same features with a cubic polynomial kernel, mean over subsets (± std); "
           "unbiased, so near 0 it may dip below",
    "is_score": "Inception Score with our classifier, exp E KL(p(y|x)‖p(y)): high when each image is one confident "
                "digit and all digits appear; at most 10",
    "precision": "share of generated images inside the real images' k = 3 nearest-neighbour balls: fidelity",
    "recall": "share of real images inside the generated images' k = 3 balls: diversity",
    "density": "real k = 5 balls holding each generated image, divided by 5: fidelity that rewards samples where "
               "real digits are dense (about 1 for real)",
    "coverage": "share of real images whose k = 5 ball holds a generated image: diversity that ignores outliers",
    "class_js": "JS (nats) between the histograms of the classifier's labels on generated and on real images",
    "modes": "classes holding at least 1% of the generated images: below 10 is mode collapse",
}
HIGHER_IS_BETTER = {"is_score", "precision", "recall", "density", "coverage", "modes"}
LADDER_METRICS = ("fld", "kid", "pixel_js")
HEADLINE = ("fld", "kid", "is_score", "precision", "recall", "coverage", "modes", "pixel_js")
WATCHED = ("fld", "kid", "pixel_js", "class_js", "is_score", "precision", "recall", "density", "coverage")


def _uncertainty(ev: dict, key: str) -> str:
    if f"{key}_ci_lo" in ev:
        return f"{ev['ci']:.0%} CI [{ev[f'{key}_ci_lo']:.4g}, {ev[f'{key}_ci_hi']:.4g}]"
    if f"{key}_std" in ev:
        return f"± {ev[f'{key}_std']:.3g} (std over subsets)"
    return ""


def metrics_table(ev: dict, meanings: dict[str, str], rows: list[dict] | None = None) -> pd.DataFrame:
    """One row per metric: value, floor, ratio, uncertainty, place on the ladder (where scored), meaning."""
    out = []
    for key, meaning in meanings.items():
        value, floor = ev[key], ev[f"{key}_floor"]
        out.append({"metric": key, "generated vs real": value, "floor (real vs real)": floor,
                    "× floor": value / floor if floor > 0 else float("nan"), "uncertainty": _uncertainty(ev, key),
                    "on the ladder": place(value, rows, key) if rows and key in LADDER_METRICS else "",
                    "meaning": meaning})
    df = pd.DataFrame(out)
    return df.loc[:, (df != "").any()]   # drop the columns no metric of this table fills


def headline(ev: dict, rows: list[dict]) -> pd.DataFrame:
    """The verdict table: a few metrics against their floors, where each sits on the ladder, better or worse."""
    out = []
    for key in HEADLINE:
        value, floor = ev[key], ev[f"{key}_floor"]
        out.append({"metric": key, "this model": value, "real (floor)": floor,
                    "better": "higher" if key in HIGHER_IS_BETTER else "lower",
                    "on the ladder": place(value, rows, key) if key in LADDER_METRICS else ""})
    return pd.DataFrame(out)


def verdict(ev: dict, rows: list[dict], accuracy: float, warn_ratio: float) -> list[str]:
    """The report's warnings: mode collapse, a metric far worse than its floor, an untrustworthy classifier."""
    out = []
    if ev["modes"] < 10:
        out.append(f"<strong>Mode collapse</strong>: only {ev['modes']} of the 10 classes hold at least 1% of the "
                   "samples (see the class histogram).")
    for key in WATCHED:
        value, floor = ev[key], ev[f"{key}_floor"]
        if key in HIGHER_IS_BETTER:
            if value < floor / warn_ratio ** 0.5:   # e.g. under 1/3.2 of the floor for warn_ratio 10
                out.append(f"<code>{key}</code> = {value:.4g} is far below its real-vs-real value {floor:.4g}.")
            continue
        # KID's floor is ~0 (its estimate is unbiased), so it is judged against its spread over subsets
        scale = max(floor, ev["kid_std_floor"]) if key == "kid" else floor
        if scale > 0 and value > warn_ratio * scale:
            where = f" On the ladder: {place(value, rows, key)}." if key in LADDER_METRICS else ""
            what = "floor" if scale == floor else "spread over subsets"
            out.append(f"<code>{key}</code> = {value:.4g} is {value / scale:.0f}× its real-vs-real {what} "
                       f"({scale:.3g}).{where}")
    if accuracy < TARGET:
        out.append(f"The classifier behind the feature metrics reaches only {accuracy:.2%} test accuracy "
                   f"(target {TARGET:.0%}): train it longer (<code>classifier.epochs</code>).")
    return out


def training_history(live_dir: Path) -> pd.DataFrame:
    """DVCLive's per-metric TSVs (columns step, <name>) -> tidy step, metric, value."""
    frames = [pd.read_csv(tsv, sep="\t").melt(id_vars="step", value_vars=[tsv.stem], var_name="metric")
              for tsv in sorted((live_dir / "plots" / "metrics").glob("*.tsv"))]
    return pd.concat(frames) if frames else pd.DataFrame(columns=["step", "metric", "value"])


def flatten(d: dict, prefix: str = "") -> dict[str, object]:
    """{"train": {"steps": 5}} -> {"train.steps": 5}, the names `dvc exp run -S` takes."""
    out: dict[str, object] = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def progression(live_dir: Path) -> list[tuple[int, np.ndarray]]:
    """The fixed-noise grids train logged through DVCLive, as (step, uint8 gray image), by step."""
    import matplotlib.pyplot as plt

    out = []
    for png in sorted((live_dir / "plots" / "images" / "grid").glob("*.png")):
        image = plt.imread(png)   # float in [0, 1], maybe RGB(A)
        out.append((int(png.stem), (image[..., 0] if image.ndim == 3 else image) * 255))
    return out


TOY_KEYS = {"ks": "Kolmogorov–Smirnov statistic against N(0,1)", "w1": "Wasserstein-1 distance to N(0,1)",
            "hist_js": "the source's histogram method: JS over K bins of [lo, hi] (+2 overflow bins)",
            "quantile_rmse": "RMS gap between sorted outputs and Φ⁻¹((i−½)/n)"}


def git_revision() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        return rev.stdout.strip() + (" (uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def report(
    metrics: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="eval.json from evaluate")],
    samples: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="samples.npz from generate")],
    data: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="mnist.npz from fetch")],
    live_dir: Annotated[Path, typer.Option(exists=True, file_okay=False, help="DVCLive folder from train")],
    facts: Annotated[list[Path], typer.Option(exists=True, dir_okay=False, help="run facts of each stage")],
    toy_metrics: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="toy.json from toy")],
    toy_samples: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="samples.npz from toy")],
    ladder: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="ladder.json from ladder")],
    classifier: ClassifierOpt,
    classifier_metrics: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="classifier.json")],
    out: Annotated[Path, typer.Option(help="report folder")],
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Render the HTML and Markdown report."""
    p = load_params_or_exit(params)
    ev = json.loads(metrics.read_text())
    gen = load_samples(samples)
    real = load_mnist(data)["x_test"]
    runs = [json.loads(f.read_text()) for f in facts]
    device = next((r["device"] for r in runs if "device" in r), "?")
    obj = p.objective()
    toy = json.loads(toy_metrics.read_text())
    with np.load(toy_samples) as z:
        toy_out, toy_u, toy_g = z["samples"], z["u"], z["g_of_u"]
    grids = progression(live_dir)
    worst = max(ev[k] / ev[f"{k}_floor"] for k in METRICS if ev[f"{k}_floor"] > 0)
    rows = json.loads(ladder.read_text())
    accuracy = json.loads(classifier_metrics.read_text())["test_accuracy"]
    model, _ = load_classifier(classifier)
    pred_real, pred_gen = embed_set(model, real).labels, embed_set(model, gen).labels
    examples = {kind: [("real", real[:4])] + [(describe(kind, lv).split(", ")[-1], degrade(real[:4], kind, lv, 0))
                                              for lv in getattr(p.ladder, kind)] for kind in KINDS}

    sections = [
        Section("Verdict", f"n = {ev['n']:,} samples against the {ev['n_real']:,} real test images. Each “real” "
                           "figure is the same metric for real images against the test set: the best a generator "
                           "can do at this n. Details and every other metric below.",
                table=headline(ev, rows)),
        Section("Samples", f"{p.report.max_grid} of the {len(gen):,} generated images (fixed seed {p.seed}), "
                           "beside real test digits.",
                figures=[("samples", fig_samples({"generated": gen[: p.report.max_grid],
                                                  "real (MNIST test)": real[: p.report.max_grid]}))]),
        Section("Sample quality through the MNIST classifier",
                f"A LeNet trained by the pipeline on the MNIST training set ({accuracy:.2%} test accuracy) looks at "
                f"n = {ev['n']:,} generated and {ev['n_real']:,} real test images: its {ev['feature_dim']}-d "
                "penultimate features for FLD, KID and precision/recall/density/coverage, its class probabilities "
                "for the Inception Score, its labels for the class histogram. These numbers are not comparable with "
                "Inception-based FID/KID/IS. Each floor is the same metric for real training images against the real "
                f"test set at the same n; the intervals are {ev['ci']:.0%} bootstrap percentiles over "
                f"{ev['bootstrap']} resamples of both sets. FLD shrinks with n, so compare it at equal n or use "
                "<code>fld_inf</code>. “On the ladder” names the degraded real images that score the same (next section).",
                table=metrics_table(ev, FEATURE_METRICS, rows)),
        Section("The degradation ladder: what a number looks like",
                "Real training images made worse step by step and scored against the real test set exactly like the "
                "samples, at the same n; level 0 is the undegraded set, whose scores are the floors. Every metric "
                "grows with every kind of damage, which is what makes it a measure; the dashed line is this model. "
                "The noise multiplies each pixel by 1 + σ·N(0, 1), so it roughens strokes and leaves the background "
                "black: noise added to the background would saturate pixel_js at once (σ = 0.03 × 255 already moves "
                "40% of the pixels off the black spike). Pixel histograms barely see a missing stroke, while the "
                "classifier's features react to shape.",
                figures=[("ladder", fig_ladder(pd.DataFrame(rows), ev, RUNG_METRICS)),
                         ("ladder_examples", fig_ladder_examples(examples))]),
        Section("Classes", "How the classifier labels the generated images, against the real test set: a missing "
                           f"or rare class is mode collapse. class_js = {ev['class_js']:.4g} nats (floor "
                           f"{ev['class_js_floor']:.3g}); modes = {ev['modes']} of 10.",
                figures=[("classes", fig_classes(pred_real, pred_gen))]),
        Section("Pixel histograms against their noise floor",
                f"Histogram metrics at n = {ev['n']:,} generated vs {ev['n_real']:,} real test images, K = {ev['bins']} "
                f"intensity bins ({ev['perpixel_bins']} per position), smoothing α = {ev['alpha']} on counts (KL only). "
                "Each floor is the same metric between two disjoint sets of REAL images at the same n (a training "
                "subset against the test set): two samples of one distribution still differ, so a generator is good "
                f"when its figure is near the floor, not when it is small. Worst ratio here: {worst:.1f}× the floor. "
                "The source calls ½KL(P‖Q)+½KL(Q‖P) “JS”; that is the symmetrised KL (<code>pixel_sym_kl</code>), "
                "not Jensen–Shannon (<code>pixel_js</code>, which uses the mixture M and never exceeds ln 2).",
                table=metrics_table(ev, METRICS, rows)),
        Section("Progression", f"The same fixed noise through the generator every {p.train.grid_every:,} steps: "
                               "a collapse shows as grids whose digits turn alike.",
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
                figures=[("curves", fig_curves(training_history(live_dir)))]),
        Section("Real vs generated histograms", "The views the histogram method can see: pixel intensities on "
                                                "shared bins, and ink per image. Real MNIST has spikes at a few "
                                                "intensities, left by how it was anti-aliased; a generator with a "
                                                "smooth output cannot place mass on them, which alone keeps "
                                                "pixel_js above its floor.",
                figures=[("intensity", fig_intensity(real, gen, ev["bins"])), ("ink", fig_ink(real, gen))]),
        Section("Where the pixels differ", "JS between the real and generated intensity histograms at each of "
                                           "the 784 positions; its mean is perpixel_js_mean.",
                figures=[("perpixel_js", fig_heatmap(perpixel_js_map(real, gen, perpixel_bins=ev["perpixel_bins"]),
                                                     "per-position JS"))]),
        Section("The 1-D toy: U[0, 1] → N(0, 1)",
                f"The source's example, trained with the same loss ({p.loss}) for {p.toy.steps:,} steps on n = "
                f"{toy['n']:,} outputs. The exact map is Φ⁻¹, the inverse normal CDF, but Φ⁻¹(1 − u) and many others "
                "give the same distribution, so judge the sorted outputs against Φ⁻¹ and the histogram against the "
                "density, not G(u) pointwise. Each figure is next to the same measure for a true N(0, 1) sample of "
                "the same n.",
                figures=[("toy", fig_toy(toy_out, toy_u, toy_g, bins=p.toy.bins, lo=p.toy.lo, hi=p.toy.hi))],
                table=pd.DataFrame([{"metric": k, "G's outputs": toy[k], "floor (N(0,1) sample)": toy[f"{k}_floor"],
                                     "meaning": v} for k, v in TOY_KEYS.items()])),
        Section("Run facts", f"git revision <code>{git_revision()}</code>; training device: {device}.",
                table=pd.DataFrame([{"stage": r["stage"], "wall time (s)": r["wall_s"], "started (UTC)": r["started"],
                                     "device": r.get("device", "—")} for r in runs])),
        Section("Params", "The values this report was made with (params.yaml; fetch settings omitted). "
                          f"<code>objective</code> is what the {p.loss} loss resolved to: its defaults under "
                          "<code>losses</code>, overridden by <code>lr</code> and <code>optim</code>.",
                table=pd.DataFrame(flatten({**p.model_dump(exclude={"fetch", "losses", "optim", "lr"}),
                                            "objective": obj.model_dump()}).items(), columns=["param", "value"])),
    ]
    write_report(out, "ganpipe report", f"{p.model.arch} with the {p.loss} loss, {obj.optimizer} lr {obj.lr:g}, "
                                        f"{obj.critic_steps} critic step(s) per generator step, {p.train.steps:,} "
                                        f"steps, seed {p.seed}", sections, p.report.dpi,
                 warnings=verdict(ev, rows, accuracy, p.report.warn_ratio))
