"""`ganpipe sweep --grid`: the grid speaks DVC's grammar. The same strings fed to ganpipe's grid and to the
expansion `dvc exp run -S ... --queue` runs (dvc.utils.hydra.get_hydra_sweeps) give the same points, and each
point's values are read as DVC reads them (dvc.utils.hydra.apply_overrides onto params.yaml)."""
from __future__ import annotations

import shutil

import pytest
from dvc.utils.hydra import apply_overrides, get_hydra_sweeps

from tests.helpers import ROOT
from ganpipe.config import load_params, load_params_with
from ganpipe.sweep.grid import Point, parse_grid


def _dvc_points(specs: list[str]) -> list[list[str]]:
    """The -S arguments of each experiment `dvc exp run -S spec ... --queue` queues, in DVC's order."""
    return [sweep["params.yaml"] for sweep in get_hydra_sweeps({"params.yaml": specs})]


SAME_AS_DVC = [
    ["lr=0.001,0.002"],
    ["train.steps=range(100,400,100)"],
    ["loss=choice(hinge,ns)"],
    ["model.arch=dcgan,mlp"],
    ["x='a,b'"],
    ["x='a,b',c"],
    ["x=choice('a,b',\"c d\")"],
    ["optim.betas=[0.5,0.9],[0.0,0.9]"],
    ["x=sort(3,1,2)", "y=range(0,1,0.25)"],
    ["lr=1e-4,2e-4", "seed=0,1,2", "model.arch=dcgan"],
    ["fetch.local_dir=/data/x y,null"],
    ["x={a:1,b:2}", "y=int(3.0),str(4)"],
]


@pytest.mark.parametrize("specs", SAME_AS_DVC, ids=" ".join)
def test_the_grid_expands_a_string_into_the_points_dvc_does(specs):
    assert [p.set_args[1::2] for p in parse_grid(specs)] == _dvc_points(specs)   # same order: DVC's is fixed


def test_a_shuffled_sweep_is_the_same_points_in_some_order():
    assert {tuple(p.set_args[1::2]) for p in parse_grid(["seed=shuffle(1,2,3)"])} == \
        {tuple(args) for args in _dvc_points(["seed=shuffle(1,2,3)"])} == {("seed=1",), ("seed=2",), ("seed=3",)}


def test_the_points_values_are_dvcs_text_for_them():
    assert [str(p) for p in parse_grid(["train.steps=range(100,400,100)"])] == \
        ["train.steps=100", "train.steps=200", "train.steps=300"]
    assert [str(p) for p in parse_grid(["loss=choice(hinge,ns)", "model.arch=dcgan,mlp"])] == \
        ["loss=hinge model.arch=dcgan", "loss=hinge model.arch=mlp", "loss=ns model.arch=dcgan",
         "loss=ns model.arch=mlp"]
    assert [p.overrides for p in parse_grid(["optim.betas=[0.5,0.9],[0.0,0.9]", "x='a,b'"])] == \
        [{"optim.betas": "[0.5,0.9]", "x": "'a,b'"}, {"optim.betas": "[0.0,0.9]", "x": "'a,b'"}]
    assert [p.overrides for p in parse_grid(["x=choice('a,b',\"c d\")"])] == [{"x": "a\\,b"}, {"x": "c\\ d"}]


def test_the_grid_is_every_combination_last_spec_fastest():
    points = parse_grid(["lr=1e-4,2e-4", "seed=0,1,2"])
    assert [str(p) for p in points] == [f"lr={lr} seed={s}" for lr in ("0.0001", "0.0002") for s in "012"]
    assert points[1].set_args == ["-S", "lr=0.0001", "-S", "seed=1"]
    assert points[1].overrides == {"lr": "0.0001", "seed": "1"}


def test_a_point_has_one_name_whatever_the_order_of_the_grid():
    assert parse_grid(["seed=0", "lr=1e-4"])[0].name == parse_grid(["lr=1e-4", "seed=0"])[0].name == \
        "lr=0.0001,seed=0"
    assert Point((("fetch.local_dir", "/data/x y"),)).name == "fetch.local_dir=_data_x_y"   # a git ref name
    assert len(parse_grid(["seed=0,0,1"])) == 2   # DVC would queue seed=0 twice; one experiment name, one point


def test_each_point_is_read_as_dvc_exp_run_reads_it(tmp_path):
    """A task runs `dvc exp run -S <point>`: DVC applies those strings to params.yaml; ganpipe validates the same
    strings before submitting. Both must read the same params."""
    specs = ["lr=1e-4,0.0003", "train.steps=range(20,60,20)", "loss='ns',hinge",
             "fetch.local_dir=/data/x y,null", "model.z_dim=int(16.0)"]
    points = parse_grid(specs)
    assert [args for args in _dvc_points(specs)] == [p.set_args[1::2] for p in points]
    assert len(points) == 16
    for point in points:
        copy = tmp_path / "params.yaml"
        shutil.copyfile(ROOT / "params.yaml", copy)
        apply_overrides(copy, point.set_args[1::2])
        assert load_params_with(ROOT / "params.yaml", point.overrides) == load_params(copy), point


@pytest.mark.parametrize("specs, message", [
    ([], "no --grid given"),
    (["lr"], "--grid 'lr': expected PARAM=V1,V2,... (for example 'lr=1e-4,2e-4'): missing EQUAL"),
    (["lr=1e-4,"], "--grid 'lr=1e-4,': expected PARAM=V1,V2,..."),
    (["=1"], "--grid '=1': expected PARAM=V1,V2,..."),
    (["x=tag(t,1)"], "--grid 'x=tag(t,1)': expected PARAM=V1,V2,... (for example 'lr=1e-4,2e-4'): TypeError"),
    (["seed=0", "seed=1"], "--grid 'seed=1': seed is already swept by another --grid"),
    (["+x=1"], "--grid '+x=1': a grid sets a param params.yaml has: write x=..."),
    (["~x"], "--grid '~x': expected PARAM=V1,V2,..."),
    (["x=glob(*)"], "--grid 'x=glob(*)': glob() is not supported by dvc exp run"),
    (["x=interval(0,1)"], "--grid 'x=interval(0,1)': interval() is not supported by dvc exp run"),
])
def test_a_bad_grid_is_refused_in_one_line(specs, message):
    with pytest.raises(ValueError) as e:
        parse_grid(specs)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


@pytest.mark.parametrize("spec", ["x=glob(*)", "x=interval(0,1)", "lr", "lr=1e-4,"])
def test_what_the_grid_refuses_dvc_refuses(spec):
    with pytest.raises(Exception):
        _dvc_points([spec])
