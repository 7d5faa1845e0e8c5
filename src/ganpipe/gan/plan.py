"""The training plan: params.yaml resolved once, at the edge, into everything the loop reads. The loop branches on
the plan and on nothing else: the objective with its loss functions, the precision and its autocast context,
CUDA-graph capture, the layout, the generator average, the batch and the steps.

Refuses: side effects (runtime.set_precision is the loop's one call) and file I/O.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from ganpipe.config import Params
from ganpipe.gan.objectives import Objective, objective
from ganpipe.runtime import speed_settings


@dataclass(frozen=True)
class TrainPlan:
    objective: Objective
    device: torch.device
    steps: int               # generator updates
    batch_size: int
    precision: str           # fp32 | tf32 | bf16 (autocast; losses and the gradient penalty in fp32)
    cuda_graph: bool         # the step captured once as a CUDA graph, then replayed
    channels_last: bool      # NHWC weights and activations
    ema_decay: float         # an averaged generator trails G; 0 = none
    log_every: int           # diagnostics, and the check for non-finite losses, every K steps (and at the last)
    checkpoint_every: int    # resume state every K steps, a multiple of log_every; 0 = never

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast, or a no-op. No weight cache: a fresh cast on every pass, as the step has always done."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16",
                              cache_enabled=False)


def mnist_plan(p: Params, device: torch.device) -> TrainPlan:
    """The train stage's plan. Raises ValueError in one line where the device cannot honour train.precision or
    train.cuda_graph."""
    t = p.train
    precision, graph = speed_settings(t.precision, t.cuda_graph, device)
    return TrainPlan(objective(p.loss, p.loss_config()), device, steps=t.steps, batch_size=t.batch_size,
                     precision=precision, cuda_graph=graph, channels_last=t.channels_last, ema_decay=t.ema_decay,
                     log_every=t.log_every, checkpoint_every=t.checkpoint_every)


def toy_plan(p: Params, loss: str | None = None) -> TrainPlan:
    """The 1-D toy's plan under `loss` (default: the chosen loss): on the CPU in fp32 (a few thousand tiny steps run
    faster there than a GPU launches them), G averaged by toy.ema_decay, diagnostics once at the end. The histogram
    loss bins the toy as its metrics do (toy.bins over [toy.lo, toy.hi]) with losses.histogram's kernel and optimiser:
    that loss's own range is the images' pixel range."""
    t, loss = p.toy, p.loss if loss is None else loss
    settings = p.loss_config(loss)
    if loss == "histogram":
        settings = settings.model_copy(update={"bins": t.bins, "lo": t.lo, "hi": t.hi})
    return TrainPlan(objective(loss, settings), torch.device("cpu"), steps=t.steps, batch_size=t.batch_size,
                     precision="fp32", cuda_graph=False, channels_last=False, ema_decay=t.ema_decay, log_every=t.steps,
                     checkpoint_every=0)
