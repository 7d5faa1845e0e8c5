"""Seeding, device resolution and speed settings: the only process-level side effects of the library."""
from __future__ import annotations

import fcntl
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch sees no CUDA device; set train.device: auto or cpu")
    if name == "cuda" and torch.cuda.device_count() > 1:   # one experiment per GPU: claim a free one
        index = claim_gpu([_gpu_id(i) for i in range(torch.cuda.device_count())])
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    return torch.device(name)


_CLAIMED: list = []   # the open lock file of the GPU this process holds; released when the process ends


def _gpu_id(index: int) -> str:
    # the UUID names the card itself, whatever CUDA_VISIBLE_DEVICES numbers it in this process
    return str(getattr(torch.cuda.get_device_properties(index), "uuid", index))


def gpu_lock_dir() -> Path:
    """Where processes of this user agree on who holds which GPU: $GANPIPE_GPU_LOCKS, else a folder in /tmp.
    Shared by every checkout and every queue worker of the machine (they run in different folders)."""
    return Path(os.environ.get("GANPIPE_GPU_LOCKS") or Path(tempfile.gettempdir()) / f"ganpipe-gpus-{os.getuid()}")


def release_gpus() -> None:
    while _CLAIMED:
        _CLAIMED.pop().close()


def claim_gpu(ids: list[str], lock_dir: Path | None = None, poll_s: float = 5.0) -> int:
    """The index of the first of `ids` (the visible GPUs) that no other process holds, held by this process
    (an exclusive flock, which the kernel drops when the process dies, SIGKILL included) until it ends.
    Waits while every GPU is held, so `dvc queue start -j N` on fewer than N GPUs queues, never shares."""
    lock_dir = lock_dir or gpu_lock_dir()
    lock_dir.mkdir(parents=True, exist_ok=True)
    said = False
    while True:
        for index, gpu in enumerate(ids):
            fh = open(lock_dir / f"{gpu.replace('/', '_')}.lock", "w")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                continue
            fh.write(f"{os.getpid()}\n")
            fh.flush()
            _CLAIMED.append(fh)
            return index
        if not said:
            print(f"waiting for a free GPU: all {len(ids)} are held by other ganpipe runs ({lock_dir})",
                  file=sys.stderr, flush=True)
            said = True
        time.sleep(poll_s)


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


# What `auto` means per device: the fast path measured in docs/results.md. On the CPU that is bf16 autocast where
# the CPU has native bf16 (1.6x the fp32 step, scoring alike at equal steps), fp32 where it has not; eager either
# way. Each can be set by hand in params.yaml (train.precision, train.cuda_graph); the tests pin fp32.
AUTO = {"cpu": ("bf16", "off"), "cuda": ("bf16", "on")}


def cpu_bf16_flags(cpuinfo: str | None = None) -> list[str]:
    """This CPU's native bf16 instruction sets (avx512_bf16, amx_bf16), from /proc/cpuinfo; [] where there is
    none or the file cannot be read (not Linux). Without them torch emulates bf16, slower than fp32."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return []
    flags = set(cpuinfo.split())
    return [f for f in ("avx512_bf16", "amx_bf16") if f in flags]


def speed_settings(precision: str, cuda_graph: str, device: torch.device) -> tuple[str, bool]:
    """(precision, graph?) for train.precision and train.cuda_graph (auto | on | off) on this device; a graph needs
    CUDA, bf16 on the CPU needs native bf16 instructions (cpu_bf16_flags)."""
    auto_precision, auto_graph = AUTO.get(device.type, AUTO["cpu"])
    if precision == "auto":
        native = device.type != "cpu" or cpu_bf16_flags()
        precision = auto_precision if native else "fp32"
    cuda_graph = auto_graph if cuda_graph == "auto" else cuda_graph
    if cuda_graph == "on" and device.type != "cuda":
        raise ValueError(f"train.cuda_graph: on needs a CUDA device, and this run trains on {device.type}")
    if precision == "bf16" and device.type == "cpu" and not cpu_bf16_flags():
        raise ValueError("train.precision: bf16 needs a CPU with native bf16 (avx512_bf16 or amx_bf16), and this "
                         "one has neither; use fp32")
    return precision, cuda_graph == "on"


def set_precision(precision: str) -> None:
    """fp32: true fp32 matmuls and convolutions (torch lets cuDNN use TF32 by default); tf32 and bf16: TF32
    allowed (bf16 adds autocast in the loop), and cuDNN times its algorithms on the first steps and keeps the
    fastest. A process-wide setting, and a no-op on the CPU."""
    fast = precision != "fp32"
    torch.backends.cuda.matmul.allow_tf32 = fast
    torch.backends.cudnn.allow_tf32 = fast
    torch.backends.cudnn.benchmark = fast
