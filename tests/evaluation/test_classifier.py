"""The MNIST classifier behind the feature metrics: its embedding, seeded training, its checkpoint."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganpipe.evaluation import classifier as clf
from ganpipe.config import ClassifierConfig
from tests.helpers import synthetic_digits


TINY = ClassifierConfig(epochs=1, batch_size=32, width=2, features=8, reference_images=64)


@pytest.fixture(scope="module")
def tiny_model():
    x, y = synthetic_digits(256, 0)
    return clf.train_classifier(x, y, TINY, device=torch.device("cpu"))


def test_embed_runs_in_eval_mode_without_gradients(tiny_model):
    seen = []
    tiny_model.train()   # as a caller might leave it
    hook = tiny_model.conv1.register_forward_hook(
        lambda module, inputs, output: seen.append((module.training, torch.is_grad_enabled(), output.requires_grad)))
    try:
        feats, probs = clf.embed(tiny_model, synthetic_digits(10, 1)[0], batch_size=4)
    finally:
        hook.remove()
    assert seen == [(False, False, False)] * 3   # 10 images in batches of 4
    assert feats.shape == (10, 8) and probs.shape == (10, 10) and feats.dtype == np.float64
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=0, atol=1e-12)


def test_classifier_training_is_seeded_and_learns_the_synthetic_digits(tiny_model):
    x, y = synthetic_digits(256, 0)
    again = clf.train_classifier(x, y, TINY, device=torch.device("cpu"))
    for (name, a), b in zip(tiny_model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name
    x_test, y_test = synthetic_digits(200, 5)
    bigger = TINY.model_copy(update=dict(epochs=20, width=4, features=16, lr=3e-3))
    assert clf.accuracy(clf.train_classifier(x, y, bigger, device=torch.device("cpu")), x_test, y_test) > 0.9


def test_classifier_checkpoint_round_trip_and_refusals(tiny_model, tmp_path):
    torch.save(clf.checkpoint(tiny_model, TINY, 0.5), tmp_path / "c.pt")
    model, cfg, acc = clf.load(torch.load(tmp_path / "c.pt", weights_only=True), torch.device("cpu"))
    assert acc == 0.5 and not model.training and cfg == TINY
    with pytest.raises(ValueError, match="not a ganpipe classifier checkpoint"):
        clf.load({"generator": {}}, torch.device("cpu"))
    with pytest.raises(ValueError, match=r"uint8 \(n, 28, 28\)"):
        clf.to_input(np.zeros((2, 28, 28), dtype=np.float32))
