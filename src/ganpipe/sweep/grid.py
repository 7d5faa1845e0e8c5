"""A sweep's grid: `--grid 'lr=1e-4,2e-4' --grid 'seed=0,1'` -> one point per combination, each with the `-S`
arguments of its `dvc exp run` and an experiment name. Each --grid is a Hydra override, read by the function
`dvc exp run -S ... --queue` reads its sweeps with (dvc.utils.hydra.get_hydra_sweeps), so the grid takes DVC's
grammar and expands a string into the same points: `a,b` and `choice(a,b)`, `range(1,4)`, `sort(...)`, quotes
(`'a,b'` is one value), lists (`optim.betas=[0.5,0.9],[0.0,0.9]` is two points); no glob() or interval() (DVC
refuses them too). A point's values are DVC's text for them (`lr=1e-4` -> `lr=0.0001`), which each task's
`dvc exp run -S` reads back to the same value."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ganpipe.io import first_line


@dataclass(frozen=True)
class Point:
    values: tuple[tuple[str, str], ...]   # (param, value as DVC's sweep renders it), in the order of the --grid options

    @property
    def name(self) -> str:
        """The experiment's name, the same for the same point in every sweep of a commit: how a resubmitted sweep
        knows what origin already holds. Keys sorted, so the order of --grid does not matter; a git ref name."""
        text = ",".join(f"{k}={v}" for k, v in sorted(self.values))
        return re.sub(r"[^A-Za-z0-9._=,+-]", "_", text).strip(".")

    @property
    def set_args(self) -> list[str]:
        return [arg for k, v in self.values for arg in ("-S", f"{k}={v}")]

    @property
    def overrides(self) -> dict[str, str]:
        return dict(self.values)

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.values)


def parse_grid(specs: list[str]) -> list[Point]:
    """Every combination of the specs' values, as DVC expands `dvc exp run -S spec ... --queue`: the last spec
    varying fastest; a repeated value is one point. Raises ValueError in one line naming the bad --grid."""
    from dvc.utils.hydra import get_hydra_sweeps

    if not specs:
        raise ValueError("no --grid given: name at least one PARAM=V1,V2,...")
    keys = [_key(spec) for spec in specs]
    for i, key in enumerate(keys):
        if key in keys[:i]:
            raise ValueError(f"--grid {specs[i]!r}: {key} is already swept by another --grid")
    try:
        sweeps = get_hydra_sweeps({"params.yaml": list(specs)})
    except Exception as e:   # hydra's HydraException (a sweep type DVC's sweeper lacks) or DVC's InvalidArgumentError
        raise ValueError(f"--grid {' '.join(specs)!r}: {_reason(e)}") from None
    points = []
    for sweep in sweeps:
        args = sweep["params.yaml"]   # ["key=value", ...] in the order of the specs, as dvc exp run applies them
        points.append(Point(tuple((key, arg[len(key) + 1:]) for key, arg in zip(keys, args, strict=True))))
    return list(dict.fromkeys(points))


def _key(spec: str) -> str:
    """The param a --grid sets, from Hydra's reading of it; a spec Hydra cannot read, a glob, or a key with Hydra's
    add/delete prefixes (+, ++, ~) or a package (@) is refused."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ValueType

    usage = f"--grid {spec!r}: expected PARAM=V1,V2,... (for example 'lr=1e-4,2e-4')"
    try:
        override = OverridesParser.create().parse_override(spec)
    except Exception as e:   # hydra's OverrideParseException: its message spans lines, the second says why
        raise ValueError(f"{usage}: {_reason(e)}") from None
    key = override.get_key_element()
    if not override.key_or_group or "=" not in spec:
        raise ValueError(usage)
    if key != override.key_or_group:   # +key, ++key, ~key, key@package
        raise ValueError(f"--grid {spec!r}: a grid sets a param params.yaml has: write {override.key_or_group}=...")
    if override.value_type == ValueType.GLOB_CHOICE_SWEEP:
        raise ValueError(f"--grid {spec!r}: glob() is not supported by dvc exp run")
    if override.is_sweep_override() and not override.is_discrete_sweep():
        raise ValueError(f"--grid {spec!r}: interval() is not supported by dvc exp run (it has no list of values)")
    return key


def _reason(e: Exception) -> str:
    """Hydra's reason in one line: its messages open with 'Error parsing override ...' and say why on the next."""
    lines = [line for line in str(e).splitlines() if line.strip() and not line.startswith("See https://hydra.cc")]
    if len(lines) > 1 and lines[0].startswith("Error parsing override"):
        return lines[1].strip()
    return first_line(e)
