"""train: a dataset -> checkpoint (generator weights, model config, image shape); losses and diagnostics logged by
DVCLive, with a fixed-noise sample grid every `train.grid_every` steps. Resumes after a kill."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import torch
import typer
from dvclive import Live

from ganpipe.data.arrays import load_dataset
from ganpipe.gan.checkpoint import checkpoint
from ganpipe.gan.loop import Diverged
from ganpipe.gan.networks import check_shape, image_shape
from ganpipe.gan.objectives import WASSERSTEIN
from ganpipe.gan.plan import mnist_plan
from ganpipe.gan.resume import Scratch, code_files, run_key
from ganpipe.gan.session import check_batch_size, train_mnist
from ganpipe.io import save_torch
from ganpipe.runtime import device_name, resolve_device, seed_everything, set_threads
from stages._common import FactsOpt, In, ParamsOpt, echo, fail, load_params_or_exit, refusing, run_facts

# what dvc.yaml lists for train
TRAIN_PARAMS = {**dict.fromkeys(("seed", "lr", "loss", "losses", "model", "train"), True), "report": {"grid_images"}}


def train(
    data: Annotated[Path, In("images.npz from fetch")],
    out: Annotated[Path, typer.Option(help="checkpoint: generator weights, model config and image shape")],
    live_dir: Annotated[Path, typer.Option(help="DVCLive folder (a cached out)")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
    scratch: Annotated[Path, typer.Option(help="resume checkpoints, kept outside DVC's outputs")] = Path(".scratch/train"),
) -> None:
    """Train the GAN on the dataset's training images with the chosen loss and architecture; resumes after a
    kill."""
    p = load_params_or_exit(params)
    with refusing(ValueError, RuntimeError):
        device = resolve_device(p.train.device)
        mnist = load_dataset(data)
    with refusing(prefix=f"{params}: "):   # before any output exists, so a refused run leaves nothing behind
        check_batch_size(p.train.batch_size, len(mnist["x_train"]))
        check_shape(p.model, image_shape(mnist["x_train"]))
        plan = mnist_plan(p, device)
    set_threads(p.train.threads)
    rng = seed_everything(p.seed, device)
    # a run resumes only the state of a run with the same params, data, code and torch: keyed by their hash
    # (the device type, not its index: a resumed run may claim another GPU of the machine)
    key = run_key({"params": p.model_dump(include=TRAIN_PARAMS), "torch": torch.__version__, "device": device.type},
                  [data, *code_files(Path(__file__), Path(__file__).with_name("_common.py"))])
    run = Scratch(scratch, key[:20])
    with refusing():
        state = run.load()
    if state is not None:
        run.restore_live(live_dir)
        echo(f"train: resuming from step {state.step} ({run.latest()})")
    try:   # a failed run leaves no half log behind (the scratch keeps what a resume needs)
        with run_facts("train", facts) as f, \
                Live(str(live_dir), dvcyaml=False, save_dvc_exp=False, report=None, resume=state is not None) as live:
            try:
                nets, summary = train_mnist(plan, mnist, p, generator=rng, live=live, scratch=run, state=state)
            except Diverged as e:
                kept = run.latest()
                fail(f"{e}; {'the last good checkpoint is ' + str(kept) if kept else 'no checkpoint was written'}; "
                     "lower lr or pick another loss")
            live.summary.update(summary)
            save_torch(out, checkpoint(nets.G, p.model, nets.G_ema))
            f.update(device=device_name(device), torch=torch.__version__, loss=p.loss, arch=p.model.arch,
                     objective=plan.objective.settings.model_dump(), wasserstein=p.loss in WASSERSTEIN,
                     resumed_from_step=state.step if state else 0, ema=p.train.ema_decay)
    except BaseException:
        shutil.rmtree(live_dir, ignore_errors=True)
        raise
    run.prune()   # the run completed: its resume state is no longer needed
