"""params.yaml's histogram losses: the new names are accepted, their keys validated in one line each."""
from __future__ import annotations

import pytest
from tests.helpers import tiny_params_dict, write_yaml

from ganpipe.config import HistogramLossConfig, ParamsError, SlicedHistogramLossConfig, load_params
from ganpipe.gan.objectives import objective
from ganpipe.gan.plan import toy_plan


@pytest.mark.parametrize("loss, kind", [("histogram", HistogramLossConfig),
                                        ("sliced-histogram", SlicedHistogramLossConfig)])
def test_the_histogram_losses_are_accepted(tmp_path, loss, kind):
    p = load_params(write_yaml(tmp_path / "p.yaml", {**tiny_params_dict(), "loss": loss}))
    assert isinstance(p.loss_config(), kind) and isinstance(p.losses[loss], kind)
    obj = objective(loss, p.loss_config())
    assert not obj.has_critic and (obj.draw is not None) == (loss == "sliced-histogram")
    assert obj.real_batches == 1   # one real batch per generator step, whatever critic_steps the others have


def test_the_toy_bins_its_histogram_loss_as_its_metrics():
    from ganpipe.config import Params
    p = Params.model_validate({**tiny_params_dict(), "loss": "histogram"})
    s = toy_plan(p).objective.settings
    assert (s.bins, s.lo, s.hi) == (p.toy.bins, p.toy.lo, p.toy.hi)
    assert toy_plan(p, "ns").objective.has_critic


@pytest.mark.parametrize("loss, key, value, message", [
    ("histogram", "bins", 1, r"losses\.histogram\.bins: must be >= 2 \(got 1\)"),
    ("histogram", "width", 0, r"losses\.histogram\.width: must be > 0 \(got 0\)"),
    ("histogram", "lo", 1, r"losses\.histogram: lo \(1\.0\) must be below hi \(1\.0\)"),
    ("histogram", "kernel", "box", r"losses\.histogram\.kernel: must be 'triangular' or 'gaussian'"),
    ("sliced-histogram", "directions", 0, r"losses\.sliced-histogram\.directions: must be >= 1 \(got 0\)"),
    ("sliced-histogram", "bins", 0, r"losses\.sliced-histogram\.bins: must be >= 2"),
    ("sliced-histogram", "width", -1.0, r"losses\.sliced-histogram\.width: must be > 0"),
    ("sliced-histogram", "critic_steps", 1, r"losses\.sliced-histogram\.critic_steps: unknown key"),
])
def test_bad_histogram_keys_fail_in_one_line(tmp_path, loss, key, value, message):
    raw = tiny_params_dict()
    raw["losses"][loss][key] = value
    with pytest.raises(ParamsError, match=message) as e:
        load_params(write_yaml(tmp_path / "p.yaml", raw))
    assert len(str(e.value).splitlines()) == 1, str(e.value)


def test_an_unknown_loss_name_is_refused(tmp_path):
    raw = tiny_params_dict()
    raw["losses"]["histo"] = raw["losses"]["histogram"]
    with pytest.raises(ParamsError, match=r"losses\.histo: unknown key"):
        load_params(write_yaml(tmp_path / "p.yaml", raw))
