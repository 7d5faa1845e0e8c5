"""Benchmark: the project's training step in its variants, and against a naive baseline, side by
side, in one process.

Not a test: it prints a table and writes JSON, and asserts nothing about speed. Every loop trains the same
network (the WGAN-GP paper's MNIST dcgan by default: 5x5 convolutions, DIM=64, no spectral norm) with one loss
(--loss, its values from params.yaml's `losses`; WGAN-GP by default: 5 critic steps per generator step), on one
device. The project's loop runs on params.yaml with those settings as `-S` overrides (config.load_params_with),
its plan from gan.plan.mnist_plan, set up as the train stage sets it up (ganpipe.benchmark.fit_mnist):

  naive     what public example code does (WGAN-GP only): a DataLoader over the training set (shuffled, on the
            host), each batch copied to the device, eager fp32 under torch's default settings, the losses read
            with .item() every step to print them
  project   ganpipe.gan.loop.fit, as the train stage calls it (diagnostics every 50 steps included, no
            average of G, no checkpoints), for each train.precision x train.cuda_graph variant, with flags: nhwc
            (train.channels_last; without it NCHW) and compile (torch.compile of both networks; not with a
            gradient penalty, whose double backward compiled code refuses), at each thread count of --threads

"img/s" counts real images consumed by the critic per second: batch x critic steps per generator step.

    python bench/speed.py --device cuda --out bench/results/h100_speed.json   (bash bench/gpu.sh runs it)
    python bench/speed.py --device cpu --loss ns --dim 32 --batches 64 --threads 2,1 --no-naive --no-flops \
        --variants fp32/none,bf16/none,bf16/none/nhwc,fp32/none/compile --out bench/results/cpu_speed_ns.json

A variant is precision/graph-or-none[/flag...]: `graph` sets train.cuda_graph on, `none` off.
"""
from __future__ import annotations

import json
from datetime import date
import platform
import statistics
import time
from pathlib import Path
from typing import Annotated, NamedTuple

import torch
import typer

from ganpipe.benchmark import StepClock, fit_mnist, sync
from ganpipe.config import LossConfig, ModelConfig, Params, ParamsError, load_params_with
from ganpipe.data.arrays import load_dataset, to_model_range
from ganpipe.gan.loop import Callbacks
from ganpipe.gan.networks import build_critic, build_generator, image_shape
from ganpipe.gan.plan import mnist_plan
from ganpipe.gan.session import networks
from ganpipe.runtime import device_name, resolve_device, seed_everything, set_threads, speed_settings

# What every measured run shares, over params.yaml: the paper's noise and no spectral norm (the network the
# figures have always timed), diagnostics every 50 steps, no average of G, no checkpoints.
BENCH = {"model.z_dim": 64, "model.noise": "uniform", "model.spectral_norm": False, "train.log_every": 50,
         "train.checkpoint_every": 0, "train.ema_decay": 0.0, "train.diagnostic_images": 256}


class Settings(NamedTuple):
    """params.yaml and the overrides every measured run of this invocation shares."""
    params: Path
    overrides: dict[str, object]


def with_overrides(params: Path, overrides: dict[str, object]) -> Params:
    """params.yaml with `overrides` as `dvc exp run -S` would set them (each value written as JSON)."""
    try:
        return load_params_with(params, {key: json.dumps(value) for key, value in overrides.items()})
    except ParamsError as e:
        raise typer.BadParameter(str(e)) from None


def torch_defaults() -> None:
    """What a user's script runs under: torch's own defaults (cuDNN may use TF32, matmuls may not)."""
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = False


def naive(x_train: torch.Tensor, model: ModelConfig, obj: LossConfig, batch: int, steps: int, warmup: int,
          device: torch.device) -> float:
    """The public-example loop (WGAN-GP with `obj`'s values); returns generator steps per second over the steps
    after `warmup`."""
    from torch.utils.data import DataLoader, TensorDataset

    torch_defaults()
    torch.manual_seed(0)
    shape = tuple(x_train.shape[1:])   # (C, H, W)
    G, D = build_generator(model, shape).to(device), build_critic(model, shape, batchnorm=False).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=obj.lr, betas=obj.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=obj.lr, betas=obj.betas)
    loader = DataLoader(TensorDataset(x_train), batch_size=batch, shuffle=True, drop_last=True)
    batches = iter(loader)

    def next_batch() -> torch.Tensor:
        nonlocal batches
        try:
            (real,) = next(batches)
        except StopIteration:
            batches = iter(loader)
            (real,) = next(batches)
        return real.to(device)

    def noise() -> torch.Tensor:
        return torch.rand(batch, model.z_dim, device=device) * 2 - 1

    t0 = None
    for step in range(steps):
        if step == warmup:
            sync(device)
            t0 = time.perf_counter()
        for _ in range(obj.critic_steps):
            real = next_batch()
            fake = G(noise()).detach()
            eps = torch.rand(batch, 1, 1, 1, device=device)
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
            penalty = ((grad.view(batch, -1).norm(2, dim=1) - 1) ** 2).mean()
            loss_d = D(real).mean() - D(fake).mean() + obj.gp_weight * penalty
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        loss_g = D(G(noise())).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        _ = (loss_d.item(), loss_g.item())   # printed every step in the examples
    sync(device)
    return (steps - warmup) / (time.perf_counter() - t0)


def project(mnist: dict, base: Settings, batch: int, steps: int, warmup: int, device: torch.device, precision: str,
            compile: str, flags: frozenset[str] = frozenset()) -> float:
    """The train stage's loop; returns generator steps per second over the steps after `warmup`.
    compile: graph (train.cuda_graph on) or none (off); flags: nhwc (channels-last weights and activations, else
    NCHW), compile (torch.compile of G and D; its compilation falls in the warm-up only if `warmup` covers it)."""
    p = with_overrides(base.params, {**base.overrides, "train.steps": steps, "train.batch_size": batch,
                                     "train.precision": precision,
                                     "train.cuda_graph": "on" if compile == "graph" else "off",
                                     "train.channels_last": "nhwc" in flags})
    plan = mnist_plan(p, device)
    clock = StepClock(device, warmup, steps)
    generator = seed_everything(p.seed, device)
    G, D = networks(p, image_shape(mnist["x_train"]))   # the train stage's order
    if "compile" in flags:
        G, D = torch.compile(G), torch.compile(D)
    fit_mnist(plan, mnist, p, generator=generator, callbacks=Callbacks(on_step=clock), nets=(G, D))
    return clock.steps_per_s()


def count_flops(mnist: dict, base: Settings, batch: int, device: torch.device, steps: int) -> float:
    """FLOPs of `steps` eager fp32 steps of the project's loop, every matmul and convolution counted, those of
    the backward and the penalty's double backward included (torch's FlopCounterMode formulas, applied at
    dispatch: FlopCounterMode itself trips over autograd.grad)."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import FlopCounterMode

    registry = FlopCounterMode(display=False).flop_registry

    class Count(TorchDispatchMode):
        flops = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            if func._overloadpacket in registry:
                Count.flops += registry[func._overloadpacket](*args, **kwargs, out_val=out)
            return out

    with Count():
        project(mnist, base, batch, steps, 1, device, "fp32", "none")
    return float(Count.flops)


def flops_per_step(mnist: dict, base: Settings, batch: int, device: torch.device) -> float:
    """FLOPs of one generator step with its critic steps: 3 steps less 2, which cancels the diagnostics pass
    each run ends with."""
    return count_flops(mnist, base, batch, device, 3) - count_flops(mnist, base, batch, device, 2)


def kernel_profile(mnist: dict, base: Settings, batch: int, device: torch.device, precision: str, steps: int,
                   flags: frozenset[str]) -> str:
    """torch.profiler's table of the busiest kernels over `steps` eager steps (the last logs diagnostics)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        project(mnist, base, batch, steps, 1, device, precision, "none", flags)
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=sort, row_limit=30, max_name_column_width=70)


FLAGS = ("nhwc", "compile")


def parse_flags(flags: list[str], option: str) -> frozenset[str]:
    if unknown := sorted(set(flags) - set(FLAGS)):
        raise typer.BadParameter(f"unknown flags {unknown}; known: {', '.join(FLAGS)}", param_hint=option)
    return frozenset(flags)


def parse_variant(variant: str) -> tuple[str, str, frozenset[str]]:
    """precision/graph-or-none[/flag...], e.g. bf16/graph/nhwc."""
    parts = variant.split("/")
    if len(parts) < 2 or parts[1] not in ("graph", "none"):
        raise typer.BadParameter(f"{variant!r} is not precision/graph-or-none[/flag...], e.g. bf16/graph/nhwc",
                                 param_hint="--variants")
    return parts[0], parts[1], parse_flags(parts[2:], "--variants")


def main(
    data: Annotated[Path, typer.Option(help="images.npz from the fetch stage")] = Path("data/real/images.npz"),
    params: Annotated[Path, typer.Option(help="the base params (the measured settings override it)")] =
        Path("params.yaml"),
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    batches: Annotated[str, typer.Option(help="comma-separated batch sizes")] = "64,1024",
    steps: Annotated[int, typer.Option(help="generator steps per measurement at batch 64 (fewer at larger batches)")] = 400,
    warmup: Annotated[int, typer.Option(help="steps left out of each timing (at least 5: graph capture)")] = 20,
    # no square brackets in help texts: rich reads "[/...]" as a closing markup tag and crashes --help
    variants: Annotated[str, typer.Option(help="comma-separated variants of the project loop: precision/graph or "
                                                "precision/none, optionally /nhwc and /compile (e.g. bf16/graph/nhwc); "
                                                "default: by device")] = "",
    repeat: Annotated[int, typer.Option(help="runs of each project variant (median; of two: their mean)")] = 1,
    dim: Annotated[int, typer.Option(help="model.dim of the dcgan (64: the paper's)")] = 64,
    loss: Annotated[str, typer.Option(help="the loss; its values come from params.yaml's losses")] = "wgan-gp",
    threads: Annotated[str, typer.Option(help="comma-separated torch thread counts (CPU; 0 = all cores)")] = "0",
    arch: Annotated[str, typer.Option(help="dcgan | mlp")] = "dcgan",
    flops: Annotated[bool, typer.Option(help="count the FLOPs of one step (5 counted steps per batch size)")] = True,
    naive_loop: Annotated[bool, typer.Option("--naive/--no-naive", help="measure the naive baseline")] = True,
    profile_to: Annotated[Path | None, typer.Option(help="write the kernel profile of the fast eager step here")] = None,
    profile_flags: Annotated[str, typer.Option(help="the profiled step's flags, e.g. nhwc")] = "",
    out: Annotated[Path, typer.Option(help="JSON of the figures")] = Path("bench/results/speed.json"),
) -> None:
    dev = resolve_device(device)
    if not variants:
        variants = ("fp32/none,bf16/graph,bf16/graph/nhwc" if dev.type == "cuda"
                    else "fp32/none,bf16/none,bf16/none/nhwc")
    parsed = [parse_variant(v.strip()) for v in variants.split(",")]
    profiled_flags = parse_flags(profile_flags.split("/") if profile_flags else [], "--profile-flags")
    base = Settings(params, {**BENCH, "loss": loss, "model.arch": arch, "model.dim": dim, "train.device": dev.type})
    p = with_overrides(*base)   # refuses a bad setting before anything runs
    obj = p.loss_config()
    thread_counts = [int(t) for t in threads.split(",")]
    mnist = load_dataset(data)
    x_cpu = to_model_range(mnist["x_train"])
    auto_precision, auto_graph = speed_settings("auto", "auto", dev)
    # what train.precision/cuda_graph auto and params.yaml's train.channels_last pick here
    default = (f"{auto_precision}/{'graph' if auto_graph else 'none'}",
               "nhwc" if with_overrides(params, {}).train.channels_last else "nchw")
    set_threads(thread_counts[0])
    result = {"benchmark": "speed", "date": date.today().isoformat(), "device": device_name(dev), "torch": torch.__version__,
              "cuda": torch.version.cuda, "python": platform.python_version(), "loss": loss,
              "objective": obj.model_dump(), "model": p.model.model_dump(), "default_variant": "/".join(default),
              "img_per_s_counts": "real images consumed by the critic: batch x critic steps", "rows": []}
    print(f"{result['device']}, torch {torch.__version__}: {loss} {arch} dim {dim}, {obj.critic_steps} critic step(s)")
    per_step = obj.critic_steps
    for batch in (int(b) for b in batches.split(",")):
        n = max(warmup + (40 if dev.type == "cuda" else 3), steps * 64 // batch)
        rows = []
        try:
            if not naive_loop or loss != "wgan-gp":
                raise RuntimeError("not measured (--no-naive, or a loss other than wgan-gp)")
            sps = naive(x_cpu, p.model, obj, batch, n, warmup, dev)
            rows.append({"loop": "naive", "precision": "torch default", "compile": "none", "steps_per_s": sps})
        except Exception as e:   # keep the other figures
            rows.append({"loop": "naive", "error": f"{type(e).__name__}: {e}"})
        for t in thread_counts:
            set_threads(t)
            for precision, compile, flags in parsed:
                row = {"loop": "project", "precision": precision, "compile": compile, "threads": torch.get_num_threads(),
                       "layout": "nhwc" if "nhwc" in flags else "nchw", "torch_compile": "compile" in flags}
                try:
                    runs = [project(mnist, base, batch, n, warmup, dev, precision, compile, flags)
                            for _ in range(repeat)]
                    rows.append({**row, "steps_per_s": statistics.median(runs),
                                 **({"runs_img_per_s": [round(r * batch * per_step) for r in runs]}
                                    if repeat > 1 else {})})
                except Exception as e:
                    rows.append({**row, "error": f"{type(e).__name__}: {str(e)[:300]}"})
        set_threads(thread_counts[0])
        base_sps = next((r["steps_per_s"] for r in rows if r["loop"] == "naive" and "steps_per_s" in r), None)
        for r in rows:
            r.update(batch=batch, timed_steps=n - warmup)
            if "steps_per_s" in r:
                r["default"] = (r["loop"] == "project" and (f"{r['precision']}/{r['compile']}", r["layout"]) == default
                                and not r["torch_compile"])
        # today's loop: the default variant at the first of --threads
        today = next((r["steps_per_s"] for r in rows if r.get("default")), None)
        for r in rows:
            if "steps_per_s" in r:
                r["img_per_s"] = round(r["steps_per_s"] * batch * per_step, 1)
                r["vs_naive"] = round(r["steps_per_s"] / base_sps, 2) if base_sps else None
                r["vs_today"] = round(r["steps_per_s"] / today, 2) if today else None
                r["steps_per_s"] = round(r["steps_per_s"], 2)
            label = r["loop"] + (f" {r['precision']}/{r['compile']}/{r['layout']}" + "/compile" * r["torch_compile"]
                                 + f" {r['threads']}t" if r["loop"] == "project" else "")
            figure = (f"{r['img_per_s']:>10,.0f} img/s" + (f"  {r['vs_today']}x today's" if r["vs_today"] else "")
                      + (f"  {r['vs_naive']}x naive" if r["vs_naive"] else "")
                      if "img_per_s" in r else r["error"])
            print(f"  batch {batch:5d}  {label:40s} {figure}", flush=True)
        result["rows"] += rows
        if flops:
            result.setdefault("flops_per_step", {})[str(batch)] = fl = flops_per_step(mnist, base, batch, dev)
            best = max(r.get("steps_per_s", 0) for r in rows)
            print(f"  batch {batch:5d}  {fl / 1e9:.2f} GFLOP per step: the fastest variant runs at "
                  f"{fl * best / 1e12:.1f} TFLOP/s")
        if profile_to is not None:
            precision = auto_precision
            table = kernel_profile(mnist, base, batch, dev, precision, 20, profiled_flags)
            profile_to.parent.mkdir(parents=True, exist_ok=True)
            with open(profile_to, "a") as fh:
                fh.write(f"# batch {batch}, {precision} eager {'/'.join(sorted(profiled_flags)) or 'plain'}, "
                         f"20 steps (the last with diagnostics)\n{table}\n")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")   # after each batch size: partial figures survive
    if dev.type == "cuda":
        result["peak_mem_mb"] = round(torch.cuda.max_memory_allocated(dev) / 2**20, 1)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    typer.run(main)
