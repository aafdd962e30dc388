"""Stage 1 — datasets: find, verify and read the MNIST / Fashion-MNIST IDX files; split them.

Search order for a dataset's four ``.gz`` files:
``--data-dir`` / ``$BENCH_DATA_DIR`` (``<dir>/mnist``, ``<dir>/fashion-mnist``), then
``data_cache/datasets/``, then a download from the official mirrors into ``data_cache/``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import tempfile
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.errors import BenchError, unknown_name
from bench.paths import datasets_cache
from bench.spec import parse_validation

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
COUNTS = {"train": 60_000, "test": 10_000}


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's folder name, mirrors, official checksums and class names."""

    name: str
    folder: str
    mirrors: tuple[str, ...]
    gz_md5: dict[str, str]
    raw_md5: dict[str, str] = field(default_factory=dict)
    classes: tuple[str, ...] = tuple(str(i) for i in range(10))


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        name="mnist",
        folder="mnist",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        gz_md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        raw_md5={
            "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
            "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
            "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
            "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
        },
    ),
    "fashion_mnist": DatasetInfo(
        name="fashion_mnist",
        folder="fashion-mnist",
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        ),
        gz_md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        # content of the decompressed release files (so MNIST files in this folder are caught)
        raw_md5={
            "train-images-idx3-ubyte.gz": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            "train-labels-idx1-ubyte.gz": "9018921c3c673c538a1fc5bad174d6f9",
            "t10k-images-idx3-ubyte.gz": "8181f5470baa50b63fa0f6fddb340f0a",
            "t10k-labels-idx1-ubyte.gz": "15d484375f8d13e6eb1aabb0c3f46965",
        },
        classes=(
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
        ),
    ),
}


@dataclass(frozen=True)
class Dataset:
    """Images as uint8 ``(n, 28, 28)``, labels as uint8 ``(n,)``, and where they came from."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    source: str
    sha256: dict[str, str]
    verified: str  # how the files were verified: sha256sums / official-md5 / structure-only


def dataset_info(name: str) -> DatasetInfo:
    key = name.replace("-", "_")
    if key not in DATASETS:
        raise unknown_name("dataset", name, list(DATASETS))
    return DATASETS[key]


def _digest(data: bytes, algo: str) -> str:
    return hashlib.new(algo, data).hexdigest()


def parse_idx(raw: bytes, path: Path, kind: str) -> np.ndarray:
    """Parse decompressed IDX bytes; ``kind`` is ``images`` (ndim 3) or ``labels`` (ndim 1)."""
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise BenchError(f"corrupt dataset file {path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    want = 3 if kind == "images" else 1
    if ndim != want:
        raise BenchError(f"corrupt dataset file {path}: {ndim} dimensions, expected {want}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(raw) - offset != expected:
        raise BenchError(
            f"corrupt dataset file {path}: {len(raw) - offset} data bytes, header says {expected}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def _gunzip(path: Path, packed: bytes, info: DatasetInfo) -> bytes:
    """Decompress; a truncated or damaged gzip is a BenchError naming file and checksum."""
    try:
        return gzip.decompress(packed)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise BenchError(
            f"corrupt dataset file {path}: {exc}; replace it with the original file (official "
            f"md5 {info.gz_md5[path.name]}) in {path.parent}/"
        ) from exc


def _sha256sums(folder: Path) -> dict[str, str]:
    sums = folder / "SHA256SUMS"
    if not sums.exists():
        return {}
    out = {}
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[1].lstrip("*")] = parts[0]
    return out


def _candidate_dirs(info: DatasetInfo, data_dir: Path | str | None) -> list[Path]:
    dirs = []
    explicit = data_dir or os.environ.get("BENCH_DATA_DIR")
    if explicit:
        root = Path(explicit)
        dirs += [root / info.folder, root / info.name, root]
    dirs.append(datasets_cache() / info.folder)
    return dirs


def _has_all(folder: Path) -> bool:
    return all((folder / f).exists() for f in FILES.values())


def _download(info: DatasetInfo, target: Path) -> None:
    """Download the four files from the first mirror that works, verifying official MD5s."""
    target.mkdir(parents=True, exist_ok=True)
    for fname, md5 in info.gz_md5.items():
        if (target / fname).exists():
            continue
        errors = []
        for mirror in info.mirrors:
            try:
                with urllib.request.urlopen(mirror + fname, timeout=30) as resp:
                    data = resp.read()
            except OSError as exc:
                errors.append(f"{mirror}: {exc}")
                continue
            if _digest(data, "md5") != md5:
                errors.append(f"{mirror}: checksum mismatch (md5 {_digest(data, 'md5')})")
                continue
            fd, tmp = tempfile.mkstemp(dir=target, prefix=".dl-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target / fname)
            break
        else:
            raise BenchError(
                f"dataset {info.name}: {fname} not found locally and download failed "
                f"({'; '.join(errors)[:300]}). Put the four IDX .gz files in "
                f"<dir>/{info.folder}/ and pass --data-dir <dir> or set BENCH_DATA_DIR, "
                f"or copy them to {target}/"
            )


def locate(name: str, data_dir: Path | str | None = None, download: bool = True) -> Path:
    """The folder holding the dataset's four files (downloading them if allowed)."""
    info = dataset_info(name)
    candidates = _candidate_dirs(info, data_dir)
    for folder in candidates:
        if _has_all(folder):
            return folder
    explicit = data_dir or os.environ.get("BENCH_DATA_DIR")
    if explicit and Path(explicit).exists():
        first = candidates[0]
        missing = [f for f in FILES.values() if not (first / f).exists()]
        raise BenchError(
            f"dataset {info.name}: missing {', '.join(missing)} in {first} "
            f"(expected the four IDX .gz files there)"
        )
    if explicit:
        raise BenchError(f"data directory {explicit} does not exist")
    if not download:
        raise BenchError(
            f"dataset {info.name} not found; put the four IDX .gz files in "
            f"{datasets_cache() / info.folder}/ or pass --data-dir"
        )
    target = datasets_cache() / info.folder
    _download(info, target)
    return target


def _verify_packed(info: DatasetInfo, folder: Path, fname: str, packed: bytes) -> str | None:
    """Check the compressed file against SHA256SUMS or the official MD5 (None: no verdict)."""
    sums = _sha256sums(folder)
    path = folder / fname
    if fname in sums:
        got = _digest(packed, "sha256")
        if got != sums[fname]:
            raise BenchError(
                f"corrupt dataset file {path}: sha256 {got}, expected {sums[fname]} "
                f"(from {folder / 'SHA256SUMS'}); replace it with the original file"
            )
        return "sha256sums"
    if _digest(packed, "md5") == info.gz_md5[fname]:
        return "official-md5"
    return None


def _verify_raw(info: DatasetInfo, folder: Path, fname: str, raw: bytes) -> str:
    path = folder / fname
    official_count = COUNTS["train" if fname.startswith("train") else "test"]
    count = int.from_bytes(raw[4:8], "big") if len(raw) >= 8 else -1
    if fname in info.raw_md5 and count == official_count:
        # Same size as the official file, different bytes: damaged, or another dataset's.
        got = _digest(raw, "md5")
        for other in DATASETS.values():
            if other.name != info.name and other.raw_md5.get(fname) == got:
                raise BenchError(f"dataset file {path} is {other.name}'s {fname}, not "
                                 f"{info.name}'s; put the {info.name} files in {folder}")
        if got != info.raw_md5[fname]:
            raise BenchError(
                f"corrupt dataset file {path}: content md5 {_digest(raw, 'md5')}, expected "
                f"{info.raw_md5[fname]}; replace it with the original file"
            )
        return "official-md5"
    return "structure-only"


@functools.lru_cache(maxsize=4)
def _load_cached(name: str, folder: str) -> Dataset:
    info = dataset_info(name)
    root = Path(folder)
    arrays, sha, how = {}, {}, set()
    for key, fname in FILES.items():
        path = root / fname
        try:
            packed = path.read_bytes()
        except OSError as exc:
            raise BenchError(f"unreadable dataset file {path}: {exc}") from exc
        verdict = _verify_packed(info, root, fname, packed)
        raw = _gunzip(path, packed, info)
        how.add(verdict or _verify_raw(info, root, fname, raw))
        sha[fname] = _digest(packed, "sha256")
        arrays[key] = parse_idx(raw, path, "images" if key.endswith("images") else "labels")
    for split in ("train", "test"):
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        xpath, ypath = root / FILES[f"{split}_images"], root / FILES[f"{split}_labels"]
        if x.shape[1:] != (28, 28):
            raise BenchError(f"corrupt dataset file {xpath}: images of {x.shape[1:]}, not 28x28")
        if y.shape != (len(x),):
            raise BenchError(f"corrupt dataset file {ypath}: {len(y)} labels for {len(x)} images")
        if y.max() > 9:
            raise BenchError(f"corrupt dataset file {ypath}: label {int(y.max())} outside 0..9")
    verified = "structure-only" if "structure-only" in how else min(how)
    counts = (len(arrays["train_labels"]), len(arrays["test_labels"]))
    if verified != "structure-only" and counts != (COUNTS["train"], COUNTS["test"]):
        raise BenchError(f"corrupt dataset {name} in {root}: unexpected image counts")
    if verified == "structure-only":
        warnings.warn(
            f"{name}: files in {root} match no known checksum; checked structure only",
            stacklevel=2,
        )
    return Dataset(
        name=info.name,
        x_train=arrays["train_images"],
        y_train=arrays["train_labels"],
        x_test=arrays["test_images"],
        y_test=arrays["test_labels"],
        classes=info.classes,
        source=str(root),
        sha256=sha,
        verified=verified,
    )


def load(name: str, data_dir: Path | str | None = None, download: bool = True) -> Dataset:
    """Load and verify a dataset (cached in memory per process)."""
    info = dataset_info(name)
    folder = locate(info.name, data_dir, download)
    return _load_cached(info.name, str(folder.resolve()))


def stratified_subset(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a seeded, class-stratified ``fraction`` of ``y`` (at least 1 per class)."""
    if not 0 < fraction <= 1:
        raise BenchError(f"fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    picks = []
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        k = max(1, int(round(fraction * len(idx))))
        picks.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(picks))


@dataclass(frozen=True)
class Split:
    """Train / validation / test arrays ready for Keras (float32 in [0, 1])."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def make_split(
    ds: Dataset,
    fraction: float = 1.0,
    seed: int = 0,
    validation: str = "test",
    test_fraction: float = 1.0,
) -> Split:
    """Split ``ds`` as a study asks.

    ``validation``: ``"holdout:N"`` (the first N training images, as ``fmnist_mlp_optimizers``
    does; N below 1 is a share of them) or ``"test"`` / ``"none"`` (the test set doubles as
    validation, as most of the papers do: optimistic when used for selection).
    ``fraction`` subsamples the remaining training images (stratified, seeded);
    ``test_fraction`` evaluates on a seeded random sample of the test set.
    """
    x_tr, y_tr = ds.x_train, ds.y_train
    if validation in ("test", "none"):
        x_val = y_val = None
    elif validation.startswith("holdout:"):
        size = parse_validation(validation) or 0.0
        n = int(round(size * len(y_tr))) if size < 1 else int(size)
        if not 0 < n < len(y_tr):
            raise BenchError(f"holdout of {n} images leaves no training data ({len(y_tr)} in all)")
        x_val, y_val = x_tr[:n], y_tr[:n]
        x_tr, y_tr = x_tr[n:], y_tr[n:]
    else:
        raise BenchError(f"unknown validation {validation!r}; valid: test, none, holdout:N")
    keep = stratified_subset(y_tr, fraction, seed)
    x_tr, y_tr = x_tr[keep], y_tr[keep]
    x_te, y_te = ds.x_test, ds.y_test
    if test_fraction < 1:
        rng = np.random.default_rng(seed + 10_007)
        size = int(round(test_fraction * len(y_te)))
        pick = np.sort(rng.choice(len(y_te), size=size, replace=False))
        x_te, y_te = x_te[pick], y_te[pick]
    if x_val is None:
        x_val, y_val = x_te, y_te

    def scale(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) / 255.0)[..., None]

    return Split(scale(x_tr), y_tr.astype(np.int32), scale(x_val), y_val.astype(np.int32),
                 scale(x_te), y_te.astype(np.int32))

