"""Figure builders (each returns a Figure) and the HTML/Markdown rendering of a report.

Refuses: reading pipeline files; the report stage gathers the inputs. HTML embeds every image as base64,
so the page opens offline with no CDN; Markdown links PNGs written beside it.
"""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import ganpipe.style  # noqa: F401  (backend and theme, before pyplot)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from ganpipe.io import atomic_path  # noqa: E402
from ganpipe.metrics import intensity_counts  # noqa: E402
from ganpipe.sample import tile  # noqa: E402

REAL, GEN = "real (test)", "generated"


def fig_samples(panels: dict[str, np.ndarray]) -> plt.Figure:
    """Image mosaics side by side, one per title: uint8 (n, 28, 28) each."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 5.8), squeeze=False)
    for ax, (title, images) in zip(axes[0], panels.items()):
        ax.imshow(255 - tile(images), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(title)
    return fig


PANELS = {   # panel title -> the DVCLive metrics drawn in it, and what to look for
    "losses": (["loss_d", "loss_g"], "the last step's losses"),
    "critic's estimate (held-out real)": (["w_estimate"], "wgan/wgan-gp: the W1 estimate; should fall"),
    "critic gradient norm at interpolates": (["gradnorm_d_mean", "gradnorm_d_max"], "<= 1 if D is 1-Lipschitz"),
    "generator gradient norm": (["gradnorm_g"], "near 0: the loss saturates"),
    "judge: D(x) and D(G(z))": (["d_real", "d_fake"], "both near ½ at equilibrium"),
    "speed": (["steps_per_s"], "steps/s"),
}


def fig_curves(history: pd.DataFrame) -> plt.Figure:
    """history: tidy columns step, metric, value (DVCLive's TSVs). One panel per diagnostic that was logged."""
    panels = [(title, names, hint) for title, (names, hint) in PANELS.items() if history["metric"].isin(names).any()]
    cols = 3
    rows = max(1, -(-len(panels) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(13, 3.4 * rows), squeeze=False)
    for ax, (title, names, hint) in zip(axes.flat, panels):
        sns.lineplot(data=history[history["metric"].isin(names)], x="step", y="value", hue="metric", ax=ax)
        if names[0].startswith("gradnorm_d"):
            ax.axhline(1.0, color="grey", lw=1, ls="--")   # the Lipschitz bound the penalty aims at
        if names[0] == "d_real":
            ax.axhline(0.5, color="grey", lw=1, ls="--")
            ax.set_ylim(0, 1)
        if names[0] == "gradnorm_g":
            ax.set_yscale("log")   # saturation is orders of magnitude, not a few percent
        ax.set_title(f"{title}\n({hint})", fontsize=10)
        ax.set_xlabel("generator step")
        ax.set_ylabel("")
        if ax.get_legend() is not None:
            ax.legend(fontsize=8, title=None)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def fig_progression(grids: list[tuple[int, np.ndarray]], max_panels: int = 8) -> plt.Figure:
    """The fixed-noise grids logged during training (step, image), evenly thinned to `max_panels`, in a row."""
    idx = np.unique(np.linspace(0, len(grids) - 1, min(max_panels, len(grids))).round().astype(int))
    chosen = [grids[i] for i in idx]
    fig, axes = plt.subplots(1, len(chosen), figsize=(1.65 * len(chosen), 2.0), squeeze=False)
    for ax, (step, image) in zip(axes[0], chosen):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"step {step:,}", fontsize=9)
    fig.tight_layout()
    return fig


def fig_intensity(real: np.ndarray, gen: np.ndarray, bins: int) -> plt.Figure:
    """Share of pixels per intensity bin, real vs generated, on the shared fixed edges evaluate uses."""
    edges = np.linspace(0, 256, bins + 1)
    rows = []
    for label, images in ((REAL, real), (GEN, gen)):
        counts = intensity_counts(images, bins)
        rows.append(pd.DataFrame({"intensity": edges[:-1], "share": counts / counts.sum(), "set": label}))
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.lineplot(data=pd.concat(rows), x="intensity", y="share", hue="set", drawstyle="steps-post", ax=ax)
    ax.set_yscale("log")
    ax.set_xlabel("pixel intensity (uint8)")
    ax.set_ylabel("share of pixels (log scale)")
    ax.set_title(f"pixel-intensity histograms, K = {bins} shared bins")
    return fig


def fig_ink(real: np.ndarray, gen: np.ndarray) -> plt.Figure:
    """Per-image ink mass (mean intensity): a low-dimensional view where the histogram method means something."""
    df = pd.concat([pd.DataFrame({"ink": images.reshape(len(images), -1).mean(1), "set": label})
                    for label, images in ((REAL, real), (GEN, gen))])
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.histplot(data=df, x="ink", hue="set", stat="density", common_norm=False, bins=60, element="step", ax=ax)
    ax.set_xlabel("mean pixel intensity per image")
    ax.set_title("ink per image")
    return fig


def fig_heatmap(values: np.ndarray, title: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 4.3))
    sns.heatmap(values, ax=ax, cmap="rocket_r", square=True, xticklabels=False, yticklabels=False,
                cbar_kws={"label": "JS (nats)"})
    ax.set_title(title)
    return fig


def fig_classes(pred_real: np.ndarray, pred_gen: np.ndarray, classes: int = 10) -> plt.Figure:
    """Share of images per class as the classifier labels them (argmax), real vs generated."""
    rows = [pd.DataFrame({"class": np.arange(classes), "share": np.bincount(pred, minlength=classes) / len(pred),
                          "set": label}) for label, pred in ((REAL, pred_real), (GEN, pred_gen))]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    sns.barplot(data=pd.concat(rows), x="class", y="share", hue="set", ax=ax)
    ax.axhline(0.01, color="grey", lw=1, ls="--")   # a class under 1% does not count as a mode
    ax.set_xlabel("class predicted by the MNIST classifier")
    ax.set_ylabel("share of images")
    ax.set_title("class histogram (dashed: the 1% a class needs to count as a mode)")
    return fig


def fig_ladder(ladder: pd.DataFrame, model: dict[str, float], metrics: tuple[str, ...]) -> plt.Figure:
    """One panel per (metric, degradation): the metric over the degradation's levels, level 0 being undegraded
    real images (the floor); the dashed line is the model's own score. ladder: columns kind, level, <metrics>."""
    kinds = [k for k in ladder["kind"].unique() if k != "none"]
    base = ladder[ladder["kind"] == "none"]
    fig, axes = plt.subplots(len(metrics), len(kinds), figsize=(4.2 * len(kinds), 2.9 * len(metrics)), squeeze=False)
    for r, metric in enumerate(metrics):
        for c, kind in enumerate(kinds):
            ax = axes[r, c]
            rungs = pd.concat([base, ladder[ladder["kind"] == kind]])
            sns.lineplot(data=rungs, x="level", y=metric, marker="o", ax=ax, color="C0", label="degraded real")
            ax.axhline(model[metric], color="C3", ls="--", lw=1.5, label="this model")
            values = np.append(rungs[metric].to_numpy(), model[metric])
            if np.all(values > 0):
                ax.set_yscale("log")   # rungs span orders of magnitude
            ax.set_title(f"{metric} vs {kind}", fontsize=10)
            ax.set_xlabel({"noise": "σ of the ink noise", "blur": "σ (px)", "occlusion": "square side (px)"}.get(kind, kind))
            ax.set_ylabel(metric)
            if (r, c) == (0, 0):
                ax.legend(fontsize=8)
            elif ax.get_legend() is not None:
                ax.get_legend().remove()
    fig.tight_layout()
    return fig


def fig_ladder_examples(examples: dict[str, list[tuple[str, np.ndarray]]]) -> plt.Figure:
    """One row per degradation: (label, uint8 (n, 28, 28) images) per rung, tiled, left to right."""
    cols = max(len(v) for v in examples.values())
    fig, axes = plt.subplots(len(examples), cols, figsize=(1.7 * cols, 1.9 * len(examples)), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for r, rungs in enumerate(examples.values()):
        for c, (label, images) in enumerate(rungs):
            axes[r, c].imshow(255 - tile(images, cols=2), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            axes[r, c].set_title(label, fontsize=8)
    fig.tight_layout()
    return fig


@dataclass
class Section:
    title: str
    text: str = ""
    figures: list[tuple[str, plt.Figure]] = field(default_factory=list)   # (file stem, figure)
    table: pd.DataFrame | None = None


def _md(text: str) -> str:
    return text.replace("<code>", "`").replace("</code>", "`")


def _png(fig: plt.Figure, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:1.8em}table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.3em .7em;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child,td:last-child,th:last-child{text-align:left}img{max-width:100%;height:auto}
.sub{color:#666}code{background:#f3f3f3;padding:0 .2em}
.warn{background:#fff4e5;border-left:4px solid #e8590c;padding:.5em 1em;margin:1em 0}.warn li{margin:.2em 0}"""


def write_report(out_dir: Path, title: str, subtitle: str, sections: list[Section], dpi: int,
                 warnings: list[str] = (), *, html_name: str = "index.html", md_name: str = "report.md",
                 fig_dir: str = "figures") -> None:
    """out_dir/index.html (self-contained), out_dir/report.md and the PNGs it links, out_dir/figures/*.png.
    Warnings (trusted text, may hold <code>) stand in a box under the title."""
    fig_rel = fig_dir
    fig_dir = out_dir / fig_rel
    fig_dir.mkdir(parents=True, exist_ok=True)
    body = [f"<h1>{html.escape(title)}</h1><p class='sub'>{html.escape(subtitle)}</p>"]
    md = [f"# {title}", "", subtitle, ""]
    if warnings:
        body.append("<div class='warn'><strong>Warnings</strong><ul>" + "".join(f"<li>{w}</li>" for w in warnings)
                    + "</ul></div>")
        md += ["> **Warnings**", ">"] + [f"> - ⚠ {_md(w)}" for w in warnings] + [""]
    for s in sections:
        body.append(f"<h2>{html.escape(s.title)}</h2>")
        md += [f"## {s.title}", ""]
        if s.text:
            body.append(f"<p>{s.text}</p>")  # trusted text written by the report stage, may hold <code>
            md += [_md(s.text), ""]
        if s.table is not None:   # numbers to 4 significant digits, a missing value (NaN, None) as "—"
            cells = s.table.astype(object)
            body.append(cells.where(s.table.notna(), "—").to_html(index=False, border=0,
                                                                   float_format=lambda v: f"{v:.4g}"))
            md += [cells.where(s.table.notna(), None).to_markdown(index=False, floatfmt=".4g", missingval="—"), ""]
        for stem, fig in s.figures:
            png = _png(fig, dpi)
            with atomic_path(fig_dir / f"{stem}.png") as tmp:
                tmp.write_bytes(png)
            b64 = base64.b64encode(png).decode()
            body.append(f"<p><img alt='{html.escape(stem)}' src='data:image/png;base64,{b64}'></p>")
            md += [f"![{stem}]({fig_rel}/{stem}.png)", ""]
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width,initial-scale=1'><title>{html.escape(title)}</title><style>{CSS}</style>"
            f"</head><body>{''.join(body)}</body></html>\n")
    with atomic_path(out_dir / html_name) as tmp:
        tmp.write_text(page)
    with atomic_path(out_dir / md_name) as tmp:
        tmp.write_text("\n".join(md) + "\n")
