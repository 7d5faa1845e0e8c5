"""docs/results.md is what bench/results_page.py makes of bench/results/*.json, and the script renders a result's
values into its table."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench/results_page.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_committed_page_is_up_to_date():
    r = run("--check")
    assert r.returncode == 0, r.stderr


def test_a_stale_page_fails_the_check(tmp_path):
    stale = tmp_path / "results.md"
    stale.write_text((ROOT / "docs/results.md").read_text().replace("117,316", "117,317"))
    r = run("--check", "--out", str(stale))
    assert r.returncode == 1 and "stale" in r.stderr


def test_a_result_renders_its_values_with_machine_and_date(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(ROOT / "bench/results", results)
    speed = json.loads((results / "h100_speed.json").read_text())
    speed.update(device="Test GPU 9000", date="2031-01-02")
    speed["rows"] = [dict(speed["rows"][0], batch=64, img_per_s=12345.6, vs_naive=1.0),
                     dict(speed["rows"][-1], batch=64, img_per_s=98765.4, vs_naive=8.0)]
    (results / "h100_speed.json").write_text(json.dumps(speed))
    (results / "extra.json").write_text(json.dumps({"benchmark": "new", "device": "cpu", "wall_s": 4321.5}))
    out = tmp_path / "results.md"
    r = run("--results", str(results), "--out", str(out))
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    assert "| naive | all | 64 | 12,346 | 1× |" in page
    assert "| bf16/graph (default then) | all | 64 | 98,765 | 8× |" in page
    assert "`bench/results/h100_speed.json`: Test GPU 9000, torch 2.11.0+cu130, python 3.12.3, 2031-01-02" in page
    assert "### `extra.json`" in page and "| wall_s | 4,322 |" in page   # a result the template does not place yet
