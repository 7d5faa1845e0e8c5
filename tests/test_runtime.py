"""The runtime: what `auto` picks per device, native bf16 on the CPU, and one experiment per GPU (the claim logic,
with faked GPUs)."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import torch

from ganpipe import runtime
from ganpipe.runtime import claim_gpu, cpu_bf16_flags, release_gpus, speed_settings


CPU, CUDA = torch.device("cpu"), torch.device("cuda")   # a device object needs no GPU


@pytest.mark.parametrize(("precision", "cuda_graph", "device", "bf16_flags", "expected"), [
    ("auto", "auto", CPU, ["avx512_bf16"], ("bf16", False)),
    ("auto", "auto", CPU, [], ("fp32", False)),            # no native bf16: the fallback, not emulated bf16
    ("auto", "auto", CUDA, [], ("bf16", True)),
    ("tf32", "off", CUDA, [], ("tf32", False)),
    ("fp32", "on", CUDA, [], ("fp32", True)),
    ("bf16", "auto", CPU, ["amx_bf16"], ("bf16", False)),
    ("fp32", "auto", CPU, ["avx512_bf16"], ("fp32", False)),
])
def test_auto_picks_the_fast_setting_the_device_has(monkeypatch, precision, cuda_graph, device, bf16_flags,
                                                    expected):
    monkeypatch.setattr(runtime, "cpu_bf16_flags", lambda: bf16_flags)
    assert speed_settings(precision, cuda_graph, device) == expected


def test_a_cuda_graph_on_the_cpu_is_refused_by_name():
    with pytest.raises(ValueError, match="train.cuda_graph: on needs a CUDA device, and this run trains on cpu"):
        speed_settings("auto", "on", CPU)


@pytest.fixture
def locks(tmp_path):
    yield tmp_path / "locks"
    release_gpus()


def test_each_process_claims_its_own_gpu(locks):
    assert claim_gpu(["gpu-a", "gpu-b"], locks) == 0
    assert claim_gpu(["gpu-a", "gpu-b"], locks) == 1   # a second claim (as another worker) gets the other card


def test_a_claim_waits_while_every_gpu_is_held_and_takes_the_first_freed(locks, capfd):
    claim_gpu(["gpu-a"], locks)
    got = []
    worker = threading.Thread(target=lambda: got.append(claim_gpu(["gpu-a"], locks, poll_s=0.05)))
    worker.start()
    time.sleep(0.5)
    assert got == [] and worker.is_alive()               # waiting, not sharing
    release_gpus()                                        # the first run ends
    worker.join(timeout=10)
    assert got == [0]
    assert "waiting for a free GPU: all 1 are held by other ganpipe runs" in capfd.readouterr().err


def test_a_killed_run_frees_its_gpu(locks):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from ganpipe.runtime import claim_gpu; "
                               f"print(claim_gpu(['gpu-a', 'gpu-b'], __import__('pathlib').Path({str(locks)!r})), "
                               "flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "0"
        assert claim_gpu(["gpu-a", "gpu-b"], locks) == 1
    finally:
        holder.kill()   # SIGKILL: no clean-up code runs, the kernel drops the lock
        holder.wait()
    release_gpus()
    assert claim_gpu(["gpu-a", "gpu-b"], locks) == 0


def test_resolve_device_spreads_processes_over_faked_gpus(locks, monkeypatch):
    from types import SimpleNamespace

    from ganpipe import runtime

    chosen = []
    monkeypatch.setenv("GANPIPE_GPU_LOCKS", str(locks))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: SimpleNamespace(uuid=f"GPU-fake-{i}"))
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    devices = [runtime.resolve_device("auto") for _ in range(3)]   # three workers, as `dvc queue start -j 3`
    assert devices == [torch.device("cuda", i) for i in range(3)] and chosen == [0, 1, 2]
    assert sorted(p.name for p in locks.iterdir()) == [f"GPU-fake-{i}.lock" for i in range(3)]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert runtime.resolve_device("cuda") == torch.device("cuda")   # one visible GPU: nothing to claim


def test_native_bf16_is_read_from_the_cpu_flags():
    assert cpu_bf16_flags("flags : fpu sse2 avx512f avx512_bf16 amx_bf16 amx_tile") == ["avx512_bf16", "amx_bf16"]
    assert cpu_bf16_flags("flags : fpu sse2 avx2 avx512f") == []


def test_bf16_on_a_cpu_without_native_bf16_is_refused(monkeypatch):
    import ganpipe.runtime
    monkeypatch.setattr(ganpipe.runtime, "cpu_bf16_flags", lambda: [])
    with pytest.raises(ValueError, match="train.precision: bf16 needs a CPU with native bf16"):
        speed_settings("bf16", "auto", CPU)
    assert speed_settings("auto", "auto", CPU) == ("fp32", False)
