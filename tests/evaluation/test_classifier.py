"""The classifier behind the feature metrics: its shapes for any image size and K, its embedding, seeded training,
the random-features network of unlabelled data, its checkpoint."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from ganpipe.evaluation import classifier as clf
from ganpipe.config import ClassifierConfig
from tests.helpers import synthetic_digits, synthetic_shapes


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
    with pytest.raises(ValueError, match=r"uint8 \(n, H, W\) or \(n, H, W, 3\), got float32 \(2, 28, 28\)"):
        clf.to_input(np.zeros((2, 28, 28), dtype=np.float32))
    saved = torch.load(tmp_path / "c.pt", weights_only=True)
    assert (saved["image_shape"], saved["classes"], saved["features"]) == ([1, 28, 28], 10, "trained")
    with pytest.raises(ValueError, match="marked 'random' features"):
        clf.load({**saved, "features": "random"}, torch.device("cpu"))


def _digest(state: dict) -> str:
    h = hashlib.sha256()
    for name, t in state.items():
        h.update(f"{name}{tuple(t.shape)}".encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def test_the_default_mnist_lenet_is_bit_identical_to_before_any_shape():
    # the digest of the seeded initial weights, taken before the LeNet learnt other shapes: same modules, same order,
    # same shapes, same draws (this torch's CPU generator), so MNIST's classifier and every number behind it stay
    torch.manual_seed(0)
    model = clf.build(ClassifierConfig())
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == [
        ("conv1.weight", (32, 1, 5, 5)), ("conv1.bias", (32,)), ("conv2.weight", (64, 32, 5, 5)), ("conv2.bias", (64,)),
        ("fc.weight", (128, 1024)), ("fc.bias", (128,)), ("head.weight", (10, 128)), ("head.bias", (10,))]
    assert _digest(model.state_dict()) == "42a7a4c58c530c7860ff8f3464afa023e107acf0405fa5c9d00a2d88d5286961"
    torch.manual_seed(0)
    explicit = clf.LeNet(32, 128, shape=(1, 28, 28), classes=10)
    assert _digest(explicit.state_dict()) == _digest(model.state_dict())


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32), (3, 16, 40)])
@pytest.mark.parametrize("classes", [10, 3, 0])
def test_lenet_shapes_follow_the_images_and_the_classes(shape, classes):
    c, h, w = shape
    model = clf.LeNet(4, 8, shape=shape, classes=classes)
    side = {16: 1, 28: 4, 32: 5, 40: 7}   # after conv5, pool2, conv5, pool2
    assert model.conv1.in_channels == c and model.fc.in_features == 8 * side[h] * side[w]
    assert (model.shape, model.classes) == (shape, classes)
    x = torch.rand(2, *shape)
    assert model.features(x).shape == (2, 8)
    if classes:
        assert model.head.out_features == classes and model(x).shape == (2, classes)
    else:
        assert model.head is None
        with pytest.raises(ValueError, match="no class head"):
            model(x)


def test_to_input_puts_rgb_channels_first_and_refuses_small_images():
    rgb = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    x = clf.to_input(rgb)
    assert x.shape == (2, 3, 32, 32) and x.dtype == torch.float32
    for ch in range(3):
        assert torch.equal(x[:, ch], torch.from_numpy(rgb[..., ch]).float() / 255)
    assert clf.to_input(rgb[..., 0]).shape == (2, 1, 32, 32)
    assert clf.image_shape(rgb) == (3, 32, 32) and clf.image_shape(rgb[..., 0]) == (1, 32, 32)
    with pytest.raises(ValueError, match="at least 16x16 px, got 15x28"):
        clf.LeNet(shape=(1, 15, 28))
    with pytest.raises(ValueError, match=r"^images of shape \(C, H, W\) = \(3, 32, 32\), the classifier's are "
                                         r"\(1, 28, 28\) \(run the classifier stage on this dataset\)$"):
        clf.embed(clf.LeNet(4, 8), rgb)


def test_classes_come_from_the_labels():
    x = np.zeros((3, 28, 28), np.uint8)
    assert clf.classes_of({"x_train": x, "x_test": x}) == 0
    y = np.array([0, 4, 1], np.uint8)
    assert clf.classes_of({"x_train": x, "y_train": y, "x_test": x, "y_test": np.array([6, 0, 0], np.uint8)}) == 7


def test_random_features_are_seeded_untrained_and_round_trip(tmp_path):
    cfg = ClassifierConfig(width=4, features=16)
    images = synthetic_shapes(20, 0)
    model = clf.random_features(cfg, (3, 32, 32))
    feats, probs = clf.embed(model, images)
    assert feats.shape == (20, 16) and probs is None and model.head is None
    again, _ = clf.embed(clf.random_features(cfg, (3, 32, 32)), images)
    other, _ = clf.embed(clf.random_features(cfg.model_copy(update={"seed": 1}), (3, 32, 32)), images)
    assert np.array_equal(feats, again) and not np.allclose(feats, other)   # same seed, same features
    assert feats.std() > 0 and np.count_nonzero(feats.std(axis=0)) >= 8       # not a dead network
    # its weights are those the trained LeNet of the same shape and seed starts from (the head aside)
    torch.manual_seed(cfg.seed)
    start = clf.build(cfg, (3, 32, 32), 5).state_dict()
    assert all(torch.equal(start[k], v) for k, v in model.state_dict().items())

    torch.save(clf.checkpoint(model, cfg, None), tmp_path / "r.pt")
    saved = torch.load(tmp_path / "r.pt", weights_only=True)
    assert (saved["image_shape"], saved["classes"], saved["features"], saved["test_accuracy"]) == (
        [3, 32, 32], 0, "random", None)
    loaded, cfg_back, acc = clf.load(saved, torch.device("cpu"))
    assert acc is None and cfg_back == cfg and not loaded.training
    assert np.array_equal(clf.embed(loaded, images)[0], feats)
    assert np.array_equal(clf.embed(clf.load_file(tmp_path / "r.pt")[0], images)[0], feats)
    with pytest.raises(ValueError, match="a random classifier's test accuracy cannot be 0.5"):
        clf.checkpoint(model, cfg, 0.5)
