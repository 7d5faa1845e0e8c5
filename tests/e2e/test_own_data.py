"""Your own images through the real `dvc repro`: a labelled folder of 32x32 RGB PNGs runs the whole pipeline,
and DVC re-runs fetch and what follows exactly when a file of it changes. Switching a project to Fashion-MNIST
re-runs the stages that read the data, and nothing else."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ruamel.yaml import YAML

from tests.helpers import DVC, make_project, ran, run, write_yaml

pytestmark = pytest.mark.e2e

AFTER_FETCH = ["fetch", "classifier", "ladder", "train", "generate", "evaluate", "report"]   # not the toy
READ_DATA = {"fetch", "classifier", "ladder", "train", "evaluate", "report"}   # generate reads only the model


def reran_the_data_stages(out: str) -> bool:
    """Every stage that reads the images re-ran, and nothing else (generate only if the model's bytes changed)."""
    return READ_DATA <= set(ran(out)) <= set(AFTER_FETCH)


def shapes(n_per_class: int, seed: int) -> dict[str, list[np.ndarray]]:
    """32x32 RGB images of three classes on a dark ground: red squares, green discs, blue bars, each placed and
    sized at random."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:32, :32]
    out: dict[str, list[np.ndarray]] = {"bars": [], "discs": [], "squares": []}
    for _ in range(n_per_class):
        for name, channel in (("squares", 0), ("discs", 1), ("bars", 2)):
            img = rng.integers(0, 30, (32, 32, 3)).astype(np.uint8)
            r, c, s = rng.integers(8, 24), rng.integers(8, 24), rng.integers(4, 8)
            mask = {"squares": (abs(rows - r) < s) & (abs(cols - c) < s),
                    "discs": (rows - r) ** 2 + (cols - c) ** 2 < s * s,
                    "bars": (abs(rows - r) < 2) & (abs(cols - c) < 2 * s)}[name]
            img[mask, channel] = rng.integers(180, 256)
            out[name].append(img)
    return out


def write_folder(root: Path, images: dict[str, list[np.ndarray]]) -> None:
    from PIL import Image

    for name, imgs in images.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(imgs):
            Image.fromarray(img).save(root / name / f"{i:03d}.png")


@pytest.fixture(scope="module")
def shapes_project(tmp_path_factory) -> Path:
    project = make_project(tmp_path_factory.mktemp("own"))
    write_folder(project / "datasets/shapes", shapes(40, 0))
    p = YAML(typ="safe").load(project / "params.yaml")
    p["dataset"] = "shapes"
    p["datasets"]["own"]["test_fraction"] = 0.25                 # 120 images: 30 held out for the floors
    p["classifier"].update(reference_images=20)
    p["evaluate"].update(samples=20, kid_subset_size=12, fld_inf_points=2)
    write_yaml(project / "params.yaml", p)
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "shapes"], project)
    return project


def test_a_labelled_rgb_folder_runs_the_whole_pipeline(shapes_project):
    first = ran(run(DVC + ["repro"], shapes_project))
    assert sorted(first) == sorted(AFTER_FETCH + ["toy"])
    with np.load(shapes_project / "data/real/images.npz") as z:
        assert z["x_train"].shape == (90, 32, 32, 3) and z["x_test"].shape == (30, 32, 32, 3)
        assert sorted(np.unique(z["y_train"])) == [0, 1, 2]
    samples = np.load(shapes_project / "data/generated/samples.npz")["images"]
    assert samples.shape == (20, 32, 32, 3)
    ev = json.loads((shapes_project / "metrics/eval.json").read_text())
    assert np.isfinite(ev["fld"]) and ev["fld_floor"] < ev["fld"]    # 4 steps of training: far from real
    clf = json.loads((shapes_project / "metrics/classifier.json").read_text())
    assert 0 <= clf["test_accuracy"] <= 1
    page = (shapes_project / "reports/index.html").read_text()
    assert "ganpipe report: shapes" in page and "<img" in page
    assert ran(run(DVC + ["repro"], shapes_project)) == []          # an unchanged folder runs nothing


def test_changing_one_image_reruns_fetch_and_what_follows(shapes_project):
    run(DVC + ["repro"], shapes_project)
    from PIL import Image

    image = shapes_project / "datasets/shapes/discs/007.png"
    Image.fromarray(255 - np.asarray(Image.open(image))).save(image)
    assert reran_the_data_stages(run(DVC + ["repro"], shapes_project))
    (shapes_project / "datasets/shapes/bars/040.png").write_bytes(image.read_bytes())   # one more image
    assert reran_the_data_stages(run(DVC + ["repro"], shapes_project))
    with np.load(shapes_project / "data/real/images.npz") as z:
        assert len(z["x_train"]) + len(z["x_test"]) == 121
    assert ran(run(DVC + ["repro"], shapes_project)) == []


@pytest.mark.slow   # Fashion-MNIST's .deb from Debian's archive when no mirror answers (then cached)
def test_switching_to_fashion_mnist_reruns_the_stages_that_read_the_data(tmp_path):
    project = make_project(tmp_path)
    run(DVC + ["repro"], project)
    out = run(DVC + ["exp", "run", "-S", "dataset=fashion-mnist"], project)
    assert sorted(ran(out)) == sorted(AFTER_FETCH)
    manifest = json.loads((project / "data/real/manifest.json").read_text())
    assert manifest["dataset"] == "fashion-mnist" and manifest["counts"] == {"train": 60000, "test": 10000}
    assert "ganpipe report: Fashion-MNIST" in (project / "reports/index.html").read_text()
