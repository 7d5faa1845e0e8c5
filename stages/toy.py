"""toy: the source's 1-D example. G maps U[0, 1] to N(0, 1) with the chosen loss; judged as a distribution."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import torch
import typer

from ganpipe.evaluation.toy import toy_metrics
from ganpipe.gan.plan import toy_plan
from ganpipe.gan.toy import train_toy
from ganpipe.io import save_npz, write_json
from ganpipe.runtime import seed_everything, set_threads
from stages._common import FactsOpt, ParamsOpt, load_params_or_exit, refusing, run_facts


def toy(
    metrics: Annotated[Path, typer.Option(help="metrics JSON (KS, W1, histogram JS, each with its floor)")],
    out: Annotated[Path, typer.Option(help="npz of G's outputs and of G on a grid of u, for the report")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Train the 1-D toy on the CPU and measure how close G's outputs are to N(0, 1)."""
    p = load_params_or_exit(params)
    t = p.toy
    set_threads(1)
    rng = seed_everything(p.seed, torch.device("cpu"))
    with run_facts("toy", facts) as f, refusing(ValueError, FloatingPointError, prefix="toy: "):
        arrays = train_toy(toy_plan(p), t, generator=rng, diagnostic_seed=p.seed + 1)
        m = toy_metrics(arrays["samples"], bins=t.bins, lo=t.lo, hi=t.hi, seed=p.seed)
        save_npz(out, **arrays)
        write_json(metrics, m)
        f["loss"] = p.loss
