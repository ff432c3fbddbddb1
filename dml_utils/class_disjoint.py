"""Class-disjoint retrieval data: images of the training classes (long-tailed or balanced),
held-out images of those classes, and images of unseen test classes; from a dataset (notebooks 01
and 04: :func:`prepare`) or from patches of real photos with many classes (notebooks 02 and 06:
:func:`patch_retrieval_data`).
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


# ---------------------------------------------------------------- many unseen classes: patches of real photos
PATCH_VAL_VIEWS = ("t4", "t5")  # held out of every training class (recall during training)


def _patch_views(seqs, names: list[str], size: int = 32):
    """Every view of every patch of the sequences ``names``, (N·16, size, size) float32: area-
    downsampled from 65 px, each standardized by its own mean and (std + 1e-3) as notebook 05's
    input; one class per patch, numbered from 0 in the order given."""
    import torch
    import torch.nn.functional as F

    from . import hpatches as hp

    xs, ys, first = [], [], 0
    for name in names:
        views = np.stack([seqs[name].patches[t] for t in hp.IMAGE_TYPES], axis=1)  # (N, 16, 65, 65)
        t = torch.as_tensor(views.reshape(-1, 1, *views.shape[2:]), dtype=torch.float32) / 255.0
        t = F.interpolate(t, size=size, mode="area").reshape(-1, size, size)
        xs.append((t - t.mean(dim=(1, 2), keepdim=True)) / (t.std(dim=(1, 2), keepdim=True) + 1e-3))
        n = len(views)
        ys.append(np.repeat(np.arange(first, first + n), len(hp.IMAGE_TYPES)))
        first += n
    return torch.cat(xs), np.concatenate(ys)


def patch_retrieval_data(patch_per_sequence: int, layout: str = "distinct") -> RetrievalData:
    """A class-disjoint retrieval set with many unseen classes (notebooks 02 and 06): the
    HPatches-style sequences of notebook 05 cut from scikit-image's photos, at most
    ``patch_per_sequence`` patch locations per sequence, one class per location seen in its 16
    views (32 × 32, standardized per patch, as notebook 05). The training photos' classes train
    (their views t4, t5 held out); every class of the 5 held-out photos is unseen. Class ids are
    numbered within each split (training 0 … C − 1, unseen 0 … U − 1): evaluation compares unseen
    classes among themselves only. ``layout`` is ``hpatches.synthetic_release``'s: "distinct" (one
    label per physical location, locations a patch apart); "shared" gave every location two labels
    and is kept only for the notebook not yet re-derived (02)."""
    from . import hpatches as hp
    from .memo import cached_call

    if not isinstance(patch_per_sequence, int) or isinstance(patch_per_sequence, bool) or patch_per_sequence < 2:
        raise ValueError(f"patch_per_sequence must be a whole number >= 2, got {patch_per_sequence!r}")
    seqs, splits = cached_call(
        hp.synthetic_release, hp.PHOTOS_ALL, patch_per_sequence, 0, 512, test_photos=hp.PHOTOS_TEST, layout=layout
    )
    x, y = _patch_views(seqs, splits["a"]["train"])
    x_test, y_test = _patch_views(seqs, splits["a"]["test"])
    views = np.tile(np.arange(len(hp.IMAGE_TYPES)), len(x) // len(hp.IMAGE_TYPES))
    val = np.isin(views, [hp.IMAGE_TYPES.index(t) for t in PATCH_VAL_VIEWS])
    x, x_test = x.numpy(), x_test.numpy()
    prov = {
        "name": "synthetic-hpatches",
        "source": f"HPatches-style sequences cut from scikit-image's photos (release seed 0, {patch_per_sequence} "
        f"patches per sequence); unseen: every patch of the photos {', '.join(hp.PHOTOS_TEST)}"
        + ("; one label per location, locations a patch apart (layout 'distinct')" if layout == "distinct" else ""),
        "train_classes": int(len(np.unique(y))),
        "unseen_classes": int(len(np.unique(y_test))),
        "n_train_used": int((~val).sum()),
        "n_val": int(val.sum()),
        "n_unseen_test": int(len(y_test)),
    }
    return RetrievalData(x[~val], y[~val], x[val], y[val], x_test, y_test, prov)
