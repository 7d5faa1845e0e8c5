"""Timing for the benchmarks: device syncs around the timed steps of a training run."""
from __future__ import annotations

import time

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepClock:
    """An `on_step` callback (ganpipe.gan.loop.fit_mnist's): marks the time at step `warmup` and at step `last`,
    each after a device sync, so `steps_per_s()` covers exactly the steps between them."""

    def __init__(self, device: torch.device, warmup: int, last: int):
        self.device, self.warmup, self.last = device, warmup, last
        self.marks: dict[int, float] = {}

    def __call__(self, step: int) -> None:
        if step in (self.warmup, self.last):
            sync(self.device)
            self.marks[step] = time.perf_counter()

    def steps_per_s(self) -> float:
        return (self.last - self.warmup) / (self.marks[self.last] - self.marks[self.warmup])
