"""Every metric of metrics/eval.json, described once: its key, meaning, unit, which way is better, and where it is
shown (the verdict's headline table, the verdict's warnings, the degradation ladder).

The report, compare, the verdict and the ladder read this registry; none of them restates a metric's facts.
The definitions behind the meanings: docs/reference/metrics.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CLASSES = 10            # MNIST's digits: the default LeNet's head. A dataset's K comes from its labels (eval.json's
                        # `classes`, 0 when it has none); a generator covering all of them has K modes
MODE_MIN_PERCENT = 1    # a class counts as a mode when it holds at least 1% of the generated samples


@dataclass(frozen=True)
class Metric:
    key: str
    meaning: str
    unit: str
    higher_is_better: bool = False
    family: Literal["feature", "histogram"] = "feature"   # through the classifier, or the source's histograms
    headline: bool = False   # in the verdict's table at the top of the report, and in compare's leaderboard
    watched: bool = False    # the verdict warns when it is far from its floor
    ladder: bool = False     # scored on every rung of the degradation ladder, and placed on it
    labels: bool = False     # needs a classifier trained on labels: left out of eval.json for unlabelled data


_ALL = (
    Metric("fld", "Fréchet distance between Gaussians fitted to the classifier's penultimate features of real and "
                  "generated images", "squared feature units", headline=True, watched=True, ladder=True),
    Metric("fld_inf", "the same, extrapolated to infinitely many samples by fitting FLD against 1/n, which removes "
                      "its generated set's 1/n bias", "squared feature units"),
    Metric("kid", "unbiased MMD² between the same features with a cubic polynomial kernel, mean over subsets "
                  "(± std); unbiased, so near 0 it may dip below", "squared kernel units",
           headline=True, watched=True, ladder=True),
    Metric("is_score", "Inception Score with our classifier, exp E KL(p(y|x)‖p(y)): high when each image is one "
                       "confident class and all classes appear; at most K, the number of classes", "effective classes",
           higher_is_better=True, headline=True, watched=True, labels=True),
    Metric("precision", "share of generated images inside the real images' k = 3 nearest-neighbour balls: fidelity",
           "share", higher_is_better=True, headline=True, watched=True),
    Metric("recall", "share of real images inside the generated images' k = 3 balls: diversity", "share",
           higher_is_better=True, headline=True, watched=True),
    Metric("density", "real k = 5 balls holding each generated image, divided by 5: fidelity that rewards samples "
                      "where real digits are dense (about 1 for real)", "balls per sample / 5",
           higher_is_better=True, watched=True),
    Metric("coverage", "share of real images whose k = 5 ball holds a generated image: diversity that ignores "
                       "outliers", "share", higher_is_better=True, headline=True, watched=True),
    Metric("class_js", "JS between the histograms of the classifier's labels on generated and on real images",
           "nats", watched=True, labels=True),
    Metric("modes", f"classes holding at least {MODE_MIN_PERCENT}% of the generated images: below K (eval.json's "
                    "`classes`) is mode collapse", "classes", higher_is_better=True, headline=True, labels=True),
    Metric("pixel_js", "Jensen–Shannon divergence of the pixel-intensity histograms (mixture M = (P+Q)/2), in "
                       "[0, ln 2]", "nats", family="histogram", headline=True, watched=True, ladder=True),
    Metric("pixel_sym_kl", "the source's “JS” formula ½KL(P‖Q)+½KL(Q‖P): really the symmetrised KL, smoothed",
           "nats", family="histogram"),
    Metric("pixel_kl_real_gen", "KL(real‖generated), smoothed: large when real intensities are missing from the "
                                "samples", "nats", family="histogram"),
    Metric("pixel_kl_gen_real", "KL(generated‖real), smoothed: large when samples use intensities real digits do "
                                "not", "nats", family="histogram"),
    Metric("perpixel_js_mean", "mean over every pixel position (every position and channel of RGB images) of the "
                               "JS between real and generated intensity histograms there", "nats", family="histogram"),
)
METRICS: dict[str, Metric] = {m.key: m for m in _ALL}

HEADLINE = tuple(m.key for m in _ALL if m.headline)
WATCHED = tuple(m.key for m in _ALL if m.watched)
LADDER = tuple(m.key for m in _ALL if m.ladder)
LABELLED = tuple(m.key for m in _ALL if m.labels)   # what unlabelled data cannot have: each one reads class labels


def family(name: str) -> dict[str, Metric]:
    return {m.key: m for m in _ALL if m.family == name}


def higher_is_better(key: str) -> bool:
    """False for any key that is not a registered metric (a floor, an interval bound, a param): lower is better."""
    return key in METRICS and METRICS[key].higher_is_better
