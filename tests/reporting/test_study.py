"""The study's grouping, intervals and ranking, on hand-made `exp show` frames (the end-to-end test is in test_e2e)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ganpipe.reporting.figures import fig_seed_dots
from ganpipe.reporting.study import group_runs, headline_table, interval, median_run, summarise

PARAMS = ["seed", "lr", "loss", "evaluate.seed"]


def _exps(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([{"experiment": name, "rev": name, "seed": seed, "lr": lr, "loss": "hinge", "evaluate.seed": 0,
                          "fld": fld, "fld_floor": 1.8} for name, seed, lr, fld in rows])


def test_runs_that_differ_only_in_seed_form_one_group():
    runs = group_runs(_exps([("a", 0, 2e-4, 5.0), ("b", 1, 2e-4, 7.0), ("c", 2, 2e-4, 6.0)]), PARAMS, ["seed"])
    assert runs["group"].tolist() == ["all runs"] * 3
    assert runs["seeds"].tolist() == ["seed=0", "seed=1", "seed=2"]


def test_runs_that_differ_in_seed_and_lr_form_one_group_per_lr():
    exps = _exps([("a", 0, 1e-4, 5.0), ("b", 1, 1e-4, 7.0), ("c", 0, 2e-4, 9.0), ("d", 1, 2e-4, 8.0)])
    runs = group_runs(exps, PARAMS, ["seed"])
    assert runs["group"].tolist() == ["lr=0.0001", "lr=0.0001", "lr=0.0002", "lr=0.0002"]
    # evaluate.seed named as seed-like too: still grouped by lr alone
    runs = group_runs(exps.assign(**{"evaluate.seed": [0, 1, 0, 1]}), PARAMS, ["seed", "evaluate.seed"])
    assert runs["group"].tolist() == ["lr=0.0001"] * 2 + ["lr=0.0002"] * 2
    assert runs["seeds"].tolist()[1] == "seed=1, evaluate.seed=1"
    # not named: evaluate.seed now tells groups apart
    assert group_runs(exps.assign(**{"evaluate.seed": [0, 1, 0, 1]}), PARAMS, ["seed"])["group"].nunique() == 4


def test_groups_name_their_dataset_and_never_mix_two():
    exps = _exps([("a", 0, 1e-4, 5.0), ("b", 1, 1e-4, 7.0), ("c", 0, 1e-4, 9.0), ("d", 1, 1e-4, 8.0)])
    runs = group_runs(exps.assign(dataset=["mnist", "mnist", "fashion-mnist", "fashion-mnist"]),
                      PARAMS + ["dataset"], ["seed"])
    assert runs["group"].tolist() == ["mnist: all runs"] * 2 + ["fashion-mnist: all runs"] * 2
    runs = group_runs(exps.assign(dataset="pics", lr=[1e-4, 1e-4, 2e-4, 2e-4]), PARAMS + ["dataset"], ["seed"])
    assert runs["group"].tolist() == ["pics: lr=0.0001"] * 2 + ["pics: lr=0.0002"] * 2


def test_a_repeat_of_the_same_params_counts_once_and_keeps_the_run_with_metrics():
    exps = _exps([("main", 0, 1e-4, math.nan), ("a", 0, 1e-4, 5.0), ("b", 1, 1e-4, 7.0)])
    runs = group_runs(exps, PARAMS, ["seed"])
    assert runs["experiment"].tolist() == ["a", "b"]


def test_an_unknown_seed_param_is_refused_naming_the_params():
    with pytest.raises(ValueError, match=r"^unknown seed param 'sed'; the params are: evaluate.seed, loss, lr, seed$"):
        group_runs(_exps([("a", 0, 1e-4, 5.0)]), PARAMS, ["sed"])


def test_the_interval_is_students_t_and_none_for_one_run():
    n, mean, std, lo, hi = interval(np.array([1.0, 2.0, 3.0]), 0.95)
    half = 4.302652729911275 / math.sqrt(3)   # t(0.975, 2 dof) * s / sqrt(n), s = 1
    assert (n, mean, std) == (3, 2.0, 1.0) and lo == pytest.approx(2 - half) and hi == pytest.approx(2 + half)
    n, mean, std, lo, hi = interval(np.array([4.0, 6.0]), 0.9)
    assert hi - mean == pytest.approx(6.313751514675043)   # t(0.95, 1 dof) * s / sqrt(n), s = sqrt(2), n = 2
    n, mean, std, lo, hi = interval(np.array([5.0]), 0.95)
    assert (n, mean) == (1, 5.0) and math.isnan(std) and math.isnan(lo) and math.isnan(hi)


def test_groups_are_ranked_by_mean_and_overlapping_intervals_are_not_distinguishable():
    exps = _exps([("a", 0, 1e-4, 5.0), ("b", 1, 1e-4, 7.0), ("c", 2, 1e-4, 6.0),        # mean 6, tight
                  ("d", 0, 2e-4, 30.0), ("e", 1, 2e-4, 32.0), ("f", 2, 2e-4, 31.0),     # mean 31, apart
                  ("g", 0, 3e-4, 2.0), ("h", 1, 3e-4, 12.0),                           # mean 7, wide: overlaps 6
                  ("i", 0, 4e-4, 40.0)])                                               # n = 1
    table = summarise(group_runs(exps, PARAMS, ["seed"]), "fld", 0.95)
    assert table["group"].tolist() == ["lr=0.0001", "lr=0.0003", "lr=0.0002", "lr=0.0004"]
    assert table["n"].tolist() == [3, 2, 3, 1] and table["mean"].tolist() == [6.0, 7.0, 31.0, 40.0]
    assert table["best"].tolist()[:2] == ["seed=0", "seed=0"] and table["worst"].tolist()[:2] == ["seed=1", "seed=1"]
    assert table["not distinguishable from"].tolist() == [
        "lr=0.0003", "lr=0.0001; lr=0.0002", "lr=0.0003", "n = 1: no interval"]
    assert math.isnan(table.loc[3, "lo"]) and table.loc[0, "floor"] == 1.8


def test_higher_is_better_metrics_rank_descending_and_an_unknown_metric_is_refused():
    exps = _exps([("a", 0, 1e-4, 5.0), ("b", 0, 2e-4, 7.0)]).assign(recall=[0.5, 0.8])
    assert summarise(group_runs(exps, PARAMS, ["seed"]), "recall", 0.95)["group"].tolist() == ["lr=0.0002",
                                                                                                  "lr=0.0001"]
    with pytest.raises(ValueError, match="no experiment has the metric 'fid'; try one of fld, recall"):
        summarise(group_runs(exps, PARAMS, ["seed"]), "fid", 0.95)


def test_the_median_seed_and_the_headline_cells():
    runs = group_runs(_exps([("a", 0, 1e-4, 5.0), ("b", 1, 1e-4, 9.0), ("c", 2, 1e-4, 6.0), ("d", 0, 2e-4, 3.0)]),
                      PARAMS, ["seed"])
    assert median_run(runs[runs["group"] == "lr=0.0001"], "fld") == "c"
    cells = headline_table({"fld": summarise(runs, "fld", 0.95)}, ["lr=0.0001", "lr=0.0002"])
    assert cells["fld"].tolist()[1] == "3 (n = 1)" and cells["fld"].tolist()[0].startswith("6.667 [")


def test_the_dot_plot_draws_a_dot_per_seed_and_a_floor():
    runs = group_runs(_exps([("a", 0, 1e-4, 5.0), ("b", 1, 1e-4, 9.0), ("d", 0, 2e-4, 3.0)]), PARAMS, ["seed"])
    groups = ["lr=0.0001", "lr=0.0002"]
    fig = fig_seed_dots(runs, groups, {"fld": summarise(runs, "fld", 0.95)})
    ax = fig.axes[0]
    dots = sum(len(c.get_offsets()) for c in ax.collections)
    assert dots == 3 and any(line.get_linestyle() == "--" and line.get_xdata()[0] == 1.8 for line in ax.lines)
