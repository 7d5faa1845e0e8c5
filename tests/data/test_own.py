"""ganpipe.data.own: the user's own images from a folder or an .npz, the seeded split, and every refusal."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from ganpipe.data.arrays import layout_problem
from ganpipe.data.own import DataError, read_own


def _save(path, pixels, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(path, **kw)
    return path


def _gray(value, h=5, w=7):
    return np.full((h, w), value, dtype=np.uint8)


def _read(path, image_size=None, test_fraction=0.4, split_seed=0):
    arrays, manifest = read_own(path, image_size=image_size, test_fraction=test_fraction, split_seed=split_seed)
    assert layout_problem(arrays) is None
    json.dumps(manifest)
    return arrays, manifest


def _refused(match, path, **kw):
    with pytest.raises(DataError, match=match) as err:
        read_own(path, image_size=kw.get("image_size"), test_fraction=kw.get("test_fraction", 0.4), split_seed=0)
    assert "\n" not in str(err.value)
    assert isinstance(err.value, ValueError)
    return str(err.value)


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


# --- folders ---------------------------------------------------------------------------------------------------

def test_flat_gray_folder_is_unlabelled_and_read_in_sorted_order(tmp_path):
    for i in range(5):   # written out of order; images 0..4 hold pixel value 10 * i
        _save(tmp_path / "imgs" / f"img{4 - i}.png", _gray(10 * (4 - i)))
    (tmp_path / "imgs" / ".DS_Store").write_bytes(b"junk")   # hidden: ignored
    arrays, manifest = _read(tmp_path / "imgs", test_fraction=0.4, split_seed=3)
    assert set(arrays) == {"x_train", "x_test"}
    assert arrays["x_train"].shape[1:] == (5, 7) and arrays["x_train"].dtype == np.uint8
    values = np.concatenate([arrays["x_train"][:, 0, 0], arrays["x_test"][:, 0, 0]])
    assert sorted(values.tolist()) == [0, 10, 20, 30, 40]
    order = np.random.default_rng(3).permutation(5)   # read in sorted-path order, then split and shuffled by it
    assert arrays["x_test"][:, 0, 0].tolist() == [10 * i for i in order[:2]]
    assert arrays["x_train"][:, 0, 0].tolist() == [10 * i for i in order[2:]]
    for k in ("x_train", "x_test"):
        assert (arrays[k] == arrays[k][:, :1, :1]).all()
    assert manifest == {"source": "folder", "path": str(tmp_path / "imgs"), "images": 5, "shape": [5, 7, 1],
                        "classes": None, "resized": False, "counts": {"train": 3, "test": 2},
                        "test_fraction": 0.4, "split_seed": 3}


def test_labelled_rgb_folder_labels_follow_sorted_class_folders(tmp_path):
    root = tmp_path / "pets"
    colours = {"dog": (200, 0, 0), "cat": (0, 200, 0), "bird": (0, 0, 200)}   # classes: bird 0, cat 1, dog 2
    for name, rgb in colours.items():
        for i in range(3):
            _save(root / name / f"{i}.png", np.broadcast_to(np.array(rgb, np.uint8), (4, 6, 3)))
    # modes other than RGB are converted: RGBA (alpha dropped), and a nested folder of a class is searched
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., 1], rgba[..., 3] = 200, 17
    _save(root / "cat" / "more" / "x.png", rgba)
    _save(root / ".ipynb_checkpoints" / "junk.png", _gray(1, 4, 6))   # hidden folder: ignored
    arrays, manifest = _read(root, test_fraction=0.3)
    assert manifest["classes"] == ["bird", "cat", "dog"]
    assert manifest["shape"] == [4, 6, 3] and manifest["images"] == 10
    assert manifest["counts"] == {"train": 7, "test": 3}
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        assert x.shape[1:] == (4, 6, 3) and y.dtype == np.uint8
        for image, label in zip(x, y):
            expected = colours[manifest["classes"][label]]
            assert (image == np.array(expected, np.uint8)).all()
    assert np.bincount(np.concatenate([arrays["y_train"], arrays["y_test"]])).tolist() == [3, 4, 3]


def test_rgb_files_with_equal_channels_are_stored_gray(tmp_path):
    for i in range(3):
        _save(tmp_path / f"{i}.png", np.stack([_gray(40 * i)] * 3, axis=-1))   # RGB files, R == G == B
    _save(tmp_path / "3.png", _gray(99))
    palette = Image.fromarray(_gray(77)).convert("P")
    palette.save(tmp_path / "4.png")
    arrays, manifest = _read(tmp_path)
    assert arrays["x_train"].ndim == 3 and manifest["shape"] == [5, 7, 1]
    values = sorted(np.concatenate([arrays["x_train"], arrays["x_test"]])[:, 2, 3].tolist())
    assert values == [0, 40, 77, 80, 99]


def test_one_coloured_image_makes_the_whole_set_rgb(tmp_path):
    _save(tmp_path / "a.png", _gray(50))
    _save(tmp_path / "b.png", _gray(60))
    _save(tmp_path / "c.png", np.broadcast_to(np.array([1, 2, 3], np.uint8), (5, 7, 3)))
    arrays, manifest = _read(tmp_path, test_fraction=0.34)   # round(1.02) = 1 test image
    x = np.concatenate([arrays["x_train"], arrays["x_test"]])
    assert x.shape == (3, 5, 7, 3) and manifest["shape"] == [5, 7, 3]
    assert sorted(map(tuple, x[:, 0, 0].tolist())) == [(1, 2, 3), (50, 50, 50), (60, 60, 60)]


def test_jpeg_files_any_case_are_read(tmp_path):
    _save(tmp_path / "a.JPG", np.broadcast_to(np.array([200, 30, 30], np.uint8), (16, 16, 3)), quality=95)
    _save(tmp_path / "b.jpeg", np.broadcast_to(np.array([30, 30, 200], np.uint8), (16, 16, 3)), quality=95)
    _save(tmp_path / "c.Png", np.broadcast_to(np.array([30, 200, 30], np.uint8), (16, 16, 3)))
    arrays, _ = _read(tmp_path, test_fraction=0.34)
    x = np.concatenate([arrays["x_train"], arrays["x_test"]]).astype(int)
    assert x.shape == (3, 16, 16, 3)
    means = sorted(tuple(np.rint(img.mean(axis=(0, 1))).astype(int)) for img in x)
    for got, want in zip(means, sorted([(200, 30, 30), (30, 30, 200), (30, 200, 30)])):
        assert np.abs(np.array(got) - want).max() <= 3   # JPEG is lossy


def test_resize_center_crops_then_resizes(tmp_path):
    wide = np.zeros((4, 12), np.uint8)
    wide[:, 4:8] = 255          # only the central 4x4 square is white
    tall = np.zeros((12, 4), np.uint8)
    tall[4:8, :] = 255
    _save(tmp_path / "wide.png", wide)
    _save(tmp_path / "tall.png", tall)
    _save(tmp_path / "square.png", np.full((8, 8), 255, np.uint8))
    arrays, manifest = _read(tmp_path, image_size=4, test_fraction=0.34)
    x = np.concatenate([arrays["x_train"], arrays["x_test"]])
    assert x.shape == (3, 4, 4) and manifest["shape"] == [4, 4, 1] and manifest["resized"] is True
    assert (x == 255).all()   # no black from the sides: cropped, not squashed


def test_images_already_at_image_size_are_not_resized(tmp_path):
    for i in range(3):
        _save(tmp_path / f"{i}.png", _gray(i, 4, 4))
    arrays, manifest = _read(tmp_path, image_size=4, test_fraction=0.34)
    assert manifest["resized"] is False
    assert sorted(np.concatenate([arrays["x_train"], arrays["x_test"]])[:, 0, 0].tolist()) == [0, 1, 2]


# --- npz -------------------------------------------------------------------------------------------------------

def test_npz_labelled_gray(tmp_path):
    x = np.arange(10, dtype=np.uint8)[:, None, None] * np.ones((1, 3, 4), np.uint8)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], dtype=np.int64)
    arrays, manifest = _read(_npz(tmp_path / "d.npz", x=x, y=y), test_fraction=0.3, split_seed=7)
    assert manifest["source"] == "npz" and manifest["classes"] == [0, 1, 2] and manifest["shape"] == [3, 4, 1]
    assert manifest["counts"] == {"train": 7, "test": 3} and manifest["resized"] is False
    for part in ("train", "test"):
        ids = arrays[f"x_{part}"][:, 0, 0]
        assert arrays[f"y_{part}"].dtype == np.uint8
        np.testing.assert_array_equal(arrays[f"y_{part}"], y[ids])   # each label stays with its image


def test_npz_unlabelled_rgb_and_single_channel(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (6, 3, 3, 3), dtype=np.uint8)
    arrays, manifest = _read(_npz(tmp_path / "rgb.npz", x=rgb), test_fraction=0.5)
    assert set(arrays) == {"x_train", "x_test"} and manifest["classes"] is None and manifest["shape"] == [3, 3, 3]
    got = np.concatenate([arrays["x_train"], arrays["x_test"]])
    assert sorted(map(bytes, got)) == sorted(map(bytes, rgb))
    one = rng.integers(0, 256, (6, 3, 3, 1), dtype=np.uint8)
    arrays, manifest = _read(_npz(tmp_path / "one.npz", x=one), test_fraction=0.5)
    assert arrays["x_train"].shape == (3, 3, 3) and manifest["shape"] == [3, 3, 1]


def test_npz_resize(tmp_path):
    x = np.arange(4, dtype=np.uint8)[:, None, None] * 50 * np.ones((1, 8, 6), np.uint8)
    arrays, manifest = _read(_npz(tmp_path / "d.npz", x=x), image_size=3, test_fraction=0.5)
    got = np.concatenate([arrays["x_train"], arrays["x_test"]])
    assert got.shape == (4, 3, 3) and manifest["resized"] is True
    assert sorted(got[:, 1, 1].tolist()) == [0, 50, 100, 150] and (got == got[:, :1, :1]).all()


# --- the split -------------------------------------------------------------------------------------------------

def _ids(path, seed, fraction=0.2):
    arrays, _ = _read(path, test_fraction=fraction, split_seed=seed)
    return arrays["x_train"][:, 0, 0].tolist(), arrays["x_test"][:, 0, 0].tolist()


def test_split_is_seeded_disjoint_complete_and_shuffled(tmp_path):
    path = _npz(tmp_path / "d.npz", x=np.arange(50, dtype=np.uint8)[:, None, None] * np.ones((1, 2, 2), np.uint8))
    train, test = _ids(path, 0)
    assert len(test) == 10 and len(train) == 40
    assert not set(train) & set(test) and sorted(train + test) == list(range(50))
    assert _ids(path, 0) == (train, test)
    assert _ids(path, 1)[1] != test
    order = np.random.default_rng(0).permutation(50).tolist()   # a folder is read class by class: the parts are
    assert (test, train) == (order[:10], order[10:])             # shuffled, so no class sits at either end


def test_a_class_ordered_folder_spreads_every_class_over_the_end_of_the_training_part(tmp_path):
    for c in range(4):   # the floors' reference set is the end of x_train: it must not be the last class alone
        for i in range(25):
            _save(tmp_path / "f" / f"class{c}" / f"{i:02d}.png", _gray(40 * c))
    arrays, _ = _read(tmp_path / "f", test_fraction=0.2, split_seed=0)
    assert sorted(set(arrays["y_train"][-20:].tolist())) == [0, 1, 2, 3]


# --- refusals --------------------------------------------------------------------------------------------------

def test_mixed_sizes_name_both_files_and_the_param(tmp_path):
    a = _save(tmp_path / "a.png", _gray(0, 5, 7))
    b = _save(tmp_path / "b.png", _gray(0, 6, 7))
    msg = _refused("datasets.own.image_size", tmp_path)
    assert f"{a} is 7x5 but {b} is 7x6" in msg


def test_corrupt_and_truncated_images_are_named(tmp_path):
    _save(tmp_path / "ok.png", _gray(1))
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    _refused(re.escape(str(tmp_path / "bad.png")) + " cannot be read as an image", tmp_path)
    (tmp_path / "bad.png").unlink()
    whole = _save(tmp_path / "big.png", np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8))
    whole.write_bytes(whole.read_bytes()[:-200])
    _refused(re.escape(str(whole)) + " cannot be read as an image", tmp_path)


def test_non_image_file_is_named(tmp_path):
    _save(tmp_path / "a.png", _gray(1))
    (tmp_path / "notes.txt").write_text("hello")
    _refused(re.escape(str(tmp_path / "notes.txt")) + " is not a PNG or JPEG file", tmp_path)


def test_sixteen_bit_image_is_refused(tmp_path):
    _save(tmp_path / "a.png", _gray(1))
    Image.fromarray(np.full((5, 7), 4000, np.uint16)).save(tmp_path / "b.png")
    _refused(re.escape(str(tmp_path / "b.png")) + " is a 16-bit or float image", tmp_path)


def test_empty_folder_and_hidden_only_folder(tmp_path):
    _refused("has no PNG or JPEG images", tmp_path)
    (tmp_path / ".hidden.png").write_bytes(b"x")
    _refused(re.escape(str(tmp_path)) + " has no PNG or JPEG images", tmp_path)


def test_empty_class_folder(tmp_path):
    _save(tmp_path / "a" / "1.png", _gray(1))
    (tmp_path / "b").mkdir()
    _refused("class folder " + re.escape(str(tmp_path / "b")) + " has no PNG or JPEG images", tmp_path)


def test_loose_images_beside_class_folders(tmp_path):
    _save(tmp_path / "a" / "1.png", _gray(1))
    _save(tmp_path / "b" / "1.png", _gray(1))
    _save(tmp_path / "loose.png", _gray(1))
    _refused(r"holds both files \(loose.png\) and folders \(a\)", tmp_path)


def test_single_class_folder(tmp_path):
    for i in range(3):
        _save(tmp_path / "cats" / f"{i}.png", _gray(i))
    _refused(r"has a single class folder \(cats\)", tmp_path)


def test_missing_path_and_neither_folder_nor_npz(tmp_path):
    _refused(re.escape(str(tmp_path / "nope")) + " does not exist", tmp_path / "nope")
    (tmp_path / "d.csv").write_text("1,2")
    _refused("is neither a folder of PNG/JPEG images nor an .npz", tmp_path / "d.csv")


def test_empty_split_names_the_param(tmp_path):
    for i in range(5):
        _save(tmp_path / f"{i}.png", _gray(i))
    _refused(r"datasets.own.test_fraction 0.05 of 5 images gives 0 test images", tmp_path, test_fraction=0.05)
    _refused(r"datasets.own.test_fraction 0.95 of 5 images gives 5 test images", tmp_path, test_fraction=0.95)
    _refused(r"datasets.own.test_fraction 1.0 ", tmp_path, test_fraction=1.0)


def test_bad_image_size_param(tmp_path):
    _save(tmp_path / "a.png", _gray(1))
    _refused("datasets.own.image_size is 0", tmp_path, image_size=0)


X = np.zeros((4, 3, 3), np.uint8)


@pytest.mark.parametrize("arrays, match", [
    ({"x": X, "y": np.array([0, 1, 0])}, r"y has shape \(3,\) but x holds 4 images"),
    ({"x": X.astype(np.float32)}, r"x is float32, not uint8"),
    ({"x": np.zeros((4, 3, 3, 2), np.uint8)}, r"x has shape \(4, 3, 3, 2\)"),
    ({"x": np.zeros((4, 3), np.uint8)}, r"x has shape \(4, 3\)"),
    ({"x": np.zeros((0, 3, 3), np.uint8)}, r"x has shape \(0, 3, 3\)"),
    ({"images": X}, r"holds \['images'\]; need 'x'"),
    ({"x": X, "labels": np.array([0, 1, 0, 1])}, r"holds \['labels', 'x'\]"),
    ({"x": X, "y": np.array([0, -1, 0, 1])}, r"y has negative labels \(min -1\)"),
    ({"x": X, "y": np.array([0.0, 1.0, 0.0, 1.0])}, r"y is float64, not integer"),
    ({"x": X, "y": np.array([2, 2, 2, 2])}, r"y has a single class \(2\)"),
    ({"x": X, "y": np.array([0, 2, 0, 2])}, r"y skips classes \[1\]"),
    ({"x": X, "y": np.array([0, 256, 0, 1])}, r"y has label 256; at most 256 classes"),
])
def test_npz_refusals_name_the_key(tmp_path, arrays, match):
    path = _npz(tmp_path / "d.npz", **arrays)
    _refused(re.escape(f"{path}") + ".*" + match, path)


def test_npz_not_an_archive(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"garbage")
    _refused("junk.npz is not a readable .npz", tmp_path / "junk.npz")
    np.save(tmp_path / "one.npy", X)
    (tmp_path / "one.npy").rename(tmp_path / "one.npz")
    _refused(r"one.npz is not a readable .npz \(OSError a single .npy array", tmp_path / "one.npz")
