"""classifier: a dataset's training set -> the LeNet whose features the sample-quality metrics compare. Reads only
the `classifier` params, so no GAN experiment ever re-trains it.

With labels, the LeNet (K outputs, the dataset's classes) is trained on them and measured on the test set:
metrics/classifier.json is {"test_accuracy": share, "test_errors": count, "features": "trained"}.
Without labels nothing can be trained: the checkpoint is the LeNet seeded from classifier.seed and never trained,
whose penultimate layer gives random features (Naeem et al. 2020), and metrics/classifier.json is
{"test_accuracy": null, "test_errors": null, "features": "random"}."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import torch
import typer
from tqdm import tqdm

from ganpipe.data.arrays import is_labelled, load_dataset
from ganpipe.evaluation import classifier as clf
from ganpipe.io import save_torch, write_json
from ganpipe.runtime import device_name, resolve_device, set_threads
from stages._common import FactsOpt, In, ParamsOpt, echo, load_params_or_exit, refusing, run_facts


def classifier(
    data: Annotated[Path, In("dataset .npz from fetch")],
    out: Annotated[Path, typer.Option(help="classifier checkpoint")],
    metrics: Annotated[Path, typer.Option(help="metrics JSON: the test accuracy, trained or random features")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Train the classifier on a labelled training set and measure it on the test set; without labels, keep the
    seeded untrained network, whose random features the metrics then compare."""
    c = load_params_or_exit(params).classifier
    with refusing(ValueError, RuntimeError):
        device = resolve_device(c.device)
        arrays = load_dataset(data)
        shape = clf.image_shape(arrays["x_train"])
        clf.check_shape(shape)
    if not is_labelled(arrays):
        with run_facts("classifier", facts) as f:
            save_torch(out, clf.checkpoint(clf.random_features(c, shape), c, None))
            write_json(metrics, {"test_accuracy": None, "test_errors": None, "features": "random"})
            f.update(features="random", torch=torch.__version__)
        echo("classifier: no labels, so random features (the LeNet seeded from classifier.seed, never trained)")
        return
    set_threads(0)
    steps = clf.total_steps(len(arrays["x_train"]), c)
    with run_facts("classifier", facts) as f, \
            tqdm(total=steps, desc=f"classifier on {device_name(device)}", unit="step",
                 mininterval=0.5 if sys.stderr.isatty() else 30) as bar:
        def on_step(step: int, loss: torch.Tensor) -> None:
            bar.update()
            if step % 100 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)

        with refusing(prefix=f"{params}: "):
            model = clf.train_classifier(arrays["x_train"], arrays["y_train"], c, device=device,
                                         classes=clf.classes_of(arrays), on_step=on_step)
        acc = clf.accuracy(model, arrays["x_test"], arrays["y_test"])
        save_torch(out, clf.checkpoint(model.cpu(), c, acc))
        write_json(metrics, {"test_accuracy": acc, "test_errors": round((1 - acc) * len(arrays["y_test"])),
                             "features": "trained"})
        f.update(device=device_name(device), torch=torch.__version__, steps=steps, features="trained")
    echo(f"classifier: test accuracy {acc:.4f} (the report warns below datasets.<dataset>.classifier_target)")
