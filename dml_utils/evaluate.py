"""Embeddings, retrieval and clustering metrics, similarity statistics, 2-D projections, and the
evaluation protocols the studies score with (pair verification is in :mod:`dml_utils.pairs`, the
HPatches tasks in :mod:`dml_utils.hpatches`, paired statistics in :mod:`dml_utils.results`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn


@torch.no_grad()
def embed(model: nn.Module, x: np.ndarray | torch.Tensor, batch_size: int = 2048) -> np.ndarray:
    """Embeddings of ``x`` in eval mode (dropout off), as float32 NumPy, computed where the model lives.
    ``x`` is an array, a tensor, or ``LazyImages`` (decoded one batch at a time)."""
    was_training = model.training
    model.eval()
    dense = isinstance(x, (np.ndarray, torch.Tensor))
    if dense:
        x = torch.as_tensor(x, dtype=torch.float32)
    dev = next(model.parameters()).device
    out = [
        model((x[i : i + batch_size] if dense else torch.as_tensor(np.asarray(x[i : i + batch_size]))).to(dev)).cpu()
        for i in range(0, len(x), batch_size)
    ]
    model.train(was_training)
    return torch.cat(out).numpy()


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


def _same_label(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Label equality, as PML's default ``torch.eq``; passed as our own function because PML then
    counts each class's matches class by class instead of in one (classes × N) comparison that
    it sums as int64 (SOP's 11k × 60k items: over 5 GB). Same counts, same metrics."""
    return a == b


KNN_QUERY_BATCH = 2048  # queries per k-NN block: 2048 × 60,000 float32 distances ≈ 0.5 GB (SOP's test half)
SIMILARITY_BLOCK = (
    2048  # rows per block of the cosine-similarity means above this many items (2048 × 60,000 float64 ≈ 1 GB)
)


def check_embeddings(emb: np.ndarray, labels: np.ndarray) -> None:
    """One label per embedding, and finite embeddings: PML's calculator would otherwise fail
    with a message about k-NN or labels, or rank NaN rows anywhere."""
    n = len(emb)
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} embeddings: give one label per embedded item")
    if n == 0:
        raise ValueError("no embeddings to evaluate (empty test set)")
    finite = np.isfinite(np.asarray(emb, dtype=np.float64).reshape(n, -1)).all(axis=1)
    if not finite.all():
        rows = np.flatnonzero(~finite)
        raise ValueError(
            f"{len(rows)} of {n} embeddings hold NaN or inf (first row {rows[0]}): the model diverged "
            f"or an input is not finite; check the training losses and the input data"
        )


def retrieval_metrics(
    emb: np.ndarray, labels: np.ndarray, normalize: bool = False, recall_ks: tuple[int, ...] = (), nmi: bool = False
) -> dict[str, float]:
    """Precision@1 and MAP@R of each item against the others (PML AccuracyCalculator); optionally
    Recall@K and NMI (k-means from scikit-learn, since faiss is not required here).

    The k-NN is pinned to PML's own (CustomKNN on Lp distance), so the numbers do not change
    when faiss happens to be installed; it runs ``KNN_QUERY_BATCH`` queries at a time, so memory
    stays bounded (one block of queries × all items, not N × N).
    """
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.utils.inference import CustomKNN

    check_embeddings(emb, labels)
    include = ["precision_at_1", "mean_average_precision_at_r"] + [f"recall_at_{k}" for k in recall_ks]
    # MAP@R needs the largest class's R = count − 1 neighbours ("max_bin_count"); Recall@K needs K.
    # With classes smaller than K + 1, "max_bin_count" alone would compute Recall@K at fewer neighbours.
    need = max(recall_ks, default=1)
    if need > len(labels) - 1:
        raise ValueError(
            f"Recall@{need} needs more than {need} items; got {len(labels)}: lower recall_ks or embed more items"
        )
    largest = int(np.unique(np.asarray(labels), return_counts=True)[1].max()) if len(labels) else 0
    calc = _make_calculator(tuple(recall_ks))(
        include=tuple(include),
        knn_func=CustomKNN(LpDistance(normalize_embeddings=normalize), batch_size=KNN_QUERY_BATCH),
        k="max_bin_count" if need <= largest - 1 else need,
        device=torch.device("cpu"),
        label_comparison_fn=_same_label,
    )
    e = torch.as_tensor(emb, dtype=torch.float32).reshape(len(emb), -1)
    y = torch.as_tensor(labels)
    acc = calc.get_accuracy(e, y)
    out = {"p_at_1": float(acc["precision_at_1"]), "map_at_r": float(acc["mean_average_precision_at_r"])}
    out.update({f"recall_at_{k}": float(acc[f"recall_at_{k}"]) for k in recall_ks})
    if nmi:  # a calculator of its own: PML refuses clustering with a custom label comparison (k-means on e, as before)
        from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator

        clustering = AccuracyCalculator(
            include=("NMI",),
            kmeans_func=sklearn_kmeans,
            knn_func=calc.knn_func,  # (k-NN unused)
            device=torch.device("cpu"),
        )
        out["nmi"] = float(clustering.get_accuracy(e, y)["NMI"])
    return out


def similarity_stats(emb: np.ndarray, labels: np.ndarray, block: int = SIMILARITY_BLOCK) -> dict[str, float]:
    """Mean cosine similarity of same-class and of different-class pairs (self-pairs excluded),
    and over all pairs: near 1 everywhere means the embeddings collapsed into a cone.

    Up to ``block`` items: one N × N matrix. Above: exact sums over blocks of ``block`` rows, so
    memory stays at block × N (SOP's 60k items would need 29 GB at once)."""
    e = torch.nn.functional.normalize(torch.as_tensor(emb, dtype=torch.float64), dim=1)
    y = torch.as_tensor(labels)
    n = len(y)
    if n <= block:
        sim = e @ e.T
        same = y[:, None] == y[None, :]
        off = ~torch.eye(n, dtype=torch.bool)
        return {
            "sim_same": float(sim[same & off].mean()),
            "sim_diff": float(sim[~same].mean()),
            "sim_all": float(sim[off].mean()),
        }
    total = same_sum = 0.0
    same_count = 0
    for s in range(0, n, block):
        sim = e[s : s + block] @ e.T  # block × N: the only large array
        same = y[s : s + block, None] == y[None, :]  # bool, ~1/8 of sim
        total += float(sim.sum())
        same_sum += float(sim[same].sum())  # same-class entries are few: a small copy
        same_count += int(same.sum())
    self_sum = float((e * e).sum())  # the diagonal: cos(x, x) = 1 up to rounding
    diff_count = n * n - same_count
    return {
        "sim_same": (same_sum - self_sum) / (same_count - n) if same_count > n else float("nan"),
        "sim_diff": (total - same_sum) / diff_count if diff_count else float("nan"),
        "sim_all": (total - self_sum) / (n * (n - 1)),
    }


def project_2d(emb: np.ndarray, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """A 2-D projection for plots: t-SNE (scikit-learn) or UMAP (umap-learn), seeded."""
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(n_components=2, init="pca", perplexity=30, random_state=seed).fit_transform(emb)
    if method == "umap":
        import warnings

        import umap

        with warnings.catch_warnings():  # a seed makes umap single-threaded, and it warns so on every call
            warnings.filterwarnings("ignore", message="n_jobs value .* overridden to 1 by setting random_state")
            return umap.UMAP(n_components=2, random_state=seed).fit_transform(emb)
    raise ValueError(f"unknown projection {method!r}; use 'tsne' or 'umap'")


def pair_counting_f1(labels, clusters) -> float:
    """Clustering F1 as the lifted-structure (Oh Song et al. 2016) and HDML (Zheng et al. 2019)
    evaluations compute it: over all pairs of items, a pair is a true positive when both items share
    a cluster and a class, a false positive when they share only the cluster, a false negative when
    they share only the class; F1 = 2PR / (P + R). The pair counts are scikit-learn's
    ``pair_confusion_matrix`` (exact integers); the F1 of them is written here, as neither
    scikit-learn nor PML's calculator (NMI, AMI) has it."""
    from sklearn.metrics.cluster import pair_confusion_matrix

    labels, clusters = np.asarray(labels), np.asarray(clusters)
    if labels.shape != clusters.shape or labels.ndim != 1:
        raise ValueError(f"one cluster per label needed; got {labels.shape} labels and {clusters.shape} clusters")
    (_, fp), (fn, tp) = pair_confusion_matrix(labels, clusters)  # rows: same class no/yes; columns: same cluster
    if tp == 0:
        return 0.0
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return float(2 * precision * recall / (precision + recall))


def _clustering_calculator():
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator

    class ClusteringCalculator(AccuracyCalculator):
        """PML's AccuracyCalculator with the clustering F1 (``pair_counting_f1``) beside its NMI,
        both on the same k-means clusters (k = the number of classes)."""

        def calculate_F1(self, query_labels, cluster_labels, **kwargs):
            return pair_counting_f1(
                *(np.asarray(x.cpu() if hasattr(x, "cpu") else x) for x in (query_labels, cluster_labels))
            )

        def requires_clustering(self):
            return super().requires_clustering() + ["F1"]

    return ClusteringCalculator


def clustering_metrics(emb: np.ndarray, labels: np.ndarray, n_clusters: int | None = None) -> dict[str, float]:
    """NMI and clustering F1 of k-means (scikit-learn, seeded, k = the number of classes) on the
    embeddings, the clustering measures of the HDML and lifted-structure papers. ``n_clusters``
    sets another k (the official HDML evaluation hard-wires 98, Cars196's test classes)."""
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.utils.inference import CustomKNN

    check_embeddings(emb, labels)
    if n_clusters is not None and not 1 <= n_clusters <= len(emb):
        raise ValueError(f"n_clusters must be between 1 and the {len(emb)} items, got {n_clusters}")
    kmeans = sklearn_kmeans if n_clusters is None else (lambda x, _k: sklearn_kmeans(x, n_clusters))
    calc = _clustering_calculator()(
        include=("NMI", "F1"), kmeans_func=kmeans, device=torch.device("cpu"), knn_func=CustomKNN(LpDistance())
    )  # k-NN unused; PML's default needs faiss
    acc = calc.get_accuracy(torch.as_tensor(emb, dtype=torch.float32).reshape(len(emb), -1), torch.as_tensor(labels))
    return {"nmi": float(acc["NMI"]), "f1": float(acc["F1"])}


# ---------------------------------------------------------------- protocols
RAW_PIXEL_SIZE = 32  # image folders: the raw-pixel baseline's side after average pooling


def raw_pixels(x, block: int = 256) -> np.ndarray:
    """Flattened pixels for the raw-pixel baseline. Image folders (``LazyImages``) are decoded in
    blocks and average-pooled to RAW_PIXEL_SIZE² first (when larger): SOP's 60k test images at 224 px would be
    36 GB of float32 as they are."""
    if isinstance(x, np.ndarray):
        return x.reshape(len(x), -1)
    out, side = [], min(RAW_PIXEL_SIZE, x.shape[-1])
    for s in range(0, len(x), block):
        t = torch.as_tensor(np.asarray(x[s : s + block]))
        out.append(torch.nn.functional.adaptive_avg_pool2d(t, side).reshape(len(t), -1).numpy())
    return np.concatenate(out)


@dataclass(frozen=True)
class Protocol:
    """How a study scores embeddings of classes its nets never saw, and its baselines measured the
    same way. One object per evaluation convention (the named instances below) instead of a
    look-alike function per study; a study picks one and never rewrites its parts.

    ``normalize``: L2-normalize before the k-NN (cosine ranking). ``recall_ks``: Recall@K beside
    Precision@1 and MAP@R. ``nmi``: PML's NMI of k-means at k = the number of classes.
    ``clustering``: NMI and pair-counting F1 of k-means at k = the number of classes, and with
    ``official_k`` at that k too (``nmi_official_k``, ``f1_official_k``; skipped when there are
    fewer items than k). ``similarity``: mean same-/different-class cosine similarity."""

    name: str
    normalize: bool = False
    recall_ks: tuple[int, ...] = ()
    nmi: bool = False
    clustering: bool = False
    official_k: int | None = None
    similarity: bool = False

    def __post_init__(self):
        if self.official_k is not None and not self.clustering:
            raise ValueError(f"protocol {self.name!r}: official_k needs clustering=True")
        if self.official_k is not None and self.official_k < 1:
            raise ValueError(f"protocol {self.name!r}: official_k must be >= 1, got {self.official_k}")

    def retrieval(self, emb: np.ndarray, labels: np.ndarray, recall_ks: tuple[int, ...] | None = None) -> dict:
        """Precision@1, MAP@R (and Recall@K at ``recall_ks``, the protocol's by default) at its normalization."""
        ks = self.recall_ks if recall_ks is None else recall_ks
        return retrieval_metrics(emb, labels, normalize=self.normalize, recall_ks=ks)

    def map_at_r(self, emb: np.ndarray, labels: np.ndarray) -> float:
        return self.retrieval(emb, labels, recall_ks=())["map_at_r"]

    def score(self, emb: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        """Every measure of the protocol on one set of embeddings."""
        out = retrieval_metrics(emb, labels, normalize=self.normalize, recall_ks=self.recall_ks, nmi=self.nmi)
        if self.clustering:
            out |= clustering_metrics(emb, labels)
            if self.official_k is not None and self.official_k <= len(emb):
                official = clustering_metrics(emb, labels, n_clusters=self.official_k)
                out |= {"nmi_official_k": official["nmi"], "f1_official_k": official["f1"]}
        if self.similarity:
            out |= similarity_stats(emb, labels)
        return out

    def baselines(self, untrained, x, labels, key: str = "loss", also=None) -> list[dict[str, Any]]:
        """The baselines every trained net is compared with, scored like the trained nets: one row
        per ``(seed, net)`` of ``untrained`` (each the initial weights of that seed's runs, built
        lazily in the order given), then raw pixels (seed −1). ``key`` names the column of the
        method; ``also(features)`` adds columns from a function mapping inputs to features (the
        net's embedding, or raw pixels), e.g. a validation score."""
        rows = []
        for seed, net in untrained:
            features = functools.partial(embed, net)
            rows.append({key: "untrained", "seed": seed, **self.score(features(x), labels), **_also(also, features)})
        return rows + [{key: "raw pixels", "seed": -1, **self.score(raw_pixels(x), labels), **_also(also, raw_pixels)}]


def _also(also, features) -> dict[str, Any]:
    return also(features) if also is not None else {}


CLASS_DISJOINT = Protocol(
    "class-disjoint retrieval (01, 04)", normalize=True, recall_ks=(1, 2, 4, 8), nmi=True, similarity=True
)
HDML_OFFICIAL = Protocol(
    "HDML's evaluation (02): Euclidean on raw embeddings, clustering at k = classes",
    recall_ks=(1, 2, 4, 8),
    clustering=True,
)
PAIRS = Protocol("retrieval beside pair verification (03)")
ONE_PROTOCOL = Protocol("one protocol for every loss (06): cosine k-NN, Precision@1, MAP@R, Recall@1", True, (1,))
