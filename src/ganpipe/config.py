"""Typed schema of params.yaml: a typo, an out-of-range value or a rule across keys fails at load, and a config can't
change mid-run. Each key's meaning is written once, here (docs/reference/params.md is checked against it); the
values live in params.yaml."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML

from ganpipe.io import first_line


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FetchConfig(Section):
    # a built-in dataset's four IDX files (gzipped or not) in a folder you have, tried first when set
    local_dir: str | None = None
    timeout_s: float = Field(default=10.0, gt=0)   # seconds before a mirror counts as not answering


class BuiltinDatasetConfig(Section):
    """A dataset the fetch stage downloads: every file is checked against its pinned sha256."""
    # tried in order after fetch.local_dir, then the dataset's fallback; each must serve the four *.gz IDX files
    mirrors: list[str]
    # the report warns when the classifier's test accuracy is below this: its feature metrics are less trustworthy
    classifier_target: float = Field(gt=0, le=1)


class OwnDatasetConfig(Section):
    """Your own images: any `dataset` that is not built in names a folder or an .npz under datasets/."""
    image_size: int | None = Field(ge=8)   # every image resized to this side in pixels; null: all must share one size
    test_fraction: float = Field(gt=0, lt=1)   # share of the images held out as the test set behind the floors
    split_seed: int = Field(ge=0)               # picks which images are held out
    classifier_target: float = Field(gt=0, le=1)   # as for the built-in datasets, when your images have labels


class Datasets(Section):
    """`datasets`: each built-in dataset's values under its name, and `own` for yours; read like a dict."""
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    mnist: BuiltinDatasetConfig
    fashion_mnist: BuiltinDatasetConfig = Field(alias="fashion-mnist")
    own: OwnDatasetConfig

    def __getitem__(self, name: str) -> BuiltinDatasetConfig | OwnDatasetConfig:
        return getattr(self, name.replace("-", "_")) if name in BUILTIN_DATASETS else self.own


BUILTIN_DATASETS = ("mnist", "fashion-mnist")


class ModelConfig(Section):
    # dcgan: the WGAN-GP paper's MNIST network (5x5 convolutions), for 28 or 32 pixels; mlp: any size
    arch: Literal["mlp", "dcgan"] = "dcgan"
    noise: Literal["uniform", "normal"] = "uniform"   # uniform: U[-1, 1]^z_dim, as in the source
    z_dim: int = Field(default=64, gt=0)      # length of G's noise vector
    dim: int = Field(default=32, gt=0)        # base width: DIM of the paper's dcgan, 4*dim hidden units in the mlp
    # the critic's convolutions and linear layers spectrally normalised (Miyato et al. 2018, SNGAN)
    spectral_norm: bool = True


class OptimizerConfig(Section):
    optimizer: Literal["adam", "rmsprop"]
    lr: float = Field(gt=0)             # the learning rate of every trained network (the top-level `lr` overrides it)
    betas: tuple[float, float] | None   # adam's; null for rmsprop


class LossConfig(OptimizerConfig):
    """How the two networks are optimised under one adversarial loss; `losses.<loss>` in params.yaml holds each
    loss's values, every key written out (no defaults here: params.yaml is the one source of values)."""
    critic_steps: int = Field(ge=1)     # critic updates per generator update
    clip: float | None = Field(gt=0)    # wgan: every critic weight kept in [-clip, clip]; null = no clipping
    gp_weight: float = Field(ge=0)      # wgan-gp: lambda of the gradient penalty; 0 = none


class SoftBinsConfig(OptimizerConfig):
    """A loss without a critic: G alone minimises the JS between soft histograms of its batch and a real batch."""
    bins: int = Field(ge=2)             # K shared bins per variable
    kernel: Literal["triangular", "gaussian"]   # how a sample spreads its unit of mass over nearby bins
    width: float = Field(gt=0)          # the kernel's scale in bin widths: triangle half-width, Gaussian std


class HistogramLossConfig(SoftBinsConfig):
    """`histogram`: each coordinate its own variable (the toy's one, an image's C*H*W pixel values: 784 for MNIST),
    bins over [lo, hi]
    (images: the generator's tanh range [-1, 1])."""
    lo: float
    hi: float

    @model_validator(mode="after")
    def _range(self) -> "HistogramLossConfig":
        if not self.lo < self.hi:
            raise ValueError(f"lo ({self.lo}) must be below hi ({self.hi})")
        return self


class SlicedHistogramLossConfig(SoftBinsConfig):
    """`sliced-histogram`: random 1-D projections of whole samples, fresh unit directions every step; each
    direction's bins span the real batch's projections (gan/histograms.py says why)."""
    directions: int = Field(ge=1)       # projections per step; the loss is the mean JS over them


class TrainConfig(Section):
    steps: int = Field(gt=0)                # generator updates
    batch_size: int = Field(gt=0)           # real images (and fakes) per critic or generator update
    log_every: int = Field(default=50, gt=0)     # diagnostics logged (and losses checked for NaN) every K steps
    grid_every: int = Field(default=500, gt=0)   # a fixed-noise sample grid every K steps, for the progression
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(default=0, ge=0)   # CPU threads for torch; 0 = all cores (1 repeats bit for bit)
    checkpoint_every: int = Field(default=500, ge=0)   # resume state every K steps (a multiple of log_every); 0 = never
    # auto = the fast path of the device (runtime.speed_settings): bf16 where the CPU has it natively, else fp32
    precision: Literal["auto", "fp32", "tf32", "bf16"] = "auto"
    # the whole step captured as one CUDA graph and replayed; auto: on CUDA, off on the CPU (where it cannot run)
    cuda_graph: Literal["auto", "on", "off"] = "auto"
    diagnostic_images: int = Field(default=256, gt=0)   # real test images behind the critic's logged diagnostics
    channels_last: bool = True   # NHWC weights and activations
    # an exponential moving average of G's weights: w_ema = d w_ema + (1 - d) w after each G step; 0 = off
    ema_decay: float = Field(default=0.995, ge=0, lt=1)
    # batches of noise through the averaged G after training, to recompute its batch-norm statistics
    # (BigGAN's standing statistics); 0 = keep the raw G's
    ema_standing_batches: int = Field(default=100, ge=0)

    @model_validator(mode="after")
    def _checkpoints_at_logging_steps(self) -> "TrainConfig":
        if self.checkpoint_every % self.log_every:
            raise ValueError(f"train.checkpoint_every ({self.checkpoint_every}) must be a multiple of "
                             f"train.log_every ({self.log_every}): losses are checked at logging steps")
        return self


class ToyConfig(Section):
    """The source's 1-D example: G maps U[0, 1] to N(0, 1)."""
    steps: int = Field(default=6000, gt=0)         # generator updates
    batch_size: int = Field(default=256, gt=0)     # draws of N(0, 1) (and of G) per update
    hidden_units: int = Field(default=64, gt=0)    # width of G's and the critic's hidden layers
    ema_decay: float = Field(default=0.999, ge=0, lt=1)   # G is judged by its average, as train's; 0 = the raw G
    samples: int = Field(default=10_000, gt=1)     # G's outputs judged against N(0, 1)
    diagnostic_samples: int = Field(default=256, gt=0)   # N(0, 1) draws behind the critic's diagnostics
    grid_points: int = Field(default=1000, ge=2)   # u values at which the report draws G(u)
    bins: int = Field(default=40, ge=2, le=256)    # the source's histogram method over [lo, hi]
    lo: float = -4.0
    hi: float = 4.0

    @model_validator(mode="after")
    def _range(self) -> "ToyConfig":
        if self.lo >= self.hi:
            raise ValueError(f"toy.lo ({self.lo}) must be below toy.hi ({self.hi})")
        return self


class GenerateConfig(Section):
    # ema: the averaged generator when the checkpoint has one (train.ema_decay > 0); raw: the trained weights
    weights: Literal["ema", "raw"] = "ema"


class EvaluateConfig(Section):
    samples: int = Field(default=10_000, gt=0)   # images generated and scored (and real images in each floor)
    seed: int = Field(default=0, ge=0)   # the real reference subset (the floors), KID subsets, bootstrap draws
    pixel_bins: int = Field(default=256, ge=2, le=256)    # K of the pixel-intensity histogram over 0..255
    perpixel_bins: int = Field(default=16, ge=2, le=256)  # K of each position's histogram (784 for MNIST)
    kl_smoothing: float = Field(default=0.5, gt=0)        # additive smoothing on counts, for KL only (JS needs none)
    kid_subsets: int = Field(default=100, gt=0)           # KID: mean and std of MMD^2 over this many subsets
    kid_subset_size: int = Field(default=1000, ge=2)      # images in each KID subset
    bootstrap: int = Field(default=100, ge=2)             # resamples behind the intervals of fld and pixel_js
    ci: float = Field(default=0.95, gt=0, lt=1)           # coverage of those intervals, and of a study's
    fld_inf_points: int = Field(default=5, ge=2)          # FLD at n/5, 2n/5, ..., n, fitted against 1/n


def _increasing(levels: list[float]) -> list[float]:
    if not levels or levels[0] <= 0 or any(b <= a for a, b in zip(levels, levels[1:])):
        raise ValueError(f"must be a non-empty list of positive, strictly increasing levels, got {levels}")
    return levels


class LadderConfig(Section):
    """Real images degraded in growing steps: what a metric's value looks like, in pictures."""
    noise: list[float] = [0.1, 0.2, 0.4, 0.8]   # Gaussian noise on the ink: each pixel times (1 + sigma N(0, 1))
    blur: list[float] = [0.5, 1.0, 1.5, 2.0]     # Gaussian blur, sigma in pixels
    occlusion: list[int] = [3, 6, 9, 12]         # side in pixels of a black square over each image
    examples: int = Field(default=4, gt=0)       # real test digits shown degraded at every rung in the report

    _check = field_validator("noise", "blur", "occlusion")(_increasing)


class ClassifierConfig(Section):
    """The classifier behind the feature metrics, trained on the dataset's labels (without labels: the same network
    at its seeded initialisation, never trained); its own seed, so no GAN param ever re-trains it."""
    seed: int = Field(default=0, ge=0)
    epochs: int = Field(default=2, gt=0)
    batch_size: int = Field(default=64, gt=0)
    lr: float = Field(default=3e-3, gt=0)
    width: int = Field(default=32, gt=0)       # channels of the first convolution (twice that in the second)
    features: int = Field(default=128, gt=0)   # the penultimate layer: the feature space of FLD, KID, P/R/D/C
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # the last `reference_images` training images are kept from the classifier: the real reference set of every
    # floor, so that neither real set of a floor is one the classifier has memorised
    reference_images: int = Field(default=10_000, gt=0)


class ReportConfig(Section):
    dpi: int = Field(default=110, gt=0)             # figure resolution of the report, and of `ganpipe compare`
    grid_images: int = Field(default=64, gt=0)      # images in every sample grid: training's progression, generate's
    warn_ratio: float = Field(default=10.0, gt=1)   # warn when a metric is this many times worse than its floor


LossName = Literal["minimax", "ns", "wgan", "wgan-gp", "hinge", "lsgan", "histogram", "sliced-histogram"]
HISTOGRAM_LOSSES = ("histogram", "sliced-histogram")   # no critic: G minimises a distance between batches
AnyLossConfig = LossConfig | HistogramLossConfig | SlicedHistogramLossConfig


class Losses(Section):
    """`losses`: each loss's values under its own name, typed by its kind (adversarial, or a histogram distance),
    every block written out in params.yaml; read like a dict: `p.losses["wgan-gp"]`."""
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    minimax: LossConfig
    ns: LossConfig
    wgan: LossConfig
    wgan_gp: LossConfig = Field(alias="wgan-gp")
    hinge: LossConfig
    lsgan: LossConfig
    histogram: HistogramLossConfig
    sliced_histogram: SlicedHistogramLossConfig = Field(alias="sliced-histogram")

    def __getitem__(self, name: str) -> AnyLossConfig:
        if name not in get_args(LossName):
            raise KeyError(name)
        return getattr(self, name.replace("-", "_"))


# Keys that were renamed: an old params.yaml, or `-S` with an old name, is refused in one line naming the new key.
RENAMED = {
    "fetch.mirrors": "datasets.<dataset>.mirrors (each built-in dataset has its own)",
    "report.classifier_target": "datasets.<dataset>.classifier_target (each dataset has its own)",
    "optim": "losses.<loss> (e.g. losses.hinge.critic_steps)",
    "train.ema": "train.ema_decay",
    "train.ema_standing": "train.ema_standing_batches",
    "train.held_out": "train.diagnostic_images",
    "train.compile": "train.cuda_graph (auto | on | off)",
    "train.grid_samples": "report.grid_images",
    "toy.held_out": "toy.diagnostic_samples",
    "toy.n": "toy.samples",
    "toy.hidden": "toy.hidden_units",
    "generate.n": "evaluate.samples",
    "generate.grid": "report.grid_images",
    "generate.ema": "generate.weights (ema | raw)",
    "classifier.holdout": "classifier.reference_images",
    "evaluate.bins": "evaluate.pixel_bins",
    "evaluate.alpha": "evaluate.kl_smoothing",
    "report.max_grid": "report.grid_images",
}


class Params(Section):
    # mnist | fashion-mnist | your own images: the name of a folder or an .npz under datasets/
    dataset: str = "mnist"
    datasets: Datasets
    seed: int = Field(ge=0)   # the GAN's and the toy's training, and generate's noise
    # top level so `dvc exp run -S lr=...` and `-S loss=...` work as written; lr null = losses.<loss>.lr
    lr: float | None = Field(default=None, gt=0)
    loss: LossName = "hinge"
    losses: Losses
    fetch: FetchConfig
    model: ModelConfig
    train: TrainConfig
    toy: ToyConfig
    generate: GenerateConfig
    classifier: ClassifierConfig
    evaluate: EvaluateConfig
    ladder: LadderConfig
    report: ReportConfig

    @field_validator("dataset")
    @classmethod
    def _dataset_under_datasets(cls, name: str) -> str:
        parts = name.replace("\\", "/").split("/")
        if not name or name.startswith("/") or ".." in parts or "" in parts:
            raise ValueError(f"must be {' or '.join(BUILTIN_DATASETS)}, or the name of a folder or an .npz "
                             "under datasets/ (a relative path without '..')")
        return name

    @model_validator(mode="after")
    def _rules_across_keys(self) -> "Params":
        self.loss_config()   # a loss without its defaults, or wgan without a clip, fails at load, not mid-pipeline
        e, n = self.evaluate, self.evaluate.samples
        if n > self.classifier.reference_images:
            raise ValueError(f"evaluate.samples ({n}) exceeds classifier.reference_images "
                             f"({self.classifier.reference_images}): each floor compares n real images to n others")
        if e.kid_subset_size > n:
            raise ValueError(f"evaluate.kid_subset_size ({e.kid_subset_size}) exceeds evaluate.samples ({n})")
        smallest = n // e.fld_inf_points   # FLD's smallest subset (fld_inf) must out-number the feature dimensions,
        if smallest <= self.classifier.features:   # or its covariance is singular and the distance means nothing
            raise ValueError(f"evaluate.samples ({n}) is too few for the feature metrics: FLD's smallest subset, "
                             f"n / evaluate.fld_inf_points = {smallest}, must exceed classifier.features "
                             f"({self.classifier.features}); use at least "
                             f"{(self.classifier.features + 1) * e.fld_inf_points} samples")
        return self

    def dataset_block(self) -> str:
        """The chosen dataset's block under `datasets`: its own name when it is built in, else `own`."""
        return self.dataset if self.dataset in BUILTIN_DATASETS else "own"

    def size_problem(self, n_train: int, n_test: int) -> str | None:
        """Why a dataset of n_train training and n_test test images is too small for these params, or None."""
        c, e = self.classifier, self.evaluate
        if n_train <= c.reference_images:
            return (f"{n_train} training images leave none besides the classifier.reference_images "
                    f"({c.reference_images}) held out for the floors; lower it (and evaluate.samples) or add images")
        need = max(e.kid_subset_size, c.features + 1)   # KID draws subsets of the test set; FLD needs n > features
        if n_test < need:
            return (f"the test split holds {n_test} images, fewer than the {need} the floors need "
                    f"(evaluate.kid_subset_size {e.kid_subset_size}, classifier.features {c.features}); "
                    "raise datasets.own.test_fraction or lower those")
        return None

    def toy_adversarial_loss(self) -> str:
        """The adversarial loss the toy trains beside the histogram loss: the chosen one, or ns when the chosen loss
        is itself a histogram distance."""
        return "ns" if self.loss in HISTOGRAM_LOSSES else self.loss

    def loss_config(self, loss: str | None = None) -> AnyLossConfig:
        """The values of `loss` (default: the chosen loss), with the top-level `lr` in place of its own when set."""
        loss = self.loss if loss is None else loss
        cfg = self.losses[loss]
        if self.lr is not None:
            cfg = cfg.model_copy(update={"lr": self.lr})
        where = f"losses.{loss}"
        if loss == "wgan" and cfg.clip is None:
            raise ValueError(f"loss wgan needs a clip value: set {where}.clip")
        if cfg.optimizer == "adam" and cfg.betas is None:
            raise ValueError(f"loss {loss} with adam needs betas: set {where}.betas")
        if loss == "wgan-gp" and cfg.gp_weight <= 0:
            raise ValueError(f"loss wgan-gp needs gp_weight > 0: set {where}.gp_weight")
        return cfg


class ParamsError(ValueError):
    """One line per bad key, e.g. `params.yaml: lr: must be > 0 (got -0.1)`."""


def _key_part(part: str | int) -> str:
    """A key as the error line shows it: quoted when it is empty or holds a line break or another control character
    (the error must stay one line per key)."""
    text = str(part)
    return text if text and text.isprintable() else repr(text)


def _describe(path: Path, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(_key_part(p) for p in e["loc"])
        msg = e["msg"].replace("Input should be", "must be").replace("greater than", ">").replace("less than", "<")
        msg = msg.replace(" or equal to", "=").replace("Extra inputs are not permitted", "unknown key")
        msg = msg.replace("Field required", "missing")
        msg = msg.removeprefix("Value error, ")
        # a section's own rule (a model_validator) gets the whole section as input: its message names the values
        quote = e["type"] not in ("missing", "extra_forbidden") and not (e["type"] == "value_error" and
                                                                          isinstance(e["input"], dict))
        got = f" (got {e['input']!r})" if quote else ""
        if not key:   # a check across keys (model_validator): its message names them
            lines.append(f"{path}: {msg}")
            continue
        lines.append(f"{path}: {key}: {msg}{got}")
    return "\n".join(lines)


def _renamed_keys(raw: dict) -> list[str]:
    found = []
    for old, new in RENAMED.items():
        *parents, leaf = old.split(".")
        node: Any = raw
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node:
            found.append(f"{old} was renamed {new}")
    return found


def _read(path: Path) -> dict:
    # ruamel reads YAML 1.2 like DVC does: `1e-4` is a float, not the string PyYAML returns
    try:
        raw = YAML(typ="safe").load(path)
    except Exception as e:  # a YAML syntax error: ruamel's message spans lines, keep its first
        raise ParamsError(f"{path}: not valid YAML: {first_line(e)}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: must be a mapping of sections, got {type(raw).__name__}")
    return raw


def _validate(path: Path, raw: dict) -> Params:
    if renamed := _renamed_keys(raw):
        raise ParamsError("\n".join(f"{path}: {line}" for line in renamed))
    try:
        return Params.model_validate(raw)
    except ValidationError as e:
        raise ParamsError(_describe(path, e)) from None


def load_params(path: Path) -> Params:
    return _validate(Path(path), _read(Path(path)))


def set_pairs(pairs: list[str]) -> dict[str, str]:
    """`-S KEY=VALUE` arguments, as `dvc exp run -S` takes them -> load_params_with's overrides (a later pair wins)."""
    out = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise ParamsError(f"-S {pair!r}: not KEY=VALUE")
        out[key] = value
    return out


def load_params_with(path: Path, overrides: dict[str, str]) -> Params:
    """The params `dvc exp run -S key=value ...` would run with: each value read by Hydra's override parser (as DVC
    reads it) onto an existing key (a dotted key names a nested one), then validated like params.yaml itself."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    path = Path(path)
    raw = _read(path)
    parser = OverridesParser.create()
    for key, text in overrides.items():
        if key in RENAMED:
            raise ParamsError(f"{path}: {key} was renamed {RENAMED[key]}")
        *parents, leaf = key.split(".")
        node = raw
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            raise ParamsError(f"{path}: {key}: unknown key (-S sets a key that params.yaml has)")
        try:
            override = parser.parse_override(f"{key}={text}")
        except Exception as e:   # hydra's OverrideParseException: line 1 repeats the override, line 2 says why
            why = [line for line in str(e).splitlines()[1:2] if line.strip()] or [first_line(e)]
            raise ParamsError(f"{path}: {key}: {text!r} is not a value -S takes: {why[0].strip()}") from None
        if override.is_sweep_override():
            raise ParamsError(f"{path}: {key}: {text!r} is a sweep, not one value")
        node[leaf] = override.value()
    return _validate(path, raw)
