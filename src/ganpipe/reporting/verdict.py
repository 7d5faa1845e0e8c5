"""The verdict on one run: the headline table, the per-family metric tables, and the warnings at the top of the
report. Every metric fact (meaning, direction, headline / watched / ladder) comes from evaluation.registry.

Owns: which generator was scored, in words; the warning rules (mode collapse, a metric far from its floor, an
untrustworthy classifier). A metric eval.json lacks (the label metrics of a dataset without labels) is left out.
Refuses: computing metrics and reading files.
"""
from __future__ import annotations

import pandas as pd

from ganpipe.config import TrainConfig
from ganpipe.evaluation.ladder import place
from ganpipe.evaluation.registry import HEADLINE, METRICS, MODE_MIN_PERCENT, WATCHED, Metric


def _uncertainty(ev: dict, key: str) -> str:
    if f"{key}_ci_lo" in ev:
        return f"{ev['ci']:.0%} CI [{ev[f'{key}_ci_lo']:.4g}, {ev[f'{key}_ci_hi']:.4g}]"
    if f"{key}_std" in ev:
        return f"± {ev[f'{key}_std']:.3g} (std over subsets)"
    return ""


def _on_ladder(ev: dict, key: str, rungs: list[dict] | None) -> str:
    return place(ev[key], rungs, key) if rungs and METRICS[key].ladder else ""


def metrics_table(ev: dict, metrics: dict[str, Metric], rungs: list[dict] | None = None) -> pd.DataFrame:
    """One row per metric: value, floor, ratio, uncertainty, place on the ladder (where scored), which way is
    better, unit, meaning."""
    out = []
    for key, m in metrics.items():
        if key not in ev:
            continue
        value, floor = ev[key], ev[f"{key}_floor"]
        out.append({"metric": key, "generated vs real": value, "floor (real vs real)": floor,
                    "× floor": value / floor if floor > 0 else float("nan"), "uncertainty": _uncertainty(ev, key),
                    "on the ladder": _on_ladder(ev, key, rungs),
                    "better": "higher" if m.higher_is_better else "lower", "unit": m.unit, "meaning": m.meaning})
    df = pd.DataFrame(out)
    return df.loc[:, (df != "").any()]   # drop the columns no metric of this table fills


def headline(ev: dict, rungs: list[dict]) -> pd.DataFrame:
    """The verdict table: the headline metrics against their floors, where each sits on the ladder, which way is
    better."""
    return pd.DataFrame([{"metric": key, "this model": ev[key], "real (floor)": ev[f"{key}_floor"],
                          "better": "higher" if METRICS[key].higher_is_better else "lower",
                          "on the ladder": _on_ladder(ev, key, rungs)} for key in HEADLINE if key in ev])


def warnings(ev: dict, rungs: list[dict], accuracy: float | None, *, target: float, warn_ratio: float) -> list[str]:
    """The report's warnings: mode collapse, a watched metric far worse than its floor, a classifier below its
    target accuracy (none for random features: accuracy None). Trusted HTML (may hold <code>)."""
    out = []
    if "modes" in ev and ev["modes"] < ev["classes"]:
        out.append(f"<strong>Mode collapse</strong>: only {ev['modes']} of the {ev['classes']} classes hold at least "
                   f"{MODE_MIN_PERCENT}% of the samples (see the class histogram).")
    for key in (k for k in WATCHED if k in ev):
        value, floor = ev[key], ev[f"{key}_floor"]
        if METRICS[key].higher_is_better:
            if value < floor / warn_ratio ** 0.5:   # e.g. under 1/3.2 of the floor for warn_ratio 10
                out.append(f"<code>{key}</code> = {value:.4g} is far below its real-vs-real value {floor:.4g}.")
            continue
        # KID's floor is ~0 (its estimate is unbiased), so it is judged against its spread over subsets
        scale = max(floor, ev["kid_std_floor"]) if key == "kid" else floor
        if scale > 0 and value > warn_ratio * scale:
            where = f" On the ladder: {place(value, rungs, key)}." if METRICS[key].ladder else ""
            what = "floor" if scale == floor else "spread over subsets"
            out.append(f"<code>{key}</code> = {value:.4g} is {value / scale:.0f}× its real-vs-real {what} "
                       f"({scale:.3g}).{where}")
    if accuracy is not None and accuracy < target:
        out.append(f"The classifier behind the feature metrics reaches only {accuracy:.2%} test accuracy "
                   f"(target {target:.0%}): train it longer (<code>classifier.epochs</code>).")
    return out


def scored(weights: str, train: TrainConfig) -> str:
    """Which generator the samples came from, in one sentence."""
    if weights != "ema":
        return "Scored: the raw generator (its weights after the last step)."
    stats = (f"batch-norm statistics recomputed over {train.ema_standing_batches} batches of noise"
             if train.ema_standing_batches
             else "batch-norm statistics of the raw generator")
    return f"Scored: the averaged generator (EMA of the weights, decay {train.ema_decay:g}; {stats})."
