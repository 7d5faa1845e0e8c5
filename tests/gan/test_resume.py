"""Nothing lost: a killed run resumes bit for bit, a diverged run says where and keeps its last good state."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ganpipe.gan import objectives
from ganpipe.gan.resume import Scratch, TrainState, rng_state, run_key, set_rng_state
from ganpipe.gan.loop import Diverged
from tests.helpers import ROOT, loss_config, on_disk, tiny_fit, tiny_params_dict, write_yaml

# wgan-gp: the penalty draws too
OBJ = objectives.objective("wgan-gp", loss_config(optimizer="adam", lr=1e-3, critic_steps=2, gp_weight=10.0))


def _run(steps: int, state: dict | None = None, real=None, checkpoints: dict | None = None, logged=None,
         ema: float = 0.0):
    nets, logged, checkpoints = tiny_fit(OBJ, steps=steps, state=state, real=real, logged=logged,
                                         checkpoints=checkpoints, log_every=2, checkpoint_every=4, ema_decay=ema)
    return nets.G, nets.D, logged, checkpoints, nets.G_ema


def _weights(G, D, avg) -> list[torch.Tensor]:
    return [*G.state_dict().values(), *D.state_dict().values(), *(avg.state_dict().values() if avg else [])]


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_resuming_from_a_checkpoint_ends_bit_identical(ema):
    G, D, logged, checkpoints, avg = _run(12, ema=ema)
    assert sorted(checkpoints) == [4, 8]          # every 4 steps, none at the last
    assert (checkpoints[4]["G_ema"] is not None) == bool(ema)
    for start in (4, 8):
        G2, D2, logged2, _, avg2 = _run(12, state=checkpoints[start], ema=ema)
        a, b = _weights(G, D, avg), _weights(G2, D2, avg2)
        assert len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))
        assert logged2 == [(s, v) for s, v in logged if s > start]
    if ema:   # the average trails the raw weights, it does not equal them
        assert not torch.equal(avg.net[0].weight, G.net[0].weight)


def test_rng_state_round_trip_covers_every_generator():
    gen = torch.Generator().manual_seed(3)
    state = on_disk({"rng": rng_state(gen)})["rng"]
    draws = (torch.rand(3, generator=gen), torch.rand(3), np.random.rand(3), __import__("random").random())
    set_rng_state(state, gen)
    again = (torch.rand(3, generator=gen), torch.rand(3), np.random.rand(3), __import__("random").random())
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(draws, again))


def test_divergence_names_the_step_the_loss_and_the_last_finite_values():
    calls = {"n": 0}
    data = torch.rand(64, 1, 28, 28) * 2 - 1

    def real(b):   # two critic steps per step: the 13th draw is step 7's first
        calls["n"] += 1
        return torch.full((b, 1, 28, 28), float("nan")) if calls["n"] >= 13 else data[:b]

    logged, checkpoints = [], {}
    with pytest.raises(Diverged) as e:
        _run(12, real=real, logged=logged, checkpoints=checkpoints)
    message = str(e.value)
    # the NaN batch poisons the critic's weights, so the same step's generator loss is NaN too
    assert message.startswith("non-finite loss_d and loss_g at step 7; last finite values at step 6: loss_d=")
    assert "\n" not in message
    assert [s for s, _ in logged] == [2, 4, 6] and sorted(checkpoints) == [4]
    assert all(torch.isfinite(t).all() for t in checkpoints[4]["G"].values())   # the last good state is intact


def _state(step: int) -> TrainState:
    return TrainState(step, G={"w": torch.tensor(float(step))}, D=None, opt_g={"lr": 0.1}, opt_d=None,
                      rng={"loop": torch.tensor(7, dtype=torch.uint8)}, last_logged=None)


def test_scratch_keeps_only_the_last_complete_checkpoint(tmp_path):
    run = Scratch(tmp_path, "k")
    assert run.load() is None
    live = tmp_path / "live"
    live.mkdir()
    (live / "a.tsv").write_text("step\ta\n2\t1.0\n")
    run.save(_state(2), live)
    (live / "a.tsv").write_text("step\ta\n2\t1.0\n4\t2.0\n")
    run.save(_state(4), live)
    (tmp_path / "k" / ".000000006.tmp").mkdir()   # a save killed half-way: ignored
    (tmp_path / "k" / "000000008").mkdir()        # a folder without its state: ignored
    assert run.load() == _state(4) and run.latest().name == "000000004"
    assert not (tmp_path / "k" / "000000002").exists()
    run.restore_live(live)
    assert (live / "a.tsv").read_text().endswith("4\t2.0\n")
    run.prune()
    assert not (tmp_path / "k").exists()


def test_an_unreadable_state_is_refused_in_one_line(tmp_path):
    run = Scratch(tmp_path, "k")
    (tmp_path / "k" / "000000004").mkdir(parents=True)
    (tmp_path / "k" / "000000004" / "state.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"unreadable resume state .*; delete .* to start the run afresh"):
        run.load()


def test_run_key_changes_with_params_data_and_code(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"data")
    b.write_bytes(b"code")
    key = run_key({"lr": 1e-4}, [a, b])
    assert key == run_key({"lr": 1e-4}, [a, b])
    assert key != run_key({"lr": 2e-4}, [a, b])
    b.write_bytes(b"code!")
    assert key != run_key({"lr": 1e-4}, [a, b])


# --- the train stage, killed with SIGKILL and run again -------------------------------------------

def _params(tmp_path: Path, **train) -> Path:
    p = tiny_params_dict()
    p["train"].update({"steps": 3000, "batch_size": 8, "log_every": 10, "grid_every": 500, "checkpoint_every": 50,
                       "ema_decay": 0.99, "ema_standing_batches": 3, **train})
    return write_yaml(tmp_path / "params.yaml", p)


def _train_cmd(tmp_path: Path, params: Path, data: Path, name: str) -> list[str]:
    d = tmp_path / name
    return [sys.executable, "-m", "stages", "train", "--data", str(data), "--out", str(d / "g.pt"),
            "--live-dir", str(d / "live"), "--facts", str(d / "facts.json"), "--params", str(params),
            "--scratch", str(tmp_path / "scratch")]


TIMING = {"steps_per_s", "train_wall_s", "img_per_s", "peak_mem_mb"}


def _logged(live: Path) -> dict[str, str]:
    out = {f.name: f.read_text() for f in (live / "plots/metrics").glob("*.tsv") if f.stem not in TIMING}
    out.update({f"grid/{f.name}": f.read_bytes().hex() for f in (live / "plots/images/grid").glob("*.png")})
    summary = json.loads((live / "metrics.json").read_text())
    out["metrics.json"] = json.dumps({k: v for k, v in summary.items() if k not in TIMING}, sort_keys=True)
    return out


@pytest.mark.slow   # three train runs of 3,000 steps in subprocesses (about 4 minutes on 2 cores)
def test_a_killed_train_stage_resumes_and_ends_bit_identical(tmp_path, tiny_mnist):
    params = _params(tmp_path)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}
    killed = subprocess.Popen(_train_cmd(tmp_path, params, tiny_mnist, "run"), cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not any(d.name.isdigit() for d in (tmp_path / "scratch").glob("*/*")):
        assert killed.poll() is None and time.monotonic() < deadline, "no checkpoint before the run ended"
        time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    assert not (tmp_path / "run/g.pt").exists()

    resumed = subprocess.run(_train_cmd(tmp_path, params, tiny_mnist, "run"), cwd=tmp_path, env=env,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    step = int(resumed.stderr.split("train: resuming from step ")[1].split()[0])
    assert 50 <= step < 3000 and step % 50 == 0
    assert not any((tmp_path / "scratch").glob("*/*")), "the completed run's scratch entry was not pruned"

    whole = subprocess.run(_train_cmd(tmp_path, params, tiny_mnist, "whole"), cwd=tmp_path, env=env,
                           capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr
    assert "resuming" not in whole.stderr
    run, whole = (torch.load(tmp_path / f"{name}/g.pt", weights_only=True) for name in ("run", "whole"))
    assert run.keys() == whole.keys() == {"generator", "generator_ema", "model_config", "image_shape"}   # ema on
    for key in ("generator", "generator_ema"):
        a, b = run[key], whole[key]
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(run["generator"]["fc.0.weight"], run["generator_ema"]["fc.0.weight"])
    assert _logged(tmp_path / "run/live") == _logged(tmp_path / "whole/live")
    facts = json.loads((tmp_path / "run/facts.json").read_text())
    assert facts["resumed_from_step"] == step


@pytest.mark.slow   # the train stage twice
def test_a_diverged_train_stage_fails_in_one_line_and_keeps_its_last_good_checkpoint(tmp_path, tiny_mnist,
                                                                                       monkeypatch):
    from stages.__main__ import build

    params = _params(tmp_path, steps=40, checkpoint_every=20)   # loss: hinge, one critic step per step
    real_loss, generator_loss = objectives.FUNCTIONS["hinge"]
    calls = {"n": 0}

    def poisoned(score_real, score_fake):   # from the 25th generator step on, the critic's loss is NaN
        calls["n"] += 1
        value = real_loss(score_real, score_fake)
        return value * float("nan") if calls["n"] > 24 else value

    monkeypatch.setitem(objectives.FUNCTIONS, "hinge", (poisoned, generator_loss))
    monkeypatch.chdir(tmp_path)
    args = [a for a in _train_cmd(tmp_path, params, tiny_mnist, "run")[4:]]
    r = CliRunner().invoke(build(), ["train", *args])
    assert r.exit_code == 1
    errors = [line for line in r.output.splitlines() if "error:" in line]
    assert len(errors) == 1, r.output
    # the NaN reaches the critic's weights, so the generator's loss of the same step is NaN too
    assert errors[0].startswith("error: non-finite loss_d and loss_g at step 25; last finite values at step 20: ")
    assert "the last good checkpoint is " in errors[0] and errors[0].endswith("lower lr or pick another loss")
    assert not (tmp_path / "run/g.pt").exists() and not (tmp_path / "run/live").exists()

    entry = next((tmp_path / "scratch").glob("*"))
    state = Scratch(entry.parent, entry.name).load()
    assert state.step == 20 and all(torch.isfinite(t).all() for t in state.G.values())

    monkeypatch.setitem(objectives.FUNCTIONS, "hinge", (real_loss, generator_loss))   # the cause removed, the run goes on from 20
    r = CliRunner().invoke(build(), ["train", *args])
    assert r.exit_code == 0, r.output
    assert "train: resuming from step 20" in r.output


def test_a_train_state_round_trips_through_a_dict_and_the_disk():
    checkpoints = _run(8, ema=0.9)[3]
    state = TrainState.from_dict(checkpoints[4])
    assert state.step == 4 and state.last_logged["step"] == 4 and state.G_ema is not None
    back = on_disk(state.to_dict())
    assert back.keys() == {"step", "G", "D", "opt_g", "opt_d", "rng", "last_logged", "G_ema"}
    for key in ("G", "D", "G_ema"):
        assert back[key].keys() == getattr(state, key).keys()
        assert all(torch.equal(back[key][k], getattr(state, key)[k]) for k in back[key])
    assert back["last_logged"] == state.last_logged and back["step"] == 4
    # an older state without the optional keys still loads; one without its networks is refused by name
    minimal = TrainState.from_dict({"step": 2, "G": {}, "opt_g": {}, "rng": {}, "unknown": 1})
    assert (minimal.D, minimal.opt_d, minimal.last_logged, minimal.G_ema) == (None, None, None, None)
    with pytest.raises(ValueError, match="^lacks G, rng$"):
        TrainState.from_dict({"step": 2, "opt_g": {}})


def test_a_run_resumed_through_its_scratch_entry_ends_bit_identical(tmp_path):
    G, D, logged, checkpoints, avg = _run(12, ema=0.9)
    scratch = Scratch(tmp_path, run_key({"steps": 12}, []))
    scratch.save(TrainState.from_dict(checkpoints[8]))
    state = scratch.load()
    assert isinstance(state, TrainState) and state.step == 8 and scratch.latest().name == "000000008"
    G2, D2, logged2, _, avg2 = _run(12, state=state.to_dict(), ema=0.9)
    a, b = _weights(G, D, avg), _weights(G2, D2, avg2)
    assert len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))
    assert logged2 == [(s, v) for s, v in logged if s > 8]
