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
from ganpipe.report import (Section, fig_curves, fig_heatmap, fig_ink, fig_intensity, fig_progression, fig_samples,
                            write_report)
from ganpipe.toy import fig_toy
from stages._common import ParamsOpt, load_params_or_exit

METRICS = {
    "pixel_js": "Jensen–Shannon divergence of the pixel-intensity histograms (mixture M = (P+Q)/2), in [0, ln 2] nats",
    "pixel_sym_kl": "the source's “JS” formula ½KL(P‖Q)+½KL(Q‖P): really the symmetrised KL, smoothed",
    "pixel_kl_real_gen": "KL(real‖generated), smoothed: large when real intensities are missing from the samples",
    "pixel_kl_gen_real": "KL(generated‖real), smoothed: large when samples use intensities real digits do not",
    "perpixel_js_mean": "mean over the 784 positions of the JS between real and generated intensity histograms there",
}


def metrics_table(ev: dict) -> pd.DataFrame:
    rows = []
    for key, meaning in METRICS.items():
        value, floor = ev[key], ev[f"{key}_floor"]
        rows.append({"metric": key, "generated vs real": value, "floor (real vs real)": floor,
                     "× floor": value / floor if floor > 0 else float("nan"), "meaning": meaning})
    return pd.DataFrame(rows)


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

    sections = [
        Section("Samples", f"{p.report.max_grid} of the {len(gen):,} generated images (fixed seed {p.seed}), "
                           "beside real test digits.",
                figures=[("samples", fig_samples({"generated": gen[: p.report.max_grid],
                                                  "real (MNIST test)": real[: p.report.max_grid]}))]),
        Section("Metrics against their noise floor",
                f"Histogram metrics at n = {ev['n']:,} generated vs {ev['n_real']:,} real test images, K = {ev['bins']} "
                f"intensity bins ({ev['perpixel_bins']} per position), smoothing α = {ev['alpha']} on counts (KL only). "
                "Each floor is the same metric between two disjoint sets of REAL images at the same n (a training "
                "subset against the test set): two samples of one distribution still differ, so a generator is good "
                f"when its figure is near the floor, not when it is small. Worst ratio here: {worst:.1f}× the floor. "
                "The source calls ½KL(P‖Q)+½KL(Q‖P) “JS”; that is the symmetrised KL (<code>pixel_sym_kl</code>), "
                "not Jensen–Shannon (<code>pixel_js</code>, which uses the mixture M and never exceeds ln 2).",
                table=metrics_table(ev)),
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
                                        f"steps, seed {p.seed}", sections, p.report.dpi)
