"""The compare command's tables, on hand-made experiment rows."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from ganpipe.compare import differing_params, leaderboard

EXPS = pd.DataFrame([
    {"experiment": "main", "lr": None, "fld": math.nan, "recall": math.nan},
    {"experiment": "b", "lr": 2e-4, "fld": 38.9, "recall": 0.85},
    {"experiment": "a", "lr": 1e-4, "fld": 932.6, "recall": 0.0},
    {"experiment": "c", "lr": 3e-4, "fld": 12.0, "recall": 0.2},
])


def test_the_leaderboard_puts_the_best_first_and_the_unscored_last():
    board = leaderboard(EXPS, "fld", ["recall"])
    assert board["experiment"].tolist() == ["c", "b", "a", "main"]
    assert board["rank"].tolist() == ["1", "2", "3", "—"]
    assert board.loc[3, "fld"] == "—" and board.loc[0, "recall"] == "0.2" and board.loc[2, "fld"] == "932.6"


def test_higher_is_better_metrics_sort_descending():
    assert leaderboard(EXPS, "recall", [])["experiment"].tolist() == ["b", "c", "a", "main"]


def test_an_unknown_metric_is_refused_by_name():
    with pytest.raises(ValueError, match="no experiment has the metric 'fid'; try one of"):
        leaderboard(EXPS, "fid", ["fld", "recall"])


def test_only_the_params_that_differ_are_listed():
    exps = EXPS.assign(seed=0)
    assert differing_params(exps, ["seed", "lr"]).columns.tolist() == ["experiment", "lr"]
