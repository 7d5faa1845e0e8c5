"""params.yaml's schema: the repo's file loads, per-loss defaults resolve, overrides win, typos fail in one line."""
from __future__ import annotations

import pytest
from pydantic import BaseModel
from ruamel.yaml import YAML

from conftest import ROOT, tiny_params_dict, write_yaml
from ganpipe.config import LossConfig, Params, ParamsError, load_params


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
    ({"loss": "wgn"}, "loss: must be 'minimax', 'ns', 'wgan', 'wgan-gp', 'hinge' or 'lsgan' (got 'wgn')"),
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
    assert all(f.is_required() for f in LossConfig.model_fields.values())


def test_the_defaults_check_can_fail():
    raw = YAML(typ="safe").load(ROOT / "params.yaml")
    raw["model"]["z_dim"] = 128
    assert ("model.z_dim", 64, 128) in list(_defaults(Params, raw))
