"""The classifier that the feature metrics look through (a "Frechet LeNet Distance", not Inception).

Owns: the LeNet-style CNN for images of any shape (C, H, W) and K classes, its seeded training on a labelled
dataset's training set, test accuracy, the random-features network of an unlabelled dataset (the same LeNet
seeded and never trained: the "random embeddings" of Naeem et al. 2020), its checkpoint (weights + the config,
image shape and K that shape them, loadable with weights_only=True), and `embed`: penultimate features (and class
probabilities when trained) of uint8 images, always in eval mode and without gradients.
Refuses: anything about GANs (it never sees the GAN's params), metric arithmetic (features.py), files
other than its own checkpoint.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ganpipe.config import ClassifierConfig
from ganpipe.io import first_line
from ganpipe.evaluation.registry import CLASSES

MNIST_SHAPE = (1, 28, 28)   # (C, H, W) of the default LeNet, with CLASSES outputs


def _side(n: int) -> int:
    return ((n - 4) // 2 - 4) // 2   # two valid 5x5 convolutions, each followed by a 2x2 pool: 28 -> 4, 32 -> 5


def check_shape(shape: tuple[int, int, int]) -> None:
    """Refuses, in one line, images too small for the LeNet's two convolutions and pools."""
    if min(_side(shape[1]), _side(shape[2])) < 1:
        raise ValueError(f"the classifier needs images of at least 16x16 px, got {shape[1]}x{shape[2]}")


class LeNet(nn.Module):
    """conv5(C->w)-relu-pool2, conv5(w->2w)-relu-pool2, fc(2w*h'*w'->features)-relu, fc(features->K).

    `features` is the penultimate layer's output (what FLD, KID and P/R/D/C compare); `forward` gives logits.
    K = 0 builds no head: the random-features network of unlabelled data, which has features only.
    For (1, 28, 28) and 10 classes the modules, their order and shapes are those of the MNIST LeNet, so the
    same seed gives the same weights.
    """

    def __init__(self, width: int = 32, features: int = 128, *, shape: tuple[int, int, int] = MNIST_SHAPE,
                 classes: int = CLASSES):
        super().__init__()
        check_shape(shape)
        c, h, w = shape
        self.shape, self.classes = (int(c), int(h), int(w)), int(classes)
        self.conv1 = nn.Conv2d(c, width, 5)            # 28 -> 24, pooled to 12
        self.conv2 = nn.Conv2d(width, 2 * width, 5)    # 12 -> 8, pooled to 4
        self.fc = nn.Linear(2 * width * _side(h) * _side(w), features)
        self.head = nn.Linear(features, classes) if classes else None

    def features(self, x: Tensor) -> Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc(x.flatten(1)))

    def forward(self, x: Tensor) -> Tensor:
        if self.head is None:
            raise ValueError("a random-features classifier has no class head: it was never trained on labels")
        return self.head(self.features(x))


def image_shape(images: np.ndarray) -> tuple[int, int, int]:
    """(C, H, W) of uint8 (n, H, W) grayscale or (n, H, W, 3) RGB images."""
    return (1, *images.shape[1:3]) if images.ndim == 3 else (images.shape[3], *images.shape[1:3])


def classes_of(arrays: dict[str, np.ndarray]) -> int:
    """K of a dataset: 1 + its largest label over both splits (labels are 0..K-1), 0 when it has no labels."""
    if "y_train" not in arrays:
        return 0
    return 1 + int(max(arrays["y_train"].max(initial=0), arrays["y_test"].max(initial=0)))


def to_input(images: np.ndarray) -> Tensor:
    """uint8 (n, H, W) or (n, H, W, 3) -> float32 (n, C, H, W) in [0, 1]; real and generated images go through
    the same path."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or not (images.ndim == 3 or (images.ndim == 4 and images.shape[3] == 3)):
        raise ValueError(f"classifier input must be uint8 (n, H, W) or (n, H, W, 3), got {images.dtype} {images.shape}")
    x = torch.from_numpy(images)
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    return x.float().div_(255.0)


def build(cfg: ClassifierConfig, shape: tuple[int, int, int] = MNIST_SHAPE, classes: int = CLASSES) -> LeNet:
    return LeNet(cfg.width, cfg.features, shape=shape, classes=classes)


def random_features(cfg: ClassifierConfig, shape: tuple[int, int, int]) -> LeNet:
    """The feature network of unlabelled data: the LeNet initialised from `cfg.seed` and never trained, no head
    (Naeem et al. 2020's random embeddings). The convolutions and fc are drawn before the head, so they are the
    weights a trained LeNet of this shape starts from."""
    torch.manual_seed(cfg.seed)
    return build(cfg, shape, classes=0).eval()


def total_steps(n_train: int, cfg: ClassifierConfig) -> int:
    """Optimizer steps of train_classifier on n_train images: whole batches of the images it trains on."""
    return cfg.epochs * ((n_train - cfg.reference_images) // cfg.batch_size)


def train_classifier(x: np.ndarray, y: np.ndarray, cfg: ClassifierConfig, *, device: torch.device,
                     classes: int | None = None,
                     on_step: Callable[[int, float], None] = lambda step, loss: None) -> LeNet:
    """Adam with a cosine decay to 0 over `cfg.epochs` epochs of shuffled mini-batches, from `cfg.seed` alone,
    on all of x but the last `cfg.reference_images` images (see `reference_pool`). K outputs: `classes`, or
    1 + the largest label of y (pass the dataset's K, `classes_of`, when a split may lack a class)."""
    if len(x) != len(y):
        raise ValueError(f"classifier needs one label per image, got {len(x)} images and {len(y)} labels")
    if len(x) - cfg.reference_images < cfg.batch_size:
        raise ValueError(f"classifier.reference_images = {cfg.reference_images} leaves {len(x) - cfg.reference_images} of {len(x)} training "
                         f"images, fewer than classifier.batch_size = {cfg.batch_size}")
    classes = 1 + int(y.max()) if classes is None else classes
    if y.max() >= classes:
        raise ValueError(f"labels run up to {int(y.max())}, beyond the classifier's {classes} classes")
    total = total_steps(len(x), cfg)
    shape = image_shape(np.asarray(x))
    x, y = x[:-cfg.reference_images], y[:-cfg.reference_images]
    torch.manual_seed(cfg.seed)                    # weight init
    gen = torch.Generator().manual_seed(cfg.seed)  # shuffling, on the CPU whatever the device
    model = build(cfg, shape, classes).to(device).train()
    inputs, labels = to_input(x).to(device), torch.as_tensor(y, dtype=torch.long).to(device)
    per_epoch = len(x) // cfg.batch_size           # the last partial batch is dropped, as in every epoch
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + np.cos(np.pi * s / total)))
    step = 0
    for _ in range(cfg.epochs):
        order = torch.randperm(len(x), generator=gen).to(device)
        for b in range(per_epoch):
            idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            loss = F.cross_entropy(model(inputs[idx]), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            on_step(step, loss)   # a tensor: the caller decides when to pay for .item()
    return model.eval()


@torch.inference_mode()
def embed(model: LeNet, images: np.ndarray, *, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray | None]:
    """(penultimate features (n, d), class probabilities (n, K) or None for random features), float64, with the
    model in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    feats, probs = [], []
    for start in range(0, len(images), batch_size):
        x = to_input(images[start:start + batch_size])
        if tuple(x.shape[1:]) != model.shape:
            raise ValueError(f"images of shape (C, H, W) = {tuple(x.shape[1:])}, the classifier's are {model.shape} "
                             "(run the classifier stage on this dataset)")
        f = model.features(x.to(device))
        feats.append(f.double().cpu())
        if model.head is not None:
            probs.append(F.softmax(model.head(f).double(), dim=1).cpu())
    if not feats:
        raise ValueError("classifier input holds no images")
    return torch.cat(feats).numpy(), torch.cat(probs).numpy() if probs else None


def reference_pool(x_train: np.ndarray, cfg: ClassifierConfig) -> np.ndarray:
    """The training images the classifier never saw (the last cfg.reference_images)."""
    return x_train[max(0, len(x_train) - cfg.reference_images):]


def accuracy(model: LeNet, x: np.ndarray, y: np.ndarray) -> float:
    _, probs = embed(model, x)
    return float(np.mean(probs.argmax(1) == np.asarray(y)))


def checkpoint(model: LeNet, cfg: ClassifierConfig, test_accuracy: float | None) -> dict:
    """What `load` rebuilds the model from; a random-features model (no head) has no test accuracy (None)."""
    features = "trained" if model.classes else "random"
    if (test_accuracy is None) != (features == "random"):
        raise ValueError(f"a {features} classifier's test accuracy cannot be {test_accuracy}")
    return {"classifier": model.state_dict(), "classifier_config": cfg.model_dump(), "image_shape": list(model.shape),
            "classes": model.classes, "features": features, "test_accuracy": test_accuracy}


_KEYS = ("classifier", "classifier_config", "image_shape", "classes", "features", "test_accuracy")


def load(ckpt: dict, device: torch.device) -> tuple[LeNet, ClassifierConfig, float | None]:
    """A checkpoint written by `checkpoint` -> (model in eval mode, its config, its test accuracy, None for random
    features)."""
    if not isinstance(ckpt, dict) or not set(_KEYS) <= ckpt.keys():
        # a checkpoint from before image_shape and classes were stored is refused too: the stage re-runs
        raise ValueError(f"not a ganpipe classifier checkpoint: expected keys {', '.join(map(repr, _KEYS))}")
    cfg = ClassifierConfig.model_validate(ckpt["classifier_config"])
    model = build(cfg, tuple(ckpt["image_shape"]), int(ckpt["classes"]))
    if ckpt["features"] != ("trained" if model.classes else "random"):
        raise ValueError(f"a classifier of {model.classes} classes marked {ckpt['features']!r} features")
    model.load_state_dict(ckpt["classifier"])
    acc = ckpt["test_accuracy"]
    return model.to(device).eval(), cfg, None if acc is None else float(acc)


def load_file(path: Path) -> tuple[LeNet, ClassifierConfig]:
    """classifier.pt -> (the model on the CPU in eval mode, its config); a corrupt or foreign file is a one-line
    ValueError naming it."""
    try:
        model, cfg, _ = load(torch.load(path, map_location="cpu", weights_only=True), torch.device("cpu"))
    except Exception as e:
        raise ValueError(f"{path}: cannot load classifier: {first_line(e)}") from None
    return model, cfg
