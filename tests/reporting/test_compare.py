"""The compare command's tables, on hand-made experiment rows."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from ganpipe.reporting.compare import differing_params, leaderboard
from ganpipe.reporting.page import Section, write_report

EXPS = pd.DataFrame([
    {"experiment": "main", "lr": None, "fld": math.nan, "recall": math.nan},
    {"experiment": "b", "lr": 2e-4, "fld": 38.9, "recall": 0.85},
    {"experiment": "a", "lr": 1e-4, "fld": 932.6, "recall": 0.0},
    {"experiment": "c", "lr": 3e-4, "fld": 12.0, "recall": 0.2},
])


def test_the_leaderboard_puts_the_best_first_and_the_unscored_last():
    board = leaderboard(EXPS, "fld", ["recall"])
    assert board["experiment"].tolist() == ["c", "b", "a", "main"]
    assert board["rank"].tolist()[:3] == [1, 2, 3] and math.isnan(board.loc[3, "rank"])
    assert math.isnan(board.loc[3, "fld"]) and board.loc[0, "recall"] == 0.2


def test_the_leaderboard_names_each_runs_dataset_next_to_its_name():
    named = dict(zip(EXPS["experiment"], ["mnist", "fashion-mnist", "mnist", "pics"]))
    board = leaderboard(EXPS.assign(dataset=EXPS["experiment"].map(named)), "fld", ["recall"])
    assert board.columns.tolist() == ["rank", "experiment", "dataset", "fld", "recall"]
    assert board["dataset"].tolist() == [named[e] for e in board["experiment"]]


def test_a_report_table_shows_missing_values_as_a_dash_and_numbers_to_4_digits(tmp_path):
    exps = EXPS.assign(fld=EXPS["fld"] * 1.000123, loss=["ns", None, "wgan", "ns"])   # loss: an object column
    board = leaderboard(exps, "fld", ["recall", "lr", "loss"])
    write_report(tmp_path, "t", "s", [Section("Leaderboard", table=board)], dpi=50)
    md = (tmp_path / "report.md").read_text().splitlines()
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in md if line.startswith("|")]
    assert cells[0] == ["rank", "experiment", "fld", "recall", "lr", "loss"]
    assert cells[2] == ["1", "c", "12", "0.2", "0.0003", "ns"]
    assert cells[3] == ["2", "b", "38.9", "0.85", "0.0002", "—"]
    assert cells[4] == ["3", "a", "932.7", "0", "0.0001", "wgan"]
    assert cells[5] == ["—", "main", "—", "—", "—", "ns"]
    page = (tmp_path / "index.html").read_text()
    assert "<td>932.7</td>" in page and page.count("<td>—</td>") == 5
    assert "nan" not in page.lower() and "none" not in page.lower()


def test_higher_is_better_metrics_sort_descending():
    assert leaderboard(EXPS, "recall", [])["experiment"].tolist() == ["b", "c", "a", "main"]


def test_an_unknown_metric_is_refused_by_name():
    with pytest.raises(ValueError, match="no experiment has the metric 'fid'; try one of"):
        leaderboard(EXPS, "fid", ["fld", "recall"])


def test_only_the_params_that_differ_are_listed():
    exps = EXPS.assign(seed=0)
    assert differing_params(exps, ["seed", "lr"]).columns.tolist() == ["experiment", "lr"]


def test_the_workspace_is_a_row_only_when_it_differs_from_its_commit(monkeypatch, tmp_path):
    import dvc.api
    from ruamel.yaml import YAML

    from ganpipe.reporting.compare import experiments

    YAML(typ="safe").dump({"seed": 0, "lr": 1e-4}, tmp_path / "params.yaml")
    head = {"rev": "main", "typ": "baseline", "Experiment": None, "State": None, "seed": 0.0, "lr": 1e-4, "fld": 5.0}
    for rows, names in (([{**head, "rev": "workspace"}, head], ["main"]),                      # repeats HEAD
                        ([{**head, "rev": "workspace", "fld": 4.0}, {**head, "fld": "!"}], ["workspace", "main"])):
        monkeypatch.setattr(dvc.api, "exp_show", lambda repo, rows=rows: rows)
        exps, params = experiments(tmp_path, tmp_path / "params.yaml")
        assert exps["experiment"].tolist() == names and sorted(params) == ["lr", "seed"]
    assert pd.isna(exps["rev"].tolist()[0]) and exps["rev"].tolist()[1] == "main"   # no rev: DVC reads the work tree
    assert math.isnan(exps["fld"].tolist()[1])                                       # "!" is a missing value
