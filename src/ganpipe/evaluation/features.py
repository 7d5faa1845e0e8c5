"""Sample-quality metrics computed from classifier features and class probabilities.

Owns: the Frechet distance (from features or from means and covariances), KID (unbiased MMD^2
with the cubic polynomial kernel, over random subsets), the Inception Score, precision / recall /
density / coverage on k-NN balls, and the class-label histogram metrics (JS to the real label
histogram, number of modes, both over the K classes the caller gives), all in float64
(definitions: docs/reference/metrics.md, "Feature metrics").
Refuses: running the classifier (it receives arrays: features, probabilities, argmax labels),
torch, file I/O and global seeding (KID takes a seed and builds its own generator). Values are
never made to look nicer: KID is never clipped, and FD is clipped at 0 only within rounding.
These numbers come from our own classifier (or, for unlabelled data, its seeded untrained twin) and are not
comparable with Inception-based FID/KID/IS.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from scipy.special import rel_entr

from ganpipe.evaluation.histograms import js_divergence
from ganpipe.evaluation.registry import MODE_MIN_PERCENT

_EPS = float(np.finfo(np.float64).eps)
# A negative FD larger than this share of the covariances' scale, tr(S1) + tr(S2), is not rounding
# (residuals of FD(X, X) are a few eps * scale, ~1e-16 relative) and is returned as it is.
_FD_ROUNDING = 1e-10
_PROB_SUM_TOL = 1e-6
_PRDC_BLOCK_ROWS = 1024  # fake rows per cdist block: 1024 x 10,000 real = 80 MB of float64


# --- validation ----------------------------------------------------------------------------------

def _check_features(x, name: str, min_rows: int = 1) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 2 or a.shape[1] < 1 or not (np.issubdtype(a.dtype, np.integer)
                                             or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{name} must be a finite 2-D array (n, d), got {a.dtype} shape {a.shape}")
    if a.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got shape {a.shape}")
    a = a.astype(np.float64, copy=False)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a finite 2-D array (n, d), got {int(np.sum(~np.isfinite(a)))} "
                         f"NaN/inf entries in shape {a.shape}")
    return a


def _check_pair(x, y, names: tuple[str, str], min_rows: int = 1) -> tuple[np.ndarray, np.ndarray]:
    x, y = _check_features(x, names[0], min_rows), _check_features(y, names[1], min_rows)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"{names[0]} and {names[1]} differ in feature dimension: {x.shape[1]} vs {y.shape[1]}")
    return x, y


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


# --- Frechet distance ----------------------------------------------------------------------------

def _mean_cov(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # unbiased covariance (ddof=1), always (d, d), also for d = 1 where np.cov returns a 0-d array
    mu = x.mean(axis=0)
    xc = x - mu
    return mu, xc.T @ xc / (len(x) - 1)


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """The symmetric PSD square root V diag(sqrt(max(w, 0))) V^T of a symmetric matrix."""
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """Tr((S1 S2)^½) for symmetric PSD S1, S2, as sum sqrt(eig(S1^½ S2 S1^½)).

    S1 S2 is similar to S1^½ S2 S1^½ (same eigenvalues, all >= 0), but S1 S2 itself is not symmetric:
    eigvalsh(S1 S2) would read only its lower triangle as if it were symmetric and return eigenvalues
    of a different matrix. S1^½ S2 S1^½ is symmetric PSD, so eigvalsh is valid and its spectrum real.
    """
    root1 = _psd_sqrt(s1)
    m = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((m + m.T) / 2)  # symmetrise away the rounding asymmetry of the products
    # Singular covariances (n <= d, constant or collinear features) leave rounding noise of size
    # ~eps * max|eig| on the null eigenvalues, and the square root inflates it: sqrt(1e-16) = 1e-8 per
    # null direction, enough to make FD(X, X) = -1e-5 at d = 512. Treat eigenvalues below the rank
    # tolerance that numpy.linalg.matrix_rank uses (d * eps * max) as the zeros they are.
    tol = len(eig) * _EPS * max(float(eig.max()), 0.0)
    eig = np.where(eig > tol, eig, 0.0)
    return float(np.sqrt(eig).sum())


def frechet_from_stats(mu1, s1, mu2, s2) -> float:
    """|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^½): the Frechet distance of N(mu1, S1) and N(mu2, S2)."""
    mus = [np.asarray(m, dtype=np.float64) for m in (mu1, mu2)]
    covs = [np.asarray(s, dtype=np.float64) for s in (s1, s2)]
    d = mus[0].shape[0] if mus[0].ndim == 1 else 0
    for i, (m, s) in enumerate(zip(mus, covs, strict=True), start=1):
        if d < 1 or m.shape != (d,) or s.shape != (d, d):
            raise ValueError(f"means must be (d,) and covariances (d, d) with one d >= 1, got "
                             f"mu1 {mus[0].shape}, s1 {covs[0].shape}, mu2 {mus[1].shape}, s2 {covs[1].shape}")
        if not (np.all(np.isfinite(m)) and np.all(np.isfinite(s))):
            raise ValueError(f"mu{i} and s{i} must be finite")
        if not np.allclose(s, s.T, rtol=1e-8, atol=1e-12 * max(1.0, float(np.abs(s).max()))):
            raise ValueError(f"s{i} must be a symmetric covariance matrix")
    (m1, m2), (c1, c2) = mus, [(s + s.T) / 2 for s in covs]
    tr1, tr2 = float(np.trace(c1)), float(np.trace(c2))
    fd = float(np.sum((m1 - m2) ** 2)) + tr1 + tr2 - 2.0 * trace_sqrt_product(c1, c2)
    # rounding leaves a few eps * (tr S1 + tr S2) either side of 0 when the distributions coincide;
    # anything further below 0 is a bug to see, not to hide
    if -_FD_ROUNDING * max(1.0, abs(tr1) + abs(tr2)) <= fd < 0.0:
        fd = 0.0
    return fd


def frechet_distance(x, y) -> float:
    """Frechet distance between Gaussians fitted to features x (n, d) and y (m, d); needs n, m >= 2.

    Finite for singular covariances, but only meaningful for n >> d, and biased by ~1/n: compare
    figures at equal n (and against the real-vs-real floor at that n).
    """
    x, y = _check_pair(x, y, ("x features", "y features"), min_rows=2)
    return frechet_from_stats(*_mean_cov(x), *_mean_cov(y))


# --- KID -----------------------------------------------------------------------------------------

def _poly_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # k(a, b) = (a.b / d + 1)^3, (len(a), len(b))
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two float64 samples (s, d) with the KID kernel; may be negative."""
    s_x, s_y = len(x), len(y)
    k_xx, k_yy, k_xy = _poly_kernel(x, x), _poly_kernel(y, y), _poly_kernel(x, y)
    # the U-statistic leaves out k(x_i, x_i) and k(y_j, y_j); every cross pair is kept
    within_x = (k_xx.sum() - np.trace(k_xx)) / (s_x * (s_x - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (s_y * (s_y - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kid(x, y, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID: (mean, std over subsets) of the unbiased MMD^2 between random subsets of x (n, d) and y (m, d).

    Each subset draws min(subset_size, n, m) rows of x and, independently, of y, without replacement
    within the subset, from np.random.default_rng(seed). The std (ddof=0) is the spread over subsets.
    Never clipped: an unbiased estimate of 0 is negative about half the time.
    """
    x, y = _check_pair(x, y, ("x features", "y features"), min_rows=2)
    subsets = _check_int(subsets, "subsets", 1)
    size = min(_check_int(subset_size, "subset_size", 2), len(x), len(y))
    rng = np.random.default_rng(seed)
    mmds = np.empty(subsets, dtype=np.float64)
    for i in range(subsets):
        xs = x[rng.choice(len(x), size=size, replace=False)]
        ys = y[rng.choice(len(y), size=size, replace=False)]
        mmds[i] = mmd2_unbiased(xs, ys)
    return float(mmds.mean()), float(mmds.std())


# --- Inception Score -----------------------------------------------------------------------------

def inception_score(probs, *, eps: float = 1e-12) -> float:
    """exp(mean_i KL(p(y|x_i) || p(y))) with p(y) the mean row of probs (n, K); between 1 and K.

    0 log 0 = 0 (scipy's rel_entr), so exact inputs give exact values (uniform one-hot: K). eps only
    floors the marginal, guarding against an underflowed p(y) = 0 under a tiny p(y|x) > 0.
    """
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    p = _check_features(probs, "probs")
    if np.any(p < 0):
        raise ValueError(f"probs must be non-negative, got min {p.min():.3g}")
    row_sums = p.sum(axis=1)
    worst = int(np.argmax(np.abs(row_sums - 1.0)))
    if abs(row_sums[worst] - 1.0) > _PROB_SUM_TOL:
        raise ValueError(f"probs rows must sum to 1 (within {_PROB_SUM_TOL}), row {worst} sums to {row_sums[worst]!r}")
    marginal = np.maximum(p.mean(axis=0), eps)  # p(y), (K,)
    kl = rel_entr(p, marginal).sum(axis=1)  # KL(p(y|x_i) || p(y)) in nats, (n,)
    return float(np.exp(kl.mean()))


# --- precision / recall / density / coverage -----------------------------------------------------

def _knn_radii(x: np.ndarray, ks: list[int], block_rows: int) -> dict[int, np.ndarray]:
    """Distance from each row of x to its k-th nearest OTHER row of x, for each k: {k: (n,)}."""
    kth = sorted(set(ks))
    radii = {k: np.empty(len(x), dtype=np.float64) for k in kth}
    for start in range(0, len(x), block_rows):
        d = cdist(x[start:start + block_rows], x)  # (b, n); each row holds its own 0 at some position
        # index k of the sorted row skips exactly one 0 (the point itself), duplicates included
        part = np.partition(d, kth, axis=1)
        for k in kth:
            radii[k][start:start + len(d)] = part[:, k]
    return radii


def prdc(real, fake, *, k_pr: int = 3, k_dc: int = 5, block_rows: int = _PRDC_BLOCK_ROWS) -> dict[str, float]:
    """Precision / recall (k_pr-NN balls, Kynkaanniemi et al. 2019), density / coverage (k_dc-NN balls of
    the real set, Naeem et al. 2020), Euclidean, real (n, d) vs fake (m, d).

    Balls are closed (distance <= radius); the radius of a point is its distance to the k-th nearest
    other point of its own set. Two samples of ONE distribution do not give 1s: for large n, density
    ~ 1 and coverage ~ 1 - 2^-k_dc; precision and recall fall below 1 too. Memory: block_rows x n floats.
    """
    k_pr, k_dc = _check_int(k_pr, "k_pr", 1), _check_int(k_dc, "k_dc", 1)
    block_rows = _check_int(block_rows, "block_rows", 1)
    real, fake = _check_pair(real, fake, ("real features", "fake features"))
    if len(real) <= max(k_pr, k_dc) or len(fake) <= k_pr:
        raise ValueError(f"prdc needs more than k points per set (k_pr={k_pr}, k_dc={k_dc}), "
                         f"got {len(real)} real and {len(fake)} fake")
    real_r = _knn_radii(real, [k_pr, k_dc], block_rows)
    fake_r_pr = _knn_radii(fake, [k_pr], block_rows)[k_pr]

    fake_in_real_pr = np.zeros(len(fake), dtype=bool)     # precision: fake j in some real k_pr-ball
    real_in_fake_pr = np.zeros(len(real), dtype=bool)     # recall: real i in some fake k_pr-ball
    real_balls_hit = np.zeros(len(fake), dtype=np.int64)  # density: real k_dc-balls holding fake j
    nearest_fake = np.full(len(real), np.inf)             # coverage: distance from real i to its nearest fake
    for start in range(0, len(fake), block_rows):
        stop = min(start + block_rows, len(fake))
        d = cdist(fake[start:stop], real)  # (b, n)
        fake_in_real_pr[start:stop] = np.any(d <= real_r[k_pr], axis=1)
        real_in_fake_pr |= np.any(d <= fake_r_pr[start:stop, None], axis=0)
        real_balls_hit[start:stop] = np.count_nonzero(d <= real_r[k_dc], axis=1)
        np.minimum(nearest_fake, d.min(axis=0), out=nearest_fake)
    return {
        "precision": float(fake_in_real_pr.mean()),
        "recall": float(real_in_fake_pr.mean()),
        "density": float(real_balls_hit.sum() / (k_dc * len(fake))),
        "coverage": float(np.mean(nearest_fake <= real_r[k_dc])),
    }


# --- class-label histogram -----------------------------------------------------------------------

def _check_labels(labels, name: str, classes: int) -> np.ndarray:
    a = np.asarray(labels)
    if a.ndim != 1 or a.size == 0 or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must be a non-empty 1-D int array of argmax labels, got {a.dtype} shape {a.shape}")
    if a.min() < 0 or a.max() >= classes:
        raise ValueError(f"{name} must lie in [0, {classes}), got range [{a.min()}, {a.max()}]")
    return a


def class_histogram_metrics(pred_gen, pred_real, classes: int) -> dict[str, float | int]:
    """{"class_js": JS (nats) of the generated vs real label histograms, "modes": classes holding at least
    MODE_MIN_PERCENT percent of the generated samples} from argmax labels (1-D ints) in 0..classes-1, the dataset's
    K (no default: MNIST's 10 would silently judge every other dataset). modes < classes is the mode-collapse alarm."""
    classes = _check_int(classes, "classes", 1)
    gen = _check_labels(pred_gen, "pred_gen", classes)
    real = _check_labels(pred_real, "pred_real", classes)
    c_gen, c_real = np.bincount(gen, minlength=classes), np.bincount(real, minlength=classes)
    # integer comparison: count / n >= MODE_MIN_PERCENT / 100 without float rounding at the threshold
    modes = int(np.count_nonzero(100 * c_gen >= MODE_MIN_PERCENT * len(gen)))
    return {"class_js": float(js_divergence(c_gen, c_real)), "modes": modes}
