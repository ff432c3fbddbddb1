"""The metric-learning benchmarks in their published folder layouts, for the paper profiles.

None of them can be downloaded here; give ``data_root`` the unpacked folder. Each follows the
standard class-disjoint protocol: the first half of the classes trains, the second half tests.

- CUB-200-2011: ``images.txt`` (id, relative path), ``image_class_labels.txt`` (id, class 1–200),
  ``images/``; classes 1–100 train, 101–200 test.
- Cars196: ``cars_annos.mat`` (fields ``relative_im_path``, ``class`` 1–196), ``car_ims/``;
  classes 1–98 train, 99–196 test.
- Stanford Online Products: ``Ebay_train.txt`` / ``Ebay_test.txt`` (header line, then
  image_id class_id super_class_id path); 11,318 train and 11,316 test classes.

Images are held as ``LazyImages``: float32 (N, 3, S, S) in [0, 1], decoded when indexed (the
shorter side resized to S, then a centre crop), so SOP at 224 px needs no 72 GB array.
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
    raise LayoutError(
        f"no {WHERE[name]} in {base} or its {'/'.join(SUBFOLDERS[name])} subfolder: "
        f"expected {', '.join(markers)}. Download and unpack it there; nothing is fetched at run time."
    )


def _pairs(path: Path, columns: int) -> list[list[str]]:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    bad = [i for i, r in enumerate(rows, 1) if len(r) != columns]
    if bad:
        raise LayoutError(f"{path}: line {bad[0]} does not have {columns} fields")
    return rows


def _by_id(path: Path) -> dict[str, str]:
    """The two-column file ``path`` (id, value) as a mapping, refused when an id is listed twice (a
    mapping would keep the last line silently, giving the id another image or class)."""
    rows = _pairs(path, 2)
    seen: dict[str, int] = {}
    for line, (i, _) in enumerate(rows, 1):
        if i in seen:
            raise LayoutError(f"{path}: image id {i} is listed twice (lines {seen[i]} and {line}); each id once")
        seen[i] = line
    return dict(rows)


def cub200_list(data_root: str | Path) -> ImageList:
    root = _root("cub200", data_root, ("images.txt", "image_class_labels.txt"))
    paths = _by_id(root / "images.txt")
    labels = {i: int(c) for i, c in _by_id(root / "image_class_labels.txt").items()}
    if set(paths) != set(labels):
        raise LayoutError(f"{root}: images.txt and image_class_labels.txt list different image ids")
    ids = sorted(paths, key=int)
    y = np.array([labels[i] for i in ids]) - 1
    if len(y) and y.min() < 0:
        raise LayoutError(
            f"{root / 'image_class_labels.txt'}: class ids start at {y.min() + 1}; CUB-200-2011 numbers them 1–200"
        )
    return ImageList([root / "images" / paths[i] for i in ids], y, y < 100, root)


def cars196_list(data_root: str | Path) -> ImageList:
    from scipy.io import loadmat

    root = _root("cars196", data_root, ("cars_annos.mat",))
    mat = root / "cars_annos.mat"
    try:
        annos = loadmat(mat)["annotations"][0]
    except KeyError:
        raise LayoutError(f"{mat} holds no 'annotations' array: it is not Cars196's annotation file") from None
    except Exception as err:  # scipy raises ValueError, TypeError, OSError or MatReadError on a damaged file
        raise LayoutError(
            f"{mat} cannot be read ({type(err).__name__}: {err}); it is truncated or not a MATLAB "
            f"file: download cars_annos.mat again"
        ) from err
    if not len(annos) or not {"relative_im_path", "class"} <= set(annos.dtype.names or ()):
        raise LayoutError(f"{root / 'cars_annos.mat'} has no annotations with relative_im_path and class")
    paths = [root / str(a["relative_im_path"][0]) for a in annos]
    y = np.array([int(a["class"][0][0]) for a in annos]) - 1
    return ImageList(paths, y, y < 98, root)


def sop_list(data_root: str | Path) -> ImageList:
    root = _root("sop", data_root, ("Ebay_train.txt", "Ebay_test.txt"))
    paths, labels, train = [], [], []
    for split in ("train", "test"):
        rows = _pairs(root / f"Ebay_{split}.txt", 4)
        if rows and not rows[0][0].isdigit():  # the header line "image_id class_id super_class_id path"
            rows = rows[1:]
        paths += [root / r[3] for r in rows]
        labels += [int(r[1]) for r in rows]
        train += [split == "train"] * len(rows)
    return ImageList(paths, np.array(labels) - 1, np.array(train), root)


LISTS = {"cub200": cub200_list, "cars196": cars196_list, "sop": sop_list}


class BadImageError(ValueError):
    """An image file of a dataset that PIL cannot decode."""


class LazyImages:
    """The images of ``paths``, decoded only when indexed, so a benchmark of any size fits in memory.

    Behaves like the float32 array (N, 3, S, S) in [0, 1] it stands for: ``len``, ``shape``,
    ``ndim``, ``dtype``; ``x[i]`` decodes one image; ``x[rows]`` (slice, index array, mask) is
    another LazyImages over those images, still undecoded; ``np.asarray(x)`` decodes them all.
    Decoding: PIL opens the file as RGB; torchvision resizes the shorter side to S (bilinear,
    antialiased) and takes the centre S × S crop.
    """

    dtype = np.dtype(np.float32)
    ndim = 4

    def __init__(self, paths: list[Path], image_size: int, check: bool = True):
        if image_size < 8:
            raise ValueError(f"image_size must be >= 8, got {image_size}")
        self.paths, self.image_size = list(paths), int(image_size)
        if check:
            missing = [p for p in self.paths if not Path(p).is_file()]
            if missing:
                raise LayoutError(
                    f"{missing[0]} is listed but missing ({len(missing)} of {len(self.paths)} listed images are); "
                    "the dataset folder is incomplete"
                )

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.paths), 3, self.image_size, self.image_size)

    def __len__(self) -> int:
        return len(self.paths)

    def decode(self, i: int) -> np.ndarray:
        import torch
        from PIL import Image
        from torchvision.transforms.v2 import functional as F

        try:
            with Image.open(self.paths[i]) as im:
                t = F.pil_to_tensor(im.convert("RGB"))  # uint8 (3, H, W)
        except (OSError, SyntaxError, ValueError) as err:  # PIL's truncated-file and unidentified-image errors
            raise BadImageError(
                f"{self.paths[i]} cannot be decoded ({type(err).__name__}: {err}); the file is "
                f"truncated or not an image: restore it from the dataset's archive"
            ) from err
        t = F.center_crop(F.resize(t, [self.image_size], antialias=True), [self.image_size, self.image_size])
        return (t.to(torch.float32) / 255.0).numpy()

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self.decode(int(key))
        rows = np.arange(len(self.paths))[key]
        return LazyImages([self.paths[i] for i in np.atleast_1d(rows)], self.image_size, check=False)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        from .progress import bar

        out = np.empty(self.shape, dtype=np.float32)
        for i in bar(range(len(self)), desc="decoding images", disable=len(self) < 1000, mininterval=5):
            out[i] = self.decode(i)
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        return f"LazyImages({len(self)} images at {self.image_size} px)"
