"""Embeddings, pair verification, distance statistics, retrieval metrics and 2-D projections."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .losses import KERAS_EPSILON


@torch.no_grad()
def embed(model: nn.Module, x: np.ndarray | torch.Tensor, batch_size: int = 2048) -> np.ndarray:
    """Embeddings of ``x`` in eval mode (dropout off), as float32 NumPy, computed where the model lives."""
    was_training = model.training
    model.eval()
    x = torch.as_tensor(x, dtype=torch.float32)
    dev = next(model.parameters()).device
    out = [model(x[i : i + batch_size].to(dev)).cpu() for i in range(0, len(x), batch_size)]
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


def sklearn_kmeans(x: torch.Tensor, n_clusters: int) -> torch.Tensor:
    """k-means for PML's AccuracyCalculator without faiss (seeded, 10 restarts)."""
    from sklearn.cluster import KMeans

    return torch.as_tensor(KMeans(n_clusters, n_init=10, random_state=0).fit_predict(x.cpu().numpy()))


def _make_calculator(recall_ks: tuple[int, ...]):
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator

    def recall_at(k):
        def calculate(self, knn_labels, query_labels, **kwargs):
            # Recall@K of the DML literature: share of queries with a same-class item among the K nearest
            same = self.label_comparison_fn(query_labels[:, None], knn_labels[:, :k])
            return float(same.any(dim=1).double().mean())

        return calculate

    names = {f"calculate_recall_at_{k}": recall_at(k) for k in recall_ks}
    names["requires_knn"] = lambda self: AccuracyCalculator.requires_knn(self) + [f"recall_at_{k}" for k in recall_ks]
    return type("RecallAccuracyCalculator", (AccuracyCalculator,), names)


def retrieval_metrics(emb: np.ndarray, labels: np.ndarray, normalize: bool = False,
                      recall_ks: tuple[int, ...] = (), nmi: bool = False) -> dict[str, float]:
    """Precision@1 and MAP@R of each item against the others (PML AccuracyCalculator); optionally
    Recall@K and NMI (k-means from scikit-learn, since faiss is not required here).

    The k-NN is pinned to PML's own (CustomKNN on Lp distance), so the numbers do not change
    when faiss happens to be installed.
    """
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.utils.inference import CustomKNN

    include = ["precision_at_1", "mean_average_precision_at_r"] + [f"recall_at_{k}" for k in recall_ks] + (["NMI"] if nmi else [])
    # MAP@R needs the largest class's R = count − 1 neighbours ("max_bin_count"); Recall@K needs K.
    # With classes smaller than K + 1, "max_bin_count" alone would compute Recall@K at fewer neighbours.
    need = max(recall_ks, default=1)
    if need > len(labels) - 1:
        raise ValueError(f"Recall@{need} needs more than {need} items; got {len(labels)}: lower recall_ks or embed more items")
    largest = int(np.unique(np.asarray(labels), return_counts=True)[1].max()) if len(labels) else 0
    calc = _make_calculator(tuple(recall_ks))(
        include=tuple(include),
        knn_func=CustomKNN(LpDistance(normalize_embeddings=normalize)),
        kmeans_func=sklearn_kmeans,
        k="max_bin_count" if need <= largest - 1 else need,
        device=torch.device("cpu"),
    )
    e = torch.as_tensor(emb, dtype=torch.float32).reshape(len(emb), -1)
    acc = calc.get_accuracy(e, torch.as_tensor(labels))
    out = {"p_at_1": float(acc["precision_at_1"]), "map_at_r": float(acc["mean_average_precision_at_r"])}
    out.update({f"recall_at_{k}": float(acc[f"recall_at_{k}"]) for k in recall_ks})
    if nmi:
        out["nmi"] = float(acc["NMI"])
    return out


def similarity_stats(emb: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Mean cosine similarity of same-class and of different-class pairs (self-pairs excluded),
    and over all pairs: near 1 everywhere means the embeddings collapsed into a cone."""
    e = torch.nn.functional.normalize(torch.as_tensor(emb, dtype=torch.float64), dim=1)
    sim = e @ e.T
    y = torch.as_tensor(labels)
    same = y[:, None] == y[None, :]
    off = ~torch.eye(len(y), dtype=torch.bool)
    return {"sim_same": float(sim[same & off].mean()), "sim_diff": float(sim[~same].mean()),
            "sim_all": float(sim[off].mean())}


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
