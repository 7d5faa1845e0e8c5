"""generate: checkpoint -> N uint8 samples (data/generated/samples.npz) + a fixed-noise grid PNG."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import torch
import typer

from ganpipe.data import save_samples
from ganpipe.runtime import resolve_device, seed_everything
from ganpipe.sample import generate_images, load_generator, save_grid_png
from stages._common import FactsOpt, ParamsOpt, fail, load_params_or_exit, run_facts


def generate(
    model: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="checkpoint from train")],
    out: Annotated[Path, typer.Option(help="folder for samples.npz and grid.png")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Sample the trained generator from seeded noise."""
    p = load_params_or_exit(params)
    # sampling is cheap: the CPU keeps it bit-reproducible on any machine
    device = resolve_device("cpu")
    try:
        ckpt = torch.load(model, map_location=device, weights_only=True)
        G, cfg = load_generator(ckpt, device)
    except Exception as e:  # a corrupt or foreign file: say which, in one line
        fail(f"{model}: cannot load checkpoint: {str(e).splitlines()[0]}")
    with run_facts("generate", facts) as f:
        images = generate_images(G, cfg, p.generate.n, generator=seed_everything(p.seed, device), device=device)
        save_samples(out / "samples.npz", images)
        save_grid_png(images[: p.generate.grid], out / "grid.png")
        f["n"] = len(images)
