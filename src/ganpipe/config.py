"""Typed schema of params.yaml: a typo or an out-of-range value fails loudly, and a config can't change mid-run."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FetchConfig(Section):
    # tried in order after `local_dir`; each must serve the four canonical *.gz IDX files
    mirrors: list[str] = Field(default_factory=list)
    local_dir: str | None = None       # a folder of IDX files (gzipped or not), tried first when set
    timeout_s: float = Field(default=10.0, gt=0)


class ModelConfig(Section):
    z_dim: int = Field(default=64, gt=0)    # noise is U[-1, 1]^z_dim, as in the source
    dim: int = Field(default=32, gt=0)      # base channel width of the DCGAN


class TrainConfig(Section):
    steps: int = Field(gt=0)                # generator updates
    batch_size: int = Field(gt=0)
    beta1: float = Field(default=0.5, ge=0, lt=1)
    beta2: float = Field(default=0.999, ge=0, lt=1)
    log_every: int = Field(default=50, gt=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(default=0, ge=0)   # CPU threads for torch; 0 = all cores


class GenerateConfig(Section):
    n: int = Field(default=10_000, gt=0)    # samples written for evaluation
    grid: int = Field(default=64, gt=0)     # images in the fixed-noise grid


class EvaluateConfig(Section):
    bins: int = Field(default=256, ge=2, le=256)         # K for the pixel-intensity histogram over 0..255
    perpixel_bins: int = Field(default=16, ge=2, le=256)  # K for each of the 784 per-position histograms
    alpha: float = Field(default=0.5, gt=0)              # additive smoothing on counts, for KL only


class ReportConfig(Section):
    dpi: int = Field(default=110, gt=0)
    max_grid: int = Field(default=64, gt=0)   # sample images shown in the report


class Params(Section):
    seed: int = Field(ge=0)
    lr: float = Field(gt=0)                 # top level so `dvc exp run -S lr=...` works as written
    fetch: FetchConfig
    model: ModelConfig
    train: TrainConfig
    generate: GenerateConfig
    evaluate: EvaluateConfig
    report: ReportConfig


class ParamsError(ValueError):
    """One line per bad key, e.g. `params.yaml: lr: must be > 0 (got -0.1)`."""


def _describe(path: Path, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].replace("Input should be", "must be").replace("greater than", ">").replace("less than", "<")
        msg = msg.replace(" or equal to", "=").replace("Extra inputs are not permitted", "unknown key")
        got = f" (got {e['input']!r})" if e["type"] not in ("missing", "extra_forbidden") else ""
        lines.append(f"{path}: {key}: {msg}{got}")
    return "\n".join(lines)


def load_params(path: Path) -> Params:
    # ruamel reads YAML 1.2 like DVC does: `1e-4` is a float, not the string PyYAML returns
    path = Path(path)
    try:
        raw = YAML(typ="safe").load(path)
    except Exception as e:  # a YAML syntax error: ruamel's message spans lines, keep its first
        raise ParamsError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: must be a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as e:
        raise ParamsError(_describe(path, e)) from None
