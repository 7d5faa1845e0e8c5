"""classifier: MNIST training set -> the LeNet whose features the sample-quality metrics compare, and its test
accuracy. Reads only the `classifier` params, so no GAN experiment ever re-trains it."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import torch
import typer
from tqdm import tqdm

from ganpipe.data.arrays import load_dataset
from ganpipe.evaluation import classifier as clf
from ganpipe.io import save_torch, write_json
from ganpipe.runtime import device_name, resolve_device, set_threads
from stages._common import FactsOpt, In, ParamsOpt, echo, load_params_or_exit, refusing, run_facts


def classifier(
    data: Annotated[Path, In("mnist.npz from fetch")],
    out: Annotated[Path, typer.Option(help="classifier checkpoint")],
    metrics: Annotated[Path, typer.Option(help="metrics JSON with the test accuracy")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Train the MNIST classifier on the training set and measure it on the test set."""
    c = load_params_or_exit(params).classifier
    with refusing(ValueError, RuntimeError):
        device = resolve_device(c.device)
        mnist = load_dataset(data)
    set_threads(0)
    steps = clf.total_steps(len(mnist["x_train"]), c)
    with run_facts("classifier", facts) as f, \
            tqdm(total=steps, desc=f"classifier on {device_name(device)}", unit="step",
                 mininterval=0.5 if sys.stderr.isatty() else 30) as bar:
        def on_step(step: int, loss: torch.Tensor) -> None:
            bar.update()
            if step % 100 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)

        with refusing(prefix=f"{params}: "):
            model = clf.train_classifier(mnist["x_train"], mnist["y_train"], c, device=device, on_step=on_step)
        acc = clf.accuracy(model, mnist["x_test"], mnist["y_test"])
        save_torch(out, clf.checkpoint(model.cpu(), c, acc))
        write_json(metrics, {"test_accuracy": acc, "test_errors": round((1 - acc) * len(mnist["y_test"]))})
        f.update(device=device_name(device), torch=torch.__version__, steps=steps)
    echo(f"classifier: test accuracy {acc:.4f} (the report warns below report.classifier_target)")
