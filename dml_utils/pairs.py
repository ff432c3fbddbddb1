"""Explicit pairs (report 003's protocol): building them, batching them, the loss of a pair
batch, and pair verification (accuracy at a threshold, the best threshold, distance statistics).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .losses import KERAS_EPSILON
from .train import LossOfBatch, model_device


def alternating_pairs(y: np.ndarray, seed: int, shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Pairs as the report's code builds them: per class, alternately a positive and a negative.

    With n = (smallest class size) - 1, for every class d and i < n: the positive pair
    (d_i, d_{i+1}) and the negative pair (d_i, e_i), e = (d + k) mod C with k uniform in 1..C-1.
    Returns ``pairs`` (P, 2) of sample indices and ``same`` (P,) with 1 for a positive pair.
    """
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError("pairs need at least two classes")
    members = [np.flatnonzero(y == c) for c in classes]
    n = min(len(m) for m in members) - 1
    if n < 1:
        raise ValueError("every class needs at least two samples to form a positive pair")
    rng = np.random.default_rng(seed)
    n_cls = len(classes)
    pairs = np.empty((2 * n_cls * n, 2), dtype=np.int64)
    same = np.tile(np.array([1, 0], dtype=np.int64), n_cls * n)
    row = 0
    for d in range(n_cls):
        other = (d + rng.integers(1, n_cls, size=n)) % n_cls
        for i in range(n):
            pairs[row] = members[d][i], members[d][i + 1]
            pairs[row + 1] = members[d][i], members[other[i]][i]
            row += 2
    if shuffle:
        order = rng.permutation(len(pairs))
        pairs, same = pairs[order], same[order]
    return pairs, same


def check_pairs(n_rows: int, pairs: np.ndarray, same: np.ndarray | None = None, what: str = "samples") -> None:
    """Pairs must be (P, 2) whole-number indices into ``n_rows`` rows, with one 0/1 label each:
    pairs built for another set, or labels of another list, would silently join the wrong rows."""
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise ValueError(f"pairs must be a (P, 2) array of row indices, got shape {pairs.shape} of {pairs.dtype}")
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= n_rows):
        raise ValueError(
            f"pairs index rows {pairs.min()}..{pairs.max()}, but there are {n_rows} {what}: "
            f"these pairs were built for another set"
        )
    if same is not None:
        same = np.asarray(same)
        if len(same) != len(pairs):
            raise ValueError(
                f"{len(same)} pair labels for {len(pairs)} pairs: give one label (1 same, 0 different) per pair"
            )
        if len(same) and not np.isin(same, (0, 1)).all():
            raise ValueError(f"pair labels must be 1 (same class) or 0, got values {np.unique(same)[:5].tolist()}")


def _check_distances(dist: np.ndarray, same: np.ndarray) -> None:
    dist, same = np.asarray(dist), np.asarray(same)
    if len(dist) != len(same) or len(dist) == 0:
        raise ValueError(
            f"need as many labels as distances, and at least one pair; got {len(same)} labels for {len(dist)} distances"
        )
    bad = ~np.isfinite(dist)
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} of {len(dist)} pair distances are not finite (first at pair "
            f"{int(np.flatnonzero(bad)[0])}): the embeddings hold NaN or inf, so the model diverged "
            f"or an input is not finite; a NaN would count as 'different' and change the accuracy silently"
        )


class _PairBatches:
    """Map-style dataset indexed by a list of pair indices: returns the whole batch at once."""

    def __init__(self, x, pairs, same):
        self.x = torch.as_tensor(x, dtype=torch.float32).reshape(len(x), -1)
        self.pairs = torch.as_tensor(pairs, dtype=torch.long)
        self.same = torch.as_tensor(same, dtype=torch.long)

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, rows):
        p = self.pairs[rows]
        return self.x[p[:, 0]], self.x[p[:, 1]], self.same[rows]


def pair_loader(x: np.ndarray, pairs: np.ndarray, same: np.ndarray, batch_size: int, generator):
    """A DataLoader over explicit pairs, reshuffled every epoch by ``generator`` (keeps the last,
    smaller batch, as Keras' ``fit`` does); no workers, so runs are deterministic."""
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler

    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2, got {batch_size}")
    if len(pairs) == 0:
        raise ValueError("no pairs to train on")
    check_pairs(len(x), pairs, same)
    ds = _PairBatches(x, pairs, same)
    sampler = BatchSampler(RandomSampler(range(len(ds)), generator=generator), batch_size, drop_last=False)
    return DataLoader(ds, sampler=sampler, batch_size=None, num_workers=0)


def pair_indices_tuple(same: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """PML pair indices for a batch laid out as [first items; second items] of B explicit pairs.

    Pair i joins rows i and i + B; ``same[i]`` = 1 marks it positive. Returns (a1, p, a2, n).
    """
    b = len(same)
    rows = torch.arange(b, device=same.device)
    pos, neg = same.bool(), ~same.bool()
    return rows[pos], rows[pos] + b, rows[neg], rows[neg] + b


def pair_loss(loss_fn: nn.Module) -> LossOfBatch:
    """The loss of a batch of explicit pairs (x_first, x_second, same): one forward pass for both."""

    def of(model: nn.Module, batch) -> torch.Tensor:
        dev = model_device(model)
        xa, xb, same = (t.to(dev) for t in batch)
        if not len(xa) == len(xb) == len(same):
            raise ValueError(
                f"a batch of explicit pairs holds as many first items, second items and labels; got {len(xa)} "
                f"first, {len(xb)} second and {len(same)} labels (pair i is first[i], second[i], same[i])"
            )
        emb = model(torch.cat([xa, xb]))
        return loss_fn(emb, None, pair_indices_tuple(same))

    return of


def pair_distances(emb: np.ndarray, pairs: np.ndarray, eps: float = KERAS_EPSILON) -> np.ndarray:
    """sqrt(max(||e_i - e_j||², eps)) for every pair (i, j): the report-003 distance, in float64."""
    check_pairs(len(emb), pairs, what="embeddings")
    diff = emb[pairs[:, 0]].astype(np.float64) - emb[pairs[:, 1]].astype(np.float64)
    return np.sqrt(np.maximum((diff**2).sum(axis=1), eps))


def pair_verification_accuracy(dist: np.ndarray, same: np.ndarray, threshold: float = 0.5) -> float:
    """Share of pairs where [D < threshold] equals the pair label (report 003's "accuracy")."""
    _check_distances(dist, same)
    return float(np.mean((dist < threshold) == (np.asarray(same) == 1)))


def best_threshold(dist: np.ndarray, same: np.ndarray) -> float:
    """The threshold that maximizes pair-verification accuracy on these pairs (midpoint rule)."""
    _check_distances(dist, same)
    order = np.argsort(dist)
    d, s = dist[order], (np.asarray(same)[order] == 1)
    # accuracy when the first k sorted pairs are called "same": positives among them + negatives after
    correct = np.concatenate([[0], np.cumsum(s)]) + np.concatenate([[(~s).sum()], (~s).sum() - np.cumsum(~s)])
    k = int(np.argmax(correct))
    if k == 0:
        return float(d[0]) - 1e-12
    if k == len(d):
        return float(d[-1]) + 1e-12
    return float((d[k - 1] + d[k]) / 2)


def distance_stats(dist: np.ndarray, same: np.ndarray, pos_below: float | None = None) -> dict[str, float]:
    """Mean and std (ddof 0) of positive and negative pair distances.

    ``pos_below`` keeps only positives with D < pos_below (the report's positive statistics did
    this with 0.4); negatives are never filtered. ``pos_kept`` is the share of positives kept.
    """
    _check_distances(dist, same)
    same = np.asarray(same) == 1
    pos, neg = dist[same], dist[~same]
    kept = pos if pos_below is None else pos[pos < pos_below]
    return {
        "pos_mean": float(kept.mean()) if len(kept) else float("nan"),
        "pos_std": float(kept.std()) if len(kept) else float("nan"),
        "neg_mean": float(neg.mean()) if len(neg) else float("nan"),
        "neg_std": float(neg.std()) if len(neg) else float("nan"),
        "pos_kept": float(len(kept) / len(pos)) if len(pos) else float("nan"),
    }
