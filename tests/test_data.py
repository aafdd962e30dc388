"""Loader: IDX parsing, verification, search order, subsets and splits."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from bench import data
from bench.errors import BenchError
from tests.helpers import make_tiny_dataset, write_idx


def test_reads_generated_idx(tiny_data_dir: Path) -> None:
    ds = data.load("mnist")
    assert ds.x_train.shape == (600, 28, 28) and ds.x_test.shape == (200, 28, 28)
    assert set(np.unique(ds.y_train)) == set(range(10))
    assert ds.verified == "structure-only"
    assert len(ds.sha256) == 4


def test_truncated_gzip_names_the_file(tiny_data_dir: Path) -> None:
    f = tiny_data_dir / "mnist" / "train-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:500])
    with pytest.raises(BenchError, match="train-images-idx3-ubyte.gz"):
        data.load("mnist")


def test_label_out_of_range_is_an_error(tiny_data_dir: Path) -> None:
    write_idx(tiny_data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz", np.full(200, 11))
    with pytest.raises(BenchError, match="label 11"):
        data.load("mnist")


def test_header_count_mismatch(tiny_data_dir: Path) -> None:
    path = tiny_data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-3]))
    with pytest.raises(BenchError, match="t10k-labels"):
        data.load("mnist")


def test_sha256sums_mismatch_names_file_and_expected(tiny_data_dir: Path) -> None:
    folder = tiny_data_dir / "fashion-mnist"
    lines = []
    for f in sorted(folder.glob("*.gz")):
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        if f.name.startswith("t10k-images"):
            digest = "0" * 64
        lines.append(f"{digest}  {f.name}")
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    with pytest.raises(BenchError, match=r"t10k-images-idx3-ubyte.gz: sha256 .* expected 0{64}"):
        data.load("fashion_mnist")


def test_search_order_flag_then_env_then_cache(tmp_path: Path, monkeypatch) -> None:
    flag, env, cache = tmp_path / "flag", tmp_path / "env", tmp_path / "cache"
    make_tiny_dataset(flag / "mnist", n_train=100)
    make_tiny_dataset(env / "mnist", n_train=200)
    make_tiny_dataset(cache / "datasets" / "mnist", n_train=300)
    monkeypatch.setenv("BENCH_CACHE_DIR", str(cache))
    monkeypatch.setenv("BENCH_DATA_DIR", str(env))
    assert data.locate("mnist", flag) == flag / "mnist"
    assert data.locate("mnist") == env / "mnist"
    monkeypatch.delenv("BENCH_DATA_DIR")
    assert data.locate("mnist") == cache / "datasets" / "mnist"


def test_missing_offline_says_where_to_put_files(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("BENCH_DATA_DIR", raising=False)
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(data.urllib.request, "urlopen", offline)
    with pytest.raises(BenchError, match=r"download failed.*--data-dir.*BENCH_DATA_DIR"):
        data.load("fashion_mnist")


def test_download_verifies_checksums(tmp_path: Path, monkeypatch) -> None:
    """A mirror serving wrong bytes is rejected; right bytes are stored atomically."""
    monkeypatch.delenv("BENCH_DATA_DIR", raising=False)
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    payload = b"not the dataset"

    class Resp:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self):
            return payload

    monkeypatch.setattr(data.urllib.request, "urlopen", lambda *a, **k: Resp())
    with pytest.raises(BenchError, match="checksum mismatch"):
        data.locate("mnist")
    assert not list((tmp_path / "cache" / "datasets" / "mnist").glob("*.gz"))


def test_stratified_subset_is_seeded_and_stratified() -> None:
    y = np.repeat(np.arange(10), 100)
    a = data.stratified_subset(y, 0.25, seed=3)
    b = data.stratified_subset(y, 0.25, seed=3)
    c = data.stratified_subset(y, 0.25, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.bincount(y[a]).tolist() == [25] * 10
    with pytest.raises(BenchError):
        data.stratified_subset(y, 1.5, 0)


def test_holdout_split_takes_first_images(tiny_data_dir: Path) -> None:
    ds = data.load("fashion_mnist")
    split = data.make_split(ds, validation="holdout:50")
    assert len(split.y_val) == 50 and len(split.y_train) == 550
    assert np.array_equal(split.y_val, ds.y_train[:50])
    assert split.x_train.dtype == np.float32 and split.x_train.max() <= 1.0
    test_as_val = data.make_split(ds, validation="test", fraction=0.5, seed=1)
    assert len(test_as_val.y_train) == 300 and np.array_equal(test_as_val.y_val, ds.y_test)


def test_real_datasets_verify(real_data_dir: Path) -> None:
    for name in ("mnist", "fashion_mnist"):
        ds = data.load(name)
        assert ds.x_train.shape == (60000, 28, 28) and ds.x_test.shape == (10000, 28, 28)
        assert ds.verified in ("sha256sums", "official-md5")


def test_mnist_files_in_the_fashion_folder_are_refused(real_data_dir: Path,
                                                       tmp_path: Path) -> None:
    import shutil

    wrong = tmp_path / "data" / "fashion-mnist"
    wrong.mkdir(parents=True)
    for f in (real_data_dir / "mnist").glob("*.gz"):
        shutil.copy(f, wrong / f.name)  # no SHA256SUMS: only the content can tell
    data._load_cached.cache_clear()
    with pytest.raises(BenchError, match="is mnist's .*not fashion_mnist's"):
        data.load("fashion_mnist", tmp_path / "data", download=False)
    data._load_cached.cache_clear()


def test_holdout_share_of_the_training_images(tiny_data_dir: Path) -> None:
    ds = data.load("mnist")
    split = data.make_split(ds, validation="holdout:0.1", fraction=0.5, seed=3)
    assert len(split.y_val) == 60  # 10 % of 600, taken before the fraction
    assert abs(len(split.y_train) - 270) <= 5  # stratified rounding per class
    with pytest.raises(BenchError, match="validation must be"):
        data.make_split(ds, validation="holdout:abc")
