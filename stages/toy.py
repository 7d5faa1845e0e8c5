"""toy: the source's 1-D example. G maps U[0, 1] to N(0, 1), trained twice: with the chosen adversarial loss and with
the source's first method (the histogram loss); each judged as a distribution."""
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
    metrics: Annotated[Path, typer.Option(help="metrics JSON (KS, W1, histogram JS, each with its floor), the "
                                               "histogram loss's under `histogram`")],
    out: Annotated[Path, typer.Option(help="npz of G's outputs and of G on a grid of u (histogram_*: the histogram "
                                           "loss's), for the report")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Train the 1-D toy on the CPU with the adversarial and the histogram loss; measure both against N(0, 1)."""
    p = load_params_or_exit(params)
    t = p.toy
    adversarial = p.toy_adversarial_loss()
    set_threads(1)
    with run_facts("toy", facts) as f, refusing(ValueError, FloatingPointError, prefix="toy: "):
        results = {}
        for loss in (adversarial, "histogram"):   # each from the same seed: neither run shifts the other's numbers
            rng = seed_everything(p.seed, torch.device("cpu"))
            arrays = train_toy(toy_plan(p, loss), t, generator=rng, diagnostic_seed=p.seed + 1)
            results[loss] = arrays, toy_metrics(arrays["samples"], bins=t.bins, lo=t.lo, hi=t.hi, seed=p.seed)
        (arrays, m), (h_arrays, h_m) = results[adversarial], results["histogram"]
        save_npz(out, **arrays, **{f"histogram_{k}": v for k, v in h_arrays.items()})
        write_json(metrics, {**m, "histogram": h_m})   # no "loss" key: it would hide the param in dvc exp show
        f["loss"] = adversarial
