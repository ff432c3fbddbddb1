"""The metric-learning benchmarks in their published folder layouts, for the paper profiles.

None of them can be downloaded here; give ``data_root`` the unpacked folder. Each follows the
standard class-disjoint protocol: the first half of the classes trains, the second half tests.

- CUB-200-2011: ``images.txt`` (id, relative path), ``image_class_labels.txt`` (id, class 1–200),
  ``images/``; classes 1–100 train, 101–200 test.
- Cars196: ``cars_annos.mat`` (fields ``relative_im_path``, ``class`` 1–196), ``car_ims/``;
  classes 1–98 train, 99–196 test.
- Stanford Online Products: ``Ebay_train.txt`` / ``Ebay_test.txt`` (header line, then
  image_id class_id super_class_id path); 11,318 train and 11,316 test classes.

Images become float32 (N, 3, S, S) in [0, 1]: the shorter side resized to S, then a centre crop.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataNotFoundError

WHERE = {
    "cub200": "CUB-200-2011 (the CUB_200_2011 folder with images.txt, image_class_labels.txt and images/)",
    "cars196": "Cars196 (the folder with cars_annos.mat and car_ims/)",
    "sop": "Stanford Online Products (the Stanford_Online_Products folder with Ebay_train.txt and Ebay_test.txt)",
}
SUBFOLDERS = {"cub200": ("CUB_200_2011",), "cars196": ("cars196", "CARS196"), "sop": ("Stanford_Online_Products",)}


class LayoutError(DataNotFoundError):
    """The folder is not the dataset's published layout; the message says what is missing."""


@dataclass
class ImageList:
    paths: list[Path]
    labels: np.ndarray  # 0-based class ids
    is_train: np.ndarray  # bool: the image's class belongs to the training half
    root: Path


def _need(folder: Path, *names: str) -> None:
    missing = [n for n in names if not (folder / n).exists()]
    if missing:
        raise LayoutError(f"{folder} lacks {', '.join(missing)}")


def _root(name: str, data_root: str | Path, markers: tuple[str, ...]) -> Path:
    base = Path(data_root)
    for folder in (base, *(base / s for s in SUBFOLDERS[name])):
        if all((folder / m).exists() for m in markers):
            return folder
    raise LayoutError(f"no {WHERE[name]} in {base} or its {'/'.join(SUBFOLDERS[name])} subfolder: "
                      f"expected {', '.join(markers)}. Download and unpack it there; nothing is fetched at run time.")


def _pairs(path: Path, columns: int) -> list[list[str]]:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    bad = [i for i, r in enumerate(rows, 1) if len(r) != columns]
    if bad:
        raise LayoutError(f"{path}: line {bad[0]} does not have {columns} fields")
    return rows


def cub200_list(data_root: str | Path) -> ImageList:
    root = _root("cub200", data_root, ("images.txt", "image_class_labels.txt"))
    paths = dict(_pairs(root / "images.txt", 2))
    labels = {i: int(c) for i, c in _pairs(root / "image_class_labels.txt", 2)}
    if set(paths) != set(labels):
        raise LayoutError(f"{root}: images.txt and image_class_labels.txt list different image ids")
    ids = sorted(paths, key=int)
    y = np.array([labels[i] for i in ids]) - 1
    return ImageList([root / "images" / paths[i] for i in ids], y, y < 100, root)


def cars196_list(data_root: str | Path) -> ImageList:
    from scipy.io import loadmat

    root = _root("cars196", data_root, ("cars_annos.mat",))
    annos = loadmat(root / "cars_annos.mat")["annotations"][0]
    if not len(annos) or not {"relative_im_path", "class"} <= set(annos.dtype.names or ()):
        raise LayoutError(f"{root / 'cars_annos.mat'} has no annotations with relative_im_path and class")
    paths = [root / str(a["relative_im_path"][0]) for a in annos]
    y = np.array([int(a["class"][0][0]) for a in annos]) - 1
    return ImageList(paths, y, y < 98, root)


def sop_list(data_root: str | Path) -> ImageList:
    root = _root("sop", data_root, ("Ebay_train.txt", "Ebay_test.txt"))
    paths, labels, train = [], [], []
    for split in ("train", "test"):
        rows = _pairs(root / f"Ebay_{split}.txt", 4)[1:]  # skip the header line
        paths += [root / r[3] for r in rows]
        labels += [int(r[1]) for r in rows]
        train += [split == "train"] * len(rows)
    return ImageList(paths, np.array(labels) - 1, np.array(train), root)


LISTS = {"cub200": cub200_list, "cars196": cars196_list, "sop": sop_list}


def load_images(paths: list[Path], image_size: int, progress: bool = True) -> np.ndarray:
    """float32 (N, 3, S, S) in [0, 1]: RGB, shorter side resized to S, centre crop."""
    from PIL import Image
    from tqdm import tqdm

    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    out = np.empty((len(paths), 3, image_size, image_size), dtype=np.float32)
    for i, p in enumerate(tqdm(paths, desc="loading images", disable=not progress or len(paths) < 1000, mininterval=5)):
        if not p.is_file():
            raise LayoutError(f"{p} is listed but missing; the dataset folder is incomplete")
        with Image.open(p) as im:
            im = im.convert("RGB")
            scale = image_size / min(im.size)
            w, h = max(image_size, round(im.width * scale)), max(image_size, round(im.height * scale))
            im = im.resize((w, h), Image.BILINEAR)
            left, top = (w - image_size) // 2, (h - image_size) // 2
            im = im.crop((left, top, left + image_size, top + image_size))
            out[i] = np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return out
