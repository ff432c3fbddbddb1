"""Class-disjoint retrieval data for notebooks 01 and 04: images of the training classes
(long-tailed or balanced), held-out images of those classes, and images of unseen test classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import Config
from .data import BENCHMARKS, load_dataset, long_tailed_subsample, subsample_per_class

SPLIT_SEED = 0


@dataclass
class RetrievalData:
    x_train: np.ndarray  # images of the training classes (long-tailed when imbalance_ratio > 1)
    y_train: np.ndarray
    x_val: np.ndarray  # held-out images of the training classes
    y_val: np.ndarray
    x_test: np.ndarray  # images of classes never seen in training
    y_test: np.ndarray
    provenance: dict[str, Any]


def prepare(cfg: Config) -> RetrievalData:
    """Training images of ``train_classes`` (long-tailed when imbalance_ratio > 1), held-out images of
    those classes, and images of the unseen classes.

    Datasets with one split per class half (CUB, Cars196, SOP: ``class_disjoint``) hold out
    ``val_per_class`` training images per class; the others (Fashion-MNIST) take them from the
    test split. ``train_classes=None``: every class of the training split; ``n_max=None``: every
    image; ``test_per_class=None``: every image of the unseen classes.
    """
    if cfg.values.get("image_size") is not None and cfg.dataset not in BENCHMARKS:
        raise ValueError(
            f"image_size={cfg.image_size} applies to the image-folder datasets {list(BENCHMARKS)} only; "
            f"{cfg.dataset} keeps its own size: leave image_size at None"
        )
    ds = load_dataset(
        cfg.dataset,
        data_root=cfg.data_root,
        allow_download=cfg.allow_download,
        image_size=cfg.values.get("image_size") or 224,
    )
    disjoint = bool(ds.provenance.get("class_disjoint"))
    train_classes = np.unique(ds.y_train).tolist() if cfg.train_classes is None else list(cfg.train_classes)
    unknown = set(train_classes) - set(np.unique(ds.y_train).tolist())
    if unknown:
        raise ValueError(f"train_classes {sorted(unknown)} are not classes of {cfg.dataset}")
    unseen = [c for c in np.unique(ds.y_test).tolist() if c not in train_classes]
    if len(unseen) < 2:
        raise ValueError("leave at least two classes out of train_classes: they are the unseen test classes")

    def per_class(y, idx, n):
        return idx if n is None else idx[subsample_per_class(y[idx], n, seed=SPLIT_SEED)]

    pool = np.flatnonzero(np.isin(ds.y_train, train_classes))
    if disjoint:
        va = per_class(ds.y_train, pool, cfg.val_per_class)
        pool = np.setdiff1d(pool, va)
        x_val, y_val = ds.x_train[va], ds.y_train[va]
    else:
        va = per_class(ds.y_test, np.flatnonzero(np.isin(ds.y_test, train_classes)), cfg.val_per_class)
        x_val, y_val = ds.x_test[va], ds.y_test[va]
    if cfg.n_max is None:
        if cfg.imbalance_ratio != 1:
            raise ValueError(
                "n_max=None takes every training image, which needs imbalance_ratio=1; set n_max for a long tail"
            )
        tr = pool
    else:
        tr = pool[
            long_tailed_subsample(ds.y_train[pool], train_classes, cfg.n_max, cfg.imbalance_ratio, seed=SPLIT_SEED)
        ]
    te = per_class(ds.y_test, np.flatnonzero(np.isin(ds.y_test, unseen)), cfg.test_per_class)
    counts = {int(c): int((ds.y_train[tr] == c).sum()) for c in train_classes}
    prov = {
        **ds.provenance,
        "train_classes": train_classes,
        "unseen_classes": unseen,
        "train_counts": counts,
        "imbalance_ratio": cfg.imbalance_ratio,
        "n_train_used": int(len(tr)),
        "n_val": int(len(va)),
        "n_unseen_test": int(len(te)),
    }
    return RetrievalData(ds.x_train[tr], ds.y_train[tr], x_val, y_val, ds.x_test[te], ds.y_test[te], prov)
