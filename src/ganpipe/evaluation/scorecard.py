"""Every number evaluate reports about one set of images, each next to its real-vs-real floor.

`scorecard` is the one way to score generated images: the evaluate stage and every benchmark call it.

Owns: the real reference subset behind the floors, embedding an image set through the classifier once,
the feature metrics of a set against the real test set (FLD, KID, IS, precision/recall/density/coverage,
class JS, modes), FLD extrapolated to infinite n, bootstrap intervals for FLD and pixel_js, and the flat
keys of metrics/eval.json, and the views the report draws (class shares, intensity counts, ink, the per-position JS map).
Without labels the classifier is the random-features network (classifier.random_features): the metrics that read
class labels (registry.LABELLED: is_score, class_js, modes, with their floors) and the class shares are left out,
and eval.json's `classes` is 0; with labels `classes` is the dataset's K, which modes and the shares count.
Refuses: training, file I/O, global seeding (every draw comes from a generator seeded by
`evaluate.seed`). The arithmetic of each metric lives in histograms.py and features.py.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from torch import nn

from ganpipe.config import ClassifierConfig, EvaluateConfig
from ganpipe.evaluation.classifier import LeNet, classes_of, embed, reference_pool
from ganpipe.evaluation.features import class_histogram_metrics, frechet_distance, inception_score, kid, prdc
from ganpipe.evaluation.histograms import (evaluate_against_floor, image_intensity_counts, intensity_counts,
                                          js_divergence, perpixel_js_map)

K_PR, K_DC = 3, 5   # k of the precision/recall and of the density/coverage balls (Kynkaanniemi; Naeem)


def reference_subset(pool: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n real images from `pool` (training images the classifier never saw, disjoint from the test set): the
    second real sample behind every floor."""
    if n > len(pool):
        raise ValueError(f"evaluate.samples = {n} exceeds the {len(pool)} held-out real images available for the "
                         "floors (raise classifier.reference_images)")
    idx = np.random.default_rng(seed).choice(len(pool), size=n, replace=False)
    return pool[np.sort(idx)]


@dataclass(frozen=True)
class Embedded:
    """An image set as the classifier sees it."""
    images: np.ndarray          # uint8 (n, H, W) or (n, H, W, 3)
    features: np.ndarray        # float64 (n, d): the penultimate layer
    probs: np.ndarray | None    # float64 (n, K); None through random features (data without labels)

    @property
    def classes(self) -> int:
        return 0 if self.probs is None else self.probs.shape[1]

    @property
    def labels(self) -> np.ndarray:
        return self.probs.argmax(axis=1)


def embed_set(model: nn.Module, images: np.ndarray) -> Embedded:
    return Embedded(images, *embed(model, images))


def real_sets(model: LeNet, clf_cfg: ClassifierConfig, data: dict[str, np.ndarray], n: int,
              seed: int) -> tuple[Embedded, Embedded]:
    """The real test set and the real reference subset behind every floor (n of the training images the classifier
    was not trained on, see classifier.reference_pool), embedded. Refuses a classifier whose K is not the data's."""
    if model.classes != classes_of(data):
        raise ValueError(f"the classifier has {model.classes} classes, the dataset {classes_of(data)} (0: no labels); "
                         "run the classifier stage on this dataset")
    reference = reference_subset(reference_pool(data["x_train"], clf_cfg), n, seed)
    return embed_set(model, data["x_test"]), embed_set(model, reference)


def feature_metrics(real: Embedded, other: Embedded, cfg: EvaluateConfig) -> dict[str, float]:
    """`other` against the real test set in the classifier's eyes; IS and modes look at `other` alone. Without
    labels (random features) only the metrics of features: no IS, class JS or modes."""
    kid_mean, kid_std = kid(real.features, other.features, subsets=cfg.kid_subsets,
                            subset_size=cfg.kid_subset_size, seed=cfg.seed)
    out = {"fld": frechet_distance(real.features, other.features), "kid": kid_mean, "kid_std": kid_std}
    if other.classes:
        out["is_score"] = inception_score(other.probs)
    out.update(prdc(real.features, other.features, k_pr=K_PR, k_dc=K_DC))
    if other.classes:
        out.update(class_histogram_metrics(other.labels, real.labels, other.classes))
    return out


def fld_inf(real: np.ndarray, other: np.ndarray, *, points: int, seed: int) -> float:
    """FLD at infinite n: FLD(n_i) of random subsets of `other` (n_i = n/points, 2n/points, ..., n) against all of
    `real`, fitted by least squares as a + b/n_i; returns a. The 1/n bias of FD is then gone (Chong & Forsyth 2020)."""
    n = len(other)
    sizes = sorted({max(2, round(n * i / points)) for i in range(1, points + 1)})
    if len(sizes) < 2:
        raise ValueError(f"fld_inf needs at least two distinct subset sizes; {n} samples give {sizes}")
    rng = np.random.default_rng(seed)
    fds = [frechet_distance(real, other[rng.choice(n, size=m, replace=False)]) for m in sizes]
    _, intercept = np.polyfit(1.0 / np.asarray(sizes, dtype=np.float64), fds, 1)
    return float(intercept)


def bootstrap_interval(statistic: Callable[[np.ndarray, np.ndarray], float], n_real: int, n_other: int, *,
                       reps: int, level: float, seed: int) -> tuple[float, float]:
    """Percentile interval of statistic(real rows, other rows) over `reps` resamples of both sets with replacement."""
    rng = np.random.default_rng(seed)
    values = [statistic(rng.integers(0, n_real, n_real), rng.integers(0, n_other, n_other)) for _ in range(reps)]
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def score(gen_e: Embedded, real_test: Embedded, real_ref: Embedded, cfg: EvaluateConfig) -> dict[str, float]:
    """metrics/eval.json: each metric of (real test, generated) with its `_floor` twin for (real test, real
    reference), the intervals of fld and pixel_js, fld_inf, and the facts (n, bins, ..., channels, classes) the
    figures and the report's wording depend on. `classes` is K, 0 for data without labels, whose eval.json has no
    registry.LABELLED metric (is_score, class_js, modes, nor their floors); `channels` is 1 or 3."""
    gen = gen_e.images
    hist = evaluate_against_floor(gen, real_test.images, real_ref.images,
                                  bins=cfg.pixel_bins, perpixel_bins=cfg.perpixel_bins, alpha=cfg.kl_smoothing)
    facts = {k: hist.pop(k) for k in ("n", "n_real", "bins", "perpixel_bins", "alpha")}
    out = dict(hist)
    on_gen, on_ref = feature_metrics(real_test, gen_e, cfg), feature_metrics(real_test, real_ref, cfg)
    for key, value in on_gen.items():
        out[key], out[f"{key}_floor"] = value, on_ref[key]
    out["fld_inf"] = fld_inf(real_test.features, gen_e.features, points=cfg.fld_inf_points, seed=cfg.seed)
    out["fld_inf_floor"] = fld_inf(real_test.features, real_ref.features, points=cfg.fld_inf_points, seed=cfg.seed)

    ci = dict(reps=cfg.bootstrap, level=cfg.ci, seed=cfg.seed)
    out["fld_ci_lo"], out["fld_ci_hi"] = bootstrap_interval(
        lambda i, j: frechet_distance(real_test.features[i], gen_e.features[j]), len(real_test.images), len(gen), **ci)
    c_real, c_gen = image_intensity_counts(real_test.images, cfg.pixel_bins), image_intensity_counts(gen, cfg.pixel_bins)
    out["pixel_js_ci_lo"], out["pixel_js_ci_hi"] = bootstrap_interval(
        lambda i, j: float(js_divergence(c_real[i].sum(0), c_gen[j].sum(0))), len(c_real), len(c_gen), **ci)
    out.update(facts, ci=cfg.ci, bootstrap=cfg.bootstrap, feature_dim=int(gen_e.features.shape[1]),
               channels=1 if gen.ndim == 3 else int(gen.shape[3]), classes=gen_e.classes)
    return out


def views(gen_e: Embedded, real_test: Embedded, cfg: EvaluateConfig) -> dict[str, np.ndarray]:
    """What the report draws besides the numbers, computed here once so that the report never loads the
    classifier: per set ("real", "gen"), the class shares (K,) (only with labels), the pixel-intensity counts on the
    shared edges (bins,) over every channel value, and the ink per image (n,), the mean of all its values; and the
    per-position JS map (H, W), for RGB averaged over the channels (perpixel_js_mean is the mean over every
    (position, channel), which equals this map's mean up to rounding)."""
    out: dict[str, np.ndarray] = {
        "perpixel_js": perpixel_js_map(real_test.images, gen_e.images, perpixel_bins=cfg.perpixel_bins)}
    for name, e in (("real", real_test), ("gen", gen_e)):
        if e.classes:
            out[f"class_share_{name}"] = np.bincount(e.labels, minlength=e.classes) / len(e.labels)
        out[f"intensity_{name}"] = intensity_counts(e.images, cfg.pixel_bins)
        out[f"ink_{name}"] = e.images.reshape(len(e.images), -1).mean(axis=1)
    return out


class Scorecard(NamedTuple):
    metrics: dict[str, float]     # metrics/eval.json
    views: dict[str, np.ndarray]  # what the report draws (see `views`)


def scorecard(images: np.ndarray, classifier: LeNet, clf_cfg: ClassifierConfig, data: dict[str, np.ndarray],
              cfg: EvaluateConfig) -> Scorecard:
    """Generated uint8 (n, H, W) or (n, H, W, 3) `images`, shaped like `data`'s, scored as the evaluate stage
    scores them: embedded through the classifier, against the real test set, each metric beside its floor from n
    real images of the classifier's reference pool (picked by cfg.seed). Raises ValueError in one line when n
    exceeds that pool or the classifier does not fit the data."""
    real_test, real_ref = real_sets(classifier, clf_cfg, data, len(images), cfg.seed)
    gen = embed_set(classifier, images)
    return Scorecard(score(gen, real_test, real_ref, cfg), views(gen, real_test, cfg))
