"""Every command the README documents answers --help (a crash in a help text is a crash a user meets first)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

BIN = Path(sys.executable).parent
STAGES = ["validate", "fetch", "classifier", "ladder", "train", "generate", "evaluate", "toy", "report"]


def documented_commands() -> list[list[str]]:
    """The README's commands that take --help: python -m stages [stage], ganpipe [command], bench scripts."""
    readme = (ROOT / "README.md").read_text()
    found = {("python", "-m", "stages")} | {("python", "-m", "stages", s) for s in STAGES}
    found |= {("ganpipe",)} | {("ganpipe", c) for c in re.findall(r"`ganpipe (\w+)", readme)}
    found |= {("python", p) for p in re.findall(r"python (bench/\w+\.py)", readme)}
    found |= {("bash", p) for p in re.findall(r"bash (bench/\w+\.sh)", readme)}
    return sorted(list(c) for c in found)


def test_the_readme_documents_the_commands_we_check():
    commands = documented_commands()
    assert ["ganpipe", "compare"] in commands and ["python", "bench/speed.py"] in commands
    assert ["bash", "bench/gpu.sh"] in commands


@pytest.mark.slow   # a fresh interpreter per command: about 100 s in all
@pytest.mark.parametrize("command", documented_commands(), ids=" ".join)
def test_every_documented_command_answers_help(command):
    exe = {"python": [sys.executable], "bash": ["bash"]}.get(command[0], [str(BIN / command[0])])
    r = subprocess.run(exe + command[1:] + ["--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Usage:" in r.stdout and "Traceback" not in r.stderr


def test_stages_help_lists_every_stage_and_only_the_named_stage_is_imported():
    r = subprocess.run([sys.executable, "-m", "stages", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert all(s in r.stdout for s in STAGES), r.stdout
    probe = ("import runpy, sys; sys.argv = ['stages', 'validate', '--help']\n"
             "try:\n    runpy.run_module('stages', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith(('stages.', 'ganpipe.'))))")
    r = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    loaded = r.stdout.strip().splitlines()[-1]
    assert "stages.validate" in loaded and "stages.train" not in loaded and "ganpipe.gan" not in loaded, loaded
