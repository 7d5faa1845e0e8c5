"""The fast path's CPU-testable parts: what `auto` picks per device, bf16 on the CPU, the static-buffer step,
and one experiment per GPU (the claim logic, with faked GPUs)."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import torch

from conftest import loss_config, plan
from ganpipe.config import ModelConfig
from ganpipe.gan.networks import build_critic, build_generator
from ganpipe.gan.objectives import objective
from ganpipe.gan.session import critic_for, samplers
from ganpipe import runtime
from ganpipe.runtime import claim_gpu, release_gpus, speed_settings
from ganpipe.gan.loop import Callbacks, Step, fit

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


def _fit(precision: str, steps: int = 3, loss: str = "wgan-gp", spectral_norm: bool = False):
    """The train stage's networks and samplers on random images, through loop.fit."""
    torch.manual_seed(0)
    images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    logged = []
    obj = objective(loss, loss_config(optimizer="adam", lr=1e-4, betas=(0.5, 0.9), critic_steps=2,
                                      clip=0.01 if loss == "wgan" else None, gp_weight=10.0 if loss == "wgan-gp" else 0.0))
    model = ModelConfig(z_dim=4, dim=4, spectral_norm=spectral_norm)
    G, D = build_generator(model), critic_for(model, loss)
    generator = torch.Generator().manual_seed(0)
    real, noise = samplers(images, model, generator)
    nets = fit(plan(obj, steps=steps, batch_size=8, precision=precision, channels_last=True), G, D, real=real,
               noise=noise, generator=generator, diagnostic=images[:8],
               callbacks=Callbacks(log=lambda step, values: logged.append(values)))
    return nets.G, logged


def test_bf16_trains_with_finite_losses_and_keeps_the_weights_in_fp32():
    G, logged = _fit("bf16")
    assert len(logged) == 3 and all(torch.isfinite(torch.tensor(list(v.values()))).all() for v in logged)
    assert {p.dtype for p in G.parameters()} == {torch.float32}
    fp32 = _fit("fp32")[1]
    assert logged[0]["loss_d"] != fp32[0]["loss_d"]                                # bf16 really ran
    assert logged[0]["loss_d"] == pytest.approx(fp32[0]["loss_d"], rel=0.05, abs=0.05)   # and agrees closely


@pytest.mark.parametrize(("loss", "spectral_norm"), [("wgan-gp", False), ("hinge", True)])
def test_bf16_stays_within_its_tolerance_of_fp32_over_eight_steps(loss, spectral_norm):
    # stated tolerance: every logged loss within 2.5% (or 0.001, for a loss_g near 0), and the weights within 30% of
    # how far fp32 training moved them (measured: 1.1%, 0.0004 and 15-16%; Adam turns rounding in small gradients
    # into whole steps early on)
    torch.manual_seed(0)   # _fit's G before training
    start = _weights(build_generator(ModelConfig(z_dim=4, dim=4)))
    (G, fp32), (G_bf16, bf16) = (_fit(p, steps=8, loss=loss, spectral_norm=spectral_norm) for p in ("fp32", "bf16"))
    assert all(b[k] == pytest.approx(a[k], rel=0.025, abs=1e-3) for a, b in zip(fp32, bf16) for k in ("loss_d", "loss_g"))
    assert 0 < (_weights(G_bf16) - _weights(G)).norm() < 0.3 * (_weights(G) - start).norm()


def test_tf32_is_fp32_on_the_cpu():
    assert _fit("tf32")[1] == _fit("fp32")[1]


def _weights(G: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in G.parameters()])   # reshape: NHWC weights are not views


def test_the_step_scores_real_and_fake_in_separate_critic_passes_then_the_interpolates():
    cfg, b = ModelConfig(z_dim=4, dim=4, spectral_norm=False), 8
    obj = objective("wgan-gp", loss_config(optimizer="adam", lr=1e-4, betas=(0.5, 0.9), critic_steps=2,
                                           gp_weight=10.0))
    G, D = build_generator(cfg), build_critic(cfg, batchnorm=False)
    batches = []
    D.register_forward_hook(lambda module, inputs, output: batches.append(len(inputs[0])))
    step = Step(plan(obj, steps=1, batch_size=b), G, D, torch.optim.Adam(G.parameters()),
                torch.optim.Adam(D.parameters()), ema=None, start=0)
    gen = torch.Generator().manual_seed(0)
    step.draw(lambda n: torch.rand(n, 1, 28, 28, generator=gen), lambda n: torch.rand(n, 4, generator=gen), gen)
    step()
    assert batches == [b, b, b] * obj.settings.critic_steps + [b]   # real, fake, interpolates per update; G's step
    assert step.step.item() == 1 and step.first_bad.tolist() == [0, 0]
    assert torch.isfinite(step.loss_d) and torch.isfinite(step.loss_g) and step.gradnorm_g.item() > 0


def test_the_divergence_check_names_the_first_bad_step_of_each_loss():
    from ganpipe.gan.loop import _divergence_message

    last = {"step": 4, "loss_d": 1.0, "loss_g": 2.0}
    assert _divergence_message([7, 9], last).startswith("non-finite loss_d at step 7; last finite values at step 4")
    assert _divergence_message([0, 5], None) == "non-finite loss_g at step 5; no finite values were logged before it"
    assert _divergence_message([6, 6], None).startswith("non-finite loss_d and loss_g at step 6")


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
