"""validate: the whole params.yaml, every key of it. dvc.yaml has this stage track the whole file, so the next
`dvc repro` after any edit refuses an unknown or invalid key anywhere in it, even one that no other stage reads."""
from __future__ import annotations

from pathlib import Path

from stages._common import ParamsOpt, echo, load_params_or_exit


def validate(params: ParamsOpt = Path("params.yaml")) -> None:
    """Check params.yaml: one line per unknown, mistyped or out-of-range key, and a non-zero exit."""
    load_params_or_exit(params)
    echo(f"{params}: valid")
