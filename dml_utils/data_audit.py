"""Looking at the data before ranking on it: images that carry two labels, and classes that are
near-copies of another.

A retrieval proxy is only as good as its labels. If one physical point carries two labels (the
first layout of the synthetic patch release cut a photo's two sequences at the same corners), each
query has a twin class that no embedding can tell apart, and the attainable score is capped near
half. These checks find that from the pixels alone.

Written here because neither scikit-learn nor PML has it: PML's accuracy calculator scores an
embedding, it does not audit the labels; hashing the bytes (exact copies) and cosines of class
means (near copies) take a few lines of numpy.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

# Cosine of standardized pixels at which two images of different classes count as near-copies. On the
# patches (32 px) the views of one class reach 0.79 on average (their nearest other view); images of
# different scenes with one strong edge across them reach 0.955 (retina's rim against the camera-man's
# coat, looked at); the first layout's twins were 1.0.
NEAR_COPY = 0.97


@dataclass(frozen=True)
class Conflict:
    """Bit-identical images (their indices) carrying more than one label."""

    indices: tuple[int, ...]
    labels: tuple[Hashable, ...]


def identical_groups(images: np.ndarray) -> list[list[int]]:
    """Indices of the images grouped by their bytes (same dtype and shape): a group of two or more
    is a set of bit-identical copies."""
    images = np.ascontiguousarray(images)
    groups: dict[bytes, list[int]] = defaultdict(list)
    for i, im in enumerate(images):
        groups[hashlib.blake2b(im.tobytes(), digest_size=16).digest()].append(i)
    return list(groups.values())


def label_conflicts(images: np.ndarray, labels: Sequence[Hashable]) -> list[Conflict]:
    """Groups of bit-identical images (same dtype, shape and bytes) whose labels differ. Labels may
    be anything hashable: to compare splits whose class ids are numbered apart (unseen classes
    from 0), pass (split, id) pairs."""
    labels = list(labels)
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    out = []
    for idx in identical_groups(images):
        found = tuple(dict.fromkeys(labels[i] for i in idx))
        if len(found) > 1:
            out.append(Conflict(tuple(idx), found))
    return out


def class_mean_cosines(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each class (sorted ids), the largest cosine between its mean image and another class's
    mean image, and which class that is. A class whose mean is a near-copy of another's (cosine
    near 1) is the same thing under two names."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError("class_mean_cosines needs at least two classes")
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    means = np.stack([flat[labels == c].mean(axis=0) for c in classes])
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    unit = means / np.maximum(norms, 1e-12)
    cos = unit @ unit.T
    np.fill_diagonal(cos, -np.inf)
    nearest = cos.argmax(axis=1)
    return cos[np.arange(len(classes)), nearest], classes[nearest]


def nearest_other_class(images: np.ndarray, labels: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """For each image, the largest cosine with an image of another class (flattened pixels)."""
    labels = np.asarray(labels)
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    unit = flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-12)
    out = np.empty(len(flat))
    for start in range(0, len(flat), chunk):
        cos = unit[start : start + chunk] @ unit.T
        cos[labels[start : start + chunk, None] == labels[None, :]] = -np.inf
        out[start : start + chunk] = cos.max(axis=1)
    return out


def audit(splits: dict[str, tuple[np.ndarray, np.ndarray]], same_classes: Sequence[set[str]] = ()) -> dict:
    """The checks over named splits {name: (images, labels)}. Splits named together in a set of
    ``same_classes`` share class ids (training images and held-out images of the training classes);
    every other split's ids are its own. Returns the counts a test or a notebook prints:
    ``conflicts`` (groups of identical images with two labels, within or across splits),
    ``classes_in_conflict``, and per split the largest class-mean cosine to another class
    (``max_class_mean_cosine``) and the largest image-to-other-class cosine
    (``max_image_cosine``)."""
    space = {name: name for name in splits}
    for group in same_classes:
        first = sorted(group)[0]
        for name in group:
            space[name] = first
    xs, keys = [], []
    for name, (x, y) in splits.items():
        xs.append(np.asarray(x))
        keys.extend((space[name], int(c)) for c in np.asarray(y))
    conflicts = label_conflicts(np.concatenate(xs), keys)
    out = {
        "conflicts": len(conflicts),
        "classes_in_conflict": len({k for c in conflicts for k in c.labels}),
        "per_split": {},
    }
    for name, (x, y) in splits.items():
        cos, _ = class_mean_cosines(x, y)
        out["per_split"][name] = {
            "classes": int(len(np.unique(y))),
            "max_class_mean_cosine": float(cos.max()),
            "max_image_cosine": float(nearest_other_class(x, y).max()),
        }
    return out


def perfect_embedding(labels, images: np.ndarray | None = None) -> np.ndarray:
    """The embedding no net can beat: each item at its class's one-hot vector (distance 0 within a
    class, the largest between classes, cosine or Euclidean). With ``images``, the best any
    function of the pixels can do: bit-identical images get one vector, the mean of their labels'
    one-hot vectors, since no net can tell them apart."""
    _, index = np.unique(np.asarray(labels), return_inverse=True)
    onehot = np.eye(index.max() + 1, dtype=np.float32)[index]
    if images is None:
        return onehot
    out = onehot.copy()
    for idx in identical_groups(images):
        if len(idx) > 1:
            out[idx] = onehot[idx].mean(axis=0)
    return out


def ceiling(protocol, labels, images: np.ndarray | None = None) -> dict[str, float]:
    """What a perfect embedding of these items scores under ``protocol``'s retrieval measures
    (an ``evaluate.Protocol``; ``perfect_embedding``, with ``images`` the best a function of the
    pixels can do): 1 for Precision@1 and MAP@R when every class holds two items or more and no
    image carries two labels; less is the labels' own cap on any net."""
    from .evaluate import retrieval_metrics

    labels = np.asarray(labels)
    return retrieval_metrics(
        perfect_embedding(labels, images), labels, normalize=protocol.normalize, recall_ks=protocol.recall_ks
    )
