"""ganpipe.data.arrays: npz round trips and the uint8 <-> model-range quantiser."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from ganpipe.data import arrays as mnist_arrays


def test_save_load_round_trip_is_deterministic(tmp_path, synthetic):
    arrays, _, _ = synthetic
    mnist_arrays.save_dataset(tmp_path / "a" / "mnist.npz", arrays)
    time.sleep(1.1)  # np.savez would stamp a different second into the zip
    mnist_arrays.save_dataset(tmp_path / "b.npz", arrays)
    assert (tmp_path / "a" / "mnist.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["mnist.npz"]  # no temp file left
    back = mnist_arrays.load_dataset(tmp_path / "b.npz")
    assert back.keys() == set(mnist_arrays.SPLITS)
    for k in mnist_arrays.SPLITS:
        assert back[k].dtype == np.uint8
        np.testing.assert_array_equal(back[k], arrays[k])


def test_unlabelled_rgb_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {"x_train": rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8),
              "x_test": rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)}
    mnist_arrays.save_dataset(tmp_path / "rgb.npz", arrays)
    back = mnist_arrays.load_dataset(tmp_path / "rgb.npz")
    assert sorted(back) == ["x_test", "x_train"] and not mnist_arrays.is_labelled(back)
    np.testing.assert_array_equal(back["x_train"], arrays["x_train"])


def test_save_without_suffix_writes_that_exact_path(tmp_path, synthetic):
    mnist_arrays.save_dataset(tmp_path / "mnist", synthetic[0])
    assert [p.name for p in tmp_path.iterdir()] == ["mnist"]
    assert mnist_arrays.load_dataset(tmp_path / "mnist")["y_test"].shape == (3,)


def test_load_rejects_bad_layout(tmp_path, synthetic):
    arrays, _, _ = synthetic
    np.savez(tmp_path / "float.npz", **{**arrays, "x_train": arrays["x_train"].astype(np.float32)})
    with pytest.raises(ValueError, match="x_train is float32, not uint8"):
        mnist_arrays.load_dataset(tmp_path / "float.npz")
    np.savez(tmp_path / "short.npz", **{**arrays, "y_test": arrays["y_test"][:2]})
    with pytest.raises(ValueError, match=r"y_test has shape \(2,\), not \(3,\)"):
        mnist_arrays.load_dataset(tmp_path / "short.npz")
    np.savez(tmp_path / "keys.npz", x_train=arrays["x_train"])
    with pytest.raises(ValueError, match=r"missing \['x_test'\]"):
        mnist_arrays.load_dataset(tmp_path / "keys.npz")
    np.savez(tmp_path / "twin.npz", x_train=arrays["x_train"], x_test=arrays["x_test"], y_train=arrays["y_train"])
    with pytest.raises(ValueError, match="y_train without its twin"):
        mnist_arrays.load_dataset(tmp_path / "twin.npz")
    np.savez(tmp_path / "sizes.npz", x_train=arrays["x_train"], x_test=arrays["x_test"][:, :20])
    with pytest.raises(ValueError, match=r"x_train images are \(28, 28\), x_test's \(20, 28\)"):
        mnist_arrays.load_dataset(tmp_path / "sizes.npz")
    np.savez(tmp_path / "rgba.npz", x_train=np.zeros((2, 8, 8, 4), np.uint8), x_test=np.zeros((2, 8, 8, 4), np.uint8))
    with pytest.raises(ValueError, match=r"x_train has shape \(2, 8, 8, 4\), not \(N, H, W\) grayscale"):
        mnist_arrays.load_dataset(tmp_path / "rgba.npz")
    with pytest.raises(ValueError, match="uint8"):
        mnist_arrays.save_dataset(tmp_path / "never.npz", {**arrays, "y_train": arrays["y_train"].astype(np.int64)})
    assert not (tmp_path / "never.npz").exists()


def test_quantiser_round_trip_all_values():
    every = np.arange(256, dtype=np.uint8).reshape(1, 16, 16).repeat(2, axis=0)
    every = np.pad(every, ((0, 0), (6, 6), (6, 6)))  # (2, 28, 28)
    x = mnist_arrays.to_model_range(every)
    assert x.dtype == torch.float32 and x.shape == (2, 1, 28, 28)
    assert x.min().item() == -1.0 and x.max().item() == 1.0
    np.testing.assert_array_equal(mnist_arrays.to_uint8(x), every)
    np.testing.assert_array_equal(mnist_arrays.to_uint8(x.squeeze(1)), every)
    assert mnist_arrays.to_model_range(torch.from_numpy(every)).equal(x)


def test_to_uint8_clamps_and_rounds():
    x = torch.tensor([-5.0, -1.0, 0.0, 1.0, 7.0, 1 / 127.5 - 1 + 0.003]).reshape(1, 1, 1, 6)
    assert mnist_arrays.to_uint8(x).tolist() == [[[0, 0, 128, 255, 255, 1]]]  # 0 -> 127.5 rounds half to even: 128
    with pytest.raises(ValueError, match="NaN"):
        mnist_arrays.to_uint8(torch.full((1, 1, 2, 2), float("nan")))
    with pytest.raises(ValueError, match="uint8"):
        mnist_arrays.to_model_range(np.zeros((1, 28, 28), np.float32))


def test_rgb_quantiser_round_trip_all_values():
    every = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    rgb = np.stack([every, 255 - every, every[:, ::-1]], axis=-1).repeat(2, axis=0)   # (2, 16, 16, 3)
    x = mnist_arrays.to_model_range(rgb)
    assert x.dtype == torch.float32 and x.shape == (2, 3, 16, 16) and x.is_contiguous()
    assert x[0, 1, 0, 0].item() == 1.0 and x[0, 0, 0, 0].item() == -1.0   # channel 1 of pixel (0, 0) is 255
    assert torch.equal(x, torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 127.5 - 1)
    back = mnist_arrays.to_uint8(x)
    assert back.shape == (2, 16, 16, 3) and back.flags.c_contiguous
    np.testing.assert_array_equal(back, rgb)
    with pytest.raises(ValueError, match=r"need uint8 \(N, H, W\) or \(N, H, W, 3\), got torch.uint8 \(1, 4, 4, 4\)"):
        mnist_arrays.to_model_range(np.zeros((1, 4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"need \(N, 1, H, W\), \(N, 3, H, W\) or \(N, H, W\), got \(1, 2, 4, 4\)"):
        mnist_arrays.to_uint8(torch.zeros(1, 2, 4, 4))


def test_tile_lays_out_grayscale_and_rgb_images_row_by_row():
    gray = np.array([[[1]], [[2]], [[3]]], np.uint8)   # three 1x1 images
    assert mnist_arrays.tile(gray, cols=2, pad=1).tolist() == [[0, 0, 0, 0, 0], [0, 1, 0, 2, 0], [0, 0, 0, 0, 0],
                                                                [0, 3, 0, 0, 0], [0, 0, 0, 0, 0]]
    rgb = np.arange(3 * 2 * 1 * 3, dtype=np.uint8).reshape(3, 2, 1, 3)   # three 2x1 RGB images
    mosaic = mnist_arrays.tile(rgb, cols=2, pad=1)
    assert mosaic.shape == (7, 5, 3) and mosaic.dtype == np.uint8
    np.testing.assert_array_equal(mosaic[1:3, 1], rgb[0, :, 0])
    np.testing.assert_array_equal(mosaic[1:3, 3], rgb[1, :, 0])
    np.testing.assert_array_equal(mosaic[4:6, 1], rgb[2, :, 0])
    assert mosaic.sum() == rgb.sum()   # everything else is black padding


def _png_rgb(path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def test_grid_png_shows_dark_ground_grayscale_inverted_and_photos_and_rgb_as_they_are(tmp_path):
    digits = np.zeros((4, 3, 3), np.uint8)
    digits[:, 1, 1] = 255                          # light ink on a dark ground: median 0
    photos = np.full((4, 3, 3), 200, np.uint8)     # a light grayscale photo: median 200
    photos[:, 1, 1] = 10
    rgb = np.zeros((4, 3, 3, 3), np.uint8)
    rgb[..., 0] = 250                              # red
    for name, images in (("digits", digits), ("photos", photos), ("rgb", rgb)):
        mnist_arrays.save_grid_png(images, tmp_path / f"{name}.png")
    assert mnist_arrays.shown_inverted(digits) and not mnist_arrays.shown_inverted(photos)
    assert not mnist_arrays.shown_inverted(rgb)
    shown = _png_rgb(tmp_path / "digits.png")
    assert shown.shape == (12, 12, 3) and tuple(shown[3, 3]) == (0, 0, 0) and tuple(shown[2, 2]) == (255, 255, 255)
    shown = _png_rgb(tmp_path / "photos.png")
    assert tuple(shown[3, 3]) == (10, 10, 10) and tuple(shown[2, 2]) == (200, 200, 200)
    shown = _png_rgb(tmp_path / "rgb.png")
    assert tuple(shown[2, 2]) == (250, 0, 0) and tuple(shown[0, 0]) == (0, 0, 0)   # padding black
