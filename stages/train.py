"""train: MNIST -> checkpoint (generator weights + model config); losses and diagnostics logged by DVCLive,
with a fixed-noise sample grid every `train.grid_every` steps."""
from __future__ import annotations

import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Annotated

import torch
import typer
from dvclive import Live
from tqdm import tqdm

from ganpipe.data import load_mnist, to_model_range, to_uint8
from ganpipe.io import save_torch
import ganpipe
from ganpipe.losses import WASSERSTEIN
from ganpipe.models import build_generator, sample_noise
from ganpipe.resume import Scratch, run_key
from ganpipe.runtime import device_name, resolve_device, seed_everything, set_threads, speed_settings
from ganpipe.sample import checkpoint, tile
from ganpipe.train import Diverged, check_batch_size, fit_mnist
from stages._common import FactsOpt, ParamsOpt, echo, fail, load_params_or_exit, run_facts

HELD_OUT = 256   # real test images the critic never trains on, for its diagnostics
TRAIN_PARAMS = {"seed", "lr", "loss", "losses", "optim", "model", "train"}   # what dvc.yaml lists for train


def code_files() -> list[Path]:
    """The code a run's result depends on: the whole library and this stage (more than dvc.yaml's deps: safe)."""
    return sorted(Path(ganpipe.__file__).parent.glob("*.py")) + [Path(__file__), Path(__file__).with_name("_common.py")]


def train(
    data: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="mnist.npz from fetch")],
    out: Annotated[Path, typer.Option(help="checkpoint: generator weights + model config")],
    live_dir: Annotated[Path, typer.Option(help="DVCLive folder (a cached out)")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
    scratch: Annotated[Path, typer.Option(help="resume checkpoints, kept outside DVC's outputs")] = Path(".scratch/train"),
) -> None:
    """Train the GAN on the MNIST training set with the chosen loss and architecture; resumes after a kill."""
    p = load_params_or_exit(params)
    obj = p.objective()
    try:
        device = resolve_device(p.train.device)
        mnist = load_mnist(data)
    except (ValueError, RuntimeError) as e:
        fail(str(e))
    try:   # before any output exists, so a refused run leaves nothing behind
        check_batch_size(p.train.batch_size, len(mnist["x_train"]))
        precision, graph = speed_settings(p.train.precision, p.train.compile, device)
    except ValueError as e:
        fail(f"{params}: {e}")
    set_threads(p.train.threads)
    rng = seed_everything(p.seed, device)
    # a run resumes only the state of a run with the same params, data, code and torch: keyed by their hash
    # (the device type, not its index: a resumed run may claim another GPU of the machine)
    run = Scratch(scratch, run_key({"params": p.model_dump(include=TRAIN_PARAMS), "torch": torch.__version__,
                                    "device": device.type}, [data, *code_files()])[:20])
    try:
        state = run.load()
    except ValueError as e:
        fail(str(e))
    if state is not None:
        run.restore_live(live_dir)
        echo(f"train: resuming from step {state['step']} ({run.latest()})")
    images = to_model_range(mnist["x_train"]).to(device)            # (60000, 1, 28, 28), resident on the device
    held_out = to_model_range(mnist["x_test"][:HELD_OUT]).to(device)
    G = build_generator(p.model).to(device)   # built here so the grid callback can sample it mid-training
    # the grid's noise comes from its own stream, so drawing it never shifts the training's random numbers
    grid_noise = sample_noise(64, p.model, generator=torch.Generator(device).manual_seed(p.seed + 1), device=device)
    imgs_per_step = p.train.batch_size * obj.critic_steps

    start = state["step"] if state else 0
    try:   # a failed run leaves no half log behind (the scratch keeps what a resume needs)
        with run_facts("train", facts) as f, \
                Live(str(live_dir), dvcyaml=False, save_dvc_exp=False, report=None, resume=state is not None) as live, \
                tqdm(total=p.train.steps, initial=start, desc=f"train {p.loss} {p.model.arch} on {device_name(device)}",
                     unit="step", smoothing=0.05, mininterval=0.5 if sys.stderr.isatty() else 30) as bar:
            last = {"t": time.perf_counter(), "step": start}

            def log(step: int, values: dict[str, float]) -> None:
                now = time.perf_counter()
                values["steps_per_s"] = (step - last["step"]) / (now - last["t"])
                last.update(t=now, step=step)
                live.step = step
                for name, value in values.items():
                    live.log_metric(name, value)
                live.next_step()
                bar.set_postfix(loss_d=f"{values['loss_d']:.3f}", loss_g=f"{values['loss_g']:.3f}", refresh=False)

            def on_step(step: int) -> None:
                bar.update()
                if step % p.train.grid_every == 0 or step == p.train.steps:
                    G.eval()
                    with torch.no_grad():
                        grid = tile(to_uint8(G(grid_noise).cpu()))
                    G.train()
                    live.log_image(f"grid/{step:07d}.png", 255 - grid)   # black ink on white

            def on_checkpoint(step: int, values: dict) -> None:
                live.make_summary()   # metrics.json as of this step, so a resumed log continues from it
                run.save(step, {**values, "live_step": live.step}, live_dir)

            t0 = time.perf_counter()
            try:
                fit_mnist(images, held_out, model_cfg=p.model, loss=p.loss, obj=obj, cfg=p.train, device=device,
                          generator=rng, log=log, on_step=on_step, G=G, state=state, on_checkpoint=on_checkpoint)
            except Diverged as e:
                bar.close()   # ends the bar's line, so the error stands on its own
                kept = run.latest()
                fail(f"{e}; {'the last good checkpoint is ' + str(kept) if kept else 'no checkpoint was written'}; "
                     "lower lr or pick another loss")
            wall = time.perf_counter() - t0
            peak_mb = (torch.cuda.max_memory_allocated(device) if device.type == "cuda" else _peak_rss()) / 2**20
            live.summary.update({"train_wall_s": round(wall, 2),
                                 "img_per_s": round((p.train.steps - start) * imgs_per_step / wall, 1),
                                 "peak_mem_mb": round(peak_mb, 1), "train_device": device_name(device),
                                 # prefixed: eval.json's `precision` (P/R) must stay one column in `dvc exp show`
                                 "train_precision": precision, "train_compile": "graph" if graph else "none"})
            save_torch(out, checkpoint(G, p.model))
            f.update(device=device_name(device), torch=torch.__version__, loss=p.loss, arch=p.model.arch,
                     objective=obj.model_dump(), wasserstein=p.loss in WASSERSTEIN, resumed_from_step=start)
    except BaseException:
        shutil.rmtree(live_dir, ignore_errors=True)
        raise
    run.prune()   # the run completed: its resume state is no longer needed


def _peak_rss() -> float:
    # bytes of this process's peak resident memory (Linux reports KiB)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0
