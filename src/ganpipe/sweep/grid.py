"""A sweep's grid: `--grid 'lr=1e-4,2e-4' --grid 'seed=0,1'` -> one point per combination, each with the `-S`
arguments of its `dvc exp run` and an experiment name. Values are split on the commas outside brackets and quotes,
so a list is one value: `--grid 'optim.betas=[0.5,0.9],[0.0,0.9]'` is two points."""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Point:
    values: tuple[tuple[str, str], ...]   # (param, value as typed), in the order of the --grid options

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
    """Every combination of the specs' values, the last spec varying fastest. Raises ValueError in one line."""
    if not specs:
        raise ValueError("no --grid given: name at least one PARAM=V1,V2,...")
    axes: list[list[tuple[str, str]]] = []
    seen: set[str] = set()
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        items = [v.strip() for v in _split(values)]
        if not sep or not key or not all(items):
            raise ValueError(f"--grid {spec!r}: expected PARAM=V1,V2,... (for example 'lr=1e-4,2e-4')")
        if key in seen:
            raise ValueError(f"--grid {spec!r}: {key} is already swept by another --grid")
        seen.add(key)
        axes.append([(key, v) for v in dict.fromkeys(items)])   # a repeated value is one point
    return [Point(tuple(combo)) for combo in itertools.product(*axes)]


def _split(values: str) -> list[str]:
    """'a,[b,c],"d,e"' -> ['a', '[b,c]', '"d,e"']: commas inside brackets or quotes do not split."""
    items, depth, quote, start = [], 0, "", 0
    for i, c in enumerate(values):
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        elif c == "," and depth == 0:
            items.append(values[start:i])
            start = i + 1
    return items + [values[start:]]
