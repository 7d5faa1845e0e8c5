"""Every command README.md and docs/ document answers --help (a crash in a help text is a crash a user meets first)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

BIN = Path(sys.executable).parent
STAGES = ["validate", "fetch", "classifier", "ladder", "train", "generate", "evaluate", "toy", "report"]


def documented_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def code_in(text: str) -> str:
    """What a page shows as code: fenced blocks and `inline spans`, one per line (prose may say "ganpipe is")."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", text, flags=re.S | re.M))
    return "\n".join(block.strip("\n") for block in fenced + inline)


def documented_commands() -> list[list[str]]:
    """The commands README.md and docs/**/*.md show that take --help: python -m stages [stage], ganpipe [command],
    bench scripts."""
    code = "\n".join(code_in(p.read_text()) for p in documented_pages())
    found = {("python", "-m", "stages")} | {("python", "-m", "stages", s) for s in STAGES}
    found |= {("python", "-m", "stages", s) for s in re.findall(r"python -m stages (\w+)", code)}
    found |= {("ganpipe",)} | {("ganpipe", c) for c in re.findall(r"(?<![\w/.-])ganpipe (\w+)", code)}
    found |= {("python", p) for p in re.findall(r"python (bench/\w+\.py)", code)}
    found |= {("bash", p) for p in re.findall(r"bash (bench/\w+\.sh)", code)}
    return sorted(list(c) for c in found)


def test_the_docs_document_the_commands_we_check():
    commands = documented_commands()
    assert ["ganpipe", "compare"] in commands and ["python", "bench/speed.py"] in commands
    assert ["bash", "bench/gpu.sh"] in commands
    assert ["ganpipe", "study"] in commands and ["ganpipe", "sweep"] in commands and ["ganpipe", "collect"] in commands
    assert ["python", "bench/results_page.py"] in commands
    assert not [c for c in commands if c[0] == "ganpipe" and c[1:] and c[1] not in ("compare", "study", "sweep", "collect")]


def test_code_in_reads_fences_and_spans_only():
    text = "What ganpipe measures.\n\n```bash\nganpipe compare --metric fld\n```\n\nRun `ganpipe study` then."
    assert code_in(text).splitlines() == ["ganpipe compare --metric fld", "ganpipe study"]


@pytest.mark.slow   # a fresh interpreter per command: about 100 s in all
@pytest.mark.parametrize("command", documented_commands(), ids=" ".join)
def test_every_documented_command_answers_help(command):
    exe = {"python": [sys.executable], "bash": ["bash"]}.get(command[0], [str(BIN / command[0])])
    r = subprocess.run(exe + command[1:] + ["--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "usage:" in r.stdout.lower() and "Traceback" not in r.stderr   # typer: Usage, argparse: usage


def test_stages_help_lists_every_stage_and_only_the_named_stage_is_imported():
    r = subprocess.run([sys.executable, "-m", "stages", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert all(s in r.stdout for s in STAGES), r.stdout
    probe = ("import runpy, sys; sys.argv = ['stages', 'validate', '--help']\n"
             "try:\n    runpy.run_module('stages', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith(('stages.', 'ganpipe.'))))")
    r = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    loaded = r.stdout.strip().splitlines()[-1]
    assert "stages.validate" in loaded and "stages.train" not in loaded and "ganpipe.gan" not in loaded, loaded
