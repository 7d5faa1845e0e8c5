"""The MNIST classifier that the feature metrics look through (a "Frechet LeNet Distance", not Inception).

Owns: the LeNet-style CNN, its seeded training on the MNIST training set, test accuracy, its checkpoint
(weights + the config that shapes them, loadable with weights_only=True), and `embed`: penultimate
features and class probabilities of uint8 images, always in eval mode and without gradients.
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


class LeNet(nn.Module):
    """conv5(1->w)-relu-pool2, conv5(w->2w)-relu-pool2, fc(32w->features)-relu, fc(features->10).

    `features` is the penultimate layer's output (what FLD, KID and P/R/D/C compare); `forward` gives logits.
    """

    def __init__(self, width: int = 32, features: int = 128):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 5)            # 28 -> 24, pooled to 12
        self.conv2 = nn.Conv2d(width, 2 * width, 5)    # 12 -> 8, pooled to 4
        self.fc = nn.Linear(2 * width * 16, features)
        self.head = nn.Linear(features, CLASSES)

    def features(self, x: Tensor) -> Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc(x.flatten(1)))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def to_input(images: np.ndarray) -> Tensor:
    """uint8 (n, 28, 28) -> float32 (n, 1, 28, 28) in [0, 1]; real and generated images go through the same path."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"classifier input must be uint8 (n, 28, 28), got {images.dtype} {images.shape}")
    return torch.from_numpy(images).unsqueeze(1).float().div_(255.0)


def build(cfg: ClassifierConfig) -> LeNet:
    return LeNet(cfg.width, cfg.features)


def total_steps(n_train: int, cfg: ClassifierConfig) -> int:
    """Optimizer steps of train_classifier on n_train images: whole batches of the images it trains on."""
    return cfg.epochs * ((n_train - cfg.reference_images) // cfg.batch_size)


def train_classifier(x: np.ndarray, y: np.ndarray, cfg: ClassifierConfig, *, device: torch.device,
                     on_step: Callable[[int, float], None] = lambda step, loss: None) -> LeNet:
    """Adam with a cosine decay to 0 over `cfg.epochs` epochs of shuffled mini-batches, from `cfg.seed` alone,
    on all of x but the last `cfg.reference_images` images (see `reference_pool`)."""
    if len(x) != len(y):
        raise ValueError(f"classifier needs one label per image, got {len(x)} images and {len(y)} labels")
    if len(x) - cfg.reference_images < cfg.batch_size:
        raise ValueError(f"classifier.reference_images = {cfg.reference_images} leaves {len(x) - cfg.reference_images} of {len(x)} training "
                         f"images, fewer than classifier.batch_size = {cfg.batch_size}")
    total = total_steps(len(x), cfg)
    x, y = x[:-cfg.reference_images], y[:-cfg.reference_images]
    torch.manual_seed(cfg.seed)                    # weight init
    gen = torch.Generator().manual_seed(cfg.seed)  # shuffling, on the CPU whatever the device
    model = build(cfg).to(device).train()
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
def embed(model: nn.Module, images: np.ndarray, *, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(penultimate features (n, d), class probabilities (n, 10)), float64, with the model in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    feats, probs = [], []
    for start in range(0, len(images), batch_size):
        x = to_input(images[start:start + batch_size]).to(device)
        f = model.features(x)
        feats.append(f.double().cpu())
        probs.append(F.softmax(model.head(f).double(), dim=1).cpu())
    if not feats:
        raise ValueError("classifier input holds no images")
    return torch.cat(feats).numpy(), torch.cat(probs).numpy()


def reference_pool(x_train: np.ndarray, cfg: ClassifierConfig) -> np.ndarray:
    """The training images the classifier never saw (the last cfg.reference_images)."""
    return x_train[len(x_train) - cfg.reference_images:]


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    _, probs = embed(model, x)
    return float(np.mean(probs.argmax(1) == np.asarray(y)))


def checkpoint(model: LeNet, cfg: ClassifierConfig, test_accuracy: float) -> dict:
    return {"classifier": model.state_dict(), "classifier_config": cfg.model_dump(), "test_accuracy": test_accuracy}


def load(ckpt: dict, device: torch.device) -> tuple[LeNet, ClassifierConfig, float]:
    """A checkpoint written by `checkpoint` -> (model in eval mode, its config, its test accuracy)."""
    if not isinstance(ckpt, dict) or not {"classifier", "classifier_config", "test_accuracy"} <= ckpt.keys():
        raise ValueError("not a ganpipe classifier checkpoint: expected keys 'classifier', 'classifier_config' "
                         "and 'test_accuracy'")
    cfg = ClassifierConfig.model_validate(ckpt["classifier_config"])
    model = build(cfg)
    model.load_state_dict(ckpt["classifier"])
    return model.to(device).eval(), cfg, float(ckpt["test_accuracy"])


def load_file(path: Path) -> tuple[LeNet, ClassifierConfig]:
    """classifier.pt -> (the model on the CPU in eval mode, its config); a corrupt or foreign file is a one-line
    ValueError naming it."""
    try:
        model, cfg, _ = load(torch.load(path, map_location="cpu", weights_only=True), torch.device("cpu"))
    except Exception as e:
        raise ValueError(f"{path}: cannot load classifier: {first_line(e)}") from None
    return model, cfg
