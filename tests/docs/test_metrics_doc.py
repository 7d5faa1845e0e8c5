"""docs/reference/metrics.md against the registry (src/ganpipe/evaluation/registry.py), both ways: every registered
metric has a row in the page's `key` tables, and every row there is a registered metric."""
from __future__ import annotations

import re
from pathlib import Path

from ganpipe.evaluation import registry

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs/reference/metrics.md"


def documented_keys(text: str) -> list[str]:
    """The backticked names in the first column of every table whose header starts with `key`."""
    keys, in_table = [], False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        first = line.split("|")[1].strip()
        if not in_table:
            in_table, keyed = True, first == "key"
            continue
        if keyed and not set(first) <= set("-: "):
            keys += re.findall(r"`([a-z_]+)`", first)
    return keys


def test_every_registered_metric_has_a_row_and_every_row_is_registered():
    keys = documented_keys(PAGE.read_text())
    assert sorted(set(registry.METRICS) - set(keys)) == []
    assert sorted(set(keys) - set(registry.METRICS)) == []
    assert len(keys) == len(set(keys))   # each metric described once


def test_the_parser_reads_key_tables_only():
    text = "| key | x |\n|---|---|\n| `fld` | a |\n| `precision`, `recall` | b |\n\n| logged | y |\n|---|---|\n| `loss_d` | c |\n"
    assert documented_keys(text) == ["fld", "precision", "recall"]
