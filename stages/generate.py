"""generate: checkpoint -> N uint8 samples (data/generated/samples.npz) + a fixed-noise grid PNG."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ganpipe.data.arrays import save_grid_png, save_samples
from ganpipe.gan.checkpoint import generate_images, load_generator_file
from ganpipe.runtime import resolve_device, seed_everything, set_threads
from stages._common import FactsOpt, In, ParamsOpt, load_params_or_exit, refusing, run_facts


def generate(
    model: Annotated[Path, In("checkpoint from train")],
    out: Annotated[Path, typer.Option(help="folder for samples.npz and grid.png")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Sample the trained generator from seeded noise."""
    p = load_params_or_exit(params)
    # sampling is cheap: the CPU on one thread keeps it bit-reproducible (on two, the rounding to uint8 depends
    # on the process's memory layout: measured, 371 pixels off by one between two clones)
    device = resolve_device("cpu")
    set_threads(1)
    with refusing():
        G, cfg, weights = load_generator_file(model, device, ema=p.generate.weights == "ema")
    with run_facts("generate", facts) as f:
        images = generate_images(G, cfg, p.evaluate.samples, generator=seed_everything(p.seed, device), device=device)
        save_samples(out / "samples.npz", images)
        save_grid_png(images[: p.report.grid_images], out / "grid.png")
        f.update(n=len(images), weights=weights)   # the report's verdict names the generator it scored
