"""The real `dvc repro` interrupted: a second repro while the first holds the lock, and a repro killed mid-train
that the next one resumes. Each test has its own project (tiny params, real MNIST as in test_e2e.py), so this
file can run beside test_e2e.py (`make test` runs files on parallel workers).
"""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.helpers import DVC, ENV, make_project, run

pytestmark = pytest.mark.e2e


def test_a_second_repro_fails_on_the_lock_and_leaves_the_first_intact(tmp_path):
    project = make_project(tmp_path, steps=4000, log_every=100, checkpoint_every=0)
    first = subprocess.Popen(DVC + ["repro"], cwd=project, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    try:
        deadline = time.monotonic() + 300
        while not (project / "metrics/train").exists():   # train is running: the lock is held
            assert first.poll() is None and time.monotonic() < deadline, "the first repro ended too early"
            time.sleep(0.05)
        second = subprocess.run(DVC + ["repro"], cwd=project, env=ENV, capture_output=True, text=True)
        assert first.poll() is None, "the first repro ended before the second was refused: nothing was tested"
    finally:
        out, _ = first.communicate(timeout=600)
    assert second.returncode != 0
    assert "lock" in (second.stdout + second.stderr).lower(), second.stdout + second.stderr
    assert first.returncode == 0, out
    status = run(DVC + ["status"], project)
    assert "Data and pipelines are up to date" in status
    assert (project / "reports/index.html").is_file()


def test_dvc_repro_killed_mid_train_resumes_on_the_next_repro(tmp_path):
    project = make_project(tmp_path, steps=3000, log_every=10, checkpoint_every=50)
    first = subprocess.Popen(DVC + ["repro"], cwd=project, env=ENV, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not any(d.name.isdigit() for d in (project / ".scratch/train").glob("*/*")):
        assert first.poll() is None and time.monotonic() < deadline, "no checkpoint before the repro ended"
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGKILL)   # dvc and its stage, as a terminal's kill or an OOM killer would
    first.wait()
    assert not (project / "models/generator.pt").exists()
    out = run(DVC + ["repro"], project)
    assert "train: resuming from step" in out
    assert "Data and pipelines are up to date" in run(DVC + ["status"], project)
    assert not any((project / ".scratch/train").glob("*/*"))
