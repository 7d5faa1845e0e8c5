"""params.yaml's schema: the repo's file loads, per-loss values resolve, overrides win, typos, renamed keys and
broken rules across keys fail at load in one line."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from ruamel.yaml import YAML

from ganpipe.config import (RENAMED, HistogramLossConfig, LossConfig, Params, ParamsError, SlicedHistogramLossConfig,
                            load_params, load_params_with)
from tests.helpers import ROOT, tiny_params_dict, write_yaml


def test_the_repos_params_load_and_resolve_the_default_objective():
    p = load_params(ROOT / "params.yaml")
    obj = p.loss_config()
    assert p.loss == "hinge" and p.model.spectral_norm and p.train.ema_decay == 0.995
    assert obj.optimizer == "adam" and obj.critic_steps == 1 and obj.gp_weight == 0


def _load(tmp_path, **top):
    d = tiny_params_dict()
    for key, value in top.items():   # a__b__c: the nested key a.b.c
        *parents, leaf = key.split("__")
        node = d
        for part in parents:
            node = node[part]
        node[leaf] = value
    return load_params(write_yaml(tmp_path / "p.yaml", d))


def test_each_loss_gets_its_papers_defaults(tmp_path):
    gp = _load(tmp_path, loss="wgan-gp").loss_config()
    assert (gp.optimizer, gp.lr, gp.betas, gp.critic_steps, gp.gp_weight) == ("adam", 1e-4, (0.5, 0.9), 5, 10)
    w = _load(tmp_path, loss="wgan").loss_config()
    assert (w.optimizer, w.lr, w.critic_steps, w.clip) == ("rmsprop", 5e-5, 5, 0.01)


def test_the_top_level_lr_and_a_losses_key_override_the_defaults(tmp_path):
    obj = _load(tmp_path, loss="wgan-gp", lr=3e-4, **{"losses__wgan-gp__critic_steps": 2}).loss_config()
    assert obj.lr == 3e-4 and obj.critic_steps == 2 and obj.gp_weight == 10
    assert _load(tmp_path, loss="wgan-gp").loss_config().lr == 1e-4   # lr null: the loss's own


def test_a_wgan_without_a_clip_fails_at_load(tmp_path):
    d = tiny_params_dict()
    d["loss"] = "wgan"
    d["losses"]["wgan"]["clip"] = None
    with pytest.raises(ParamsError, match=r"p.yaml: loss wgan needs a clip value: set losses.wgan.clip$"):
        load_params(write_yaml(tmp_path / "p.yaml", d))


@pytest.mark.parametrize(("edit", "line"), [
    ({"loss": "wgn"}, "loss: must be 'minimax', 'ns', 'wgan', 'wgan-gp', 'hinge', 'lsgan', 'histogram' or "
                      "'sliced-histogram' (got 'wgn')"),
    ({"lr": 0}, "lr: must be > 0 (got 0)"),
    ({"train__batch_size": "big"}, "train.batch_size: must be a valid integer, unable to parse string as an integer (got 'big')"),
    ({"losses__hinge__critic_steps": 0}, "losses.hinge.critic_steps: must be >= 1 (got 0)"),
    ({"model__arch": "resnet"}, "model.arch: must be 'mlp' or 'dcgan' (got 'resnet')"),
    ({"train__stepz": 3}, "train.stepz: unknown key"),
])
def test_bad_values_fail_in_one_line_naming_the_key(tmp_path, edit, line):
    with pytest.raises(ParamsError) as err:
        _load(tmp_path, **edit)
    assert str(err.value) == f"{tmp_path / 'p.yaml'}: {line}"


def _defaults(model: type[BaseModel], values: dict, where: str = ""):
    """(dotted key, the schema's default, params.yaml's value) for every field with a default, recursively."""
    for name, field in model.model_fields.items():
        name = field.alias or name   # losses.wgan-gp
        key = f"{where}{name}"
        assert name in values, f"params.yaml lacks {key}: every value lives there"
        annotation = field.annotation
        if field.is_required():
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                yield from _defaults(annotation, values[name], f"{key}.")
            continue
        default = field.get_default(call_default_factory=True)
        yield key, default.model_dump() if isinstance(default, BaseModel) else default, values[name]


def test_every_default_of_the_schema_equals_params_yaml():
    raw = YAML(typ="safe").load(ROOT / "params.yaml")
    checked = list(_defaults(Params, raw))
    assert len(checked) > 40   # the walk reached into the sections
    differ = [(k, d, v) for k, d, v in checked if (list(d) if isinstance(d, tuple) else d) != v]
    assert differ == [], f"the schema's default differs from params.yaml: {differ}"
    # the per-loss table has no defaults at all: each entry writes every key
    assert all(f.is_required() for kind in (LossConfig, HistogramLossConfig, SlicedHistogramLossConfig)
               for f in kind.model_fields.values())


def test_the_defaults_check_can_fail():
    raw = YAML(typ="safe").load(ROOT / "params.yaml")
    raw["model"]["z_dim"] = 128
    assert ("model.z_dim", 64, 128) in list(_defaults(Params, raw))


def test_params_reject_a_bad_ladder(tmp_path):
    p = tiny_params_dict()
    p["ladder"]["noise"] = [0.1, 0.0]
    with pytest.raises(ParamsError, match="ladder.noise: must be a non-empty list of positive, strictly increasing"):
        load_params(write_yaml(tmp_path / "p.yaml", p))


def _paths(tree: dict, prefix: tuple = ()) -> list[tuple]:
    out = []
    for k, v in tree.items():
        out.append(prefix + (k,))
        if isinstance(v, dict):
            out += _paths(v, prefix + (k,))
    return out


PATHS = _paths(tiny_params_dict())


values = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                   st.text(max_size=8), st.lists(st.integers(-5, 5), max_size=3),
                   st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.sampled_from(PATHS + [("bogus",), ("train", "bogus")]), values),
                      min_size=1, max_size=3))
def test_params_validation_either_loads_or_names_each_bad_key_in_one_line(tmp_path, edits):
    p = tiny_params_dict()
    for path, value in edits:
        node = p
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[path[-1]] = value
    f = write_yaml(tmp_path / "p.yaml", p)
    try:
        params = load_params(f)
    except ParamsError as e:
        lines = str(e).splitlines()
        assert lines and all(line.startswith(f"{f}: ") for line in lines)
        return
    assert isinstance(params, Params)
    assert params.loss_config().lr > 0   # whatever loads also resolves


# --- renamed keys and the rules across keys, refused at load ----------------------------------------------------

@pytest.mark.parametrize(("old", "new"), sorted(RENAMED.items()))
def test_a_renamed_key_in_params_yaml_is_refused_in_one_line_naming_the_new_key(tmp_path, old, new):
    d = tiny_params_dict()
    *parents, leaf = old.split(".")
    node = d
    for part in parents:
        node = node[part]
    node[leaf] = 1
    f = write_yaml(tmp_path / "p.yaml", d)
    with pytest.raises(ParamsError) as err:
        load_params(f)
    assert str(err.value) == f"{f}: {old} was renamed {new}"


@pytest.mark.parametrize(("old", "new"), sorted(RENAMED.items()))
def test_a_renamed_key_given_as_an_override_is_refused_in_one_line_naming_the_new_key(tmp_path, old, new):
    f = write_yaml(tmp_path / "p.yaml", tiny_params_dict())
    with pytest.raises(ParamsError) as err:
        load_params_with(f, {old: "1"})
    assert str(err.value) == f"{f}: {old} was renamed {new}"


def test_every_new_name_of_a_renamed_key_exists():
    d = tiny_params_dict()
    for new in RENAMED.values():
        key = new.split(" ")[0]
        if key.startswith(("losses.", "datasets.")):   # losses.<loss>.x, datasets.<dataset>.x: a block has x
            section, *rest = key.split(".")
            assert section in d and (len(rest) == 1 or any(rest[1] in block for block in d[section].values())), key
            continue
        section, leaf = key.split(".")
        assert leaf in d[section], key


@pytest.mark.parametrize(("edit", "line"), [
    ({"evaluate__samples": 10}, "evaluate.kid_subset_size (32) exceeds evaluate.samples (10)"),
    ({"evaluate__samples": 10, "evaluate__kid_subset_size": 2},
     "evaluate.samples (10) is too few for the feature metrics: FLD's smallest subset, n / evaluate.fld_inf_points "
     "= 2, must exceed classifier.features (8); use at least 45 samples"),
    ({"evaluate__kid_subset_size": 65}, "evaluate.kid_subset_size (65) exceeds evaluate.samples (64)"),
    ({"classifier__reference_images": 63},
     "evaluate.samples (64) exceeds classifier.reference_images (63): each floor compares n real images to n others"),
    ({"toy__lo": 1.0, "toy__hi": 1.0}, "toy: toy.lo (1.0) must be below toy.hi (1.0)"),
    ({"toy__lo": 2.0, "toy__hi": -2.0}, "toy: toy.lo (2.0) must be below toy.hi (-2.0)"),
    ({"train__checkpoint_every": 5}, "train: train.checkpoint_every (5) must be a multiple of train.log_every (2): "
                                     "losses are checked at logging steps"),
    ({"loss": "wgan-gp", "losses__wgan-gp__gp_weight": 0}, "loss wgan-gp needs gp_weight > 0: set losses.wgan-gp.gp_weight"),
    ({"losses__hinge__betas": None}, "loss hinge with adam needs betas: set losses.hinge.betas"),
])
def test_a_rule_across_keys_is_refused_at_load_in_one_line_naming_the_keys(tmp_path, edit, line):
    with pytest.raises(ParamsError) as err:
        _load(tmp_path, **edit)
    assert str(err.value) == f"{tmp_path / 'p.yaml'}: {line}"


def test_the_rules_across_keys_hold_at_their_edges(tmp_path):
    p = _load(tmp_path, evaluate__samples=45, evaluate__kid_subset_size=45, classifier__reference_images=45)
    assert (p.evaluate.samples, p.evaluate.kid_subset_size, p.classifier.reference_images) == (45, 45, 45)
    assert _load(tmp_path, toy__lo=-1.0, toy__hi=-0.5).toy.hi == -0.5
    with pytest.raises(ParamsError, match="use at least 45 samples"):
        _load(tmp_path, evaluate__samples=44, evaluate__kid_subset_size=2)


def test_set_pairs_read_dvc_exp_run_s_arguments_and_refuse_one_without_a_value():
    from ganpipe.config import set_pairs

    assert set_pairs(["lr=1e-4", "train.steps=20", "losses.wgan-gp.betas=[0.0,0.9]", "lr=2e-4"]) == {
        "lr": "2e-4", "train.steps": "20", "losses.wgan-gp.betas": "[0.0,0.9]"}
    for bad in ("lr", "=1"):
        with pytest.raises(ParamsError, match=f"-S '{bad}': not KEY=VALUE"):
            set_pairs([bad])
