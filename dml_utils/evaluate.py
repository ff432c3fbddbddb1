"""Embeddings, pair verification, distance statistics, retrieval metrics and 2-D projections."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .losses import KERAS_EPSILON


@torch.no_grad()
def embed(model: nn.Module, x: np.ndarray | torch.Tensor, batch_size: int = 2048) -> np.ndarray:
    """Embeddings of ``x`` in eval mode (dropout off), as float32 NumPy."""
    was_training = model.training
    model.eval()
    x = torch.as_tensor(x, dtype=torch.float32)
    out = [model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(out).numpy()


def pair_distances(emb: np.ndarray, pairs: np.ndarray, eps: float = KERAS_EPSILON) -> np.ndarray:
    """sqrt(max(||e_i - e_j||², eps)) for every pair (i, j): the report-003 distance, in float64."""
    diff = emb[pairs[:, 0]].astype(np.float64) - emb[pairs[:, 1]].astype(np.float64)
    return np.sqrt(np.maximum((diff**2).sum(axis=1), eps))


def pair_verification_accuracy(dist: np.ndarray, same: np.ndarray, threshold: float = 0.5) -> float:
    """Share of pairs where [D < threshold] equals the pair label (report 003's "accuracy")."""
    if len(dist) != len(same) or len(dist) == 0:
        raise ValueError("need as many labels as distances, and at least one pair")
    return float(np.mean((dist < threshold) == (np.asarray(same) == 1)))


def best_threshold(dist: np.ndarray, same: np.ndarray) -> float:
    """The threshold that maximizes pair-verification accuracy on these pairs (midpoint rule)."""
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


def retrieval_metrics(emb: np.ndarray, labels: np.ndarray, normalize: bool = False) -> dict[str, float]:
    """Precision@1 and MAP@R of each test item against the others (PML AccuracyCalculator).

    The k-NN is pinned to PML's own (CustomKNN on Lp distance), so the numbers do not change
    when faiss happens to be installed.
    """
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN

    calc = AccuracyCalculator(
        include=("precision_at_1", "mean_average_precision_at_r"),
        knn_func=CustomKNN(LpDistance(normalize_embeddings=normalize)),
        device=torch.device("cpu"),
    )
    e = torch.as_tensor(emb, dtype=torch.float32).reshape(len(emb), -1)
    acc = calc.get_accuracy(e, torch.as_tensor(labels))
    return {"p_at_1": float(acc["precision_at_1"]), "map_at_r": float(acc["mean_average_precision_at_r"])}


def project_2d(emb: np.ndarray, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """A 2-D projection for plots: t-SNE (scikit-learn) or UMAP (umap-learn), seeded."""
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(n_components=2, init="pca", perplexity=30, random_state=seed).fit_transform(emb)
    if method == "umap":
        import umap

        return umap.UMAP(n_components=2, random_state=seed).fit_transform(emb)
    raise ValueError(f"unknown projection {method!r}; use 'tsne' or 'umap'")


def paired_comparison(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """a - b across seeds: mean, std, paired t-test p and Wilcoxon signed-rank p (two-sided)."""
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = a - b
    out = {"n": int(len(diff)), "mean_diff": float(diff.mean()), "std_diff": float(diff.std(ddof=1)) if len(diff) > 1 else float("nan"),
           "wins": int((diff > 0).sum())}
    if len(diff) > 1 and np.any(diff != diff[0]):
        out["t_p"] = float(stats.ttest_rel(a, b).pvalue)
    else:
        out["t_p"] = float("nan")
    out["wilcoxon_p"] = float(stats.wilcoxon(diff).pvalue) if len(diff) > 1 and np.any(diff != 0) else float("nan")
    return out
