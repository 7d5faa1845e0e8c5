"""Seeding and device resolution: the only process-level side effects of the library."""
from __future__ import annotations

import os
import random

import numpy as np
import torch


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch sees no CUDA device; set train.device: auto or cpu")
    return torch.device(name)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def set_threads(threads: int) -> None:
    """0 = one torch thread per core this process may use."""
    torch.set_num_threads(threads or len(os.sched_getaffinity(0)))


def seed_everything(seed: int, device: torch.device) -> torch.Generator:
    """Seed the global RNGs (for any library that uses them) and return the generator the loop draws from."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator(device=device).manual_seed(seed)
