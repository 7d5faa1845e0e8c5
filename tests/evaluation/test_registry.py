"""The metric registry is the one description of each metric: eval.json's keys, the docs, the report's tables,
compare's order and the ladder all follow it."""
from __future__ import annotations

import re

from ganpipe.evaluation import registry
from ganpipe.reporting.verdict import headline, metrics_table
from tests.helpers import ROOT


def test_every_metric_of_eval_json_is_registered_and_described_in_the_docs(pipeline):
    import json

    ev = json.loads(pipeline["eval"].read_text())
    metrics = {k.removesuffix("_floor") for k in ev if k.endswith("_floor")} - {"kid_std"}   # kid's spread
    assert metrics == set(registry.METRICS)   # each registered metric has a floor, and nothing goes unregistered
    docs = (ROOT / "docs/reference/metrics.md").read_text()
    assert [k for k in registry.METRICS if f"`{k}`" not in docs] == []


def test_the_flags_pick_the_lists():
    assert registry.HEADLINE == ("fld", "kid", "is_score", "precision", "recall", "coverage", "modes", "pixel_js")
    assert registry.LADDER == ("fld", "kid", "pixel_js")
    assert all(not registry.METRICS[k].higher_is_better for k in registry.LADDER)   # a rung's damage only grows
    assert registry.higher_is_better("recall") and not registry.higher_is_better("fld")
    assert not registry.higher_is_better("fld_floor")   # not a metric: lower is better by default


def test_the_report_tables_read_the_registry():
    ev = {k: 1.0 for k in registry.METRICS} | {f"{k}_floor": 0.5 for k in registry.METRICS}
    ev.update(ci=0.95, fld_ci_lo=0.9, fld_ci_hi=1.1, kid_std=0.1)
    rungs = [{"kind": "none", "level": 0.0, "fld": 0.5, "kid": 0.5, "pixel_js": 0.5},
             {"kind": "blur", "level": 1.0, "fld": 2.0, "kid": 2.0, "pixel_js": 2.0}]
    table = headline(ev, rungs)
    assert list(table["metric"]) == list(registry.HEADLINE)
    assert dict(zip(table["metric"], table["better"]))["modes"] == "higher"
    placed = dict(zip(table["metric"], table["on the ladder"]))
    assert [k for k, v in placed.items() if v] == list(registry.LADDER)
    hist = metrics_table(ev, registry.family("histogram"), rungs)
    assert list(hist["metric"]) == ["pixel_js", "pixel_sym_kl", "pixel_kl_real_gen", "pixel_kl_gen_real",
                                    "perpixel_js_mean"]
    assert set(hist["unit"]) == {"nats"} and hist["× floor"].tolist() == [2.0] * 5


def test_the_mode_rule_is_stated_once():
    # the 1% rule: only the registry writes the number; features, figures and the verdict import it
    pattern = re.compile(r"(?<![.\d])1 ?%(?!\})|MODE_PERCENT\b")
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*.py")
                 if p.name != "registry.py" and pattern.search(p.read_text())]
    assert offenders == []
