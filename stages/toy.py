"""toy: the source's 1-D example. G maps U[0, 1] to N(0, 1) with the chosen loss; judged as a distribution."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import typer

from ganpipe.io import save_npz, write_json
from ganpipe.models import ToyMLP
from ganpipe.runtime import seed_everything, set_threads
from ganpipe.toy import toy_metrics
from ganpipe.train import train_gan
from stages._common import FactsOpt, ParamsOpt, fail, load_params_or_exit, run_facts


def toy(
    metrics: Annotated[Path, typer.Option(help="metrics JSON (KS, W1, histogram JS, each with its floor)")],
    out: Annotated[Path, typer.Option(help="npz of G's outputs and of G on a grid of u, for the report")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Train the 1-D toy on the CPU and measure how close G's outputs are to N(0, 1)."""
    p = load_params_or_exit(params)
    obj = p.objective()
    t = p.toy
    cpu = torch.device("cpu")   # a few thousand tiny steps: the CPU is faster than a GPU launch
    set_threads(1)
    rng = seed_everything(p.seed, cpu)
    G, D = ToyMLP(t.hidden, critic=False), ToyMLP(t.hidden, critic=True)
    with run_facts("toy", facts) as f:
        try:
            train_gan(G, D, real=lambda b: torch.randn(b, 1, generator=rng), noise=lambda b: torch.rand(b, 1, generator=rng),
                      loss=p.loss, obj=obj, steps=t.steps, batch_size=t.batch_size, log_every=t.steps,
                      generator=rng, held_out=torch.randn(256, 1, generator=torch.Generator().manual_seed(p.seed + 1)))
        except FloatingPointError as e:
            fail(f"toy: {e}")
        with torch.no_grad():
            samples = G(torch.rand(t.n, 1, generator=rng)).squeeze(1).double().numpy()
            u = np.linspace(0.0005, 0.9995, 1000)
            g_of_u = G(torch.from_numpy(u).float().unsqueeze(1)).squeeze(1).double().numpy()
        try:
            m = toy_metrics(samples, bins=t.bins, lo=t.lo, hi=t.hi, seed=p.seed)
        except ValueError as e:
            fail(f"toy: {e}")
        save_npz(out, samples=samples, u=u, g_of_u=g_of_u)
        write_json(metrics, m)
        f["loss"] = p.loss
